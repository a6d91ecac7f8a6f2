"""HumanML3D: 263-dim features <-> 22 joint positions, its analytic IK and FK, and its folder layout.

Re-implemented from the description in ``../shared/FORMATS.md`` sections 4.3-4.8 (EricGuo5513/HumanML3D,
``motion_representation.ipynb::process_file``, ``common/skeleton.py``, ``cal_mean_variance.ipynb``):

1. uniform skeleton: IK, then FK with the target bone lengths of ``data/skeleton.toml``, the root path scaled
   by the ratio of the right-leg lengths (bones ending at joints 5 and 8, frame 0);
2. floor at y = 0 (global minimum), frame-0 pelvis at x = z = 0, frame-0 forward turned to +z;
3. features (layout in :data:`FEATURE_SLICES`); :func:`features_to_joints` is ``recover_from_ric``.

HumanML3D's IK takes its facing from the hip and shoulder lines with the hip pair swapped (a shipped bug: the
two lines oppose instead of adding). Every published copy was computed with it, so ``compat_facing_bug=True``
(the default) reproduces it; ``False`` gives the corrected facing. The frame-0 facing of step 2 never had the
bug. Departures from the original, for robustness only: zero-length bones and 180-degree swings give a finite
rotation instead of NaN, and frames with no defined facing (hip and shoulder lines cancelling, or vertical)
borrow the facing of the nearest frame that has one.

A second quirk: slice [0] is ``arcsin`` of the y component of ``r_{t+1} r_t^-1``, where every ``r_t`` has
``w >= 0``. When the facing passes through 180 degrees from the start, that product has ``w < 0`` and the
arcsin returns the per-frame half-yaw with the wrong sign, so ``recover_from_ric`` turns the rest of the clip
by twice the per-frame yaw change. Published data has it; ``compat_yaw_wrap=True`` (the default) reproduces it,
``False`` takes the sign of the product with ``w >= 0`` first, so the recovered heading is exact.

The folder reader and writer (:class:`HumanML3DFolder`, :func:`write_humanml3d_folder`) live in
:mod:`text2imu.builder.humanml3d_folder` and are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .errors import MotionError
from .motion import Motion
from .rotations import quat_between, quat_conj, quat_mul, quat_rotate, quat_to_cont6d, yaw_quat
from .skeleton import N_JOINTS, skeleton

log = logging.getLogger(__name__)

FPS = 20.0
N_FEATURES = 263
FEATURE_SLICES: dict[str, slice] = {
    "root_rot_vel": slice(0, 1),  # half the per-frame yaw change, rad/frame
    "root_lin_vel": slice(1, 3),  # root xz velocity in the facing frame of t+1, m/frame
    "root_y": slice(3, 4),  # pelvis height, m
    "ric": slice(4, 67),  # joints 1-21, facing frame, xz relative to the root, y absolute, m
    "rot6d": slice(67, 193),  # joints 1-21 local rotations, column-6-D
    "local_vel": slice(193, 259),  # 22 joint velocities in the facing frame of t, m/frame
    "foot_contact": slice(259, 263),  # left_ankle, left_foot, right_ankle, right_foot in {0, 1}
}
"""The seven groups of the 263-dim vector; :func:`feature_mean_std` flattens Std per group."""
FOOT_CONTACT_THRESHOLD_M2 = 0.002
"""A foot joint is in contact when its squared displacement to the next frame is below this (m^2)."""
FORWARD_SMOOTH_SIGMA = 20.0
"""Gaussian sigma in frames of the facing smoothing used for the features (``smooth_forward=True``)."""
LEG_JOINTS = (5, 8)
"""Bones (ending at these joints: right thigh, right shin) whose length sets the root-path scale."""
_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])
_EPS = 1e-8


def _joints_array(joints_m: np.ndarray | Motion, min_frames: int = 1) -> np.ndarray:
    """Joints as float64 (T, 22, 3), resampling a :class:`Motion` to 20 fps; :class:`MotionError` if unusable."""
    if isinstance(joints_m, Motion):
        if joints_m.fps != FPS:
            log.info("resampling a %.3g fps motion to HumanML3D's %g fps", joints_m.fps, FPS)
        joints_m = joints_m.resampled(FPS).joints_m
    p = np.asarray(joints_m)
    if p.ndim != 3 or p.shape[1:] != (N_JOINTS, 3) or not np.issubdtype(p.dtype, np.number):
        raise MotionError(
            f"joints must be a numeric (T, {N_JOINTS}, 3) array, got {p.dtype} {tuple(p.shape)}"
        )
    if p.shape[0] < min_frames:
        raise MotionError(f"{p.shape[0]} frame(s); HumanML3D features need at least {min_frames}")
    if not np.isfinite(p).all():
        first = int(np.nonzero(~np.isfinite(p).all(axis=(1, 2)))[0][0])
        raise MotionError(f"joints contain NaN or infinite values (first at frame {first})")
    return p.astype(np.float64)


def facing_forward(
    joints_m: np.ndarray, *, compat_facing_bug: bool = False, smooth_sigma: float = 0.0
) -> np.ndarray:
    """Horizontal unit forward direction of the body per frame, from the hip and shoulder lines.

    across = (right_hip - left_hip) + (right_shoulder - left_shoulder), normalised; forward = up x across, then
    optionally Gaussian-smoothed over time (``smooth_sigma`` frames, ``mode='nearest'``) before normalising.
    With ``compat_facing_bug`` the hip term is negated, as in HumanML3D's ``inverse_kinematics_np``.

    Args:
        joints_m: (T, 22, 3) positions in metres, y-up.
    Returns:
        (T, 3) unit vectors with y = 0.
    """
    p = np.asarray(joints_m, dtype=np.float64)
    r_hip, l_hip, r_sh, l_sh = skeleton().face_joints
    hips = p[:, r_hip] - p[:, l_hip]
    across = (-hips if compat_facing_bug else hips) + (p[:, r_sh] - p[:, l_sh])
    norm = np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(_UP, across / np.maximum(norm, _EPS))
    valid = (norm[:, 0] > _EPS) & (np.linalg.norm(forward, axis=-1) > 1e-6)
    if not valid.any():
        raise MotionError(
            "no frame has a facing direction: the hip and shoulder lines are vertical or cancel"
        )
    if not valid.all():
        log.warning(
            "%d frame(s) without a facing direction borrow it from the nearest frame", int((~valid).sum())
        )
        good = np.nonzero(valid)[0]
        pos = np.searchsorted(good, np.arange(len(p)))
        left, right = good[np.clip(pos - 1, 0, len(good) - 1)], good[np.clip(pos, 0, len(good) - 1)]
        nearest = np.where(np.abs(np.arange(len(p)) - left) <= np.abs(right - np.arange(len(p))), left, right)
        forward = forward[nearest]
    if smooth_sigma > 0:
        smoothed = gaussian_filter1d(forward, smooth_sigma, axis=0, mode="nearest")
        keep = np.linalg.norm(smoothed, axis=-1) > 1e-6
        forward = np.where(keep[:, None], smoothed, forward)
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def inverse_kinematics(
    joints_m: np.ndarray, smooth_forward: bool = False, *, compat_facing_bug: bool = True
) -> np.ndarray:
    """HumanML3D's analytic IK (``Skeleton.inverse_kinematics_np``): positions -> per-joint quaternions.

    Index 0 holds the root yaw ``r_t`` (world -> facing frame, forward onto +z; identity at frame 0). For each
    kinematic chain, starting from ``r_t`` (also for the arm chains), the rotation stored at child joint ``c``
    is ``R^-1 G`` with ``G`` the shortest arc from the rest direction of ``c`` to the observed bone direction;
    twist about the bone is zero. ``forward_kinematics(inverse_kinematics(p), p[:, 0], lengths of p)`` == p.

    Args:
        joints_m: (T, 22, 3) positions in metres, y-up.
        smooth_forward: smooth the facing over time (sigma 20 frames), as the feature extraction does.
        compat_facing_bug: reproduce HumanML3D's swapped hip pair in the facing (see module docstring).
    Returns:
        (T, 22, 4) float64 unit quaternions (w, x, y, z).
    """
    p = _joints_array(joints_m)
    sk = skeleton()
    forward = facing_forward(
        p, compat_facing_bug=compat_facing_bug, smooth_sigma=FORWARD_SMOOTH_SIGMA if smooth_forward else 0.0
    )
    root = quat_between(forward, _FORWARD)
    root[0] = (1.0, 0.0, 0.0, 0.0)
    quats = np.zeros(p.shape[:2] + (4,))
    quats[:, 0] = root
    for chain in sk.chains:
        parent_rot = root
        for a, b in zip(chain[:-1], chain[1:], strict=False):
            bone_rot = quat_between(np.broadcast_to(sk.rest_directions[b], p[:, b].shape), p[:, b] - p[:, a])
            quats[:, b] = quat_mul(quat_conj(parent_rot), bone_rot)
            parent_rot = quat_mul(parent_rot, quats[:, b])
    return quats


def forward_kinematics(
    quats: np.ndarray, root_m: np.ndarray, bone_lengths_m: np.ndarray | None = None
) -> np.ndarray:
    """HumanML3D's FK: quaternions in the :func:`inverse_kinematics` convention -> positions.

    ``p[c_i] = p[c_{i-1}] + (q_0 q_{c_1} ... q_{c_i}) rotating rest_direction[c_i] * length[c_i]``.

    Args:
        quats: (T, 22, 4) unit quaternions (w, x, y, z).
        root_m: (T, 3) pelvis positions in metres.
        bone_lengths_m: (22,) or (T, 22) lengths of the bone ending at each joint; default the target skeleton.
    Returns:
        (T, 22, 3) float64 positions in metres.
    """
    sk = skeleton()
    quats = np.asarray(quats, dtype=np.float64)
    lengths = sk.bone_lengths_m if bone_lengths_m is None else np.asarray(bone_lengths_m, dtype=np.float64)
    offsets = np.broadcast_to(lengths[..., None] * sk.rest_directions, quats.shape[:1] + (N_JOINTS, 3))
    out = np.zeros(quats.shape[:2] + (3,))
    out[:, 0] = root_m
    for chain in sk.chains:
        rot = quats[:, 0]
        for a, b in zip(chain[:-1], chain[1:], strict=False):
            rot = quat_mul(rot, quats[:, b])
            out[:, b] = out[:, a] + quat_rotate(rot, offsets[:, b])
    return out


def to_uniform_skeleton(joints_m: np.ndarray, bone_lengths_m: np.ndarray | None = None) -> np.ndarray:
    """Retarget (T, 22, 3) positions to the HumanML3D target skeleton (or ``bone_lengths_m``, (22,) in m).

    Bone directions are kept (IK without smoothing, then FK with the new lengths); the whole root path is scaled
    by target / source right-leg length, the source measured at frame 0. Returns float64 (T, 22, 3).
    """
    p = _joints_array(joints_m)
    target = skeleton().bone_lengths_m if bone_lengths_m is None else np.asarray(bone_lengths_m, np.float64)
    parents = np.array(skeleton().parents)
    src_leg = sum(float(np.linalg.norm(p[0, j] - p[0, parents[j]])) for j in LEG_JOINTS)
    if src_leg <= _EPS:
        raise MotionError("the right leg has zero length at frame 0; cannot scale the root path")
    scale = sum(float(target[j]) for j in LEG_JOINTS) / src_leg
    return forward_kinematics(inverse_kinematics(p), p[:, 0] * scale, target)


def canonical_start(joints_m: np.ndarray) -> np.ndarray:
    """Floor at y = 0 (global minimum), frame-0 pelvis at x = z = 0, frame-0 forward turned onto +z.

    The frame-0 facing uses the correct hip order (no compat bug; HumanML3D's ``process_file`` step).
    (T, 22, 3) metres -> float64 (T, 22, 3) metres.
    """
    p = _joints_array(joints_m).copy()
    p[..., 1] -= p[..., 1].min()
    p -= p[0, 0] * np.array([1.0, 0.0, 1.0])
    turn = quat_between(facing_forward(p[:1])[0], _FORWARD)
    return quat_rotate(turn, p)


def joints_to_features(
    joints_m: np.ndarray | Motion,
    *,
    uniform_skeleton: bool = True,
    compat_facing_bug: bool = True,
    compat_yaw_wrap: bool = True,
) -> np.ndarray:
    """HumanML3D's 263-dim features of a 20 fps motion (FORMATS.md 4.3), as ``process_file`` computes them.

    Args:
        joints_m: (T, 22, 3) positions in metres at 20 fps, y-up (any float dtype), or a :class:`Motion`
            (resampled to 20 fps).
        uniform_skeleton: retarget to the target skeleton first (HumanML3D does; skip it for data that is
            already on it, such as ``new_joints``).
        compat_facing_bug: reproduce the shipped facing bug of the IK (see module docstring).
        compat_yaw_wrap: reproduce the sign error of slice [0] where the facing passes through 180 degrees
            (see module docstring).
    Returns:
        (T-1, 263) float32; row t describes frame t using frames t and t+1.
    """
    p = _joints_array(joints_m, min_frames=2)
    if uniform_skeleton:
        p = to_uniform_skeleton(p)
    p = canonical_start(p)
    sk = skeleton()
    feet = list(sk.foot_joints_left) + list(sk.foot_joints_right)
    contacts = (np.sum(np.diff(p[:, feet], axis=0) ** 2, axis=-1) < FOOT_CONTACT_THRESHOLD_M2).astype(
        np.float64
    )
    quats = inverse_kinematics(p, smooth_forward=True, compat_facing_bug=compat_facing_bug)
    r = quats[:, 0]
    step = quat_mul(r[1:], quat_conj(r[:-1]))
    if not compat_yaw_wrap:
        step = np.where(step[:, :1] < 0, -step, step)
    rot_vel = np.arcsin(np.clip(step[:, 2:3], -1.0, 1.0))
    lin_vel = quat_rotate(r[1:], p[1:, 0] - p[:-1, 0])[:, [0, 2]]
    local = p - p[:, :1] * np.array([1.0, 0.0, 1.0])
    ric = quat_rotate(r[:, None], local)[:, 1:].reshape(len(p), -1)
    rot6d = quat_to_cont6d(quats[:, 1:]).reshape(len(p), -1)
    local_vel = quat_rotate(r[:-1, None], p[1:] - p[:-1]).reshape(len(p) - 1, -1)
    feats = np.concatenate(
        [rot_vel, lin_vel, p[:-1, 0, 1:2], ric[:-1], rot6d[:-1], local_vel, contacts], axis=-1
    )
    return feats.astype(np.float32)


def features_to_root(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root yaw and path from (..., T, 263) features (``recover_root_rot_pos``).

    Returns ``(r, root_m)``: (..., T, 4) yaw quaternions ``r_t`` (world -> facing frame; ``r_0`` = identity),
    integrated from the half-yaw velocities of slice [0], and (..., T, 3) pelvis positions in metres (xz
    integrated from slice [1:3] starting at 0, y from slice [3]).
    """
    f = np.asarray(features, dtype=np.float64)
    half_yaw = np.zeros(f.shape[:-1])
    half_yaw[..., 1:] = np.cumsum(f[..., :-1, 0], axis=-1)
    r = yaw_quat(2.0 * half_yaw)
    step = np.zeros(f.shape[:-1] + (3,))
    step[..., 1:, 0] = f[..., :-1, 1]
    step[..., 1:, 2] = f[..., :-1, 2]
    root = np.cumsum(quat_rotate(quat_conj(r), step), axis=-2)
    root[..., 1] = f[..., 3]
    return r, root


def features_to_joints(features: np.ndarray) -> np.ndarray:
    """HumanML3D's ``recover_from_ric``: (..., T, 263) features -> (..., T, 22, 3) float32 positions in m.

    The yaw is integrated from slice [0] (half-angle, starting at 0), the root xz path from slice [1:3], the
    pelvis height is slice [3] and the other joints are slice [4:67] turned back into the world. Float64
    features are accepted (cast); NaN gives :class:`MotionError`.
    """
    f = np.asarray(features)
    if f.ndim < 2 or f.shape[-1] != N_FEATURES or not np.issubdtype(f.dtype, np.number):
        raise MotionError(
            f"features must be a numeric (T, {N_FEATURES}) array, got {f.dtype} {tuple(f.shape)}"
        )
    if not np.isfinite(f).all():
        raise MotionError("features contain NaN or infinite values")
    r, root = features_to_root(f)
    ric = f[..., FEATURE_SLICES["ric"]].astype(np.float64).reshape(f.shape[:-1] + (N_JOINTS - 1, 3))
    joints = quat_rotate(quat_conj(r)[..., None, :], ric) + root[..., None, :] * np.array([1.0, 0.0, 1.0])
    return np.concatenate([root[..., None, :], joints], axis=-2).astype(np.float32)


def to_humanml3d_joints(joints_m: np.ndarray | Motion, **kwargs) -> np.ndarray:
    """What ``new_joints`` holds for a 20 fps motion: ``features_to_joints(joints_to_features(joints_m))``.

    (T, 22, 3) metres -> (T-1, 22, 3) float32 metres, on the target skeleton, floor at 0, starting at the
    origin facing +z. Keyword arguments go to :func:`joints_to_features`.
    """
    return features_to_joints(joints_to_features(joints_m, **kwargs))


def feature_mean_std(features: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Std of feature arrays as ``cal_mean_variance`` computes them (``Mean.npy``, ``Std.npy``).

    Rows of every (T_i, 263) array are pooled (arrays with NaN are skipped with a warning); Std is the
    per-dimension population std, then each group of :data:`FEATURE_SLICES` gets its mean std.
    Returns two (263,) float32 arrays.
    """
    kept = []
    for i, f in enumerate(features):
        f = np.asarray(f, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != N_FEATURES:
            raise MotionError(f"feature array {i} has shape {tuple(f.shape)}, expected (T, {N_FEATURES})")
        if np.isnan(f).any():
            log.warning("feature array %d contains NaN; left out of Mean/Std", i)
            continue
        kept.append(f)
    if not kept:
        raise MotionError("no feature arrays without NaN to compute Mean/Std from")
    data = np.concatenate(kept, axis=0)
    mean, std = data.mean(axis=0), data.std(axis=0)
    for group in FEATURE_SLICES.values():
        std[group] = std[group].mean()
    return mean.astype(np.float32), std.astype(np.float32)


_FOLDER_NAMES = ("Caption", "HumanML3DFolder", "HumanML3DItem", "write_humanml3d_folder")


def __getattr__(name: str):
    """Re-export the folder reader and writer of :mod:`.humanml3d_folder` (imported on first use)."""
    if name in _FOLDER_NAMES:
        from . import humanml3d_folder

        return getattr(humanml3d_folder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FEATURE_SLICES",
    "FPS",
    "N_FEATURES",
    "canonical_start",
    "facing_forward",
    "feature_mean_std",
    "features_to_joints",
    "features_to_root",
    "forward_kinematics",
    "inverse_kinematics",
    "joints_to_features",
    "to_humanml3d_joints",
    "to_uniform_skeleton",
    *_FOLDER_NAMES,
]
