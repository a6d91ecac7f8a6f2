"""Cyclic locomotion for the ``kinematic`` generator: walking, running, stair ascent and descent.

Model. The gait cycle of the left leg runs at phase ``phi`` (0 = its initial contact); the right leg runs half a
cycle later. Hip, knee and ankle follow the normative sagittal curves of ``kinematic_gait.toml`` (Winter 1991,
Perry & Burnfield 2010, Novacheck 1998, McFadyen & Winter 1988, Riener et al. 2002; sources and sign conventions
there), hip ab/adduction a frontal curve; the pelvis rotates (transverse), drops on the swing side (obliquity) and
tilts; the thorax counter-rotates; the head stays on the heading; the arms swing out of phase with the legs (each
arm follows the opposite hip). The cadence (steps/min) and the step length (a fraction of stature: ~0.41 x stature
walking at ~110 steps/min, Öberg et al. 1993) set the pace; the hip excursion is scaled (a few secant iterations)
so that the step length the angle curves produce equals the target (beyond ``max_hip_scale`` the stance is
shortened instead); hip angles are thigh-on-pelvis, with the pelvis at its mean anterior tilt (~10 deg).

The root comes from the feet (:func:`~text2imu.builder.generators.kinematic_ground.ground_root`): the stance foot
rolls heel -> toe without sliding and the foot-locked pelvis height follows from the stance leg. On stairs the
horizontal path is then smoothed over ~0.12 s; walking takes its horizontal path within each stride from the
ground's anterior-posterior and medio-lateral forces (``apgrf``, ``mlgrf``: braking after contact, propulsion
before toe-off, a sway toward the stance foot;
:func:`~text2imu.builder.generators.kinematic_ground.force_root_horizontal`), the foot-locked path giving its
slow part. The vertical path of walking and stairs follows the ground's vertical force instead
(:func:`~text2imu.builder.generators.kinematic_ground.force_root_height`): each foot in stance carries the gait's
normative vertical ground-reaction-force curve (``vgrf`` in ``kinematic_gait.toml``: two ~1.1 body-weight peaks
and a ~0.8 BW mid-stance valley on level ground and up stairs; a higher, earlier first peak, ~1.45 BW, down
stairs, where the body is caught one rise lower), their sum's departure from 1 BW scaled with the speed squared
(:func:`~text2imu.builder.generators.kinematic_loads.vertical_load_bw`); the pelvis accelerates by g (F - 1 BW) and keeps the foot-locked height's slow part
(its level, the climb of the stairs). Rigid curve-driven legs would instead jerk the pelvis up right after each
contact (vertical accelerations of 5-10 m/s^2 at 20 Hz). The path is lowered by a smooth envelope just enough
that the leg carrying the body (contact weight > ``CARRY``) reaches the floor at its straightest, the foot behind
lifting its heel about the toe (up to ``HEEL_RISE_DEG``) in terminal stance, and the legs are re-planted by inverse
kinematics so the feet stay put (:func:`~text2imu.builder.generators.kinematic_ground.plant_legs`). The pelvis of
normal walking then rises and falls ~4-5 cm, lowest in double support; the knees flex more in loading response
than the angle curves say (~30 deg instead of ~18 deg at normal speed), the price of a pelvis that moves with the
force rather than with rigid legs. Running uses a spring-mass pelvis instead (half-sine ground force in stance,
free fall in flight; ~6-10 cm vertical oscillation). On stairs each new stance lands one step (17 cm rise, 29 cm
going) higher or lower.

Variation between repetitions (all from the seed): cadence (+-3 %), step length (+-3 %), arm swing (+-12 %),
pelvis amplitudes (+-10 %), knee amplitude (+-5 %), trunk lean (+-1.5 deg), arm lag, start phase, a slow
stride-to-stride cadence drift (1.5 % RMS) and heading wander (2 deg RMS).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .kinematic_body import (
    J,
    body,
    euler,
    forward_kinematics,
    identity_pose,
    periodic_curve,
    rot_x,
    rot_y,
    rot_z,
    smooth_noise,
    smoothstep,
)
from .kinematic_ground import (
    force_root_height,
    force_root_horizontal,
    ground_root,
    lower_under,
    plant_legs,
    root_height_limit,
    spring_mass_root,
)
from .kinematic_loads import ap_load_bw, gait_tables, has_horizontal_load, ml_load_bw, vertical_load_bw
from .kinematic_words import PACES, Plan

GAIT_OF_ACTIVITY = {"walking": "walk", "running": "run", "climbingup": "stairs_up", "climbingdown": "stairs_down"}
PAD_S = 1.0
CIRCLE_RADIUS_M = {"walk": 2.0, "run": 5.0}
TURN_S = {"walk": 1.6, "run": 1.3}
CARRY = 0.5  # walking and stairs: a leg carries the body (the pelvis must stay within its reach) above this weight
HEEL_RISE_DEG = 30.0  # the most a stance foot may pivot about its toe (heel rise) to reach a higher pelvis


@dataclass(frozen=True)
class GaitParams:
    """One repetition's gait: timing, size and amplitudes (angles in radians).

    Attributes:
        kind: "walk", "run", "stairs_up" or "stairs_down".
        cadence_spm: steps per minute.
        step_m: target step length in metres (horizontal).
        duty: stance fraction of the cycle.
        hip_scale: multiplier of the hip excursion about its mean (calibrated to ``step_m``).
        knee_scale: multiplier of the knee curve above its minimum.
        pelvis_rotation, pelvis_obliquity, pelvis_tilt: amplitudes.
        lean: forward trunk lean.
        thorax_counter: thorax counter-rotation relative to the pelvis rotation.
        shoulder_mean, shoulder_swing, elbow_mean, elbow_swing: arm angles.
        arm_lag: arm phase lag behind the opposite hip, in cycles.
        abduction_offset: constant hip abduction added to both legs (step width).
        rise_m: stair rise per step (0 on level ground); the sign gives up (+) or down (-).
    """

    kind: str
    cadence_spm: float
    step_m: float
    duty: float
    hip_scale: float
    knee_scale: float
    pelvis_rotation: float
    pelvis_obliquity: float
    pelvis_tilt: float
    lean: float
    thorax_counter: float
    shoulder_mean: float
    shoulder_swing: float
    elbow_mean: float
    elbow_swing: float
    arm_lag: float
    abduction_offset: float
    rise_m: float


def gait_params(plan: Plan, rng: np.random.Generator) -> GaitParams:
    """Draw one repetition's :class:`GaitParams` for ``plan`` (activity walking/running/climbing*)."""
    kind = GAIT_OF_ACTIVITY[plan.activity]
    tab = gait_tables()[kind]
    stairs = gait_tables()["staircase"]
    i = PACES.index(plan.pace)
    jit = lambda sd, lim: float(np.clip(rng.normal(1.0, sd), 1 - lim, 1 + lim))  # noqa: E731
    cadence = tab["cadence_spm"][i] * jit(0.03, 0.08)
    if kind.startswith("stairs"):
        step = stairs["going_m"] * jit(0.02, 0.05)
    else:
        step = tab["step_stature"][i] * body().stature_m * plan.stride * jit(0.03, 0.08)
    if plan.direction < 0:  # backward walking: slower, shorter steps (Grasso et al. 1998)
        cadence, step = cadence * 0.9, step * 0.7
    if plan.lean_deg:
        step *= 0.92
    rise = {"stairs_up": 1.0, "stairs_down": -1.0}.get(kind, 0.0) * stairs["rise_m"]
    arm = plan.arm_swing * jit(0.12, 0.35) * (0.6 + 0.4 * cadence / tab["cadence_spm"][1])
    pel = jit(0.10, 0.25)
    params = GaitParams(
        kind=kind, cadence_spm=cadence, step_m=step, duty=float(tab["duty"][i]), hip_scale=1.0,
        knee_scale=jit(0.05, 0.12), pelvis_rotation=np.radians(tab["pelvis_rotation_deg"]) * pel,
        pelvis_obliquity=np.radians(tab["pelvis_obliquity_deg"]) * pel,
        pelvis_tilt=np.radians(tab["pelvis_tilt_deg"]) * pel,
        lean=np.radians(tab["trunk_lean_deg"] + plan.lean_deg + rng.normal(0.0, 1.5)),
        thorax_counter=float(tab["thorax_counter"]),
        shoulder_mean=np.radians(tab["shoulder_mean_deg"]), shoulder_swing=np.radians(tab["shoulder_swing_deg"]) * arm,
        elbow_mean=np.radians(tab["elbow_mean_deg"]), elbow_swing=np.radians(tab["elbow_swing_deg"]) * arm,
        arm_lag=float(rng.uniform(0.0, 0.06)), abduction_offset=np.radians(rng.normal(0.0, 1.0)), rise_m=rise,
    )
    return calibrate_hip_scale(params, plan.direction)


def _contact_weight(phase: np.ndarray, duty: float, ramp: float) -> np.ndarray:
    """(T,) contact weight of a leg at cycle phase (any real; 0 = initial contact): 1 in stance, 0 in swing,
    smooth ramps of width ``ramp`` (cycles) after contact and before toe-off."""
    p = np.mod(phase, 1.0)
    up = smoothstep(p / ramp)
    down = smoothstep((duty - p) / ramp)
    return np.where(p < duty, np.minimum(up, down), 0.0)


def warp_phase(phase: np.ndarray, duty: float, toe_off: float) -> np.ndarray:
    """Smooth monotonic time warp of the cycle, ``p + c sin(2 pi p)`` with ``c`` chosen so that the stance of
    ``duty`` maps onto the curves' own toe-off; 0 and 1 stay fixed. Returns phase in [0, 1)."""
    p = np.mod(phase, 1.0)
    c = (toe_off - duty) / np.sin(2 * np.pi * duty)
    c = float(np.clip(c, -0.9 / (2 * np.pi), 0.9 / (2 * np.pi)))  # keeps the warp monotonic
    return np.mod(p + c * np.sin(2 * np.pi * p), 1.0)


def _leg_angles(tab: dict[str, Any], params: GaitParams, phase: np.ndarray) -> dict[str, np.ndarray]:
    """Hip, knee, ankle, abduction (radians) of a leg at ``phase``, with the repetition's scales."""
    curves = _curves(params.kind)
    phase = warp_phase(phase, params.duty, float(tab["toe_off"]))
    hip = curves["hip"](np.mod(phase, 1.0))
    knee = curves["knee"](np.mod(phase, 1.0))
    knee_min = np.radians(min(k for _, k in tab["knee"]))
    return {
        "hip": curves["hip_mean"] + params.hip_scale * (hip - curves["hip_mean"]),
        "knee": knee_min + params.knee_scale * (knee - knee_min),
        "ankle": curves["ankle"](np.mod(phase, 1.0)),
        "abduction": curves["hip_abduction"](np.mod(phase, 1.0)) + params.abduction_offset,
        "hip_norm": (hip - curves["hip_mean"]) / curves["hip_half_range"],
    }


@cache
def _curves(kind: str) -> dict[str, Any]:
    tab = gait_tables()[kind]
    out: dict[str, Any] = {name: periodic_curve(tab[name]) for name in ("hip", "knee", "ankle", "hip_abduction")}
    grid = np.linspace(0, 1, 401)
    hip = out["hip"](grid)
    out["hip_mean"] = float(hip.mean())
    out["hip_half_range"] = float((hip.max() - hip.min()) / 2)
    return out


def gait_pose(params: GaitParams, phase: np.ndarray, heading: np.ndarray, plan: Plan | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Local rotations of the whole body for a phase track.

    Args:
        phase: (T,) left-leg cycle phase (cycles; grows forward, shrinks walking backward).
        heading: (T,) body heading in radians (about +y; 0 faces +z).
    Returns:
        local (T, 22, 3, 3), contact (T, 2), floor (T, 2) in metres, step count (T,) of the stair steps.
    """
    tab = gait_tables()[params.kind]
    n = len(phase)
    left = _leg_angles(tab, params, phase)
    right = _leg_angles(tab, params, phase + 0.5)
    two_pi = 2 * np.pi
    # Pelvis: left side forward at left contact (rotation), swing side drops in early stance, tilt twice a cycle.
    rotation = -params.pelvis_rotation * np.cos(two_pi * phase)
    obliquity = params.pelvis_obliquity * np.sin(two_pi * (phase + 0.05))
    tilt = params.pelvis_tilt * np.cos(2 * two_pi * (phase - 0.1)) + np.radians(tab["pelvis_anterior_tilt_deg"])
    local = identity_pose(n)
    local[:, 0] = rot_y(heading) @ euler(n, rotation, tilt, obliquity)
    for leg, side, sgn in ((left, "left", 1.0), (right, "right", -1.0)):
        local[:, J[f"{side}_hip"]] = rot_x(-leg["hip"]) @ rot_z(sgn * leg["abduction"])
        local[:, J[f"{side}_knee"]] = rot_x(leg["knee"])
        local[:, J[f"{side}_ankle"]] = rot_x(-leg["ankle"])
    spine_yaw = -params.thorax_counter * rotation / 3
    for name in ("spine1", "spine2", "spine3"):
        local[:, J[name]] = euler(n, spine_yaw, (params.lean - tilt) / 3, -obliquity / 3)
    head_pitch = -0.6 * params.lean + (np.radians(20) if plan and "look_down" in plan.styles else 0.0)
    local[:, J["neck"]] = euler(n, -(rotation + 3 * spine_yaw) * 0.8, head_pitch / 2)
    local[:, J["head"]] = euler(n, -(rotation + 3 * spine_yaw) * 0.2, head_pitch / 2)
    _arms(local, params, _leg_angles(tab, params, phase - params.arm_lag),
          _leg_angles(tab, params, phase + 0.5 - params.arm_lag), plan)
    ramp = params.duty - 0.5 if params.duty > 0.5 else 0.03
    contact = np.stack([_contact_weight(phase, params.duty, ramp), _contact_weight(phase + 0.5, params.duty, ramp)],
                       axis=1)
    steps_l = 2 * np.floor(phase)  # stance index of each foot: left lands on even steps, right on odd
    steps_r = 2 * np.floor(phase + 0.5) - 1
    floor = params.rise_m * np.stack([steps_l, steps_r], axis=1)
    return local, contact, floor, np.floor(2 * phase)


def _arms(local: np.ndarray, params: GaitParams, left: dict, right: dict, plan: Plan | None) -> None:
    """Arm swing (each arm follows the opposite hip) and the holds of ``plan`` (handrail, bag, pockets)."""
    n = local.shape[0]
    for side, opposite, sgn in (("left", right, 1.0), ("right", left, -1.0)):
        swing = opposite["hip_norm"]
        shoulder = params.shoulder_mean + params.shoulder_swing * swing
        elbow = params.elbow_mean + params.elbow_swing * (0.5 + 0.5 * swing)
        abd = np.radians(3.0)
        hold = plan.hold if plan else None
        if hold == "pockets":
            shoulder, elbow, abd = np.radians(-6.0) + 0.05 * (shoulder - params.shoulder_mean), np.radians(40), 0.18
        elif hold in ("bag", "handrail") and plan.side in (None, side):
            if hold == "bag":
                shoulder, elbow, abd = 0.15 * shoulder, np.radians(8.0), np.radians(10.0)
            else:
                shoulder, elbow, abd = np.radians(35.0) + 0.1 * shoulder, np.radians(55.0), np.radians(28.0)
        local[:, J[f"{side}_shoulder"]] = rot_x(-_arr(shoulder, n)) @ rot_z(_arr(sgn * abd, n))
        local[:, J[f"{side}_elbow"]] = rot_x(-_arr(elbow, n))


def _arr(x: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))


def stride_step_length(params: GaitParams, direction: int = 1, fps: float = 120.0) -> float:
    """Mean step length in metres that the curves of ``params`` produce on level ground (two cycles)."""
    cycles = 2.0
    period = 120.0 / params.cadence_spm
    t = np.arange(int(round(cycles * period * fps)) + 1) / fps
    local, contact, floor, _ = gait_pose(params, direction * t / period, np.zeros_like(t))
    rel, glob = forward_kinematics(local, np.zeros((len(t), 3)))
    root = ground_root(rel, glob, contact, floor, 1.0 / fps)
    return float(abs(root[-1, 2] - root[0, 2]) / (2 * cycles))


def _secant(f, x0: float, x1: float, lo: float, hi: float, tol: float = 0.002) -> float:
    """Root of the increasing-or-decreasing f in [lo, hi] by a few secant steps (returns the last iterate)."""
    f0 = f(x0)
    for _ in range(5):
        f1 = f(x1)
        if abs(f1) < tol or abs(f1 - f0) < 1e-9:
            break
        x0, f0, x1 = x1, f1, float(np.clip(x1 - f1 * (x1 - x0) / (f1 - f0), lo, hi))
    return x1


def calibrate_hip_scale(params: GaitParams, direction: int = 1) -> GaitParams:
    """``params`` with the hip excursion scaled so that the curves produce ``params.step_m``; when that would
    need more than the gait's ``max_hip_scale``, the scale is capped and the stance shortened (duty, >= 0.2)."""
    cap = float(gait_tables()[params.kind]["max_hip_scale"])
    target = params.step_m
    s1 = stride_step_length(params, direction)
    guess = float(np.clip(target / max(s1, 1e-3), 0.3, cap))
    scale = _secant(lambda a: stride_step_length(replace(params, hip_scale=a), direction) - target,
                    1.0, guess, 0.3, cap)
    params = replace(params, hip_scale=scale)
    if scale >= cap - 1e-9 and stride_step_length(params, direction) < target - 0.01:
        duty = _secant(lambda d: stride_step_length(replace(params, duty=d), direction) - target,
                       params.duty, params.duty * 0.85, 0.2, params.duty)
        params = replace(params, duty=duty)
    return params


def heading_track(plan: Plan, params: GaitParams, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) heading in radians at times ``t`` (0 at t = 0): straight with wander, a circle, or turns."""
    wander = smooth_noise(rng, t, 0.05, 0.3, np.radians(2.0), n_waves=4)
    wander = wander - np.interp(0.0, t, wander)
    kind = "run" if params.kind == "run" else "walk"
    sign = 1.0 if rng.uniform() < 0.5 else -1.0
    speed = params.step_m * params.cadence_spm / 60.0
    if plan.path == "circle":
        radius = CIRCLE_RADIUS_M[kind] * plan.size
        return sign * speed / radius * t + wander
    targets = {"turn_around": sign * np.pi, "turn_left": np.pi / 2, "turn_right": -np.pi / 2}
    if plan.path in targets and not params.kind.startswith("stairs"):
        centre = plan.duration_s * (0.5 if plan.path == "turn_around" else 0.6)
        turn = TURN_S[kind] * (1.4 if plan.path == "turn_around" else 1.0)
        return targets[plan.path] * smoothstep((t - centre + turn / 2) / turn) + wander
    return wander


def synthesize_gait(plan: Plan, rng: np.random.Generator, fps: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) m at ``fps`` over ``plan.duration_s`` (T = duration x fps + 1) and facts for metadata."""
    params = gait_params(plan, rng)
    n_main = int(round(plan.duration_s * fps)) + 1
    pad = int(round(PAD_S * fps))
    t = (np.arange(n_main + 2 * pad) - pad) / fps
    f_stride = params.cadence_spm / 120.0 * (1.0 + smooth_noise(rng, t, 0.05, 0.3, 0.015, n_waves=4))
    phase = rng.uniform(0.0, 1.0) + plan.direction * np.concatenate([[0.0], np.cumsum(f_stride[1:] / fps)])
    heading = heading_track(plan, params, t, rng)
    local, contact, floor, steps = gait_pose(params, phase, heading, plan)
    rel, glob = forward_kinematics(local, np.zeros((len(t), 3)))
    root = ground_root(rel, glob, contact, floor, 1.0 / fps)
    if params.kind == "run":
        smooth = spring_mass_root(root, contact, 1.0 / fps)
    else:
        smooth = root.copy()
        sigma = gait_tables()[params.kind]["root_smoothing_s"] * fps
        smooth[:, [0, 2]] = gaussian_filter1d(root[:, [0, 2]], sigma, axis=0, mode="nearest")
        if has_horizontal_load(params.kind):
            smooth[:, [0, 2]] = force_root_horizontal(root[:, [0, 2]], ap_load_bw(params, phase),
                                                      ml_load_bw(params, phase), 1.0 / fps,
                                                      120.0 / params.cadence_spm, float(plan.direction))
        smooth[:, 1] = force_root_height(root[:, 1], vertical_load_bw(params, phase), 1.0 / fps)
        limit = root_height_limit(local, root, smooth, contact, carry=CARRY, heel_rise_deg=HEEL_RISE_DEG)
        smooth[:, 1] = lower_under(smooth[:, 1], limit, int(round(120.0 / params.cadence_spm * fps)), 0.25 * fps)
    walks = params.kind != "run"
    local, smooth = plant_legs(local, root, smooth, contact, carry=CARRY if walks else 0.0,
                               heel_rise_deg=HEEL_RISE_DEG if walks else 0.0)
    joints, _ = forward_kinematics(local, smooth)
    joints = joints[pad:pad + n_main]
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
    if params.rise_m:  # the floor is the lowest level of the clip, where its lowest joint is (HumanML3D)
        joints[..., 1] -= joints[..., 1].min()
    facts = {
        "cadence_spm": round(params.cadence_spm, 3),
        "step_length_m": round(params.step_m, 4),
        "speed_mps": round(params.step_m * params.cadence_spm / 60.0, 4),
        "duty": round(params.duty, 4),
        "hip_scale": round(params.hip_scale, 4),
        "steps": int(steps[pad + n_main - 1] - steps[pad]),
    }
    if params.rise_m:
        facts.update(stair_rise_m=abs(params.rise_m), stair_going_m=gait_tables()["staircase"]["going_m"])
    return joints, facts
