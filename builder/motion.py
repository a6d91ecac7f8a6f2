"""Motion: a 22-joint skeleton sequence in metres, its validation and resampling.

Conventions (DESIGN.md section 3): HumanML3D joint order (:mod:`text2imu.builder.skeleton`), world frame y-up,
metres, floor at y = 0, 20 fps unless a Motion says otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from .errors import MotionError
from .skeleton import N_JOINTS, skeleton

log = logging.getLogger(__name__)

DEFAULT_FPS = 20.0
MIN_FRAMES = 3
# Plausibility limits. A bone may be 0.35x to 2.2x HumanML3D's adult target length (a small child to a very
# tall adult, with generator slack); over a clip a bone may stretch by at most 35 % of its median length
# (generated motions are not rigid, mocap-derived ones are to 1e-7). Speeds: the pelvis of the fastest sprinter
# peaks near 12.4 m/s; a pitcher's hand near 30 m/s.
BONE_SCALE_RANGE = (0.35, 2.2)
MAX_BONE_STRETCH = 0.35
MAX_ROOT_SPEED_MPS = 13.0
MAX_JOINT_SPEED_MPS = 30.0


@dataclass(frozen=True)
class Motion:
    """A skeleton motion.

    Attributes:
        joints_m: (T, 22, 3) float32 joint positions in metres (world frame, y-up).
        fps: frame rate in Hz (> 0).
        prompt: the text that produced it, if any.
        metadata: free-form provenance (read-only mapping).
    """

    joints_m: np.ndarray
    fps: float = DEFAULT_FPS
    prompt: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints_m)
        if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3):
            raise MotionError(f"joints must have shape (T, {N_JOINTS}, 3), got {tuple(joints.shape)}")
        if not np.issubdtype(joints.dtype, np.number):
            raise MotionError(f"joints must be numeric, got dtype {joints.dtype}")
        joints = np.ascontiguousarray(joints, dtype=np.float32)
        joints.setflags(write=False)
        object.__setattr__(self, "joints_m", joints)
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def n_frames(self) -> int:
        return int(self.joints_m.shape[0])

    @property
    def duration_s(self) -> float:
        """Time from the first to the last frame, in seconds."""
        return (self.n_frames - 1) / self.fps if self.fps > 0 else float("nan")

    def times_s(self) -> np.ndarray:
        """(T,) frame times in seconds, starting at 0."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def problems(self) -> list[str]:
        """Everything that makes this motion unusable, as sentences (empty when valid)."""
        return motion_problems(self.joints_m, self.fps)

    def validated(self, source: str | None = None) -> Motion:
        """Return self, or raise :class:`MotionError` naming ``source`` and every problem found."""
        found = self.problems()
        if found:
            where = f"{source}: " if source else ""
            raise MotionError(where + "invalid motion: " + "; ".join(found))
        return self

    def resampled(self, fps: float) -> Motion:
        """The same motion at another frame rate (see :func:`resample_joints`)."""
        if fps == self.fps:
            return self
        return replace(self, joints_m=resample_joints(self.joints_m, self.fps, fps), fps=fps)


def bone_lengths_m(joints_m: np.ndarray) -> np.ndarray:
    """(T, 22, 3) positions -> (T, 22) length in metres of the bone ending at each joint (0 for the pelvis)."""
    parents = np.array(skeleton().parents)
    lengths = np.zeros(joints_m.shape[:2], dtype=np.float64)
    child = np.arange(1, len(parents))
    lengths[:, child] = np.linalg.norm(
        joints_m[:, child].astype(np.float64) - joints_m[:, parents[child]].astype(np.float64), axis=-1
    )
    return lengths


def joint_speeds_mps(joints_m: np.ndarray, fps: float) -> np.ndarray:
    """(T, 22, 3) positions at ``fps`` Hz -> (T-1, 22) finite-difference speeds in m/s."""
    return np.linalg.norm(np.diff(joints_m.astype(np.float64), axis=0), axis=-1) * fps


def motion_problems(joints_m: np.ndarray, fps: float) -> list[str]:
    """Check a (T, 22, 3) array in metres at ``fps`` Hz; return each problem as a sentence."""
    sk = skeleton()
    joints = np.asarray(joints_m)
    if joints.ndim != 3 or joints.shape[1:] != (N_JOINTS, 3):
        return [f"shape {tuple(joints.shape)} is not (T, {N_JOINTS}, 3)"]
    found: list[str] = []
    if not np.isfinite(fps) or fps <= 0:
        found.append(f"fps must be positive, got {fps}")
    if joints.shape[0] < MIN_FRAMES:
        found.append(f"{joints.shape[0]} frames; at least {MIN_FRAMES} are needed")
    bad = ~np.isfinite(joints)
    if bad.any():
        frames = np.unique(np.nonzero(bad)[0])
        found.append(f"{int(bad.sum())} NaN or infinite values (first at frame {int(frames[0])})")
    if found:
        return found
    lengths = bone_lengths_m(joints)[:, 1:]
    ref = sk.bone_lengths_m[1:]
    median = np.median(lengths, axis=0)
    lo, hi = BONE_SCALE_RANGE
    scale = median / ref
    for j in np.nonzero((scale < lo) | (scale > hi))[0]:
        found.append(
            f"bone {sk.names[sk.parents[j + 1]]}->{sk.names[j + 1]} is {median[j]:.3f} m "
            f"({scale[j]:.2f}x a typical adult's {ref[j]:.3f} m; allowed {lo}-{hi}x)"
        )
    stretch = (lengths.max(axis=0) - lengths.min(axis=0)) / np.maximum(median, 1e-9)
    for j in np.nonzero(stretch > MAX_BONE_STRETCH)[0]:
        found.append(
            f"bone {sk.names[sk.parents[j + 1]]}->{sk.names[j + 1]} changes length by "
            f"{100 * stretch[j]:.0f} % over the clip (allowed {100 * MAX_BONE_STRETCH:.0f} %)"
        )
    if fps > 0:
        speeds = joint_speeds_mps(joints, fps)
        root_peak = float(speeds[:, 0].max())
        if root_peak > MAX_ROOT_SPEED_MPS:
            found.append(f"pelvis speed reaches {root_peak:.1f} m/s (limit {MAX_ROOT_SPEED_MPS} m/s)")
        peak = speeds.max(axis=0)
        j = int(np.argmax(peak))
        if peak[j] > MAX_JOINT_SPEED_MPS:
            found.append(f"{sk.names[j]} speed reaches {peak[j]:.1f} m/s (limit {MAX_JOINT_SPEED_MPS} m/s)")
    return found


def resample_joints(joints_m: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Resample (T, J, 3) positions from ``fps_in`` to ``fps_out`` Hz over the same time span.

    A not-a-knot cubic spline through the positions is evaluated at ``k / fps_out`` for every k with
    ``k / fps_out <= (T - 1) / fps_in``. It interpolates, so when ``fps_in`` is an integer multiple of ``fps_out``
    the result equals every n-th frame exactly (HumanML3D's own downsampling). Returns float32 (T', J, 3).
    """
    if fps_in <= 0 or fps_out <= 0:
        raise MotionError(f"frame rates must be positive, got {fps_in} -> {fps_out}")
    joints = np.asarray(joints_m, dtype=np.float64)
    n = joints.shape[0]
    if n < 2:
        raise MotionError(f"cannot resample {n} frame(s)")
    duration = (n - 1) / fps_in
    n_out = int(np.floor(duration * fps_out + 1e-9)) + 1
    t_out = np.arange(n_out) / fps_out
    t_in = np.arange(n) / fps_in
    spline = CubicSpline(t_in, joints, axis=0, bc_type="not-a-knot" if n >= 4 else "natural")
    out = spline(t_out)
    # Snap samples that coincide with an input frame to it exactly (avoids 1e-16 spline noise).
    idx = t_out * fps_in
    exact = np.abs(idx - np.round(idx)) < 1e-9
    out[exact] = joints[np.round(idx[exact]).astype(int)]
    return out.astype(np.float32)


def describe(motion: Motion) -> dict[str, Any]:
    """Summary numbers of a motion: frames, fps, duration, per-axis ranges, bone lengths, peak speed."""
    j = motion.joints_m.astype(np.float64)
    finite = np.isfinite(j).all()
    info: dict[str, Any] = {
        "frames": motion.n_frames,
        "fps": motion.fps,
        "duration_s": motion.duration_s,
        "prompt": motion.prompt,
    }
    if finite and motion.n_frames:
        info["range_m"] = {ax: (float(j[..., i].min()), float(j[..., i].max())) for i, ax in enumerate("xyz")}
        info["root_path_m"] = float(np.linalg.norm(np.diff(j[:, 0, [0, 2]], axis=0), axis=-1).sum())
        if motion.n_frames >= 2 and motion.fps > 0:
            info["peak_joint_speed_mps"] = float(joint_speeds_mps(j, motion.fps).max())
        info["height_proxy_m"] = float(j[:, 15, 1].max() - j[:, :, 1].min())
    info["problems"] = motion.problems()
    return info
