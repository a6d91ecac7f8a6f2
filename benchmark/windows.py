"""Sliding windows of protocol v1: 2 s (40 samples at 20 Hz), 50 % overlap, one label per window.

A window is ``window_samples`` consecutive samples; successive windows start ``step_samples`` apart, the first at
sample 0; a trailing part shorter than a window is left out. A window whose samples do not all carry the same
label (it straddles a label change) or that holds unlabelled samples (label < 0) is dropped.

Channels (protocol v1): acc x, y, z in m/s^2 then gyro x, y, z in rad/s of one site, shape (N, 40, 6) float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from text2imu.builder.errors import Text2ImuError
from text2imu.builder.vocab import ACTIVITIES

CHANNELS: tuple[str, ...] = ("acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyro_x_radps", "gyro_y_radps", "gyro_z_radps")


@dataclass(frozen=True)
class WindowSpec:
    """How signals are cut: rate in Hz, window length in seconds, overlap fraction in [0, 1)."""

    rate_hz: float = 20.0
    window_s: float = 2.0
    overlap: float = 0.5

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0 and self.window_s > 0 and 0 <= self.overlap < 1):
            raise Text2ImuError(
                f"window spec needs rate_hz > 0, window_s > 0, 0 <= overlap < 1; got {self.rate_hz}, "
                f"{self.window_s}, {self.overlap}"
            )
        if self.window_samples < 1 or self.step_samples < 1:
            raise Text2ImuError(f"window spec {self} gives an empty window or step")

    @property
    def window_samples(self) -> int:
        """Samples per window: round(window_s * rate_hz) (40 for v1)."""
        return int(round(self.window_s * self.rate_hz))

    @property
    def step_samples(self) -> int:
        """Samples between window starts: round(window_samples * (1 - overlap)) (20 for v1)."""
        return int(round(self.window_samples * (1.0 - self.overlap)))


V1_WINDOWS = WindowSpec()  # protocol v1: 40 samples at 20 Hz, step 20


def n_windows(n_samples: int, window: int, step: int) -> int:
    """Number of full windows of ``window`` samples, ``step`` apart, in ``n_samples`` samples (0 if too short)."""
    if n_samples < window:
        return 0
    return (n_samples - window) // step + 1


def window_starts(n_samples: int, window: int, step: int) -> np.ndarray:
    """Start indices (n,) int64 of the full windows: 0, step, 2 step, ..."""
    return np.arange(n_windows(n_samples, window, step), dtype=np.int64) * step


def sliding_windows(signal: np.ndarray, window: int, step: int) -> np.ndarray:
    """(T, C) samples -> (N, window, C) windows (a copy, same dtype); N = :func:`n_windows` (may be 0)."""
    x = np.asarray(signal)
    if x.ndim != 2:
        raise Text2ImuError(f"sliding_windows needs a (T, C) signal, got shape {x.shape}")
    starts = window_starts(x.shape[0], window, step)
    if starts.size == 0:
        return np.empty((0, window, x.shape[1]), dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (T - window + 1, C, window)
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1))


def labelled_windows(
    signal: np.ndarray, labels: np.ndarray, window: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of a signal with per-sample labels, keeping only windows with one label throughout.

    Args:
        signal: (T, C) samples.
        labels: (T,) int per-sample labels; negative means unlabelled.
        window, step: samples per window and between starts.

    Returns:
        (x (N, window, C), y (N,) int64, starts (N,) int64): the kept windows, their label and start sample.
        Windows straddling a label change or holding an unlabelled sample are dropped.
    """
    x = np.asarray(signal)
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != x.shape[0]:
        raise Text2ImuError(f"labels must have shape ({x.shape[0]},), got {lab.shape}")
    starts = window_starts(x.shape[0], window, step)
    if starts.size == 0:
        return sliding_windows(x, window, step), np.empty(0, np.int64), starts
    lab_win = np.lib.stride_tricks.sliding_window_view(lab, window)[starts]  # (N, window)
    keep = (lab_win == lab_win[:, :1]).all(axis=1) & (lab_win[:, 0] >= 0)
    return sliding_windows(x, window, step)[keep], lab_win[keep, 0].astype(np.int64), starts[keep]


@dataclass(frozen=True, eq=False)
class WindowSet:
    """Windows with their labels and groups.

    Attributes:
        x: (N, W, C) float32 windows (protocol v1: W = 40, C = 6 in :data:`CHANNELS` order).
        y: (N,) int64 activity index into :data:`ACTIVITIES` (the eight, not a subset).
        groups: (N,) str: what must never be split across train and test, e.g. the prompt id of a synthetic
            recording or the subject of a real one.
        source: (N,) int64 index of the recording each window was cut from.
    """

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, mask: np.ndarray) -> WindowSet:
        """The windows where ``mask`` (N,) bool (or an index array) selects."""
        return WindowSet(self.x[mask], self.y[mask], self.groups[mask], self.source[mask])

    def counts(self) -> dict[str, int]:
        """Windows per activity name, for the activities present, in :data:`ACTIVITIES` order."""
        found = np.bincount(self.y, minlength=len(ACTIVITIES))
        return {a: int(found[i]) for i, a in enumerate(ACTIVITIES) if found[i]}


def window_signals(
    signals: Sequence[np.ndarray],
    activities: Sequence[str],
    groups: Sequence[str],
    spec: WindowSpec = V1_WINDOWS,
) -> WindowSet:
    """Cut single-activity recordings into windows.

    Args:
        signals: per recording a (T_i, C) array (all with the same C), already at ``spec.rate_hz``.
        activities: per recording its activity, one of :data:`ACTIVITIES`.
        groups: per recording its group (prompt id, subject, ...), as text.
        spec: the window spec (v1 by default).

    Returns:
        A :class:`WindowSet`; recordings shorter than one window give no window.
    """
    if not (len(signals) == len(activities) == len(groups)):
        raise Text2ImuError("window_signals: signals, activities and groups must have the same length")
    index = {a: i for i, a in enumerate(ACTIVITIES)}
    w, s = spec.window_samples, spec.step_samples
    xs, ys, gs, src = [], [], [], []
    n_channels = None
    for i, (sig, act, grp) in enumerate(zip(signals, activities, groups, strict=True)):
        if act not in index:
            raise Text2ImuError(f"recording {i}: activity {act!r} is not one of {', '.join(ACTIVITIES)}")
        sig = np.asarray(sig)
        if n_channels is None:
            n_channels = sig.shape[1] if sig.ndim == 2 else None
        if sig.ndim != 2 or sig.shape[1] != n_channels:
            raise Text2ImuError(f"recording {i}: expected a (T, {n_channels}) signal, got shape {sig.shape}")
        win = sliding_windows(sig.astype(np.float32, copy=False), w, s)
        xs.append(win)
        ys.append(np.full(len(win), index[act], np.int64))
        gs.append(np.full(len(win), str(grp), dtype=object))
        src.append(np.full(len(win), i, np.int64))
    if not xs:
        return WindowSet(
            np.empty((0, w, 0), np.float32), np.empty(0, np.int64), np.empty(0, dtype=str), np.empty(0, np.int64)
        )
    return WindowSet(
        np.concatenate(xs).astype(np.float32, copy=False),
        np.concatenate(ys),
        np.concatenate(gs).astype(str),
        np.concatenate(src),
    )


def window_recordings(recordings: Sequence, spec: WindowSpec = V1_WINDOWS) -> WindowSet:
    """Windows of real :class:`~text2imu.benchmark.real.Recording` objects: acc + gyro (6 channels), grouped by
    subject. Every recording must be at ``spec.rate_hz`` and carry gyro data."""
    signals = []
    for rec in recordings:
        if not math.isclose(rec.rate_hz, spec.rate_hz):
            raise Text2ImuError(f"{rec!r} is at {rec.rate_hz:g} Hz; resample it to {spec.rate_hz:g} Hz first")
        if rec.gyro_radps is None:
            raise Text2ImuError(f"{rec!r} has no gyro data; protocol v1 needs acc and gyro")
        signals.append(np.concatenate([rec.acc_mps2, rec.gyro_radps], axis=1))
    return window_signals(
        signals, [r.activity for r in recordings], [str(r.subject) for r in recordings], spec
    )
