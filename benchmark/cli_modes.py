"""``text2imu modes``: the IMUGPT comparison in one command: the four training modes (synthetic, calibrated,
mixed, real) for each model, as a markdown table, and the learning curve of mixed against real (a PNG).

    text2imu modes CORPUS --real uci-hapt --site hapt.waist --models deepconvlstm,rf-ecdf \
        --calibration-subjects random:3 --seeds 3 --folds deepconvlstm=3 --out runs/imugpt

Writes ``OUT/results/*.json`` (one results file per run, schema v1; reused when the command is run again with
the same options), ``OUT/modes_table.md``, ``OUT/learning_curve.png`` and ``OUT/learning_curve.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from text2imu.builder.errors import Text2ImuError

from .cli_benchmark import parse_calibration_subjects, protocol_of, short_openmp_spin

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "modes",
        help="IMUGPT comparison: the four training modes per model (table) and mixed vs real learning curve (PNG)",
        description="Run the synthetic, calibrated, mixed and real training modes for each model on one set of "
        "calibration subjects (never tested), write the table of balanced accuracy and macro-F1 (mean +- std over "
        "seeds) and the learning curve of mixed against real as the real fraction grows.",
    )
    p.add_argument("corpus", help="corpus folder or Hub dataset repo id")
    p.add_argument("--real", default="uci-hapt", help="real dataset (default uci-hapt, the bundled HAPT waist set)")
    p.add_argument("--data", type=Path, help="path of the real dataset (default: the bundled HAPT set)")
    p.add_argument("--site", default="hapt.waist", help="corpus site (default hapt.waist)")
    p.add_argument("--real-site", help="real site (default: --site if the dataset has it)")
    p.add_argument("--models", default="deepconvlstm,rf-ecdf", help="comma list of models of the table (default "
                   "deepconvlstm,rf-ecdf; empty: curve only)")
    p.add_argument("--calibration-subjects", default="random:3", help="calibration subjects, never tested: ids "
                   "(1,5,9) or random:K (default random:3)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 of every run (default 3, at least 2)")
    p.add_argument("--folds", default="", help="subject folds of the real and mixed rows per model, e.g. "
                   "deepconvlstm=3,rf-ecdf=loso (default: each model's own: 5 and loso)")
    p.add_argument("--curve-model", default="rf-ecdf", help="model of the learning curve (default rf-ecdf; none: "
                   "no curve)")
    p.add_argument("--curve-fractions", default="0.1,0.25,0.5,1", help="real fractions of the curve (default "
                   "0.1,0.25,0.5,1)")
    p.add_argument("--curve-folds", help="subject folds of the curve's runs (default: as the table's for that model)")
    p.add_argument("--epochs", type=int, help="maximum DeepConvLSTM epochs (default: the protocol's, 8)")
    p.add_argument("--threads", type=int, default=2, help="torch / forest threads (default 2)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="replace results in OUT made with other options")
    p.set_defaults(func=cmd_modes)


def _folds(text: str) -> dict[str, str]:
    from .models import MODELS

    out = {}
    for item in (t.strip() for t in text.split(",") if t.strip()):
        model, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise Text2ImuError(f"--folds items look like MODEL=K or MODEL=loso, got {item!r}")
        MODELS[model.strip()]  # noqa: B018 - "did you mean"
        value = value.strip().lower()
        if value != "loso" and not (value.isdigit() and int(value) >= 2):
            raise Text2ImuError(f"--folds {model.strip()}: give loso or a number of folds >= 2, got {value!r}")
        out[model.strip()] = value
    return out


def _fractions(text: str) -> tuple[float, ...]:
    from .modes import check_fraction

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise Text2ImuError("--curve-fractions needs at least one fraction in (0, 1]")
    out = []
    for t in items:
        try:
            out.append(check_fraction(t))
        except Text2ImuError:
            raise Text2ImuError(f"--curve-fractions must be numbers in (0, 1], got {t!r}") from None
    return tuple(out)


def _plan(args: argparse.Namespace):
    from .modes_table import ModesPlan

    if args.seeds < 2:
        raise Text2ImuError(f"--seeds must be at least 2 (the table reports a std over seeds), got {args.seeds}")
    if args.threads < 1:
        raise Text2ImuError(f"--threads must be at least 1, got {args.threads}")
    if args.epochs is not None and args.epochs < 1:
        raise Text2ImuError(f"--epochs must be at least 1, got {args.epochs}")
    curve = None if args.curve_model.strip().lower() == "none" else args.curve_model.strip()
    folds = _folds(args.folds)
    curve_folds = args.curve_folds
    if curve_folds is not None:
        curve_folds = _folds(f"{curve or 'rf-ecdf'}={curve_folds}")[curve or "rf-ecdf"]
    return ModesPlan(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        calibration_subjects=parse_calibration_subjects(args.calibration_subjects),
        seeds=args.seeds,
        folds=folds,
        curve_model=curve,
        curve_fractions=_fractions(args.curve_fractions) if curve else (),
        curve_folds=curve_folds,
    )


def cmd_modes(args: argparse.Namespace) -> int:
    short_openmp_spin()
    from text2imu.builder.output import atomic_path
    from text2imu.builder.vocab import check_site

    from .inputs import real_dataset_name
    from .modes_table import curve_points, plot_learning_curve, render_modes_table, run_modes

    plan = _plan(args)
    dataset = real_dataset_name(args.real)
    check_site(args.site)
    if args.out.exists() and not args.out.is_dir():
        raise Text2ImuError(f"--out {args.out} is a file; give a folder")
    import datasets

    datasets.disable_progress_bars()
    protocol = protocol_of(args.threads, args.epochs)
    runs = run_modes(args.corpus, args.site, dataset, args.out, plan, data=args.data, real_site=args.real_site,
                     protocol=protocol, force=args.force, progress=sys.stderr.isatty())
    written = []
    if plan.models:
        table = render_modes_table(runs, plan.models)
        with atomic_path(args.out / "modes_table.md") as tmp:
            tmp.write_text(table, encoding="utf-8")
        written.append(args.out / "modes_table.md")
        print(table, end="")
    if plan.curve_model is not None:
        points = curve_points(runs, plan)
        refs = {}
        for mode in ("synthetic", "calibrated"):
            r = runs.get(f"{plan.curve_model}__{mode}.json")
            if r is not None:
                refs[f"{mode} ({plan.curve_model})"] = r["summary"]["balanced_accuracy"]["mean"]
        any_run = next(iter(runs.values()))
        task = any_run["task"]
        title = (f"{plan.curve_model}: mixed vs real, {task['site']} -> {task['real_dataset']}, "
                 f"{plan.seeds} seeds, calibration subjects {', '.join(task.get('calibration_subjects') or [])}")
        plot_learning_curve(points, args.out / "learning_curve.png", title, refs)
        with atomic_path(args.out / "learning_curve.json") as tmp:
            tmp.write_text(json.dumps({"model": plan.curve_model, "points": points, "references": refs},
                                      indent=1) + "\n", encoding="utf-8")
        written += [args.out / "learning_curve.png", args.out / "learning_curve.json"]
    for path in written:
        print(f"wrote {path}")
    return 0
