"""Body mechanics of the ``kinematic`` generator: rotations, forward kinematics, grounding, smooth noise.

Frames and signs. The body frame is x: the person's left, y: up, z: forward (HumanML3D's rest frame). Angles are
radians. Each joint carries a local rotation ``L[j]`` (T, 3, 3); global rotations compose down the tree,
``G[j] = G[parent] @ L[j]``, and a joint sits at ``p[j] = p[parent] + G[parent] @ offset[j]`` where ``offset[j]``
is the neutral bone vector (``kinematic_body.toml`` direction x skeleton.toml length). So the rotation of a joint
turns the bones below it, as in SMPL, and bone lengths are constant by construction. With ``rot_x``
right-handed: hip flexion is ``rot_x(-a)``, knee flexion ``rot_x(+a)``, ankle dorsiflexion ``rot_x(-a)``, trunk
forward lean ``rot_x(+a)``, shoulder flexion ``rot_x(-a)``, elbow flexion ``rot_x(-a)``; ``rot_z(+a)`` lifts a
segment hanging down towards the left (+x), ``rot_y(+a)`` turns the body to its left.

Grounding (:func:`ground_root`) places the root so that feet in contact stay put: the pelvis moves horizontally
opposite to the stance foot's contact point (the lower of a virtual heel and the toe joint, so the foot rolls
heel -> flat -> toe), and vertically so that the contact point rests on its floor; in flight (no contact) the
pelvis follows a ballistic parabola under g = 9.81 m/s^2 between take-off and landing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from ..skeleton import skeleton

G_MPS2 = 9.81
SOFT_MAX_M = 0.006  # softness of the "highest need carries the body" choice
LOAD_HEIGHT_M = 0.008  # a contact point this high above its floor carries half its weight
SK = skeleton()
J = {name: i for i, name in enumerate(SK.names)}
LEFT_RIGHT = (("left_ankle", "left_foot"), ("right_ankle", "right_foot"))


def _as_angle(a: np.ndarray | float, n: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.broadcast_to(a, (n,)) if a.ndim == 0 else a


def rot_x(a: np.ndarray | float, n: int = 1) -> np.ndarray:
    """(T,) angles in radians (or a scalar with ``n``) -> (T, 3, 3) right-handed rotations about x."""
    a = _as_angle(a, n)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(-1, 3, 3)


def rot_y(a: np.ndarray | float, n: int = 1) -> np.ndarray:
    """(T,) angles in radians -> (T, 3, 3) rotations about y (up)."""
    a = _as_angle(a, n)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(-1, 3, 3)


def rot_z(a: np.ndarray | float, n: int = 1) -> np.ndarray:
    """(T,) angles in radians -> (T, 3, 3) rotations about z (forward)."""
    a = _as_angle(a, n)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(-1, 3, 3)


def euler(n: int, yaw: np.ndarray | float = 0.0, pitch: np.ndarray | float = 0.0,
          roll: np.ndarray | float = 0.0) -> np.ndarray:
    """(T, 3, 3) ``rot_y(yaw) @ rot_x(pitch) @ rot_z(roll)``; angles in radians, arrays of (T,) or scalars."""
    return rot_y(yaw, n) @ rot_x(pitch, n) @ rot_z(roll, n)


@dataclass(frozen=True)
class Body:
    """The adult body of the generator.

    Attributes:
        offsets_m: (22, 3) neutral bone vectors in metres (bone ending at each joint; zero for the pelvis).
        parents: (22,) parent indices.
        heel_offset_m: (3,) virtual heel point in the ankle's frame.
        softness_m: height scale of the soft heel/toe choice.
        stature_m: standing height (head joint + skull top).
        pelvis_height_m: pelvis height when standing in the neutral pose with the feet flat on the floor.
        thigh_m, shank_m: (left) hip-knee and knee-ankle lengths.
    """

    offsets_m: np.ndarray
    parents: tuple[int, ...]
    heel_offset_m: np.ndarray
    softness_m: float
    stature_m: float
    pelvis_height_m: float
    thigh_m: float
    shank_m: float


@cache
def body() -> Body:
    """The generator's body, built from ``kinematic_body.toml`` and the skeleton table (cached)."""
    raw = tomllib.loads(resources.files(__package__).joinpath("kinematic_body.toml").read_text("utf-8"))
    dirs = np.zeros((SK.n_joints, 3))
    for name, d in raw["directions"].items():
        d = np.asarray(d, dtype=np.float64)
        dirs[J[name]] = d / np.linalg.norm(d)
        if name.startswith("left_"):
            dirs[J["right_" + name[5:]]] = d * np.array([-1.0, 1.0, 1.0]) / np.linalg.norm(d)
    offsets = dirs * SK.bone_lengths_m[:, None]
    contact = raw["contact"]
    pos, _ = forward_kinematics(np.tile(np.eye(3), (1, SK.n_joints, 1, 1)), np.zeros((1, 3)), offsets)
    toe_drop = -pos[0, J["left_foot"], 1]
    head = pos[0, J["head"], 1] + toe_drop
    return Body(
        offsets_m=offsets,
        parents=SK.parents,
        heel_offset_m=np.asarray(contact["heel_offset_m"], dtype=np.float64),
        softness_m=float(contact["heel_toe_softness_m"]),
        stature_m=float(head + contact["head_top_m"]),
        pelvis_height_m=float(toe_drop),
        thigh_m=float(SK.bone_lengths_m[J["left_knee"]]),
        shank_m=float(SK.bone_lengths_m[J["left_ankle"]]),
    )


def identity_pose(n: int) -> np.ndarray:
    """(T, 22, 3, 3) identity local rotations: the neutral standing pose."""
    return np.tile(np.eye(3), (n, SK.n_joints, 1, 1))


def forward_kinematics(local: np.ndarray, root_m: np.ndarray, offsets_m: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (T, 22, 3, 3) and root positions (T, 3) m -> joints (T, 22, 3) m, global rotations."""
    offsets = body().offsets_m if offsets_m is None else offsets_m
    n = local.shape[0]
    glob = np.empty_like(local)
    pos = np.empty((n, SK.n_joints, 3))
    glob[:, 0] = local[:, 0]
    pos[:, 0] = root_m
    for j in range(1, SK.n_joints):
        p = SK.parents[j]
        glob[:, j] = glob[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
    return pos, glob


def contact_points(pos: np.ndarray, glob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heel and toe points (T, 2, 3) of the left and right foot from FK output."""
    b = body()
    heel = np.stack([pos[:, J[a]] + glob[:, J[a]] @ b.heel_offset_m for a, _ in LEFT_RIGHT], axis=1)
    toe = np.stack([pos[:, J[f]] for _, f in LEFT_RIGHT], axis=1)
    return heel, toe


def ground_root(rel: np.ndarray, glob: np.ndarray, contact: np.ndarray, floor_m: np.ndarray, dt: float,
                flight_velocity: np.ndarray | None = None) -> np.ndarray:
    """Root positions (T, 3) m that keep feet in contact fixed on their floor.

    Args:
        rel: (T, 22, 3) joints from FK with the root at the origin (root rotation and heading included).
        glob: (T, 22, 3, 3) global rotations from the same FK.
        contact: (T, 2) contact weights in [0, 1] of the left and right foot (0 = in the air).
        floor_m: (T, 2) floor height under each foot in metres (stairs: one step rise per step).
        dt: time step in seconds.
        flight_velocity: optional (T, 2) horizontal (x, z) root velocity in m/s to use in flight frames (NaN:
            interpolate linearly between the velocities at take-off and landing).

    Returns (T, 3): horizontal path integrated from the locked contact points, starting at x = z = 0; height
    from the contact points on the floor, ballistic (g = 9.81 m/s^2) in flight.
    """
    b = body()
    heel, toe = contact_points(rel, glob)
    w_heel = 1.0 / (1.0 + np.exp(np.clip((heel[..., 1] - toe[..., 1]) / b.softness_m, -50, 50)))
    point_y = w_heel * heel[..., 1] + (1 - w_heel) * toe[..., 1]
    vel = w_heel[..., None] * np.gradient(heel, dt, axis=0) + (1 - w_heel[..., None]) * np.gradient(toe, dt, axis=0)
    total = contact.sum(axis=1)
    on = total > 1e-6
    safe = np.where(on, total, 1.0)
    need = floor_m - point_y  # root height that puts each foot's contact point on its floor
    # The foot that needs the higher root carries the body (a soft maximum weighted by contact): feet in
    # contact never sink into the floor; a foot that the curves lift early leaves the floor a little early.
    top = np.where(contact > 0, need, -np.inf).max(axis=1, initial=-np.inf)
    top = np.where(on, top, 0.0)
    soft = contact * np.exp(np.clip((need - top[:, None]) / SOFT_MAX_M, -50, 0))
    soft_sum = np.where(on, soft.sum(axis=1), 1.0)
    root_y = top + SOFT_MAX_M * np.log(np.maximum(soft_sum / safe, 1e-300))
    # Horizontal: lock the feet that touch the floor, each weighted by contact and by closeness to the floor.
    height = root_y[:, None] - need
    load = contact / (1.0 + (np.maximum(height, 0.0) / LOAD_HEIGHT_M) ** 2)
    load_sum = np.where(on, load.sum(axis=1), 1.0)
    root_v = -(load[..., None] * vel[..., [0, 2]]).sum(axis=1) / np.maximum(load_sum, 1e-12)[:, None]
    n = len(total)
    k = 0
    while k < n:
        if on[k]:
            k += 1
            continue
        a = k
        while k < n and not on[k]:
            k += 1
        _fill_flight(root_v, root_y, a, k, dt, flight_velocity)
    xz = np.concatenate([np.zeros((1, 2)), np.cumsum(0.5 * (root_v[1:] + root_v[:-1]) * dt, axis=0)])
    return np.stack([xz[:, 0], root_y, xz[:, 1]], axis=1)


def _fill_flight(root_v: np.ndarray, root_y: np.ndarray, a: int, b: int, dt: float,
                 flight_velocity: np.ndarray | None) -> None:
    """Fill frames a..b-1 (no contact) in place: ballistic height, interpolated or given horizontal velocity."""
    n = len(root_y)
    lo, hi = a - 1, b  # last contact frame before, first after (may be outside the clip)
    if lo < 0 and hi >= n:
        root_y[:] = 0.0
        return
    lo_ok, hi_ok = lo >= 0, hi < n
    y0 = root_y[lo] if lo_ok else root_y[hi]
    y1 = root_y[hi] if hi_ok else root_y[lo]
    v0 = root_v[lo] if lo_ok else root_v[hi]
    v1 = root_v[hi] if hi_ok else root_v[lo]
    t_f = (hi - lo) * dt
    tau = (np.arange(a, b) - lo) * dt
    vy = (y1 - y0) / t_f + G_MPS2 * t_f / 2.0
    root_y[a:b] = y0 + vy * tau - 0.5 * G_MPS2 * tau**2
    frac = (tau / t_f)[:, None]
    root_v[a:b] = (1 - frac) * v0 + frac * v1
    if flight_velocity is not None:
        given = flight_velocity[a:b]
        ok = np.isfinite(given).all(axis=1)
        root_v[a:b][ok] = given[ok]


def smooth_noise(rng: np.random.Generator, t_s: np.ndarray, f_lo_hz: float, f_hi_hz: float, rms: float,
                 n_waves: int = 8) -> np.ndarray:
    """(T,) band-limited random signal with the given RMS: a sum of ``n_waves`` sinusoids with log-uniform
    frequencies in [f_lo_hz, f_hi_hz] and uniform phases (smooth, deterministic given ``rng``)."""
    freqs = np.exp(rng.uniform(np.log(f_lo_hz), np.log(f_hi_hz), n_waves))
    phases = rng.uniform(0, 2 * np.pi, n_waves)
    amps = rng.uniform(0.5, 1.0, n_waves)
    sig = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t_s[None, :] + phases[:, None])).sum(axis=0)
    return sig * (rms / np.sqrt(0.5 * np.sum(amps**2)))


def periodic_curve(keyframes: list[list[float]]) -> CubicSpline:
    """Periodic cubic spline through [[percent of cycle, degrees], ...] (0 and 100 equal) -> f(phase) radians."""
    k = np.asarray(keyframes, dtype=np.float64)
    return CubicSpline(k[:, 0] / 100.0, np.radians(k[:, 1]), bc_type="periodic")


def keyframe_track(times_s: list[float] | np.ndarray, values: list[float] | np.ndarray, t_s: np.ndarray
                   ) -> np.ndarray:
    """Shape-preserving (PCHIP) interpolation of keyframes at ``t_s``; held constant outside the keys."""
    times = np.asarray(times_s, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    return PchipInterpolator(times, vals, axis=0)(np.clip(t_s, times[0], times[-1]))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """C1 ramp: 0 for x <= 0, 1 for x >= 1, 3x^2 - 2x^3 between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def leg_ik_sagittal(hip_yz: np.ndarray, ankle_yz: np.ndarray, thigh_m: float, shank_m: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Two-link inverse kinematics in the sagittal plane.

    Args:
        hip_yz, ankle_yz: (..., 2) (height, forward) positions in metres.
    Returns:
        thigh angle forward of the downward vertical and knee flexion, radians (the knee bends forward).
    """
    d_vec = np.asarray(ankle_yz, dtype=np.float64) - np.asarray(hip_yz, dtype=np.float64)
    d = np.clip(np.linalg.norm(d_vec, axis=-1), abs(thigh_m - shank_m) + 1e-6, thigh_m + shank_m - 1e-6)
    line = np.arctan2(d_vec[..., 1], -d_vec[..., 0])
    inner = np.arccos(np.clip((thigh_m**2 + d**2 - shank_m**2) / (2 * thigh_m * d), -1, 1))
    knee = np.pi - np.arccos(np.clip((thigh_m**2 + shank_m**2 - d**2) / (2 * thigh_m * shank_m), -1, 1))
    return line + inner, knee


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(v.shape[:-1])
    return np.stack([z, -v[..., 2], v[..., 1], v[..., 2], z, -v[..., 0], -v[..., 1], v[..., 0], z],
                    axis=-1).reshape(*v.shape[:-1], 3, 3)


def align_rotation(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(..., 3, 3) smallest rotation turning directions ``u`` onto ``w`` (..., 3) (Rodrigues; not for u = -w)."""
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    w = w / np.linalg.norm(w, axis=-1, keepdims=True)
    k = _skew(np.cross(u, w))
    c = np.sum(u * w, axis=-1)[..., None, None]
    return np.eye(3) + k + k @ k / np.maximum(1.0 + c, 1e-9)


def knee_for_reach(side: str, reach_m: np.ndarray) -> np.ndarray:
    """Knee flexion (radians, >= the straightest) at which the hip-ankle distance equals ``reach_m`` (T,)."""
    o1 = body().offsets_m[J[f"{side}_knee"]]
    o2 = body().offsets_m[J[f"{side}_ankle"]]
    p, q = o1[1] * o2[1] + o1[2] * o2[2], o1[2] * o2[1] - o1[1] * o2[2]
    rho, beta = np.hypot(p, q), np.arctan2(q, p)
    arg = (reach_m**2 - o1 @ o1 - o2 @ o2 - 2 * o1[0] * o2[0]) / (2 * rho)
    return beta + np.arccos(np.clip(arg, -1.0, 1.0))


def max_reach_m(side: str) -> float:
    """Hip-ankle distance of the straightest leg."""
    o1 = body().offsets_m[J[f"{side}_knee"]]
    o2 = body().offsets_m[J[f"{side}_ankle"]]
    beta = knee_for_reach(side, np.array([np.linalg.norm(o1) + np.linalg.norm(o2)]))
    return float(np.linalg.norm(o1 + (rot_x(beta) @ o2)[0]))


def plant_legs(local: np.ndarray, root_old: np.ndarray, root_new: np.ndarray, contact: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Move the root from ``root_old`` to ``root_new`` (T, 3) while the ankles and feet stay where they were.

    Each leg is re-solved by analytic inverse kinematics: the knee flexion gives the new hip-ankle distance,
    the smallest extra hip rotation points the leg at the old ankle, and the ankle rotation keeps the foot's
    world orientation, so heel and toe do not move. Where a stance leg (contact > 0) could not reach, the new
    root is lowered just enough (smoothly). Returns (local rotations, the root actually used).
    """
    pos_old, glob_old = forward_kinematics(local, root_old)
    root_new = root_new.copy()
    drop = np.zeros(len(root_new))
    for i, side in enumerate(("left", "right")):
        hip = pos_old[:, J[f"{side}_hip"]] - root_old + root_new
        d = pos_old[:, J[f"{side}_ankle"]] - hip
        reach = 0.998 * max_reach_m(side)
        horiz2 = np.minimum(d[:, 0] ** 2 + d[:, 2] ** 2, reach**2)
        need = -np.sqrt(reach**2 - horiz2) - d[:, 1]
        drop = np.maximum(drop, np.where(contact[:, i] > 0, need, 0.0))
    if drop.max() > 0:
        from scipy.ndimage import gaussian_filter1d, maximum_filter1d

        drop = gaussian_filter1d(maximum_filter1d(drop, 9), 3.0)
        root_new[:, 1] -= drop
    out = local.copy()
    g_pelvis = glob_old[:, 0]
    for side in ("left", "right"):
        h, k, a = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
        hip = pos_old[:, h] - root_old + root_new
        v_p = np.einsum("tji,tj->ti", g_pelvis, pos_old[:, a] - hip)
        knee = knee_for_reach(side, np.linalg.norm(v_p, axis=-1))
        l_knee = rot_x(knee)
        leg_local = body().offsets_m[k] + l_knee @ body().offsets_m[a]
        u = np.einsum("tij,tj->ti", local[:, h], leg_local)
        l_hip = align_rotation(u, v_p) @ local[:, h]
        out[:, h], out[:, k] = l_hip, l_knee
        out[:, a] = np.swapaxes(g_pelvis @ l_hip @ l_knee, -1, -2) @ glob_old[:, a]
    return out, root_new
