"""Calibration of synthetic IMU signals with a little real data (IMUGPT): per-class, per-channel quantile mapping.

For every class k and channel c, the synthetic values are pushed through the probability integral transform:
``v -> F_real^-1(F_syn(v))``, with both distributions summarised by ``Q`` quantiles at evenly spaced
probabilities (``n_quantiles``, 101 by default: every percentile). Between quantiles the map is piecewise linear
(``np.interp`` from the synthetic quantiles onto the real ones), so it is monotone non-decreasing and a synthetic
value at the p-quantile of its class lands on the real p-quantile.

Choices, written down:

- Pooling: all samples of all windows of one class are pooled per channel (time order plays no part); the fit
  sees only what it is given, so the caller passes the real calibration subjects' windows only.
- Ties: when several synthetic quantiles are equal (a constant channel, a saturated sensor, heavy rounding), the
  tied knots are merged into one knot whose real value is the mean of their real quantiles; the knots are first
  made non-decreasing (``np.maximum.accumulate``, guarding against one-ulp rounding). A synthetic channel that
  is constant within a class is thus shifted onto the mean of the real quantiles (no spread can be created).
- Beyond the ends (values below the synthetic 0-quantile or above the 1-quantile, which happens when the map is
  applied to data other than the fit data): shifted linearly with slope 1 from the end knot,
  ``v -> real_q[-1] + (v - syn_q[-1])``, rather than clamped, so the map stays strictly increasing there and
  extreme synthetic values stay extreme.
- Labels are activity names (:data:`text2imu.builder.vocab.ACTIVITIES` spelling); integer labels are read as
  indices into ACTIVITIES (the ``WindowSet.y`` convention).

Units: values keep their channel's unit (m/s^2 for acc, rad/s for gyro); quantiles are stored in those units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from text2imu.builder.errors import Text2ImuError
from text2imu.builder.vocab import ACTIVITIES

from .windows import CHANNELS

METHOD = "per-class per-channel quantile mapping"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class QuantileCalibration:
    """A fitted per-class, per-channel quantile map.

    Attributes:
        classes: (K,) activity names the map covers, in the order of the first axis of the quantile arrays.
        channels: (C,) channel names (:data:`text2imu.benchmark.windows.CHANNELS`: acc x, y, z in m/s^2, gyro x,
            y, z in rad/s).
        probabilities: (Q,) float64 evenly spaced probabilities in [0, 1], 0 and 1 included.
        synthetic_quantiles: (K, C, Q) float64 quantiles of the synthetic values, in the channel's unit.
        real_quantiles: (K, C, Q) float64 quantiles of the real calibration values, in the channel's unit.
        calibration_subjects: the real subjects the real quantiles were fitted on (as text; may be empty).
    """

    classes: tuple[str, ...]
    channels: tuple[str, ...]
    probabilities: np.ndarray
    synthetic_quantiles: np.ndarray
    real_quantiles: np.ndarray
    calibration_subjects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        k, c = len(self.classes), len(self.channels)
        p = np.asarray(self.probabilities, dtype=np.float64)
        syn = np.asarray(self.synthetic_quantiles, dtype=np.float64)
        real = np.asarray(self.real_quantiles, dtype=np.float64)
        if k == 0 or c == 0:
            raise Text2ImuError("a quantile calibration needs at least one class and one channel")
        if len(set(self.classes)) != k:
            raise Text2ImuError(f"quantile calibration: repeated class in {list(self.classes)}")
        if p.ndim != 1 or p.size < 2 or not np.all(np.diff(p) > 0) or p[0] < 0 or p[-1] > 1:
            raise Text2ImuError("quantile calibration: probabilities must be (Q,) increasing in [0, 1] with Q >= 2")
        for name, q in (("synthetic_quantiles", syn), ("real_quantiles", real)):
            if q.shape != (k, c, p.size):
                raise Text2ImuError(f"quantile calibration: {name} has shape {q.shape}, expected {(k, c, p.size)}")
            if not np.isfinite(q).all():
                raise Text2ImuError(f"quantile calibration: {name} holds non-finite values")
        object.__setattr__(self, "classes", tuple(str(x) for x in self.classes))
        object.__setattr__(self, "channels", tuple(str(x) for x in self.channels))
        object.__setattr__(self, "calibration_subjects", tuple(str(x) for x in self.calibration_subjects))
        object.__setattr__(self, "probabilities", p)
        object.__setattr__(self, "synthetic_quantiles", syn)
        object.__setattr__(self, "real_quantiles", real)

    @property
    def n_quantiles(self) -> int:
        """Q, the number of quantiles per class and channel."""
        return int(self.probabilities.size)

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists of floats); :meth:`from_dict` reads it back exactly."""
        return {
            "format_version": FORMAT_VERSION,
            "method": METHOD,
            "classes": list(self.classes),
            "channels": list(self.channels),
            "calibration_subjects": list(self.calibration_subjects),
            "probabilities": self.probabilities.tolist(),
            "synthetic_quantiles": self.synthetic_quantiles.tolist(),
            "real_quantiles": self.real_quantiles.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> QuantileCalibration:
        """The calibration written by :meth:`to_dict`; a missing key or a bad shape -> :class:`Text2ImuError`."""
        if not isinstance(d, dict):
            raise Text2ImuError(f"quantile calibration: expected a JSON object, got {type(d).__name__}")
        missing = [k for k in ("classes", "channels", "probabilities", "synthetic_quantiles", "real_quantiles")
                   if k not in d]
        if missing:
            raise Text2ImuError(f"quantile calibration: missing key(s) {', '.join(missing)}")
        if d.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise Text2ImuError(
                f"quantile calibration: format_version {d.get('format_version')} is not {FORMAT_VERSION}"
            )
        try:
            return cls(
                classes=tuple(d["classes"]),
                channels=tuple(d["channels"]),
                probabilities=np.asarray(d["probabilities"], dtype=np.float64),
                synthetic_quantiles=np.asarray(d["synthetic_quantiles"], dtype=np.float64),
                real_quantiles=np.asarray(d["real_quantiles"], dtype=np.float64),
                calibration_subjects=tuple(d.get("calibration_subjects", ())),
            )
        except (TypeError, ValueError) as err:
            raise Text2ImuError(f"quantile calibration: unreadable arrays ({err})") from None


def _as_samples(x: np.ndarray, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, C) windows or (M, C) samples with (N,) / (M,) labels -> ((S, C) float64 samples, (S,) str labels)."""
    arr = np.asarray(x)
    lab = _label_names(labels, what)
    if arr.ndim not in (2, 3):
        raise Text2ImuError(f"{what}: expected (N, T, C) windows or (M, C) samples, got shape {arr.shape}")
    if lab.shape != (arr.shape[0],):
        raise Text2ImuError(f"{what}: {arr.shape[0]} windows/samples but labels of shape {lab.shape}")
    if arr.ndim == 3:
        lab = np.repeat(lab, arr.shape[1])
        arr = arr.reshape(-1, arr.shape[2])
    return arr.astype(np.float64, copy=False), lab


def _label_names(labels, what: str) -> np.ndarray:
    """Labels as (N,) str activity names; integer labels are indices into ACTIVITIES."""
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise Text2ImuError(f"{what}: labels must be one-dimensional, got shape {lab.shape}")
    if lab.size and np.issubdtype(lab.dtype, np.integer):
        if lab.min() < 0 or lab.max() >= len(ACTIVITIES):
            raise Text2ImuError(f"{what}: integer labels must index the {len(ACTIVITIES)} activities")
        return np.asarray(ACTIVITIES, dtype=object)[lab].astype(str)
    return lab.astype(str)


def _quantiles(values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """(S, C) samples -> (C, Q) quantiles (linear interpolation), made non-decreasing along Q."""
    q = np.quantile(values, probabilities, axis=0).T
    return np.maximum.accumulate(q, axis=1)


def fit_quantile_calibration(
    synthetic_x: np.ndarray,
    synthetic_labels,
    real_x: np.ndarray,
    real_labels,
    classes: Sequence[str],
    calibration_subjects: Sequence[str] = (),
    n_quantiles: int = 101,
    *,
    channels: Sequence[str] | None = None,
) -> QuantileCalibration:
    """Fit the per-class, per-channel quantile map from synthetic onto real values.

    Args:
        synthetic_x: (N, T, C) synthetic windows or (M, C) samples, channels last, in channel units.
        synthetic_labels: (N,) or (M,) activity names (or indices into ACTIVITIES).
        real_x: (N', T', C) real calibration windows or (M', C) samples (only the calibration subjects').
        real_labels: (N',) or (M',) activity names (or indices).
        classes: the activities to calibrate (K names); each must have synthetic and real samples.
        calibration_subjects: the real subjects ``real_x`` comes from, recorded in the result.
        n_quantiles: Q >= 2, quantiles at ``linspace(0, 1, Q)`` (101: every percentile).
        channels: C channel names; default :data:`CHANNELS` when C is 6, else ``ch0 .. ch{C-1}``.

    Returns:
        A :class:`QuantileCalibration` with (K, C, Q) synthetic and real quantiles.

    Raises:
        Text2ImuError: bad shapes, non-finite values, or a class of ``classes`` without real or synthetic
            samples (the message names the class).
    """
    syn, syn_lab = _as_samples(synthetic_x, synthetic_labels, "synthetic data")
    real, real_lab = _as_samples(real_x, real_labels, "real calibration data")
    if syn.shape[1] != real.shape[1]:
        raise Text2ImuError(
            f"synthetic data has {syn.shape[1]} channels but the real calibration data has {real.shape[1]}"
        )
    n_channels = syn.shape[1]
    if channels is None:
        channels = CHANNELS if n_channels == len(CHANNELS) else tuple(f"ch{i}" for i in range(n_channels))
    if len(channels) != n_channels:
        raise Text2ImuError(f"{len(channels)} channel names for {n_channels} channels")
    if int(n_quantiles) < 2:
        raise Text2ImuError(f"n_quantiles must be at least 2, got {n_quantiles}")
    classes = tuple(str(c) for c in classes)
    if not classes:
        raise Text2ImuError("no class to calibrate")
    subjects = ", ".join(map(str, calibration_subjects)) or "the calibration set"
    probabilities = np.linspace(0.0, 1.0, int(n_quantiles))
    syn_q = np.empty((len(classes), n_channels, probabilities.size))
    real_q = np.empty_like(syn_q)
    for k, name in enumerate(classes):
        s = syn[syn_lab == name]
        r = real[real_lab == name]
        if r.shape[0] == 0:
            raise Text2ImuError(f"class '{name}' has no real sample in the calibration set (subjects {subjects})")
        if s.shape[0] == 0:
            raise Text2ImuError(f"class '{name}' has no synthetic sample to calibrate")
        for what, v in (("synthetic", s), ("real", r)):
            if not np.isfinite(v).all():
                raise Text2ImuError(f"class '{name}': the {what} data holds non-finite values")
        syn_q[k] = _quantiles(s, probabilities)
        real_q[k] = _quantiles(r, probabilities)
    return QuantileCalibration(
        classes=classes,
        channels=tuple(channels),
        probabilities=probabilities,
        synthetic_quantiles=syn_q,
        real_quantiles=real_q,
        calibration_subjects=tuple(str(s) for s in calibration_subjects),
    )


def _knots(syn_q: np.ndarray, real_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q,) synthetic and real quantiles -> strictly increasing synthetic knots and their real values (ties
    merged, real value = mean of the tied real quantiles)."""
    xs = np.maximum.accumulate(syn_q)
    unique, inverse = np.unique(xs, return_inverse=True)
    ys = np.bincount(inverse, weights=real_q, minlength=unique.size) / np.bincount(inverse, minlength=unique.size)
    return unique, ys


def map_values(values: np.ndarray, syn_q: np.ndarray, real_q: np.ndarray) -> np.ndarray:
    """Map values (any shape) of one class and channel: piecewise linear through the knots, slope 1 beyond the
    ends. Monotone non-decreasing; strictly increasing outside [syn_q[0], syn_q[-1]]."""
    xs, ys = _knots(np.asarray(syn_q, np.float64), np.asarray(real_q, np.float64))
    v = np.asarray(values, dtype=np.float64)
    out = np.interp(v, xs, ys)
    below, above = v < xs[0], v > xs[-1]
    out[below] = ys[0] + (v[below] - xs[0])
    out[above] = ys[-1] + (v[above] - xs[-1])
    return out


def apply_quantile_calibration(cal: QuantileCalibration, x: np.ndarray, labels) -> np.ndarray:
    """Calibrate windows or samples with a fitted map.

    Args:
        cal: the fitted :class:`QuantileCalibration`.
        x: (N, T, C) windows or (M, C) samples, C = len(cal.channels), in channel units.
        labels: (N,) or (M,) activity names (or indices into ACTIVITIES); every label must be in ``cal.classes``.

    Returns:
        float32 array of the shape of ``x``: each value v of class k, channel c mapped through the knots
        (``synthetic_quantiles[k, c]`` -> ``real_quantiles[k, c]``), see the module docstring for ties and ends.

    Raises:
        Text2ImuError: a shape mismatch, or a label that is not a calibrated class (named).
    """
    arr = np.asarray(x)
    lab = _label_names(labels, "data to calibrate")
    if arr.ndim not in (2, 3):
        raise Text2ImuError(f"data to calibrate: expected (N, T, C) or (M, C), got shape {arr.shape}")
    if lab.shape != (arr.shape[0],):
        raise Text2ImuError(f"data to calibrate: {arr.shape[0]} windows/samples but labels of shape {lab.shape}")
    if arr.shape[-1] != len(cal.channels):
        raise Text2ImuError(
            f"data to calibrate has {arr.shape[-1]} channels; the calibration has {len(cal.channels)} "
            f"({', '.join(cal.channels)})"
        )
    unknown = sorted(set(lab.tolist()) - set(cal.classes))
    if unknown:
        raise Text2ImuError(
            f"no calibration for class(es) {', '.join(unknown)} (calibrated: {', '.join(cal.classes)})"
        )
    out = np.empty(arr.shape, dtype=np.float32)
    for k, name in enumerate(cal.classes):
        rows = lab == name
        if not rows.any():
            continue
        block = arr[rows]
        mapped = np.empty(block.shape, dtype=np.float64)
        for c in range(arr.shape[-1]):
            mapped[..., c] = map_values(block[..., c], cal.synthetic_quantiles[k, c], cal.real_quantiles[k, c])
        out[rows] = mapped
    return out
