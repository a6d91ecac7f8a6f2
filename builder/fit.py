"""Joints -> body pose: analytic IK, retargeting to a body's proportions, forward kinematics, refinement.

Conventions (DESIGN.md sections 3 and 4): HumanML3D joint order, world frame y-up, metres, floor at y = 0. A
body pose is one **global** rotation per segment, ``rotations (T, 22, 3, 3)``, each mapping the body's rest pose
(``BodyAsset.rest_joints_m``) to the posed body; segment j is the rigid part whose proximal joint is j (SMPL's
convention, the one the skinning weights use), so forward kinematics is

    p[c](t) = p[parent(c)](t) + R[parent(c)](t) (J_rest[c] - J_rest[parent(c)]),   p[0](t) = root(t).

Retargeting (:func:`retarget_joints`) gives the reference the body should follow: every bone keeps its observed
direction and takes the body's rest length (HumanML3D's "uniform skeleton" step, with the body as the target
skeleton); the root path is scaled about its frame-0 position (horizontal) and about the floor (height) by
``scale = leg length of the body / leg length of the motion`` (leg = hip->knee + knee->ankle, mean of both
sides, median over frames); then the clip is lifted or lowered by one constant (see :func:`floor_offset_m`).

Analytic IK (:func:`solve_ik`) turns positions into segment rotations. Every rotation is ``F_obs F_rest^T`` with
``F = frame(primary, secondary)`` (orthonormal columns: primary, secondary made orthogonal to it, their cross
product), built with the same rule on the observed and on the rest joints, so the primary bone direction is
reproduced exactly and the secondary resolves the twist:

- pelvis (0) and spine3 (9), which carry three bones each: the weighted best-fit rotation (Kabsch) of the rest
  child offsets onto the observed ones, rescaled to the rest lengths. Pelvis: points pelvis, both hips and
  spine1, weights 1, 4, 4, 13 (joints hanging below each), about their weighted centroids, since the root may
  move too (:func:`root_position`); spine3: neck and both collars, weights 2, 4, 4, about the spine3 joint. The
  hip line sets the yaw about the spine, the spine the tilt; exact when the body's torso shape is the motion's.
- spine1 (3) and spine2 (6): primary the bone up the spine, secondary the body's left axis interpolated
  between pelvis and spine3 (2:1 and 1:2), so torso twist is spread over the spine.
- neck (12): primary neck->head, secondary spine3's left axis. Collars (13, 14): primary collar->shoulder,
  secondary spine3's up axis.
- thigh, shin, ankle (1/2, 4/5, 7/8): primary hip->knee, knee->ankle, ankle->foot; one secondary for all three,
  ``k |k| + f |f| + W_LEG c`` with the hinge axes ``k = thigh x shin`` (knee) and ``f = foot x shin`` (ankle)
  of the unit bone directions (``|k|`` = sine of the joint angle, so a hinge weighs sin^2: a nearly straight
  knee, whose plane is noise, hardly counts) and ``c`` the rest knee axis ``forward x thigh_rest`` carried by
  the minimal swing of the thigh in the pelvis frame. Its rest counterpart, with the same per-frame weights, is
  ``|k|^2 knee_axis_rest + |f|^2 ankle_axis_rest + W_LEG knee_axis_rest`` (ankle axis: rest foot x shin).
- upper arm and forearm (16/17, 18/19): primary shoulder->elbow, elbow->wrist; secondary ``e |e| + W_ARM c``
  with the elbow hinge axis ``e = upper x fore`` and ``c`` the rest elbow axis ``upper_rest x forward`` (the
  elbow flexes towards the front) carried by the minimal swing of the upper arm in the spine3 frame; rest
  counterpart ``(|e|^2 + W_ARM) elbow_axis_rest``. A straight arm keeps the torso's twist, a bent one follows
  its elbow plane. Forearm pronation is not observable from 22 joints and is not modelled.
- leaf segments without joints below them take their parent's rotation: feet 10/11 <- ankles 7/8, head 15 <-
  neck 12, wrists 20/21 <- elbows 18/19.

The IK is exact for positions when the body's proportions equal the motion's (every single-child bone direction
is matched; the two three-bone segments are matched when their shape agrees). Otherwise only the pelvis and
spine3 triangles differ, and their descendants shift with them. Skeletons place these joints differently: SMPL's
hips (so HumanML3D's) sit 8.4 cm below its pelvis joint and 12 cm apart, the heads of Anny's thigh bones 1.5 cm
below its root bone and 24 cm apart; such a gap sets a floor on the error against the reference. The Anny
assets therefore place pelvis, hips and collars by SMPL's convention (``data/anny_skeleton.toml``,
:mod:`text2imu.builder.bodies.anny_rig`); a body with other torso shapes (a user's SMPL file of another
subject, say) keeps a smaller gap. :func:`~text2imu.builder.fit_refine.refine_pose`
(``refine=True``) runs a short deterministic L-BFGS over per-frame axis-angle corrections and root offsets on
the joint error against the reference plus temporal smoothness; it trades limb orientation for joint position,
so it is off by default. :func:`root_position` places the root of the analytic fit.

``python -m text2imu.builder.fit --report`` prints the mean per-joint position error on the HumanML3D sample for
the average body shapes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .errors import MotionError
from .rotations import quat_between, quat_rotate
from .skeleton import N_JOINTS, skeleton

log = logging.getLogger(__name__)

PARENTS = np.array(skeleton().parents)
# Leaf segments (no joint below them) and the segment whose rotation they take.
LEAF_SOURCE = {10: 7, 11: 8, 15: 12, 20: 18, 21: 19}
FOOT_JOINTS = (7, 8, 10, 11)
LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))  # hip, knee, ankle, foot
ARMS = ((16, 18, 20), (17, 19, 21))  # shoulder, elbow, wrist
# Weight of the twist fallback next to the hinge terms, which weigh sin^2(joint angle): 1 at a right angle,
# 0.1 at 18 degrees, so a nearly straight elbow or knee (whose hinge plane is noise) leaves the twist to the
# fallback.
W_LEG = 0.1
W_ARM = 0.1
_KABSCH = {0: ((1, 2, 3), (4.0, 4.0, 13.0)), 9: ((12, 13, 14), (2.0, 4.0, 4.0))}
PELVIS_WEIGHT = 1.0
_X, _Y, _Z = np.eye(3)
_EPS = 1e-9


def _ancestors() -> np.ndarray:
    """(22, 21) 0/1 matrix: entry [c, k - 1] is 1 when the bone ending at joint k lies on the root -> c path."""
    a = np.zeros((N_JOINTS, N_JOINTS - 1))
    for c in range(1, N_JOINTS):
        k = c
        while k > 0:
            a[c, k - 1] = 1.0
            k = PARENTS[k]
    return a


ANCESTORS = _ancestors()


@dataclass(frozen=True)
class BodyPose:
    """A motion fitted to one body.

    Attributes:
        rotations: (T, 22, 3, 3) global segment rotations, rest pose -> posed (see the module docstring).
        joints_m: (T, 22, 3) the body's joints, forward kinematics of ``rotations`` on its rest joints.
        target_m: (T, 22, 3) the motion retargeted to the body's proportions (:func:`retarget_joints`).
        scale: body leg length / motion leg length (root path scale).
        refined: whether :func:`refine_pose` ran.
    """

    rotations: np.ndarray
    joints_m: np.ndarray
    target_m: np.ndarray
    scale: float
    refined: bool

    def mpjpe_m(self) -> float:
        """Mean per-joint position error (metres) of the body joints against the retargeted reference."""
        return mpjpe_m(self.joints_m, self.target_m)


def _norm(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 1) lengths (cheaper than np.linalg.norm on small arrays)."""
    return np.sqrt(np.einsum("...a,...a->...", v, v))[..., None]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(_norm(v), _EPS)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3) x (..., 3) -> (..., 3), broadcast (np.cross without its per-call overhead)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1, keepdims=True)


def mpjpe_m(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Euclidean distance (metres) between two (T, J, 3) position arrays."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1).mean())


def frame_from(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """(..., 3) primary and secondary directions -> (..., 3, 3) orthonormal frame, columns (e1, e2, e3).

    e1 = primary / |primary|; e2 = the part of ``secondary`` orthogonal to e1, normalised; e3 = e1 x e2.
    """
    e1 = _unit(primary)
    e2 = _unit(secondary - _dot(secondary, e1) * e1)
    return np.stack([e1, e2, _cross(e1, e2)], axis=-1)


def kabsch(rest: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Best rotation R minimising sum_i w_i |R rest_i - observed_i|^2.

    Args:
        rest: (N, 3) vectors in the rest pose. observed: (..., N, 3). weights: (N,) non-negative.
    Returns:
        (..., 3, 3) proper rotations (determinant +1).
    """
    return _rotation_from_covariance((np.asarray(weights)[:, None] * rest).T @ observed)


def _rotation_from_covariance(h: np.ndarray) -> np.ndarray:
    """(..., 3, 3) covariances sum_n w_n rest_n observed_n^T -> (..., 3, 3) best proper rotations (SVD)."""
    u, _, vt = np.linalg.svd(h)
    v, ut = np.swapaxes(vt, -1, -2), np.swapaxes(u, -1, -2)
    d = np.sign(np.linalg.det(v @ ut))
    fix = np.ones(h.shape[:-1])
    fix[..., 2] = np.where(d == 0, 1.0, d)
    return v @ (fix[..., None] * ut)


def _swing_carried(
    parent_rot: np.ndarray, a_rest: np.ndarray, a_obs: np.ndarray, p_rest: np.ndarray
) -> np.ndarray:
    """Carry rest vectors ``p_rest`` (K, 3) by the minimal swing of bones from their rest directions ``a_rest``
    (K, 3) to ``a_obs`` (T, K, 3), measured in the parent's frame ``parent_rot`` (T, 3, 3); -> (T, K, 3) world."""
    a_local = a_obs @ parent_rot  # rows: (R^T a)^T
    return quat_rotate(quat_between(a_rest, a_local), p_rest) @ np.swapaxes(parent_rot, -1, -2)


def _torso_points(p: np.ndarray, r: np.ndarray, j: int, children) -> tuple[np.ndarray, np.ndarray]:
    """Rest offsets (N, 3) of ``children`` from joint j, and the observed ones (T, N, 3) rescaled to the rest
    lengths (the observed directions on the body's bones)."""
    c = list(children)
    rest_off = r[c] - r[j]
    return rest_off, _unit(p[:, c] - p[:, [j]]) * np.linalg.norm(rest_off, axis=-1)[:, None]


def root_position(joints_m: np.ndarray, rest_joints_m: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(T, 3) root (pelvis joint) of the body that best places its pelvis: the weighted mean over the pelvis,
    both hips and spine1 (weights ``PELVIS_WEIGHT``, 4, 4, 13) of where each of these points puts the root, with
    the pelvis rotation ``rotations[:, 0]`` and the observed offsets rescaled to the body's bone lengths.

    Equal to the observed pelvis when the body's pelvis shape is the motion's; otherwise it moves the root by a
    few centimetres so that hips and spine share the shape mismatch (SMPL's hips sit 8.4 cm below its pelvis
    joint, the heads of Anny's thigh bones 1.5 cm below its root bone, for instance).
    """
    p = np.asarray(joints_m, dtype=np.float64)
    r = np.asarray(rest_joints_m, dtype=np.float64)
    children, weights = _KABSCH[0]
    rest_off, obs = _torso_points(p, r, 0, children)
    w = np.concatenate([[PELVIS_WEIGHT], weights])
    placed = obs - rest_off @ np.swapaxes(rotations[:, 0], -1, -2)  # root offset implied by each child
    return p[:, 0] + (w[1:] @ placed) / w.sum()


def solve_ik(joints_m: np.ndarray, rest_joints_m: np.ndarray) -> np.ndarray:
    """Analytic IK: (T, 22, 3) joint positions -> (T, 22, 3, 3) global segment rotations (rest -> posed).

    ``rest_joints_m`` (22, 3) is the body's rest pose (facing +z, left towards +x). Lengths do not matter except
    through the two three-bone segments; the rules per segment are in the module docstring.
    """
    p = np.asarray(joints_m, dtype=np.float64)
    r = np.asarray(rest_joints_m, dtype=np.float64)
    n = p.shape[0]
    rot = np.empty((n, N_JOINTS, 3, 3))
    covariances = []
    for j, (children, weights) in _KABSCH.items():
        rest_off, obs = _torso_points(p, r, j, children)
        w = np.asarray(weights)
        if j == 0:  # the root may also move (root_position): fit about the weighted centroids
            w = np.concatenate([[PELVIS_WEIGHT], w])
            rest_off = np.concatenate([np.zeros((1, 3)), rest_off])
            obs = np.concatenate([np.zeros((n, 1, 3)), obs], axis=1)
            rest_off = rest_off - w @ rest_off / w.sum()
            obs = obs - (w @ obs)[:, None] / w.sum()
        covariances.append((w[:, None] * rest_off).T @ obs)
    rot[:, list(_KABSCH)] = _rotation_from_covariance(np.stack(covariances, axis=1))
    left0, left9, up9 = rot[:, 0, :, 0], rot[:, 9, :, 0], rot[:, 9, :, 1]  # R x, R y
    # legs and arms, both sides at once: (T, 2, 3) observed, (2, 3) rest
    hip, knee, ankle, foot = (list(c) for c in zip(*LEGS, strict=True))
    ut, us, uf = (
        _unit(p[:, knee] - p[:, hip]),
        _unit(p[:, ankle] - p[:, knee]),
        _unit(p[:, foot] - p[:, ankle]),
    )
    ut0, us0, uf0 = _unit(r[knee] - r[hip]), _unit(r[ankle] - r[knee]), _unit(r[foot] - r[ankle])
    knee_axis0 = _unit(_cross(_Z, ut0))  # rest knee axis: to the left, for a thigh pointing down
    ankle_axis0 = _unit(_cross(uf0, us0))
    k, f = _cross(ut, us), _cross(uf, us)  # hinge axes, length sin(joint angle)
    kw, fw = _norm(k), _norm(f)
    leg = k * kw + f * fw + W_LEG * _swing_carried(rot[:, 0], ut0, ut, knee_axis0)
    leg0 = kw**2 * knee_axis0 + fw**2 * ankle_axis0 + W_LEG * knee_axis0
    shoulder, elbow, wrist = (list(c) for c in zip(*ARMS, strict=True))
    uu, ufo = _unit(p[:, elbow] - p[:, shoulder]), _unit(p[:, wrist] - p[:, elbow])
    uu0 = _unit(r[elbow] - r[shoulder])
    elbow_axis0 = _unit(_cross(uu0, _Z))  # rest elbow axis: the elbow flexes towards the front
    e = _cross(uu, ufo)
    ew = _norm(e)
    arm = e * ew + W_ARM * _swing_carried(rot[:, 9], uu0, uu, elbow_axis0)
    arm0 = (ew**2 + W_ARM) * elbow_axis0
    # every single-child segment: rotation = frame(observed) frame(rest)^T
    segs = [3, 6, 12, 13, 14, *hip, *knee, *ankle, *shoulder, *elbow]
    child = [6, 9, 15, 16, 17, *knee, *ankle, *foot, *elbow, *wrist]
    torso = np.stack([2 * left0 + left9, left0 + 2 * left9, left9, up9, up9], axis=1)
    s_obs = np.concatenate([torso, leg, leg, leg, arm, arm], axis=1)
    torso0 = np.broadcast_to(np.stack([_X, _X, _X, _Y, _Y]), (n, 5, 3))
    s_rest = np.concatenate([torso0, leg0, leg0, leg0, arm0, arm0], axis=1)
    f_obs = frame_from(p[:, child] - p[:, segs], s_obs)
    f_rest = frame_from(np.broadcast_to(r[child] - r[segs], s_rest.shape), s_rest)
    rot[:, segs] = f_obs @ np.swapaxes(f_rest, -1, -2)
    for leaf, source in LEAF_SOURCE.items():
        rot[:, leaf] = rot[:, source]
    return rot


def forward_kinematics(rotations: np.ndarray, rest_joints_m: np.ndarray, root_m: np.ndarray) -> np.ndarray:
    """(T, 22, 3, 3) global segment rotations, (22, 3) rest joints, (T, 3) root positions -> (T, 22, 3) joints."""
    r = np.asarray(rest_joints_m, dtype=np.float64)
    offsets = r[1:] - r[PARENTS[1:]]
    bones = (rotations[:, PARENTS[1:]] @ offsets[:, :, None])[..., 0]
    return np.asarray(root_m, dtype=np.float64)[:, None] + ANCESTORS @ bones


def leg_length_m(joints_m: np.ndarray) -> float:
    """Leg length (metres) of (22, 3) or (T, 22, 3) joints: hip->knee + knee->ankle, mean of both legs, median
    over frames."""
    p = np.asarray(joints_m, dtype=np.float64).reshape(-1, N_JOINTS, 3)
    per_leg = [
        np.linalg.norm(p[:, k] - p[:, h], axis=-1) + np.linalg.norm(p[:, a] - p[:, k], axis=-1)
        for h, k, a, _ in LEGS
    ]
    return float(np.median(0.5 * (per_leg[0] + per_leg[1])))


def floor_offset_m(joints_m: np.ndarray, rest_joints_m: np.ndarray) -> float:
    """Vertical offset (metres) to subtract so the body keeps its feet on the floor.

    One constant per clip (jumps stay jumps): the lowest foot joint (ankles, feet) over the whole clip is put at
    the height of the lowest foot joint of the rest pose, in which the body stands on y = 0.
    """
    feet = list(FOOT_JOINTS)
    return float(np.min(joints_m[:, feet, 1]) - np.min(np.asarray(rest_joints_m)[feet, 1]))


def scaled_root_path(root_m: np.ndarray, scale: float) -> np.ndarray:
    """(T, 3) pelvis path -> (T, 3) with the horizontal path scaled about frame 0 and the height about y = 0."""
    root = np.array(root_m, dtype=np.float64)
    root[:, [0, 2]] = root[0, [0, 2]] + scale * (root[:, [0, 2]] - root[0, [0, 2]])
    root[:, 1] *= scale
    return root


def retarget_joints(joints_m: np.ndarray, rest_joints_m: np.ndarray) -> tuple[np.ndarray, float]:
    """The motion on the body's proportions: (T, 22, 3) joints -> ((T, 22, 3) joints, root path scale).

    Every bone keeps its observed direction and takes the rest length of the body; the root path is scaled by
    the leg-length ratio (:func:`scaled_root_path`); the floor rule of :func:`floor_offset_m` is applied.
    """
    p = np.asarray(joints_m, dtype=np.float64)
    r = np.asarray(rest_joints_m, dtype=np.float64)
    scale = leg_length_m(r) / leg_length_m(p)
    lengths = np.linalg.norm(r[1:] - r[PARENTS[1:]], axis=-1)
    bones = _unit(p[:, 1:] - p[:, PARENTS[1:]]) * lengths[:, None]
    out = scaled_root_path(p[:, 0], scale)[:, None] + ANCESTORS @ bones
    out[..., 1] -= floor_offset_m(out, r)
    return out, float(scale)


def fit_motion(
    joints_m: np.ndarray, rest_joints_m: np.ndarray, *, refine: bool = False, iterations: int = 40
) -> BodyPose:
    """Fit a (T, 22, 3) motion (metres) to a body with rest joints (22, 3).

    Retargets (:func:`retarget_joints`), solves the IK on the reference, optionally refines
    (:func:`refine_pose`) and runs forward kinematics from the reference's root path (already on the floor:
    a constant height offset changes no IMU signal, so the body is not re-floored after its fit error).
    """
    p = np.asarray(joints_m, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (N_JOINTS, 3) or not np.isfinite(p).all():
        raise MotionError(f"fitting needs finite joints of shape (T, {N_JOINTS}, 3), got {p.shape}")
    target, scale = retarget_joints(p, rest_joints_m)
    rotations = solve_ik(target, rest_joints_m)
    root = root_position(target, rest_joints_m, rotations)
    if refine:
        from .fit_refine import refine_pose

        rotations, root = refine_pose(rotations, root, rest_joints_m, target, iterations=iterations)
    body = forward_kinematics(rotations, rest_joints_m, root)
    return BodyPose(rotations=rotations, joints_m=body, target_m=target, scale=scale, refined=refine)


if __name__ == "__main__":  # pragma: no cover
    from .fit_refine import report_main

    raise SystemExit(report_main())
