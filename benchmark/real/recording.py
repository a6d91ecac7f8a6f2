"""Recording: one real IMU recording of one activity at one body site, and its resampling.

Conventions (DESIGN.md sections 3 and 6): activities are the RealWorld eight (:data:`ACTIVITIES`, in that order),
accelerations in m/s^2 (specific force, gravity included), angular rates in rad/s. Readers convert on reading:
``G_MPS2 = 9.80665`` m/s^2 per g (standard gravity), ``pi / 180`` rad/s per deg/s.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.builder.vocab import ACTIVITIES, SITE_NAMES

log = logging.getLogger(__name__)

# The shared vocabularies (builder/data/vocabulary.toml, builder/data/sites.toml).
REAL_SITES: tuple[str, ...] = SITE_NAMES
G_MPS2 = 9.80665  # standard gravity: m/s^2 per g
RAD_PER_DEG = math.pi / 180.0  # rad/s per deg/s
DEFAULT_RATE_HZ = 20.0
MAX_RATIO_DENOMINATOR = 100  # resampling ratio up/down is a fraction with down (and up) of at most this


def _as_signal(name: str, value: object, n_rows: int | None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise Text2ImuError(f"Recording.{name} must have shape (T, 3) with T >= 1, got {tuple(arr.shape)}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise Text2ImuError(f"Recording.{name} has {arr.shape[0]} rows but acc_mps2 has {n_rows}")
    if not np.issubdtype(arr.dtype, np.number):
        raise Text2ImuError(f"Recording.{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise Text2ImuError(f"Recording.{name} holds NaN or infinite values (readers fill or drop them)")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Recording:
    """One continuous real recording of one activity at one site.

    Attributes:
        dataset: reader name, e.g. ``"uci_hapt"``.
        subject: the dataset's subject number (HAPT user 1-30, RealWorld proband 1-15, PAMAP2 101-109,
            USC-HAD 1-14).
        session: the dataset's session / experiment / trial, as text (e.g. ``"exp01"``, ``"2"``, ``"protocol"``).
        activity: one of :data:`ACTIVITIES`.
        site: one of :data:`REAL_SITES`, e.g. ``"hapt.waist"``.
        rate_hz: sampling rate in Hz (> 0).
        acc_mps2: (T, 3) float32 specific force in m/s^2, device frame, gravity included. Read-only.
        gyro_radps: (T, 3) float32 angular rate in rad/s, device frame, or None where the dataset has no
            gyroscope data at that site. Read-only.
        segment: 0-based index that tells apart recordings of the same (subject, session, activity, site), e.g. the
            labelled segment's row in HAPT's labels.txt for that experiment, or the piece of a recording split at a
            gap. Its meaning per dataset is in the reader's docstring.
    """

    dataset: str
    subject: int
    session: str
    activity: str
    site: str
    rate_hz: float
    acc_mps2: np.ndarray
    gyro_radps: np.ndarray | None
    segment: int = 0

    def __post_init__(self) -> None:
        if self.activity not in ACTIVITIES:
            raise UnknownNameError("activity", str(self.activity), ACTIVITIES)
        if self.site not in REAL_SITES:
            raise UnknownNameError("site", str(self.site), REAL_SITES)
        rate = float(self.rate_hz)
        if not (math.isfinite(rate) and rate > 0):
            raise Text2ImuError(f"Recording.rate_hz must be a positive number, got {self.rate_hz!r}")
        acc = _as_signal("acc_mps2", self.acc_mps2, None)
        gyro = None if self.gyro_radps is None else _as_signal("gyro_radps", self.gyro_radps, acc.shape[0])
        object.__setattr__(self, "rate_hz", rate)
        object.__setattr__(self, "subject", int(self.subject))
        object.__setattr__(self, "session", str(self.session))
        object.__setattr__(self, "segment", int(self.segment))
        object.__setattr__(self, "acc_mps2", acc)
        object.__setattr__(self, "gyro_radps", gyro)

    @property
    def n_samples(self) -> int:
        """T, the number of samples."""
        return int(self.acc_mps2.shape[0])

    @property
    def duration_s(self) -> float:
        """T / rate_hz, in seconds."""
        return self.n_samples / self.rate_hz

    def __repr__(self) -> str:
        gyro = "gyro" if self.gyro_radps is not None else "no gyro"
        return (
            f"Recording({self.dataset} subject={self.subject} session={self.session!r} segment={self.segment} "
            f"{self.activity} @ {self.site}, {self.n_samples} samples at {self.rate_hz:g} Hz, {gyro})"
        )


class Recordings(list):
    """A ``list[Recording]`` that also carries what the reader dropped.

    Attributes:
        dropped: dataset label name -> number of samples (at the dataset's own rate, per row of its files, not
            per site) that were dropped because no activity of :data:`ACTIVITIES` maps to that label, or because
            they were unlabelled (key ``"unlabelled"``).
    """

    def __init__(self, items: Iterable[Recording] = (), dropped: Mapping[str, int] | None = None):
        super().__init__(items)
        self.dropped: dict[str, int] = dict(sorted((dropped or {}).items()))


def resampling_ratio(rate_in_hz: float, rate_out_hz: float) -> tuple[int, int]:
    """(up, down): the rational approximation of rate_out / rate_in (denominators <= 100) used for resampling."""
    if not (rate_in_hz > 0 and rate_out_hz > 0):
        raise Text2ImuError(f"rates must be positive, got {rate_in_hz} Hz -> {rate_out_hz} Hz")
    frac = Fraction(rate_out_hz / rate_in_hz).limit_denominator(MAX_RATIO_DENOMINATOR)
    if frac.numerator == 0:
        raise Text2ImuError(f"cannot resample {rate_in_hz} Hz to {rate_out_hz} Hz (ratio too small)")
    return frac.numerator, frac.denominator


def resample_signal(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Polyphase resampling of (T, C) samples by up/down along time, with scipy's anti-aliasing FIR filter.

    Uses :func:`scipy.signal.resample_poly` (Kaiser window, beta 5) in float64 with ``padtype="line"``: the
    signal is assumed to continue the straight line through its first and last samples, so a constant offset
    such as gravity is not pulled towards zero at the ends. Returns (ceil(T * up / down), C) float64.
    """
    x64 = np.asarray(x, dtype=np.float64)
    if up == down:
        return x64.copy()
    if x64.shape[0] < 2:  # a line needs two points; one sample stays one sample
        return x64[:1].copy()
    return resample_poly(x64, up, down, axis=0, padtype="line")


def resample_recording(rec: Recording, rate_hz: float = DEFAULT_RATE_HZ) -> Recording:
    """The same recording at ``rate_hz`` (default 20 Hz), anti-aliased (:func:`resample_signal`).

    The ratio is ``resampling_ratio(rec.rate_hz, rate_hz)``, exact for the rates of the four datasets (50 and
    100 Hz to 20 Hz); for other rates the output is labelled ``rate_hz`` although it is the rational
    approximation. T samples become ceil(T * up / down). The input is returned as is when the rate already
    matches.
    """
    if float(rate_hz) == rec.rate_hz:
        return rec
    up, down = resampling_ratio(rec.rate_hz, float(rate_hz))
    acc = resample_signal(rec.acc_mps2, up, down)
    gyro = None if rec.gyro_radps is None else resample_signal(rec.gyro_radps, up, down)
    return replace(rec, rate_hz=float(rate_hz), acc_mps2=acc, gyro_radps=gyro)


def resample_recordings(recs: Iterable[Recording], rate_hz: float = DEFAULT_RATE_HZ) -> Recordings:
    """:func:`resample_recording` of each; keeps ``dropped`` when given a :class:`Recordings`."""
    return Recordings((resample_recording(r, rate_hz) for r in recs), getattr(recs, "dropped", None))
