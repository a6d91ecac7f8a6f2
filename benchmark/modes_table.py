"""The IMUGPT comparison in one run: the four training modes for each model, and the learning curve of ``mixed``
against ``real`` as the real fraction grows (issue 9, item 5).

:func:`run_modes` runs every (model, mode) of the table and every (mode, fraction) of the curve through
:func:`~text2imu.benchmark.run.benchmark_corpus` with one set of calibration subjects, so that every row is scored
on the same real test subjects (the calibration subjects are never tested, in any mode). Each run's results file
(schema v1) is written under ``<out>/results/`` as soon as it finishes; a later call with the same options reuses
the files whose task and seeds match (an interrupted run resumes), and refuses to overwrite ones that do not
without ``force``. :func:`render_modes_table` and :func:`plot_learning_curve` turn the results into the markdown
table and the PNG.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from text2imu.builder.errors import Text2ImuError

from .models import MODELS
from .modes import MODES, ModeSetup, check_fraction, choose_calibration_subjects
from .protocol import PROTOCOL_V1, Protocol

log = logging.getLogger(__name__)

TABLE_MODES = ("synthetic", "calibrated", "mixed", "real")
CURVE_MODES = ("real", "mixed")


@dataclass(frozen=True)
class ModesPlan:
    """What :func:`run_modes` runs.

    Attributes:
        models: the classifiers of the table (names in :data:`~text2imu.benchmark.models.MODELS`).
        calibration_subjects: subject ids, or k (drawn as ``--calibration-subjects random:k``); never tested.
        seeds: number of seeds 0..n-1 of every run.
        folds: {model: "loso" or k} for the real and mixed rows (missing: the model's default).
        curve_model: the classifier of the learning curve (None: no curve).
        curve_fractions: the real fractions of the curve, each in (0, 1].
        curve_folds: subject folds of the curve's runs (None: the model's default).
    """

    models: tuple[str, ...] = ("deepconvlstm", "rf-ecdf")
    calibration_subjects: tuple[str, ...] | int = 3
    seeds: int = 3
    folds: Mapping[str, str] = field(default_factory=dict)
    curve_model: str | None = "rf-ecdf"
    curve_fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    curve_folds: str | None = None

    def __post_init__(self) -> None:
        if not self.models and self.curve_model is None:
            raise Text2ImuError("nothing to run: give at least one model or a curve model")
        for name in (*self.models, *([self.curve_model] if self.curve_model else [])):
            MODELS[name]  # noqa: B018 - "did you mean"
        if self.seeds < 2:
            raise Text2ImuError(f"the table reports a std over seeds: give at least 2 seeds, got {self.seeds}")
        if not self.calibration_subjects:
            raise Text2ImuError("the calibrated rows need calibration subjects (ids or random:K)")
        if self.curve_model is not None:
            if not self.curve_fractions:
                raise Text2ImuError("the learning curve needs at least one real fraction")
            fractions = tuple(sorted({check_fraction(f) for f in self.curve_fractions}))
            object.__setattr__(self, "curve_fractions", fractions)


def _run_name(model: str, mode: str, fraction: float | None = None) -> str:
    return f"{model}__{mode}" + (f"__f{fraction:g}" if fraction is not None else "") + ".json"


def _matches(results: dict, setup: ModeSetup, calibration: Sequence[str], seeds: int) -> bool:
    """Whether an existing results file is the run of ``setup`` (mode, model, fraction, calibration subjects,
    folds of real / mixed) with seeds 0..``seeds``-1."""
    task = results.get("task", {})
    fraction = setup.real_fraction if setup.mode in ("real", "mixed") else None
    same = (
        task.get("mode") == setup.mode
        and task.get("model") == setup.model
        and task.get("real_fraction") == fraction
        and list(task.get("calibration_subjects") or []) == list(calibration)
        and results.get("seeds") == list(range(seeds))
    )
    if same and setup.mode in ("real", "mixed"):
        scheme = (results.get("mode") or {}).get("folds", "")
        wanted = "leave-one-subject-out" if setup.fold_scheme == "loso" else f"grouped {setup.fold_scheme}-fold"
        return scheme.startswith(wanted)
    return same


def curve_run_name(plan: ModesPlan, mode: str, fraction: float) -> str:
    """File name of the curve's run of ``mode`` at ``fraction``: the table's row when it is the same run (fraction
    1, same folds), else its own (``__curve-folds<K>`` when only the folds differ from the table's row)."""
    model = plan.curve_model
    name = _run_name(model, mode, fraction)
    curve_folds = plan.curve_folds or plan.folds.get(model)
    if fraction == 1.0 and model in plan.models and curve_folds != plan.folds.get(model):
        name = name.replace(".json", f"__curve-folds{curve_folds}.json")
    return name


def planned_runs(plan: ModesPlan, calibration: Sequence[str]) -> list[tuple[str, ModeSetup]]:
    """[(file name, setup)] in run order: each model's table rows (its calibrated row first), then the curve's
    points (a point that is a table row is run once)."""
    runs: dict[str, ModeSetup] = {}
    for model in plan.models:
        # calibrated first: a calibration set that lacks a class fails before any file is written
        for mode in ("calibrated", *(m for m in TABLE_MODES if m != "calibrated")):
            folds = plan.folds.get(model) if mode in ("real", "mixed") else None
            runs[_run_name(model, mode, 1.0 if mode in CURVE_MODES else None)] = ModeSetup(
                mode=mode, model=model, calibration_subjects=tuple(calibration), folds=folds)
    if plan.curve_model is not None:
        for mode in CURVE_MODES:
            for fraction in plan.curve_fractions:
                runs.setdefault(curve_run_name(plan, mode, fraction), ModeSetup(
                    mode=mode, model=plan.curve_model, real_fraction=fraction,
                    calibration_subjects=tuple(calibration), folds=plan.curve_folds or plan.folds.get(plan.curve_model)))
    return list(runs.items())


def run_modes(corpus: str, site: str, real_dataset: str, out: Path, plan: ModesPlan = ModesPlan(),
              data: Path | None = None, real_site: str | None = None, protocol: Protocol = PROTOCOL_V1,
              force: bool = False, progress: bool = True) -> dict[str, dict]:
    """Run (or reuse) every run of ``plan``; returns {file name: results dict}. See the module docstring."""
    from .inputs import check_real_data, choose_real_site, load_real
    from .results import read_results, write_results
    from .run import benchmark_corpus

    check_real_data(real_dataset, data)
    real_site = choose_real_site(real_dataset, site, real_site)
    real, _ = load_real(real_dataset, data, real_site, protocol.window)
    calibration = choose_calibration_subjects(real.groups.astype(str), plan.calibration_subjects, real_dataset)
    log.info("calibration subjects (never tested): %s", ", ".join(calibration))
    folder = Path(out) / "results"
    runs = planned_runs(plan, calibration)
    existing = {}
    for name, setup in runs:
        path = folder / name
        if path.exists():
            old = read_results(path)
            if _matches(old, setup, calibration, plan.seeds):
                existing[name] = old
            elif not force:
                raise Text2ImuError(f"{path} holds a run with other options; pass --force to replace it")
    done: dict[str, dict] = {}
    for i, (name, setup) in enumerate(runs, 1):
        if name in existing:
            log.info("[%d/%d] %s: reusing %s", i, len(runs), name, folder / name)
            done[name] = existing[name]
            continue
        log.info("[%d/%d] %s: mode %s, model %s, real fraction %g", i, len(runs), name, setup.mode, setup.model,
                 setup.real_fraction)
        results = benchmark_corpus(corpus, site, real_dataset, data, real_site, seeds=range(plan.seeds),
                                   protocol=protocol, progress=progress, setup=setup)
        write_results(folder / name, results)
        done[name] = results
    return done


def _cell(summary: Mapping, key: str) -> str:
    s = summary[key]
    return "n/a" if s["mean"] is None else f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}"


def _training(results: dict) -> str:
    mode = results["task"].get("mode", "synthetic")
    info = results.get("mode") or {}
    if mode in ("synthetic", "calibrated"):
        return "synthetic" + (" (calibrated)" if mode == "calibrated" else "")
    folds = info.get("folds", "")
    return ("real" if mode == "real" else "real + synthetic") + f", {folds}"


def render_modes_table(runs: Mapping[str, dict], models: Sequence[str]) -> str:
    """Markdown: one row per (mode, model) of the table runs (real fraction 1), balanced accuracy and macro-F1
    in % as mean ± std over seeds, with the training data and folds of each row."""
    rows = []
    first = None
    for mode in TABLE_MODES:
        for model in models:
            name = _run_name(model, mode, 1.0 if mode in CURVE_MODES else None)
            if name not in runs:
                continue
            r = runs[name]
            first = first or r
            s = r["summary"]
            rows.append(f"| {mode} | {model} | {_cell(s, 'balanced_accuracy')} | {_cell(s, 'macro_f1')} | "
                        f"{len(r['seeds'])} | {_training(r)} |")
    if first is None:
        raise Text2ImuError("no table run to show")
    task = first["task"]
    cal = ", ".join(task.get("calibration_subjects") or [])
    n_test = len((first.get("mode") or {}).get("test_subjects") or [])
    head = (f"Training modes at {task['site']} against {task['real_dataset']} ({task['real_site']}): corpus "
            f"`{task.get('generator')}` revision {task.get('corpus_revision') or 'none (local build)'}; "
            f"{len(first['classes'])} classes; "
            f"calibration subjects {cal} (never tested); the other {n_test} subjects tested in every row. "
            "Balanced accuracy and macro-F1 in %, mean ± std over seeds.\n\n")
    return (head + "| mode | model | balanced accuracy | macro-F1 | seeds | training data (folds) |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")


def curve_points(runs: Mapping[str, dict], plan: ModesPlan) -> dict[str, list[dict]]:
    """{mode: [{real_fraction, mean_real_subjects, balanced_accuracy {mean, std, n}, macro_f1 {...}, folds,
    results_file}]} of the curve's runs (:func:`curve_run_name`), in fraction order; ``mean_real_subjects`` is the
    mean over seeds and folds of the real training subjects chosen."""
    out: dict[str, list[dict]] = {}
    for mode in CURVE_MODES:
        pts = []
        for f in plan.curve_fractions:
            name = curve_run_name(plan, mode, f)
            if name not in runs:
                continue
            r = runs[name]
            chosen = [len(fold.get("real_subjects_chosen", [])) for s in r["scores_per_seed"] for fold in s["folds"]]
            pts.append({
                "real_fraction": f,
                "mean_real_subjects": sum(chosen) / len(chosen) if chosen else None,
                "balanced_accuracy": {k: r["summary"]["balanced_accuracy"][k] for k in ("mean", "std", "n")},
                "macro_f1": {k: r["summary"]["macro_f1"][k] for k in ("mean", "std", "n")},
                "folds": (r.get("mode") or {}).get("folds"),
                "results_file": name,
            })
        out[mode] = pts
    return out


def plot_learning_curve(points: Mapping[str, list[dict]], path: Path, title: str,
                        references: Mapping[str, float] | None = None) -> Path:
    """PNG of balanced accuracy (mean ± std over seeds) against the real fraction for ``real`` and ``mixed``,
    with horizontal lines for ``references`` ({label: balanced accuracy}); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from text2imu.builder.output import atomic_path

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for mode, style in (("real", "o-"), ("mixed", "s-")):
        pts = points.get(mode) or []
        if not pts:
            continue
        x = [p["real_fraction"] for p in pts]
        m = [100 * p["balanced_accuracy"]["mean"] for p in pts]
        s = [100 * p["balanced_accuracy"]["std"] for p in pts]
        ax.errorbar(x, m, yerr=s, fmt=style, capsize=3, label=f"{mode} ({'real + synthetic' if mode == 'mixed' else 'real only'})")
        for xi, mi, p in zip(x, m, pts, strict=True):
            if mode == "real" and p["mean_real_subjects"] is not None:
                ax.annotate(f"{p['mean_real_subjects']:.1f} subj.", (xi, mi), textcoords="offset points",
                            xytext=(0, -14), ha="center", fontsize=7)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(100 * value, ls=("--", ":", "-.")[i % 3], color="grey", lw=1, label=label)
    ax.set_xscale("log")
    ticks = sorted({p["real_fraction"] for pts in points.values() for p in pts})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("real fraction (share of each fold's real training subjects)")
    ax.set_ylabel("balanced accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


__all__ = ["MODES", "ModesPlan", "TABLE_MODES", "curve_points", "plot_learning_curve", "planned_runs",
           "render_modes_table", "run_modes"]
