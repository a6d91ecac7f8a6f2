"""Benchmark protocol v1 (DESIGN.md section 6): the settings, and the two units that run one seed.

- :func:`run_synthetic_seed`: train DeepConvLSTM on synthetic windows only (a held-out split of whole prompts for
  early stopping), standardised with the statistics of the synthetic training windows only, then score every real
  window of the shared classes.
- :func:`run_ceiling_seed`: the ceiling reference: DeepConvLSTM trained on the real data itself, in folds grouped
  by subject (a test subject is never in training or validation), its predictions pooled over folds and scored.

Both are pure functions of (task, seed) and run as units on the local or Dask backends (``run.py``).

Choices where the design is silent (recorded in every results file under ``protocol``):

- Classes: the K activities that the corpus site and the real dataset both have windows of; the network is
  trained on the synthetic windows of those K only (K outputs), so that it cannot spend predictions on classes
  the real data lacks (HAPT: 6 of the 8, no jumping and no running).
- Validation split: 20 % of the prompts of each activity (whole prompts: every shape, repetition and window of a
  prompt go together), drawn with the seed; standardisation uses the remaining 80 % only.
- Epochs: at most 8, patience 3 on the validation balanced accuracy, best weights kept. Eight epochs keep ten
  seeds of a v0.1.0 site (about 24,000 fitting windows with HAPT's classes) within 30 minutes on 2 CPU threads
  (tests/perf/perf_training.py); batch 100 as in the paper.
- Ceiling: grouped 5-fold by subject (subjects sorted numerically and dealt round-robin: fold i holds subjects
  i, i + 5, ...), the same training settings, 20 % of the training subjects held out for early stopping and
  excluded from the standardisation statistics; predictions pooled over the folds, then scored. LOSO (30 folds
  for HAPT) costs six times as much for the same per-window test coverage; ``--folds loso`` runs it.
- Interval: two-sided 95 % Student t-interval of the mean over seeds (std with ddof 1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from text2imu.builder.errors import Text2ImuError
from text2imu.builder.vocab import ACTIVITIES

from .deepconvlstm import TrainConfig, n_parameters, predict, train_deepconvlstm
from .metrics import scores
from .windows import CHANNELS, WindowSet, WindowSpec

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "v1"


@dataclass(frozen=True)
class Protocol:
    """Protocol v1 settings.

    Attributes:
        window: 2 s windows at 20 Hz with 50 % overlap.
        train: DeepConvLSTM training settings (:class:`~text2imu.benchmark.deepconvlstm.TrainConfig`).
        val_fraction: share of groups (synthetic: prompts, per activity; ceiling: training subjects) held out
            for early stopping.
        version: "v1".
    """

    window: WindowSpec = field(default_factory=WindowSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    val_fraction: float = 0.2
    version: str = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if not 0 <= self.val_fraction < 1:
            raise Text2ImuError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict:
        """JSON-ready description (also what the results file records)."""
        return {
            "version": self.version,
            "rate_hz": self.window.rate_hz,
            "window_s": self.window.window_s,
            "window_samples": self.window.window_samples,
            "overlap": self.window.overlap,
            "step_samples": self.window.step_samples,
            "channels": list(CHANNELS),
            "standardisation": "per channel, mean and std of the synthetic training windows only",
            "model": "DeepConvLSTM (Ordonez & Roggen 2016): 4 x conv(64, kernel 5 along time, per channel, no "
            "padding, ReLU), dropout 0.5, 2 x LSTM(128), linear on the last step",
            "loss": "cross-entropy weighted by inverse class frequency of the training windows",
            "optimizer": "Adam",
            "early_stopping": "best balanced accuracy on held-out groups (ties: lower loss); never real test data",
            "val_fraction": self.val_fraction,
            **asdict(self.train),
        }


PROTOCOL_V1 = Protocol()


def shared_classes(corpus_classes: Sequence[str], real_classes: Sequence[str]) -> tuple[str, ...]:
    """The activities both sides have, in :data:`ACTIVITIES` order (may be empty)."""
    both = set(corpus_classes) & set(real_classes)
    return tuple(a for a in ACTIVITIES if a in both)


def restrict(ws: WindowSet, classes: Sequence[str]) -> tuple[WindowSet, np.ndarray]:
    """The windows of ``classes`` only, and their labels re-indexed to 0..K-1 in the order of ``classes``."""
    lookup = np.full(len(ACTIVITIES), -1, dtype=np.int64)
    for k, name in enumerate(classes):
        lookup[ACTIVITIES.index(name)] = k
    local = lookup[ws.y] if len(ws) else np.empty(0, np.int64)
    keep = local >= 0
    return ws.subset(keep), local[keep]


def holdout_groups(groups: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """(N,) bool mask of windows in held-out groups: whole groups, never single windows.

    When every group holds one class (synthetic prompts), ``round(fraction * n)`` of the n groups of each class
    are held out (at least 1 when the class has 2 or more groups, never all of them); otherwise (subjects)
    ``round(fraction * n)`` groups overall (at least 1 of 2 or more, never all). The choice is seeded.
    """
    groups = np.asarray(groups).astype(str)
    rng = np.random.default_rng(seed)
    if fraction <= 0 or len(groups) == 0:
        return np.zeros(len(groups), dtype=bool)

    def pick(names: np.ndarray) -> list[str]:
        names = np.sort(names)
        if len(names) < 2:
            return []
        n = min(max(1, int(round(fraction * len(names)))), len(names) - 1)
        return list(rng.permutation(names)[:n])

    uniq = np.unique(groups)
    labels_per_group = {g: np.unique(y[groups == g]) for g in uniq}
    chosen: list[str] = []
    if all(len(v) == 1 for v in labels_per_group.values()):
        for k in np.unique(y):
            chosen += pick(np.array([g for g in uniq if labels_per_group[g][0] == k]))
    else:
        chosen = pick(uniq)
    return np.isin(groups, chosen)


def fit_standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (C,) float32 over all samples of (N, T, C) windows; std below 1e-6 becomes 1."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std per channel, float32."""
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)


def _fit_and_score(
    train: WindowSet,
    y_train: np.ndarray,
    val_mask: np.ndarray,
    test_x: np.ndarray,
    n_classes: int,
    seed: int,
    protocol: Protocol,
) -> tuple[np.ndarray, dict]:
    """Standardise with the training windows (not validation, not test), train, predict the test windows."""
    fit_x, fit_y = train.x[~val_mask], y_train[~val_mask]
    mean, std = fit_standardiser(fit_x)
    start = time.perf_counter()
    trained = train_deepconvlstm(
        standardise(fit_x, mean, std),
        fit_y,
        n_classes,
        seed,
        protocol.train,
        standardise(train.x[val_mask], mean, std),
        y_train[val_mask],
    )
    t_eval = time.perf_counter()
    pred = predict(trained.model, standardise(test_x, mean, std))
    done = time.perf_counter()
    info = {
        "n_train_windows": int(len(fit_y)),
        "n_val_windows": int(val_mask.sum()),
        "n_parameters": n_parameters(trained.model),
        "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch,
        "history": trained.history,
        "standardisation": {"mean": mean.tolist(), "std": std.tolist()},
        "train_s": trained.train_s,
        "eval_s": done - t_eval,
        "train_windows_per_s": trained.windows_trained / trained.train_s if trained.train_s > 0 else None,
        "fit_s": t_eval - start,
    }
    return pred, info


@dataclass(frozen=True, eq=False)
class SyntheticTask:
    """What one synthetic -> real seed needs: windows restricted to the shared ``classes`` (labels 0..K-1)."""

    train: WindowSet
    y_train: np.ndarray
    test: WindowSet
    y_test: np.ndarray
    classes: tuple[str, ...]
    protocol: Protocol = field(default_factory=Protocol)


def run_synthetic_seed(task: SyntheticTask, seed: int) -> dict:
    """One seed of protocol v1: train on synthetic only, test on the real windows.

    The validation split holds out whole prompts (``task.train.groups``), ``protocol.val_fraction`` of them per
    activity, chosen with ``seed``. Standardisation uses the synthetic training windows only.

    Returns:
        dict(seed, the :func:`~text2imu.benchmark.metrics.scores` entries, training {...}, val_groups, timings).
    """
    start = time.perf_counter()
    val = holdout_groups(task.train.groups, task.y_train, task.protocol.val_fraction, seed)
    pred, info = _fit_and_score(task.train, task.y_train, val, task.test.x, len(task.classes), seed, task.protocol)
    out = {"seed": int(seed), **scores(task.y_test, pred, task.classes)}
    out["val_groups"] = sorted(np.unique(task.train.groups[val]).tolist())
    out["training"] = {k: v for k, v in info.items() if not k.endswith("_s") or k == "train_windows_per_s"}
    out["timings"] = {"train_s": info["train_s"], "eval_s": info["eval_s"], "total_s": time.perf_counter() - start}
    return out


def subject_key(s: str) -> tuple:
    """Sort key of subject ids: numbers numerically, then text."""
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


def subject_folds(subjects: Sequence[str], scheme: str | int) -> list[list[str]]:
    """Test-subject lists of the folds.

    Args:
        subjects: the subjects (any order; duplicates ignored).
        scheme: ``"loso"`` (one fold per subject) or k (an int >= 2, or its text): grouped k-fold, with the
            subjects sorted (numerically when they are numbers) and dealt round-robin, fold i getting
            subjects i, i + k, i + 2k, ...

    Returns:
        k lists of test subjects; every subject is in exactly one.
    """
    uniq = sorted(set(map(str, subjects)), key=subject_key)
    if str(scheme).lower() == "loso":
        k = len(uniq)
    else:
        try:
            k = int(scheme)
        except ValueError:
            raise Text2ImuError(f"fold scheme must be 'loso' or a number of folds, got {scheme!r}") from None
    if k < 2 or k > len(uniq):
        raise Text2ImuError(f"cannot make {k} subject folds from {len(uniq)} subjects (need 2 <= folds <= subjects)")
    return [uniq[i::k] for i in range(k)]


@dataclass(frozen=True, eq=False)
class CeilingTask:
    """What one ceiling seed needs: real windows of the ``classes`` (labels 0..K-1, groups = subjects)."""

    real: WindowSet
    y_real: np.ndarray
    classes: tuple[str, ...]
    folds: tuple[tuple[str, ...], ...]
    protocol: Protocol = field(default_factory=Protocol)


def run_ceiling_seed(task: CeilingTask, seed: int) -> dict:
    """One seed of the ceiling: for each fold, train on the other subjects (a seeded ``val_fraction`` of them held
    out for early stopping, standardised with the remaining training subjects), predict the fold's subjects;
    score the predictions pooled over all folds.

    Returns:
        dict(seed, scores, folds [{test_subjects, train_subjects, val_subjects, n_train_windows, ...}], timings).
    """
    start = time.perf_counter()
    subjects = task.real.groups.astype(str)
    pred = np.full(len(task.y_real), -1, dtype=np.int64)
    folds = []
    for i, test_subjects in enumerate(task.folds):
        test = np.isin(subjects, test_subjects)
        train = task.real.subset(~test)
        y_train = task.y_real[~test]
        val = holdout_groups(train.groups, y_train, task.protocol.val_fraction, seed * 1000 + i)
        fold_pred, info = _fit_and_score(
            train, y_train, val, task.real.x[test], len(task.classes), seed, task.protocol
        )
        pred[test] = fold_pred
        folds.append(
            {
                "test_subjects": list(test_subjects),
                "train_subjects": sorted(set(train.groups[~val].tolist())),
                "val_subjects": sorted(set(train.groups[val].tolist())),
                "n_test_windows": int(test.sum()),
                **{k: info[k] for k in ("n_train_windows", "n_val_windows", "epochs_run", "best_epoch", "train_s")},
            }
        )
    if (pred < 0).any():
        raise Text2ImuError("ceiling folds left some windows unpredicted (a subject in no fold)")
    out = {"seed": int(seed), **scores(task.y_real, pred, task.classes), "folds": folds}
    out["timings"] = {"total_s": time.perf_counter() - start, "train_s": sum(f["train_s"] for f in folds)}
    return out
