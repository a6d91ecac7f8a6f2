"""Training modes of the benchmark (IMUGPT's evaluation beside protocol v1), and one seed of a mode.

Modes (``--mode``):

- ``synthetic``: protocol v1, train on the corpus only (the default).
- ``real``: train on real training subjects only (the ceiling's setting).
- ``mixed``: real training subjects plus every synthetic window of the shared classes.
- ``calibrated``: the synthetic windows mapped per class and channel by a quantile calibration
  (:mod:`text2imu.benchmark.calibration`) fitted on the real windows of the calibration subjects only, then
  trained on as in ``synthetic``.

Evaluation (every mode): the test subjects are the real subjects that are not calibration subjects (or an
explicit ``test_subjects`` list, which must not overlap them); every test subject is scored exactly once per seed
and the predictions are pooled over the test subjects before scoring.

- ``real`` and ``mixed``: subject folds over the test subjects (``folds``: ``loso`` or grouped k-fold, see
  :func:`~text2imu.benchmark.protocol.subject_folds`); a fold trains on the other real subjects (calibration
  subjects included: they may train, they are never tested). ``real_fraction`` F in (0, 1] keeps
  max(1, round(F n)) of a fold's n real training subjects, chosen from a permutation seeded with (seed, fold), so
  that for one seed and fold a smaller fraction's subjects are a subset of a larger one's.
- Default folds: ``loso`` for rf-ecdf (IMUGPT's protocol; a forest trains in seconds: about 3 min per seed for
  the 30 HAPT subjects on 2 cores), 5 for deepconvlstm (as the ceiling: one seed of 5 folds of the real mode takes
  about 15 min on 2 cores, LOSO would be 30 trainings per seed); ``folds`` overrides either.
- ``synthetic`` and ``calibrated``: the test subjects never enter training, so one model per seed scores all of
  them (no folds).
- Early stopping (``deepconvlstm`` only): on held-out groups, never test subjects: ``val_fraction`` of the
  synthetic prompts per activity (synthetic, calibrated, mixed) and of the chosen real training subjects (real,
  mixed; none when only one is chosen), seeded as in protocol v1 and the ceiling.
- Standardisation (``deepconvlstm``): per channel, mean and std of the fold's fitting windows (training minus
  validation, real and/or synthetic).
- Calibration subjects: an explicit list, or a number k: k of the real subjects drawn with the fixed
  :data:`CALIBRATION_SEED` (independent of the run's seeds, so every mode and seed of a table uses the same ones).
  In ``synthetic`` and ``real`` they are allowed and recorded: they are then only kept out of the test set, so
  that those rows are scored on the same subjects as the ``calibrated`` row.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from text2imu.builder.errors import Text2ImuError
from text2imu.builder.registry import Registry

from .metrics import scores
from .models import MODELS, ModelSpec
from .protocol import Protocol, holdout_groups, subject_folds, subject_key
from .rf_ecdf import RfEcdfConfig
from .windows import WindowSet

log = logging.getLogger(__name__)

MODES: Registry[str] = Registry("training mode")
for _name, _text in (
    ("synthetic", "train on the synthetic corpus only (protocol v1)"),
    ("real", "train on real training subjects only"),
    ("mixed", "train on real training subjects plus the synthetic corpus"),
    ("calibrated", "train on the synthetic corpus quantile-calibrated on the real calibration subjects"),
):
    MODES.register(_name, _text)
CALIBRATION_SEED = 9  # draws the k calibration subjects (issue 9); fixed so that every run picks the same ones


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1]; Text2ImuError otherwise (0, negatives, > 1, nan, text)."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise Text2ImuError(f"--real-fraction must be a number in (0, 1], got {fraction!r}") from None
    if not (math.isfinite(value) and 0 < value <= 1):
        raise Text2ImuError(f"--real-fraction must be in (0, 1], got {fraction}")
    return value


@dataclass(frozen=True)
class ModeSetup:
    """What a mode run needs besides the data.

    Attributes:
        mode: one of :data:`MODES`. model: one of :data:`~text2imu.benchmark.models.MODELS`.
        real_fraction: share of each fold's real training subjects used (real, mixed), in (0, 1].
        calibration_subjects: subject ids (text), or a number k (drawn with :data:`CALIBRATION_SEED`); () none.
        test_subjects: subjects to test (default: every non-calibration subject).
        folds: ``loso`` or k for real / mixed (None: the model's default, loso for rf-ecdf, 5 for deepconvlstm).
        n_quantiles: probabilities of the quantile calibration (calibrated mode).
        rf: forest settings (its ``threads`` is replaced by the protocol's).
    """

    mode: str = "synthetic"
    model: str = "deepconvlstm"
    real_fraction: float = 1.0
    calibration_subjects: tuple[str, ...] | int = ()
    test_subjects: tuple[str, ...] | None = None
    folds: str | int | None = None
    n_quantiles: int = 101
    rf: RfEcdfConfig = field(default_factory=RfEcdfConfig)

    def __post_init__(self) -> None:
        MODES[self.mode]  # noqa: B018 - raises UnknownNameError with "did you mean"
        MODELS[self.model]  # noqa: B018
        object.__setattr__(self, "real_fraction", check_fraction(self.real_fraction))
        if self.real_fraction < 1 and self.mode not in ("real", "mixed"):
            raise Text2ImuError(f"--real-fraction is for the real and mixed modes, not {self.mode}")
        if self.mode == "calibrated" and not self.calibration_subjects:
            raise Text2ImuError("mode calibrated needs --calibration-subjects (a list of subjects or a number k)")
        if isinstance(self.calibration_subjects, int) and self.calibration_subjects < 0:
            raise Text2ImuError(f"--calibration-subjects must be at least 1, got {self.calibration_subjects}")

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    @property
    def fold_scheme(self) -> str:
        return str(self.folds if self.folds is not None else self.spec.default_folds).lower()

    @property
    def is_protocol_v1(self) -> bool:
        """Protocol v1 exactly: synthetic, DeepConvLSTM, every real subject tested."""
        return (self.mode, self.model) == ("synthetic", "deepconvlstm") and not self.calibration_subjects and (
            self.test_subjects is None
        )


def guard_calibrated_corpus(setup: ModeSetup, record: dict | None, dataset: str) -> ModeSetup:
    """The setup to run on a corpus written by ``text2imu calibrate`` (its ``calibration.json`` ``record``; None for
    any other corpus): when it was calibrated on subjects of ``dataset``, those subjects become the run's
    calibration subjects, so they are never tested (a plain protocol v1 run then goes through the mode path with
    them held out). Text2ImuError when the run names other calibration subjects, tests one of them, or asks for
    mode calibrated (the corpus is calibrated already)."""
    if not record or record.get("dataset") != dataset:
        return setup
    subjects = tuple(sorted(map(str, (record.get("calibration") or {}).get("calibration_subjects", ())),
                            key=subject_key))
    if not subjects:
        return setup
    where = f"the corpus was calibrated on {dataset} subject(s) {', '.join(subjects)} (calibration.json)"
    if setup.mode == "calibrated":
        raise Text2ImuError(f"{where}; benchmark it with mode synthetic, not calibrated")
    given = setup.calibration_subjects
    if given and (isinstance(given, int) or set(map(str, given)) != set(subjects)):
        raise Text2ImuError(f"{where}; --calibration-subjects must name those or be left out, got {given}")
    overlap = sorted(set(subjects) & set(map(str, setup.test_subjects or ())), key=subject_key)
    if overlap:
        raise Text2ImuError(f"{where}; they cannot be test subjects: {', '.join(overlap)}")
    return replace(setup, calibration_subjects=subjects)


def choose_calibration_subjects(subjects: Sequence[str], wanted: Sequence[str] | int, dataset: str) -> tuple[str, ...]:
    """The calibration subjects, sorted: ``wanted`` checked against ``subjects``, or k of them drawn with
    :data:`CALIBRATION_SEED` from the sorted subjects. At least one subject must remain for testing."""
    uniq = sorted(set(map(str, subjects)), key=subject_key)
    if isinstance(wanted, int):
        if not 1 <= wanted < len(uniq):
            raise Text2ImuError(
                f"--calibration-subjects {wanted}: {dataset} has {len(uniq)} subjects; choose 1 to {len(uniq) - 1}"
            )
        picked = np.random.default_rng(CALIBRATION_SEED).permutation(len(uniq))[:wanted]
        return tuple(sorted((uniq[i] for i in picked), key=subject_key))
    chosen = sorted(set(map(str, wanted)), key=subject_key)
    unknown = [s for s in chosen if s not in uniq]
    if unknown:
        raise Text2ImuError(
            f"calibration subject(s) {', '.join(unknown)} not in {dataset} (its subjects: {', '.join(uniq)})"
        )
    if len(chosen) >= len(uniq):
        raise Text2ImuError(f"every subject of {dataset} is a calibration subject; none is left to test")
    return tuple(chosen)


def choose_test_subjects(
    subjects: Sequence[str], calibration: Sequence[str], wanted: Sequence[str] | None, dataset: str
) -> tuple[str, ...]:
    """The test subjects: ``wanted`` (checked: known, disjoint from ``calibration``) or every other subject."""
    uniq = sorted(set(map(str, subjects)), key=subject_key)
    if wanted is None:
        return tuple(s for s in uniq if s not in set(calibration))
    chosen = sorted(set(map(str, wanted)), key=subject_key)
    unknown = [s for s in chosen if s not in uniq]
    if unknown:
        raise Text2ImuError(f"test subject(s) {', '.join(unknown)} not in {dataset} (its subjects: {', '.join(uniq)})")
    overlap = [s for s in chosen if s in set(calibration)]
    if overlap:
        raise Text2ImuError(f"subject(s) {', '.join(overlap)} are both calibration and test subjects; a "
                            "calibration subject is never tested")
    if not chosen:
        raise Text2ImuError("no test subject given")
    return tuple(chosen)


def fraction_subjects(pool: Sequence[str], fraction: float, seed: int, fold: int) -> list[str]:
    """max(1, round-half-up(fraction n)) of the n subjects in ``pool``: the first of a permutation of the sorted
    pool seeded with (seed, fold) (so smaller fractions give subsets of larger ones), sorted."""
    uniq = sorted(set(pool), key=subject_key)
    if not uniq:
        return []
    n = min(len(uniq), max(1, math.floor(fraction * len(uniq) + 0.5)))
    order = np.random.default_rng([int(seed), int(fold), 104729]).permutation(len(uniq))
    return sorted((uniq[i] for i in order[:n]), key=subject_key)


@dataclass(frozen=True, eq=False)
class ModeTask:
    """What one seed of a mode needs; windows restricted to ``classes`` (labels 0..K-1).

    ``synthetic`` is the (calibrated, in mode calibrated) synthetic training set or None (mode real); ``real``
    holds every real window of the classes (groups = subjects); ``folds`` are the test-subject lists of the real
    and mixed modes (one list of every test subject in the other modes).
    """

    setup: ModeSetup
    synthetic: WindowSet | None
    y_synthetic: np.ndarray | None
    real: WindowSet
    y_real: np.ndarray
    classes: tuple[str, ...]
    test_subjects: tuple[str, ...]
    calibration_subjects: tuple[str, ...]
    folds: tuple[tuple[str, ...], ...]
    protocol: Protocol = field(default_factory=Protocol)


def _validation(task: ModeTask, train: WindowSet, y: np.ndarray, seed: int) -> np.ndarray:
    if not task.setup.spec.needs_validation:
        return np.zeros(len(y), dtype=bool)
    return holdout_groups(train.groups, y, task.protocol.val_fraction, seed)


def _concat(a: WindowSet, b: WindowSet) -> WindowSet:
    return WindowSet(np.concatenate([a.x, b.x]), np.concatenate([a.y, b.y]),
                     np.concatenate([a.groups.astype(str), b.groups.astype(str)]),
                     np.concatenate([a.source, b.source + (a.source.max() + 1 if len(a) else 0)]))


def _fit(task: ModeTask, train: WindowSet, y: np.ndarray, val: np.ndarray, test_x: np.ndarray, seed: int):
    spec = task.setup.spec
    options = task.setup.rf if spec.name == "rf-ecdf" else None
    return spec.fit_predict(train, y, val, test_x, len(task.classes), seed, task.protocol, options)


def run_mode_seed(task: ModeTask, seed: int) -> dict:
    """One seed of a mode (module docstring): train, predict every test subject once, score the pooled predictions.

    Returns:
        dict(seed, the :func:`~text2imu.benchmark.metrics.scores` entries, folds [{test_subjects, train_subjects
        (real), val_subjects, n_real_pool_subjects, n_synthetic_windows, n_train_windows, n_val_windows, ...}],
        timings).
    """
    start = time.perf_counter()
    subjects = task.real.groups.astype(str)
    tested = np.isin(subjects, task.test_subjects)
    pred = np.full(len(task.y_real), -1, dtype=np.int64)
    mode = task.setup.mode
    folds = []
    for i, test_subjects in enumerate(task.folds):
        test = np.isin(subjects, test_subjects)
        entry: dict = {"test_subjects": list(test_subjects)}
        if mode in ("synthetic", "calibrated"):
            train, y = task.synthetic, task.y_synthetic
            val = _validation(task, train, y, seed)  # protocol v1's hold-out of prompts
            entry.update(train_subjects=[], val_subjects=[], val_groups=sorted(np.unique(train.groups[val]).tolist()))
        else:
            pool = sorted(set(subjects[~test].tolist()), key=subject_key)
            chosen = fraction_subjects(pool, task.setup.real_fraction, seed, i)
            in_chosen = np.isin(subjects, chosen)
            real_train, y_real = task.real.subset(in_chosen), task.y_real[in_chosen]
            real_val = _validation(task, real_train, y_real, seed * 1000 + i)  # as the ceiling
            entry.update(
                n_real_pool_subjects=len(pool),
                real_fraction=task.setup.real_fraction,
                real_subjects_chosen=chosen,
                train_subjects=sorted(set(real_train.groups[~real_val].tolist()), key=subject_key),
                val_subjects=sorted(set(real_train.groups[real_val].tolist()), key=subject_key),
            )
            train, y, val = real_train, y_real, real_val
            if mode == "mixed":
                syn_val = _validation(task, task.synthetic, task.y_synthetic, seed)
                train = _concat(task.synthetic, real_train)
                y = np.concatenate([task.y_synthetic, y_real])
                val = np.concatenate([syn_val, real_val])
                entry["val_groups"] = sorted(np.unique(task.synthetic.groups[syn_val]).tolist())
        fold_pred, info = _fit(task, train, y, val, task.real.x[test], seed)
        pred[test] = fold_pred
        entry.update(
            n_synthetic_windows=int(len(task.y_synthetic)) if task.synthetic is not None and mode != "real" else 0,
            n_test_windows=int(test.sum()),
            **{k: info.get(k) for k in ("n_train_windows", "n_val_windows", "epochs_run", "best_epoch", "train_s")},
        )
        folds.append(entry)
    if (pred[tested] < 0).any() or (pred[~tested] >= 0).any():
        raise Text2ImuError("mode folds did not predict every test window exactly once")
    out = {"seed": int(seed), **scores(task.y_real[tested], pred[tested], task.classes), "folds": folds}
    out["timings"] = {"total_s": time.perf_counter() - start, "train_s": sum(f["train_s"] or 0 for f in folds)}
    return out


def prepare_mode_task(
    setup: ModeSetup,
    synthetic: WindowSet | None,
    y_synthetic: np.ndarray | None,
    real: WindowSet,
    y_real: np.ndarray,
    classes: Sequence[str],
    dataset: str,
    protocol: Protocol,
) -> tuple[ModeTask, dict]:
    """Choose the calibration and test subjects and the folds, calibrate (mode calibrated); returns the task and
    the ``mode`` object of the results file. Raises Text2ImuError for the bad inputs the module docstring lists."""
    classes = tuple(classes)
    subjects = real.groups.astype(str)
    calibration = (
        choose_calibration_subjects(subjects, setup.calibration_subjects, dataset)
        if setup.calibration_subjects else ()
    )
    test_subjects = choose_test_subjects(subjects, calibration, setup.test_subjects, dataset)
    log.info("mode %s, model %s: calibration subjects %s; test subjects %s", setup.mode, setup.model,
             ", ".join(calibration) or "none", ", ".join(test_subjects))
    if setup.mode != "real" and (synthetic is None or not len(synthetic)):
        raise Text2ImuError(f"mode {setup.mode} needs synthetic windows (a CORPUS)")
    info: dict = {
        "mode": setup.mode,
        "model": setup.model,
        "description": MODES[setup.mode],
        "calibration_subjects": list(calibration),
        "calibration_subjects_choice": (
            f"{setup.calibration_subjects} drawn with seed {CALIBRATION_SEED} from the sorted subjects"
            if isinstance(setup.calibration_subjects, int) else "given"
        ) if calibration else None,
        "test_subjects": list(test_subjects),
        "test_subjects_choice": "given" if setup.test_subjects is not None else "every non-calibration subject",
    }
    if setup.mode in ("real", "mixed"):
        folds = tuple(tuple(f) for f in subject_folds(test_subjects, setup.fold_scheme))
        scheme = "leave-one-subject-out" if setup.fold_scheme == "loso" else f"grouped {len(folds)}-fold by subject"
        info.update(
            folds=scheme,
            real_fraction=setup.real_fraction,
            real_fraction_choice="max(1, round(F n)) of each fold's n real training subjects (the other test "
            "subjects and the calibration subjects), seeded with (seed, fold); nested across fractions",
        )
    else:
        folds = (test_subjects,)
        info.update(
            folds="none: the test subjects never enter training, so one model per seed scores all of them",
            real_fraction=None,
        )
    if setup.mode == "calibrated":
        from .calibration import apply_quantile_calibration, fit_quantile_calibration

        cal_mask = np.isin(subjects, calibration)
        names = np.asarray(classes)
        cal = fit_quantile_calibration(
            synthetic.x, names[y_synthetic], real.x[cal_mask], names[y_real[cal_mask]], classes,
            calibration_subjects=calibration, n_quantiles=setup.n_quantiles,
        )
        x = apply_quantile_calibration(cal, synthetic.x, names[y_synthetic])
        synthetic = WindowSet(np.asarray(x, np.float32), synthetic.y, synthetic.groups, synthetic.source)
        info["calibration"] = {
            "method": "per-class, per-channel quantile mapping of the synthetic values onto the real ones "
            "(text2imu.benchmark.calibration), fitted on the real windows of the calibration subjects only",
            "n_quantiles": cal.n_quantiles,
            "n_real_windows": int(cal_mask.sum()),
        }
    task = ModeTask(setup, synthetic, y_synthetic, real, y_real, classes, test_subjects, calibration, folds, protocol)
    return task, info
