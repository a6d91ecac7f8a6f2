"""Still postures for the ``kinematic`` generator: standing, sitting and lying, alive with small motions.

Standing: feet flat and fixed on the floor (grounded like the gait), quiet-stance postural sway as an inverted
pendulum about the ankles with ~0.4 deg AP and ~0.3 deg ML RMS tilt, i.e. the pelvis moving ~5-8 mm RMS at
0.05-0.8 Hz (Prieto et al. 1996, IEEE Trans Biomed Eng 43:956-966; Winter 1995, Gait & Posture 3:193-214);
weight shifting moves the pelvis ~4 cm sideways every 4-6 s.
Sitting: the hip joints 6.5 cm above the seat (ischial tuberosities and compressed soft tissue), the pelvis
tilted back ~15 deg as in upright unsupported sitting, thighs on the seat, feet flat on the floor by leg IK; seat
heights: chair 0.45 m, sofa 0.42 m, office chair 0.47 m (EN 1335, BS EN 12520).
Lying: the pelvis 0.10 m above the surface when supine or prone (sacrum to hip-joint depth) and 0.19 m on the
side (half the shoulder breadth), floor 0 m, bed 0.50 m, sofa 0.42 m.
All: quiet breathing at ~0.25 Hz (12-20 breaths/min at rest) moving the chest and shoulders, slow head drift,
and the activity's own motions (typing, eating, phone, looking around, posture shifts), seeded.
Physiological micro-motion (figures and sources in ``kinematic_body.toml`` ``[micro_motion]``), drawn after
everything else so the rest of a motion does not change with it: standing adds the vertical trunk micro-motion of
quiet stance (the 3-6 Hz "postural rhythm" of the vertical ground reaction force, Sozzi et al. 2022, 2023), with
an acceleration RMS drawn from 0.02-0.06 m/s^2 (trunk accelerometry of quiet standing: Moe-Nilssen 1998; Mancini
et al. 2012) and recorded in the facts as ``stance_acc_rms_mps2``; lying rises and falls with each breath by
2-5 mm peak to peak (abdominal excursion, ``breath_excursion_m`` in the facts). Sitting adds nothing: no
published figure of a vertical micro-motion of the seated pelvis was at hand. Cardiac (ballistocardiographic)
motion is left out for the same reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kinematic_body import (
    J,
    breathing,
    euler,
    forward_kinematics,
    identity_pose,
    keyframe_track,
    micro_motion,
    micro_vibration,
    rot_x,
    rot_y,
    rot_z,
    set_arm,
    smooth_noise,
    smoothstep,
)
from .kinematic_ground import ground_root, solve_legs
from .kinematic_words import Plan

HIP_ABOVE_SEAT_M = 0.065
LYING_DEPTH_M = {"supine": 0.10, "prone": 0.10, "left_side": 0.19, "right_side": 0.19}
LYING_ROLL_DEG = {"supine": 0.0, "prone": 180.0, "left_side": 90.0, "right_side": -90.0}


def rad(deg: float | np.ndarray) -> np.ndarray | float:
    return np.radians(deg)


def _events(rng: np.random.Generator, t: np.ndarray, every_s: float, move_s: float) -> np.ndarray:
    """(T,) a staircase of smooth posture changes: random steps of size N(0, 1) about every ``every_s``."""
    out = np.zeros_like(t)
    at = rng.uniform(0.3, every_s)
    while at < t[-1]:
        out += rng.normal(0.0, 1.0) * smoothstep((t - at) / move_s)
        at += rng.uniform(0.6, 1.4) * every_s
    return out


def _head(local: np.ndarray, t: np.ndarray, rng: np.random.Generator, pitch: float = 0.0,
          yaw: np.ndarray | None = None) -> None:
    """Neck and head: a slow gaze drift (~2 deg RMS), a mean pitch (down positive) and an optional yaw track."""
    n = len(t)
    y = smooth_noise(rng, t, 0.05, 0.5, rad(2.0), 4) + (0.0 if yaw is None else yaw)
    p = pitch + smooth_noise(rng, t, 0.05, 0.5, rad(1.5), 4)
    local[:, J["neck"]] = local[:, J["neck"]] @ euler(n, 0.6 * y, 0.5 * p)
    local[:, J["head"]] = local[:, J["head"]] @ euler(n, 0.4 * y, 0.5 * p)


def _look_around(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """(T,) head yaw in radians: gaze targets within +-60 deg held 0.8-1.8 s, turns of 0.4-0.6 s."""
    times, values, at, value = [t[0]], [0.0], t[0] + rng.uniform(0.3, 1.0), 0.0
    while at < t[-1]:
        value = float(np.clip(value + rng.choice([-1, 1]) * rng.uniform(25, 60), -60, 60))
        move = rng.uniform(0.4, 0.6)
        times += [at, at + move]
        values += [values[-1], value]
        at += move + rng.uniform(0.8, 1.8)
    return np.radians(keyframe_track(times, values, t))


def _flat_feet(local: np.ndarray) -> None:
    """Set the ankles so that both feet are flat on the floor, pointing along the heading (in place)."""
    for side in ("left", "right"):
        g_knee = local[:, 0] @ local[:, J[f"{side}_hip"]] @ local[:, J[f"{side}_knee"]]
        heading_only = rot_y(np.arctan2(local[:, 0, 0, 2], local[:, 0, 2, 2]))
        local[:, J[f"{side}_ankle"]] = np.swapaxes(g_knee, -1, -2) @ heading_only


def _upper_body_variant(local: np.ndarray, plan: Plan, t: np.ndarray, rng: np.random.Generator) -> float:
    """Arms for the variant of a standing or sitting plan (in place); returns the head pitch (radians, down +)."""
    v, n = plan.variant, len(t)
    small = lambda rms: smooth_noise(rng, t, 0.1, 1.0, rad(rms), 4)  # noqa: E731
    side = plan.side or ("right" if rng.uniform() < 0.5 else "left")
    other = "left" if side == "right" else "right"
    if v == "arms_crossed":
        for s in ("left", "right"):
            set_arm(local, s, rad(8) + small(1), rad(-3), rad(80), rad(95) + small(1))
        return rad(-2.0)
    if v in ("phone",):
        set_arm(local, side, rad(30) + small(1.5), rad(40), rad(35), rad(150) + small(2))
        set_arm(local, other, small(1), rad(4), 0.0, rad(12))
        local[:, J["head"]] = local[:, J["head"]] @ rot_z(rad(6 if side == "left" else -6) * np.ones(n))
        return rad(5.0)
    if v in ("texting", "reading"):
        for s in ("left", "right"):
            set_arm(local, s, rad(5 if v == "texting" else 15) + small(1), 0.0, rad(45), rad(75) + small(2))
        return rad(25.0)
    if v == "typing":
        taps = smooth_noise(rng, t, 2.0, 5.0, rad(2.0), 6)
        for s, sg in (("left", 1.0), ("right", -1.0)):
            set_arm(local, s, rad(22) + sg * 0.5 * taps, rad(10), rad(20), rad(85) + taps)
        return rad(12.0)
    if v == "pockets":
        for s in ("left", "right"):
            set_arm(local, s, rad(-6) + small(1), rad(10), 0.0, rad(38))
        return 0.0
    if v == "counter":
        for s in ("left", "right"):
            set_arm(local, s, rad(25) + small(1), rad(6), rad(10), rad(10) + small(1))
        return rad(15.0)
    if v == "eating":
        period = rng.uniform(3.5, 5.0)
        cycle = np.mod(t / period + rng.uniform(), 1.0)
        lift = smoothstep(cycle / 0.25) * smoothstep((0.65 - cycle) / 0.25)
        set_arm(local, side, rad(25) + rad(25) * lift, rad(12), rad(20), rad(75) + rad(60) * lift)
        set_arm(local, other, rad(28) + small(1), rad(6), rad(10), rad(60))
        return rad(10.0) - rad(8.0) * lift
    if v == "lean_forward":
        for s in ("left", "right"):
            set_arm(local, s, rad(10) + small(1), rad(10), rad(25), rad(95) + small(1))
        return rad(-25.0)
    for s in ("left", "right"):  # relaxed: at the sides standing, on the thighs sitting
        if plan.activity == "sitting":
            set_arm(local, s, rad(28) + small(1), rad(8), rad(15), rad(55) + small(1.5))
        else:
            set_arm(local, s, small(0.8), rad(4), rad(5), rad(12) + small(1))
    return rad(3.0)


def standing(plan: Plan, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) of quiet standing at times ``t`` (s)."""
    n = len(t)
    local = identity_pose(n)
    scale = 2.5 if plan.variant == "sway" else 1.0
    ap = smooth_noise(rng, t, 0.05, 0.8, rad(0.4) * scale) + rad(1.0 if plan.variant == "counter" else 0.0)
    ml = smooth_noise(rng, t, 0.05, 0.8, rad(0.3) * scale)
    shift = np.zeros(n)
    if plan.variant == "weight_shift":
        period = rng.uniform(4.0, 6.0)
        shift = rad(2.7) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    local[:, 0] = euler(n, rad(rng.normal(0.0, 1.0)), ap, ml)
    knee = rad(rng.uniform(2.0, 6.0))
    for side in ("left", "right"):
        local[:, J[f"{side}_hip"]] = rot_x(-knee / 2 * np.ones(n)) @ rot_z(shift)
        local[:, J[f"{side}_knee"]] = rot_x(knee * np.ones(n))
    local[:, 0] = local[:, 0] @ rot_z(0.6 * shift)  # the loaded hip rises (pelvic obliquity)
    lean = rad(8.0) if plan.variant == "counter" else 0.0
    for name in ("spine1", "spine2", "spine3"):
        local[:, J[name]] = euler(n, 0.0, lean / 3 - ap / 3, -0.6 * shift / 3 - ml / 3)
    _flat_feet(local)
    pitch = _upper_body_variant(local, plan, t, rng)
    yaw = _look_around(rng, t) if plan.variant == "look_around" else None
    _head(local, t, rng, pitch - lean, yaw)
    breathing(local, t, rng)
    rel, glob = forward_kinematics(local, np.zeros((n, 3)))
    root = ground_root(rel, glob, np.ones((n, 2)), np.zeros((n, 2)), float(t[1] - t[0]))
    joints = rel + root[:, None]
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
    mm = micro_motion()
    acc_rms = float(rng.uniform(*mm.stance_acc_rms_mps2))
    joints[..., 1] += micro_vibration(rng, t, mm.stance_band_hz, acc_rms)[:, None]
    return joints, {"variant": plan.variant, "support_height_m": 0.0, "stance_acc_rms_mps2": acc_rms}


def sitting(plan: Plan, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) of sitting on a seat of ``plan.support_height_m`` at times ``t`` (s)."""
    n, v = len(t), plan.variant
    seat = plan.support_height_m if plan.support_height_m > 0.2 else 0.45
    tilt = rad({"lean_back": 25.0, "lean_forward": 0.0}.get(v, 15.0) + rng.normal(0, 2))  # posterior
    trunk = rad({"lean_back": -15.0, "lean_forward": 35.0, "typing": 8.0, "reading": 10.0}.get(v, 2.0)
                + rng.normal(0, 2))
    shifts = _events(rng, t, 3.5, 1.0) if v == "shifting" else np.zeros(n)
    sway = smooth_noise(rng, t, 0.05, 0.6, rad(0.3), 4) + rad(3.0) * shifts
    local = identity_pose(n)
    local[:, 0] = euler(n, rad(rng.normal(0, 2)), -tilt + 0.3 * sway, rad(1.0) * shifts)
    for name in ("spine1", "spine2", "spine3"):
        local[:, J[name]] = euler(n, rad(1.5) * shifts / 3, (trunk + tilt + 0.7 * sway) / 3)
    for side in ("left", "right"):
        local[:, J[f"{side}_hip"]] = rot_x(-rad(90.0) * np.ones(n))
    rel, _ = forward_kinematics(local, np.zeros((n, 3)))
    hips_y = rel[:, [J["left_hip"], J["right_hip"]], 1].mean(axis=1)
    root = np.zeros((n, 3))
    root[:, 1] = seat + HIP_ABOVE_SEAT_M - hips_y
    pos, _ = forward_kinematics(local, root)
    reach = rng.uniform(0.40, 0.48) * (1.15 if v == "lean_back" else 1.0)
    ankles = np.empty((n, 2, 3))
    feet = np.empty((n, 2, 3, 3))
    for i, side in enumerate(("left", "right")):
        hip = pos[:, J[f"{side}_hip"]]
        ankles[:, i] = np.stack([hip[:, 0] * 1.4, np.full(n, 0.06), hip[:, 2] + reach], axis=1)
        feet[:, i] = rot_y(np.zeros(n))
    local = solve_legs(local, root, ankles, feet)
    if v == "crossed":  # right thigh over the left one, the foot hanging
        local[:, J["right_hip"]] = rot_x(-rad(100.0) * np.ones(n)) @ rot_z(rad(18.0) * np.ones(n))
        local[:, J["right_knee"]] = rot_x(rad(85.0) * np.ones(n) + smooth_noise(rng, t, 0.2, 1.0, rad(2.0)))
        local[:, J["right_ankle"]] = rot_x(rad(15.0) * np.ones(n))
    pitch = _upper_body_variant(local, plan, t, rng)
    _head(local, t, rng, pitch - (trunk - rad(2.0)) * 0.7)
    breathing(local, t, rng)
    joints, _ = forward_kinematics(local, root)
    return joints, {"variant": v, "support": plan.support, "support_height_m": seat}


def lying(plan: Plan, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) of lying on a surface of ``plan.support_height_m`` at times ``t`` (s)."""
    n = len(t)
    v = plan.variant if plan.variant in LYING_DEPTH_M else "supine"
    styles = plan.styles
    local = identity_pose(n)
    shifts = _events(rng, t, 3.0, 1.2) if "shifting" in styles else np.zeros(n)
    local[:, 0] = rot_x(-rad(90.0) * np.ones(n)) @ rot_y(rad(LYING_ROLL_DEG[v] + rng.normal(0, 3)) * np.ones(n))
    side = v.endswith("side")
    hip, knee = (rad(40.0), rad(65.0)) if side else (rad(4.0), rad(6.0))
    if "knees_bent" in styles:
        hip, knee = (rad(50.0), rad(80.0)) if side else (rad(45.0), rad(90.0))
    for s, lag in (("left", 0.0), ("right", rad(8.0) if side else 0.0)):
        local[:, J[f"{s}_hip"]] = rot_x(-(hip + lag + rad(2.0) * shifts) * np.ones(n)) @ rot_z(rad(4.0) * np.ones(n))
        local[:, J[f"{s}_knee"]] = rot_x((knee + lag) * np.ones(n))
        local[:, J[f"{s}_ankle"]] = rot_x(rad(30.0) * np.ones(n))
    small = lambda rms: smooth_noise(rng, t, 0.05, 0.5, rad(rms), 4)  # noqa: E731
    if "hands_on_stomach" in styles:
        for s in ("left", "right"):
            set_arm(local, s, rad(30) + small(0.5), rad(5), rad(45), rad(100) + small(0.5))
    elif side:
        lower, upper = ("left", "right") if v == "left_side" else ("right", "left")
        set_arm(local, lower, rad(80) + small(0.5), 0.0, 0.0, rad(95))
        sgn = 1.0 if lower == "left" else -1.0  # the lower shoulder rolls forward and up under the body
        local[:, J[f"{lower}_collar"]] = rot_y(-sgn * rad(30.0) * np.ones(n)) @ rot_z(sgn * rad(20.0) * np.ones(n))
        set_arm(local, upper, rad(25) + rad(5) * shifts, rad(5), rad(10), rad(35))
    else:
        for s in ("left", "right"):
            set_arm(local, s, small(0.5) + rad(3) * shifts, rad(10), 0.0, rad(15))
    neck_yaw = rad(70.0) * (1 if rng.uniform() < 0.5 else -1) if v == "prone" else 0.0
    local[:, J["neck"]] = local[:, J["neck"]] @ euler(n, neck_yaw * np.ones(n), small(1.0))
    local[:, J["head"]] = local[:, J["head"]] @ rot_x(small(1.0))
    breath = breathing(local, t, rng, rate_hz=0.22)
    root = np.zeros((n, 3))
    root[:, 1] = plan.support_height_m + LYING_DEPTH_M[v]
    joints, _ = forward_kinematics(local, root)
    excursion = float(rng.uniform(*micro_motion().breath_excursion_m))
    joints[..., 1] += excursion * breath[:, None]
    return joints, {"variant": v, "support": plan.support, "support_height_m": plan.support_height_m,
                    "breath_excursion_m": excursion}


def synthesize_posture(plan: Plan, rng: np.random.Generator, fps: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) m at ``fps`` over ``plan.duration_s`` for standing, sitting or lying, and facts."""
    t = np.arange(int(round(plan.duration_s * fps)) + 1) / fps
    make = {"standing": standing, "sitting": sitting, "lying": lying}[plan.activity]
    joints, facts = make(plan, rng, t)
    return joints, facts
