"""``leaderboard.md``, generated from the results files (never edited by hand), and its staleness check.

Inputs: every ``*.json`` under the results folder (``benchmark/results/`` in the repository), read by kind:
``benchmark`` and ``reference`` files through :func:`text2imu.benchmark.results.validate_results` (schema v1),
``gap`` files through :func:`text2imu.benchmark.gap.validate_gap`. A file of an unknown schema version or kind is
refused with its path and reason; so are two files for the same row.

A row is one (generator, corpus revision, real dataset, site): balanced accuracy mean and std (primary), macro-F1,
the gap AUC and Fréchet distance of the matching gap file, L_acc when the benchmark file carries a top-level
``lacc`` object with a ``mean`` (none does unless a submitter's pipeline adds it), the seeds, the date
(``created_utc``) and links to the corpus, its card and the results file. Rows are sorted by real dataset and
real site, then balanced accuracy (highest first). Only protocol v1 rows are ranked (mode synthetic, model
deepconvlstm, no calibration subjects; files without these task keys are protocol v1): results of the other
training modes and models (:mod:`text2imu.benchmark.modes`) are read and validated but left off the page. Then the reference rows (chance, majority, ceiling) and the
generators that cannot run here, from ``leaderboard_external.toml``. The page is a pure function of the files, so
``--check`` compares a fresh rendering with the page on disk.
"""

from __future__ import annotations

import json
import os
import string
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from text2imu.builder.errors import FormatError, Text2ImuError

from .results import is_protocol_v1_task

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS_DIR = REPO_ROOT / "benchmark" / "results"
DEFAULT_PAGE = REPO_ROOT / "leaderboard.md"
DASH = "–"


@dataclass
class Collected:
    """Results found under a folder: lists of (path, object) per kind."""

    benchmark: list[tuple[Path, dict]] = field(default_factory=list)
    reference: list[tuple[Path, dict]] = field(default_factory=list)
    gap: list[tuple[Path, dict]] = field(default_factory=list)
    other_modes: list[tuple[Path, dict]] = field(default_factory=list)


def read_any(path: Path) -> dict:
    """Read one results file of any known kind; FormatError naming the file and the reason otherwise."""
    from .gap import GAP_KIND, validate_gap
    from .results import validate_results

    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    if isinstance(obj, dict) and obj.get("kind") == GAP_KIND:
        return validate_gap(obj, str(path))
    return validate_results(obj, str(path))


def row_key(task: dict) -> tuple[str, str, str, str]:
    """(generator, corpus revision, real dataset, site) of a results task."""
    return (str(task.get("generator")), str(task.get("corpus_revision")), str(task.get("real_dataset")),
            str(task.get("site")))


def collect(results_dir: Path) -> Collected:
    """Every results file under ``results_dir`` (sorted paths), validated; duplicates of a row are refused."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise Text2ImuError(f"results folder {results_dir} not found")
    found = Collected()
    seen: dict[tuple, Path] = {}
    for path in sorted(results_dir.rglob("*.json")):
        obj = read_any(path)
        kind = obj["kind"]
        if kind == "benchmark" and not is_protocol_v1_task(obj["task"]):  # other modes/models are not ranked
            found.other_modes.append((path, obj))
            continue
        key = (kind, *row_key(obj["task"]), str(obj["task"].get("real_site")))
        if key in seen:
            raise FormatError(f"{path}: results for the same {kind} row as {seen[key]}; keep one of them")
        seen[key] = path
        getattr(found, kind).append((path, obj))
    return found


def _pct(d: dict | None) -> str:
    if not d or d.get("mean") is None:
        return DASH
    std = d.get("std")
    return f"{100 * d['mean']:.1f} ± {100 * std:.1f}" if std is not None else f"{100 * d['mean']:.1f}"


def _link(path: Path, page: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(page).resolve().parent)).as_posix()


def corpus_cell(obj: dict) -> str:
    """The corpus revision with links to the corpus and its card (Hub corpora), or a local build's card hash."""
    corpus = obj.get("corpus") or {}
    rev = obj["task"].get("corpus_revision") or "local"
    if corpus.get("source") == "hub" and corpus.get("repo_id"):
        base = f"https://huggingface.co/datasets/{corpus['repo_id']}"
        return f"[{corpus['repo_id']}@{rev}]({base}/tree/{rev}) ([card]({base}/blob/{rev}/README.md))"
    card = (corpus.get("card_sha256") or "")[:12]
    return f"`{rev}` (local build; card sha256 `{card or DASH}`)"


def _gap_index(gaps: list[tuple[Path, dict]]) -> dict:
    return {row_key(obj["task"]): (path, obj) for path, obj in gaps}


def render_rows(found: Collected, page: Path) -> str:
    """The results table (markdown)."""
    gaps = _gap_index(found.gap)
    rows = []
    for path, obj in found.benchmark:
        key = row_key(obj["task"])
        gap = gaps.get(key)
        s = obj["summary"]
        bacc = s["balanced_accuracy"].get("mean")
        gap_auc = gap_fd = DASH
        if gap is not None:
            auc = gap[1]["gap"]["auc"]
            gap_auc = f"{auc['mean']:.3f} ± {auc.get('std', 0.0):.3f}"
            gap_fd = f"{gap[1]['gap']['frechet']['value']:.2f}"
        lacc = obj.get("lacc") if isinstance(obj.get("lacc"), dict) else {}
        links = f"[results]({_link(path, page)})" + (f", [gap]({_link(gap[0], page)})" if gap else "")
        cells = [
            obj["task"].get("generator") or DASH, corpus_cell(obj), obj["task"]["real_dataset"],
            f"{obj['task']['site']} → {obj['task']['real_site']}", _pct(s["balanced_accuracy"]),
            _pct(s.get("macro_f1")), gap_auc, gap_fd,
            f"{lacc['mean']:.3f}" if isinstance(lacc.get("mean"), int | float) else DASH,
            str(len(obj["seeds"])), str(obj["created_utc"])[:10], links,
        ]
        rows.append(((obj["task"]["real_dataset"], str(obj["task"]["real_site"]), -(bacc if bacc is not None else -1),
                      key), cells))
    if not rows:
        return "No benchmark results yet."
    head = ["generator", "corpus", "real dataset", "site (corpus → real)", "balanced acc. %", "macro-F1 %",
            "gap AUC", "Fréchet", "L_acc", "seeds", "date", "files"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for _, cells in sorted(rows, key=lambda r: r[0])]
    return "\n".join(lines)


def render_reference(found: Collected, page: Path) -> str:
    """Chance, majority and ceiling per real dataset and site (ceilings from reference files; chance and majority
    also from benchmark files of datasets without one)."""
    rows = {}
    for path, obj in found.benchmark:
        key = (obj["task"]["real_dataset"], str(obj["task"]["real_site"]), len(obj["classes"]))
        rows.setdefault(key, (None, obj, path))
    for path, obj in found.reference:
        key = (obj["task"]["real_dataset"], str(obj["task"]["real_site"]), len(obj["classes"]))
        rows[key] = (obj, obj, path)
    if not rows:
        return "No reference rows yet."
    head = ["real dataset", "site", "classes", "chance %", "majority %", "ceiling %", "ceiling folds", "seeds",
            "date", "files"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (dataset, site, k), (ref, obj, path) in sorted(rows.items()):
        chance = obj["reference"]["chance"]["balanced_accuracy"]
        majority = obj["reference"]["majority"].get("balanced_accuracy")
        cells = [dataset, site, f"{k} ({', '.join(obj['classes'])})", f"{100 * chance:.1f}",
                 f"{100 * majority:.1f}" if majority is not None else DASH,
                 _pct(ref["summary"]["balanced_accuracy"]) if ref else DASH,
                 ref["folds"]["scheme"] if ref else DASH, str(len(ref["seeds"])) if ref else DASH,
                 str(obj["created_utc"])[:10], f"[results]({_link(path, page)})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def external_generators() -> list[dict]:
    """The generators that cannot run here (``leaderboard_external.toml``)."""
    text = resources.files("text2imu.benchmark").joinpath("leaderboard_external.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["generators"]


def render_cannot_run() -> str:
    lines = ["| generator | paper: balanced acc. % (RealWorld) | paper: L_acc (HumanML3D) | command |",
             "|---|---|---|---|"]
    for g in external_generators():
        bacc, lacc = g.get("paper_balanced_accuracy"), g.get("paper_lacc")
        cells = [g["name"], f"{100 * bacc:.1f}" if bacc is not None else DASH,
                 f"{lacc:.3f}" if lacc is not None else DASH, f"`{g['command']}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_leaderboard(results_dir: Path = DEFAULT_RESULTS_DIR, page: Path = DEFAULT_PAGE) -> str:
    """The whole page for the results under ``results_dir`` as it would be written at ``page``."""
    found = collect(results_dir)
    template = resources.files("text2imu.cards").joinpath("leaderboard.md").read_text(encoding="utf-8")
    protocols = sorted({o["protocol"]["version"] for _, o in found.benchmark + found.reference}) or ["v1"]
    return string.Template(template).substitute(
        results_dir=_link(results_dir, page), protocols=", ".join(protocols),
        rows=render_rows(found, page), reference_rows=render_reference(found, page), cannot_run=render_cannot_run(),
    )


def write_leaderboard(results_dir: Path = DEFAULT_RESULTS_DIR, page: Path = DEFAULT_PAGE) -> Path:
    """Render and write ``page`` atomically."""
    from text2imu.builder.output import atomic_path

    text = render_leaderboard(results_dir, page)
    with atomic_path(page) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(page)


def check_leaderboard(results_dir: Path = DEFAULT_RESULTS_DIR, page: Path = DEFAULT_PAGE) -> str | None:
    """None when ``page`` equals a fresh rendering, else a sentence saying why it is stale."""
    fresh = render_leaderboard(results_dir, page)
    page = Path(page)
    if not page.is_file():
        return f"{page} does not exist; run `text2imu leaderboard` to write it"
    if page.read_text(encoding="utf-8") != fresh:
        return f"{page} is stale: it differs from the results in {results_dir}; run `text2imu leaderboard`"
    return None
