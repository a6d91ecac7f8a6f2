"""Grounding and leg inverse kinematics of the ``kinematic`` generator.

Grounding (:func:`ground_root`) places the root so that feet in contact stay put: the pelvis moves horizontally
opposite to the stance foot's contact point (the lower of a virtual heel and the toe joint, so the foot rolls
heel -> flat -> toe), and vertically so that the contact point rests on its floor; in flight (no contact) the
pelvis follows a ballistic parabola under g = 9.81 m/s^2 between take-off and landing.

:func:`plant_legs` then lets the pelvis take a smoother (or physically modelled) path while the feet stay exactly
where grounding put them: each leg is re-solved by analytic two-link inverse kinematics, a foot behind its hip
may lift its heel about the toe to reach. Walking and stairs take their vertical path from the ground's vertical
force (:func:`force_root_height`) and walking its horizontal path from the horizontal forces
(:func:`force_root_horizontal`); the height is lowered under the reach of the loaded leg (:func:`root_height_limit`,
:func:`lower_under`); running and hopping from a spring-mass body (:func:`spring_mass_root`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from .kinematic_body import G_MPS2, J, body, contact_points, forward_kinematics, rot_x

SOFT_MAX_M = 0.006  # softness of the "highest need carries the body" choice
LOAD_HEIGHT_M = 0.008  # a contact point this high above its floor carries half its weight


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


def plant_legs(local: np.ndarray, root_old: np.ndarray, root_new: np.ndarray, contact: np.ndarray,
               carry: float = 0.0, heel_rise_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Move the root from ``root_old`` to ``root_new`` (T, 3) while the ankles and feet stay where they were.

    Each leg is re-solved by analytic inverse kinematics: the knee flexion gives the new hip-ankle distance,
    the smallest extra hip rotation points the leg at the old ankle, and the ankle rotation keeps the foot's
    world orientation, so heel and toe do not move. With ``heel_rise_deg`` > 0 a leg that cannot reach its ankle
    while its toe is on the floor first lifts the heel, pivoting the foot about the toe by up to that angle
    (the heel rise of terminal stance). Where a leg with contact > ``carry`` still could not reach, the new root
    is lowered just enough (smoothly). Returns (local rotations, the root actually used).
    """
    pos_old, glob_old = forward_kinematics(local, root_old)
    root_new = root_new.copy()
    ankles = np.stack([pos_old[:, J["left_ankle"]], pos_old[:, J["right_ankle"]]], axis=1)
    feet = np.stack([glob_old[:, J["left_ankle"]], glob_old[:, J["right_ankle"]]], axis=1)
    if heel_rise_deg > 0:  # the smallest heel rise that lets each leg reach (the most where none does)
        cand, rots = _heel_rises(pos_old, glob_old, root_old, contact, np.radians(heel_rise_deg))
        idx = np.arange(len(root_new))
        for i, side in enumerate(("left", "right")):
            hip_rel = pos_old[:, J[f"{side}_hip"]] - root_old
            top = _reach_top(cand[:, :, i], hip_rel, root_new[:, [0, 2]], 0.998 * max_reach_m(side))
            ok = top >= root_new[None, :, 1]
            ok[-1] = True
            pick = np.argmax(ok, axis=0)
            ankles[:, i], feet[:, i] = cand[pick, idx, i], rots[pick, idx, i]
    drop = np.zeros(len(root_new))
    for i, side in enumerate(("left", "right")):
        hip = pos_old[:, J[f"{side}_hip"]] - root_old + root_new
        d = ankles[:, i] - hip
        reach = 0.998 * max_reach_m(side)
        horiz2 = np.minimum(d[:, 0] ** 2 + d[:, 2] ** 2, reach**2)
        need = -np.sqrt(reach**2 - horiz2) - d[:, 1]
        drop = np.maximum(drop, np.where(contact[:, i] > carry, need, 0.0))
    if drop.max() > 0:
        drop = gaussian_filter1d(maximum_filter1d(drop, 9), 3.0)
        root_new[:, 1] -= drop
    return solve_legs(local, root_new, ankles, feet), root_new


def _heel_rises(pos: np.ndarray, glob: np.ndarray, root_old: np.ndarray, contact: np.ndarray, max_rad: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Candidate ankles (K, T, 2, 3) and foot rotations (K, T, 2, 3, 3) of the feet pivoted about their toe by
    0, 1, 2, ... degrees up to ``max_rad`` (heel up). Only a foot in contact, flat or on its toe, and behind its
    hip (late stance) may pivot; the others keep their pose in every candidate."""
    heel, _ = contact_points(pos, glob)
    angles = np.linspace(0.0, max_rad, int(np.ceil(np.degrees(max_rad))) + 1)
    forward = glob[:, 0, :, 2]
    ankles = np.empty((len(angles), len(pos), 2, 3))
    feet = np.empty((len(angles), len(pos), 2, 3, 3))
    for i, side in enumerate(("left", "right")):
        a, toe = J[f"{side}_ankle"], pos[:, J[f"{side}_foot"]]
        behind = np.sum((pos[:, a] - pos[:, J[f"{side}_hip"]]) * forward, axis=-1) < 0
        free = (contact[:, i] > 0) & (toe[:, 1] <= heel[:, i, 1] + 0.01) & behind
        k = _skew(glob[:, a, :, 0])  # the foot's lateral axis: positive turns lift the heel
        ang = np.where(free[None, :], angles[:, None], 0.0)[..., None, None]  # (K, T, 1, 1)
        rot = np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * (k @ k)  # (K, T, 3, 3)
        ankles[:, :, i] = toe + np.einsum("ktij,tj->kti", rot, pos[:, a] - toe)
        feet[:, :, i] = rot @ glob[:, a]
    return ankles, feet


def _reach_top(ankles: np.ndarray, hip_rel: np.ndarray, root_xz: np.ndarray, reach: float) -> np.ndarray:
    """(..., T) highest root height at which a hip at ``root + hip_rel`` (T, 3) reaches ``ankles`` (..., T, 3)
    with the new horizontal root ``root_xz`` (T, 2); -inf where the ankle is horizontally out of reach."""
    dx = ankles[..., 0] - root_xz[:, 0] - hip_rel[:, 0]
    dz = ankles[..., 2] - root_xz[:, 1] - hip_rel[:, 2]
    rest = reach**2 - dx**2 - dz**2
    return np.where(rest >= 0, ankles[..., 1] - hip_rel[:, 1] + np.sqrt(np.maximum(rest, 0.0)), -np.inf)


def solve_legs(local: np.ndarray, root: np.ndarray, ankles_m: np.ndarray, feet_rot: np.ndarray) -> np.ndarray:
    """Local rotations with both legs re-solved by analytic IK (T, 22, 3, 3).

    Args:
        local: (T, 22, 3, 3) pose whose pelvis and hip twist are kept.
        root: (T, 3) root position in metres.
        ankles_m: (T, 2, 3) left/right ankle targets in metres (clamped to the leg's reach).
        feet_rot: (T, 2, 3, 3) wanted global rotations of the ankle joints (the foot orientation).
    """
    pos, glob = forward_kinematics(local, root)
    out = local.copy()
    g_pelvis = glob[:, 0]
    for i, side in enumerate(("left", "right")):
        h, k, a = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
        v_p = np.einsum("tji,tj->ti", g_pelvis, ankles_m[:, i] - pos[:, h])
        knee = knee_for_reach(side, np.linalg.norm(v_p, axis=-1))
        l_knee = rot_x(knee)
        leg_local = body().offsets_m[k] + l_knee @ body().offsets_m[a]
        u = np.einsum("tij,tj->ti", local[:, h], leg_local)
        l_hip = align_rotation(u, v_p) @ local[:, h]
        out[:, h], out[:, k] = l_hip, l_knee
        out[:, a] = np.swapaxes(g_pelvis @ l_hip @ l_knee, -1, -2) @ feet_rot[:, i]
    return out


def root_height_limit(local: np.ndarray, root_old: np.ndarray, root_new: np.ndarray, contact: np.ndarray,
                      carry: float = 0.0, heel_rise_deg: float = 0.0) -> np.ndarray:
    """(T,) highest root height in metres at which every leg with ``contact`` > ``carry`` still reaches the ankle
    it had with ``root_old`` (or, with ``heel_rise_deg``, that ankle with the heel lifted as :func:`plant_legs`
    may lift it), the root moved horizontally to ``root_new`` (T, 3); +inf where no leg carries. Same reach as
    :func:`plant_legs` (99.8 % of the straightest leg)."""
    pos_old, glob_old = forward_kinematics(local, root_old)
    cand, _ = _heel_rises(pos_old, glob_old, root_old, contact, np.radians(heel_rise_deg))
    limit = np.full(len(root_new), np.inf)
    for i, side in enumerate(("left", "right")):
        hip_rel = pos_old[:, J[f"{side}_hip"]] - root_old
        top = _reach_top(cand[:, :, i], hip_rel, root_new[:, [0, 2]], 0.998 * max_reach_m(side)).max(axis=0)
        limit = np.where(contact[:, i] > carry, np.minimum(limit, top), limit)
    return limit


def force_root_height(root_lock_y: np.ndarray, load_bw: np.ndarray, dt: float, blend_s: float = 0.5
                      ) -> np.ndarray:
    """Vertical pelvis path (T,) m from the vertical ground reaction force of walking or stair gait.

    The pelvis is taken to move with the body's centre of mass: its vertical acceleration is
    ``g (F / mean(F) - 1)`` for the total vertical force ``load_bw`` (T,) in body weights, integrated twice. Its
    slow part (a Gaussian of ``blend_s`` s: the level and the climb of a staircase) comes from the foot-locked
    height ``root_lock_y`` (T,) instead (a complementary filter), so the path keeps the floor's levels while its
    within-step motion follows the force.
    """
    acc = G_MPS2 * (load_bw / load_bw.mean() - 1.0)
    vel = np.cumsum(acc) * dt
    y = np.cumsum(vel - vel.mean()) * dt
    sigma = blend_s / dt
    return y - gaussian_filter1d(y, sigma, mode="nearest") + gaussian_filter1d(root_lock_y, sigma, mode="nearest")


def force_root_horizontal(root_lock_xz: np.ndarray, ap_load_bw: np.ndarray, ml_load_bw: np.ndarray, dt: float,
                          stride_s: float, facing: float = 1.0, blend_s: float = 0.5) -> np.ndarray:
    """Horizontal pelvis path (T, 2) m (x, z) of walking from its horizontal ground reaction forces.

    The pelvis is taken to move with the centre of mass. Along the direction of travel (the foot-locked velocity
    of ``root_lock_xz`` (T, 2) m averaged over a stride, ``stride_s`` s) it travels at that mean velocity plus
    the integral of ``g * ap_load_bw`` (T,) (body weights, + along travel: braked after each contact, propelled
    before toe-off); across it, the integral of ``g * ml_load_bw`` (T,) (body weights, + toward the body's left;
    ``facing`` -1 when the body faces against the travel, walking backward). Drift of the integrated velocities
    over ``blend_s`` s is removed and, as in :func:`force_root_height`, the slow part of the path (a Gaussian of
    ``blend_s`` s) is the foot-locked one, so the body still goes where the feet go; the legs are re-planted by
    inverse kinematics afterwards. Axes: y up, a body facing +z has its left at +x.
    """
    sigma = blend_s / dt
    v_lock = np.gradient(root_lock_xz, dt, axis=0)
    v_mean = gaussian_filter1d(v_lock, stride_s / dt, axis=0, mode="nearest")
    speed = np.linalg.norm(v_mean, axis=1, keepdims=True)
    along = np.where(speed > 1e-6, v_mean / np.maximum(speed, 1e-12), 0.0)
    left = facing * np.stack([along[:, 1], -along[:, 0]], axis=1)
    dv = np.cumsum(G_MPS2 * np.stack([ap_load_bw, ml_load_bw], axis=1), axis=0) * dt
    dv = dv - gaussian_filter1d(dv, sigma, axis=0, mode="nearest")
    v = v_mean + along * dv[:, :1] + left * dv[:, 1:]
    xz = root_lock_xz[0] + np.concatenate([np.zeros((1, 2)), np.cumsum(0.5 * (v[1:] + v[:-1]) * dt, axis=0)])
    return (xz - gaussian_filter1d(xz, sigma, axis=0, mode="nearest")
            + gaussian_filter1d(root_lock_xz, sigma, axis=0, mode="nearest"))


def lower_under(y: np.ndarray, limit: np.ndarray, window: int, sigma: float, margin_m: float = 0.0) -> np.ndarray:
    """``y`` (T,) lowered by a smooth envelope of its excess over ``limit`` (T,) plus ``margin_m``: the running
    maximum of the excess over ``window`` samples, Gaussian-smoothed (``sigma`` samples), so the pelvis rides as
    high as the stance legs allow at their straightest without sharp dips (any small rest is left to
    :func:`plant_legs`)."""
    excess = np.maximum(np.where(np.isfinite(limit), y - limit + margin_m, 0.0), 0.0)
    return y - gaussian_filter1d(maximum_filter1d(excess, max(int(window), 1)), sigma, mode="nearest")


def _intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] of the runs of True in a boolean (T,) array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def spring_mass_root(root_lock: np.ndarray, contact: np.ndarray, dt: float) -> np.ndarray:
    """Pelvis path (T, 3) of running or hopping from the momentum of a spring-mass body.

    Vertical: in flight the pelvis falls freely (-g); in each stance the ground pushes with a half-sine force,
    a(t) = A sin(pi t / T_c) - g, whose impulse turns the landing velocity into the next take-off velocity
    (A ~ 2-2.5 body weights at 3-4 m/s; Morin et al. 2005, J Appl Biomech 21:167-180). Horizontal: the
    foot-locked velocity smoothed over 0.15 s, braked then propelled in each stance by a full-sine force of
    0.35 g peak (Cavanagh & Lafortune 1980). The mean height is the foot-locked one; the legs are then
    re-planted by inverse kinematics, so the knees absorb the difference.
    """
    n = len(root_lock)
    stance = contact.sum(axis=1) > 0.5
    acc_y = np.full(n, -G_MPS2)
    dv = np.zeros(n)
    spans = _intervals(stance)
    flights = _intervals(~stance)
    for a, b in spans:
        t_c = (b - a) * dt
        before = [f for f in flights if f[1] == a]
        after = [f for f in flights if f[0] == b]
        t_in = (before[0][1] - before[0][0]) * dt if before else 0.0
        t_out = (after[0][1] - after[0][0]) * dt if after else t_in
        t_in = t_in if before else t_out
        tau = (np.arange(a, b) - a + 0.5) * dt
        peak = np.pi * (G_MPS2 * (t_in + t_out) / 2 + G_MPS2 * t_c) / (2 * t_c)
        acc_y[a:b] += peak * np.sin(np.pi * tau / t_c)
        dv[a:b] = 0.35 * G_MPS2 * t_c / (2 * np.pi) * (np.cos(2 * np.pi * tau / t_c) - 1.0)
    vy = np.cumsum(acc_y) * dt
    y = np.cumsum(vy - vy.mean()) * dt
    y -= gaussian_filter1d(y, 0.5 / dt, mode="nearest")  # step-to-step impulse imbalance would drift
    out = root_lock.copy()
    out[:, 1] = y + root_lock[:, 1].mean()
    v = gaussian_filter1d(np.gradient(root_lock[:, [0, 2]], dt, axis=0), 0.15 / dt, axis=0, mode="nearest")
    speed = np.linalg.norm(v, axis=1, keepdims=True)
    v = v + v / np.maximum(speed, 1e-9) * (dv - dv.mean())[:, None]
    out[:, [0, 2]] = root_lock[0, [0, 2]] + np.concatenate([np.zeros((1, 2)), np.cumsum(v[1:] * dt, axis=0)])
    return out
