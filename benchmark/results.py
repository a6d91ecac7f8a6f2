"""Results files, schema version 1: one JSON per (generator, corpus revision, real dataset, site).

Top-level keys (all present; ``corpus`` is null in a reference file):

- ``schema_version``: 1. ``kind``: ``"benchmark"`` (a corpus trained on, tested on real data) or ``"reference"``
  (the ceiling: DeepConvLSTM trained on the real data with folds grouped by subject).
- ``task``: ``generator``, ``corpus_revision``, ``real_dataset``, ``site`` (corpus site), ``real_site``; since
  the training modes (:mod:`text2imu.benchmark.modes`) also ``mode``, ``model``, ``real_fraction`` (None outside
  the real and mixed modes) and ``calibration_subjects`` (a file without them is protocol v1: synthetic,
  deepconvlstm). A mode run other than protocol v1 also carries ``mode`` (subjects, folds, calibration).
- ``protocol``: ``version`` ("v1") and every setting (window, model, training).
- ``classes``: the K shared activities, in the order of every per-class list and matrix.
- ``seeds``: the seeds run; ``scores_per_seed``: one dict per seed (as MTEB's ``scores_per_experiment``) with
  ``seed``, ``balanced_accuracy``, ``macro_f1``, ``accuracy``, ``per_class_recall`` {class: recall},
  ``per_class_f1``, ``confusion_matrix`` (K x K counts, rows true, columns predicted), ``n_windows``, training
  details and ``timings``.
- ``summary``: per score ``mean``, ``std`` (ddof 1), ``ci95`` (two-sided t-interval over seeds), ``n``; per-class
  recall summaries; the confusion matrix summed over seeds.
- ``reference``: ``chance`` (balanced accuracy 1/K) and ``majority`` (always the most frequent real class).
- ``corpus``, ``real``: provenance (paths, revision, card, file hashes, counts). ``folds``: the ceiling's folds.
- ``timings`` (seconds), ``environment`` (backend, threads), ``versions`` (text2imu and git commit, python,
  torch, numpy, datasets), ``created_utc``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from text2imu.builder.errors import FormatError
from text2imu.builder.output import atomic_path

SCHEMA_VERSION = 1
KINDS = ("benchmark", "reference")
REQUIRED = (
    "schema_version",
    "kind",
    "task",
    "protocol",
    "classes",
    "seeds",
    "scores_per_seed",
    "summary",
    "reference",
    "corpus",
    "real",
    "timings",
    "environment",
    "versions",
    "created_utc",
)
SEED_KEYS = ("seed", "balanced_accuracy", "macro_f1", "accuracy", "per_class_recall", "confusion_matrix")
TASK_KEYS = ("generator", "corpus_revision", "real_dataset", "site", "real_site")


def git_commit(root: Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether the work tree has uncommitted changes) of the source tree, or (None, None)."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(dirty)


def versions() -> dict:
    """Versions of text2imu (and its git commit), Python and the libraries the result depends on."""
    import datasets
    import numpy
    import scipy
    import torch

    from text2imu import __version__

    commit, dirty = git_commit()
    return {
        "text2imu": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "datasets": datasets.__version__,
        "platform": platform.platform(),
    }


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(value):
    """JSON-ready copy: NaN and infinities become None, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def is_protocol_v1_task(task: dict) -> bool:
    """Whether a results task is protocol v1 proper: mode synthetic, model deepconvlstm, no calibration subjects
    (files written before the training modes carry none of these keys and are protocol v1)."""
    return (
        task.get("mode", "synthetic") == "synthetic"
        and task.get("model", "deepconvlstm") == "deepconvlstm"
        and not task.get("calibration_subjects")
    )


def mode_suffix(task: dict) -> str:
    """``""`` for protocol v1, else ``__<mode>-<model>[-f<fraction>][-cal<subjects>]``, e.g.
    ``__mixed-rf-ecdf-f0.5-cal1_5_9`` (more than six calibration subjects: ``-cal<k>x<sha1 of the list[:6]>``)."""
    if is_protocol_v1_task(task):
        return ""
    parts = [str(task.get("mode", "synthetic")), str(task.get("model", "deepconvlstm"))]
    fraction = task.get("real_fraction")
    if fraction is not None:
        parts.append(f"f{float(fraction):g}")
    cal = [str(c) for c in task.get("calibration_subjects") or []]
    if cal:
        import hashlib

        digest = hashlib.sha1(",".join(cal).encode()).hexdigest()[:6]
        parts.append("cal" + ("_".join(cal) if len(cal) <= 6 else f"{len(cal)}x{digest}"))
    return "__" + "-".join(parts)


def default_file_name(task: dict) -> str:
    """``<generator>__<revision>__<dataset>__<site>[<mode suffix>].json`` (``reference`` / ``local`` where not
    given; the suffix of :func:`mode_suffix` keeps runs of different modes, models and fractions apart)."""
    parts = [
        task.get("generator") or "reference",
        task.get("corpus_revision") or "local",
        task.get("real_dataset") or "real",
        task.get("site") or task.get("real_site") or "site",
    ]
    if task.get("mode") == "real" and not task.get("generator"):  # mode real without a corpus
        parts[:2] = ["real-only"]
    stem = "__".join(str(p).replace("/", "_").replace(" ", "_") for p in parts)
    return stem + mode_suffix(task).replace("/", "_").replace(" ", "_") + ".json"


def validate_results(obj: object, source: str = "results") -> dict:
    """Check a results object against schema v1; returns it. Raises FormatError naming ``source`` and the fault."""
    if not isinstance(obj, dict):
        raise FormatError(f"{source}: a results file holds a JSON object, got {type(obj).__name__}")
    version = obj.get("schema_version")
    if version != SCHEMA_VERSION:
        raise FormatError(
            f"{source}: results schema_version {version!r} is not supported (this text2imu reads version "
            f"{SCHEMA_VERSION}); use the text2imu version that wrote it or re-run the benchmark"
        )
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise FormatError(f"{source}: missing key(s) {', '.join(missing)}")
    if obj["kind"] not in KINDS:
        raise FormatError(f"{source}: kind {obj['kind']!r} is not one of {', '.join(KINDS)}")
    if not isinstance(obj["protocol"], dict) or not isinstance(obj["protocol"].get("version"), str):
        raise FormatError(f"{source}: protocol.version is missing")
    task = obj["task"]
    if not isinstance(task, dict) or [k for k in TASK_KEYS if k not in task]:
        raise FormatError(f"{source}: task must hold {', '.join(TASK_KEYS)}")
    _validate_mode_keys(task, source)
    classes = obj["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise FormatError(f"{source}: classes must be a non-empty list of activity names")
    per_seed = obj["scores_per_seed"]
    if not isinstance(per_seed, list) or not isinstance(obj["seeds"], list) or len(per_seed) != len(obj["seeds"]):
        raise FormatError(f"{source}: scores_per_seed must hold one entry per seed")
    k = len(classes)
    for i, entry in enumerate(per_seed):
        where = f"{source}: scores_per_seed[{i}]"
        if not isinstance(entry, dict) or [key for key in SEED_KEYS if key not in entry]:
            raise FormatError(f"{where} must hold {', '.join(SEED_KEYS)}")
        if entry["seed"] != obj["seeds"][i]:
            raise FormatError(f"{where}: seed {entry['seed']!r} differs from seeds[{i}] = {obj['seeds'][i]!r}")
        if set(entry["per_class_recall"]) != set(classes):
            raise FormatError(f"{where}: per_class_recall keys differ from classes")
        cm = entry["confusion_matrix"]
        if not isinstance(cm, list) or len(cm) != k or any(not isinstance(r, list) or len(r) != k for r in cm):
            raise FormatError(f"{where}: confusion_matrix must be {k} x {k}")
        for key in ("balanced_accuracy", "macro_f1"):
            value = entry[key]
            if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
                raise FormatError(f"{where}: {key} {value!r} is not a number in [0, 1]")
    if obj["kind"] == "reference" and not (isinstance(obj.get("folds"), dict) and "scheme" in obj["folds"]):
        raise FormatError(f"{source}: a reference file must say its folds (folds.scheme)")
    summary = obj["summary"]
    if not isinstance(summary, dict) or not isinstance(summary.get("balanced_accuracy"), dict):
        raise FormatError(f"{source}: summary.balanced_accuracy is missing")
    return obj


def _validate_mode_keys(task: dict, source: str) -> None:
    """The optional task keys of the training modes (absent in files written before them)."""
    for key in ("mode", "model"):
        if key in task and not (isinstance(task[key], str) and task[key]):
            raise FormatError(f"{source}: task.{key} must be a name, got {task[key]!r}")
    fraction = task.get("real_fraction")
    if fraction is not None and not (isinstance(fraction, int | float) and 0 < fraction <= 1):
        raise FormatError(f"{source}: task.real_fraction {fraction!r} is not a number in (0, 1]")
    cal = task.get("calibration_subjects")
    if cal is not None and not (isinstance(cal, list) and all(isinstance(c, str) for c in cal)):
        raise FormatError(f"{source}: task.calibration_subjects must be a list of subject ids (text)")


def write_results(path: Path | str, results: dict) -> Path:
    """Validate and write results as indented JSON, atomically; returns the path."""
    clean = _clean(results)
    validate_results(clean, str(path))
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(clean, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        tmp.chmod(0o666 & ~_umask())  # the temporary file is private (0600); results are for sharing
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_results(path: Path | str) -> dict:
    """Read and validate a results file (schema v1); FormatError for a file of another schema version."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    return validate_results(obj, str(path))
