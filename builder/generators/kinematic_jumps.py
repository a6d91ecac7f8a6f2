"""Jumps for the ``kinematic`` generator: countermovement and long jumps, rebound hops, rope skipping, jacks.

Countermovement jump (Linthorne 2001, Am J Phys 69:1198-1204; Bobbert et al. 1996, Med Sci Sports Exerc
28:1402-1412): quiet stance, a countermovement of ~0.45 s to hip ~95 deg, knee ~95 deg flexion with the trunk
forward and the arms swung back, a propulsion that accelerates into take-off on the toes (the joint angles ease
in, so the pelvis leaves the ground at its fastest; its duration is set so that this speed equals the take-off
speed sqrt(2 g h) of the jump height h), a ballistic flight under g = 9.81 m/s^2 (time from h and the take-off
and touch-down pelvis heights), a landing that absorbs the touch-down speed over the same distance, and recovery.
A standing long jump adds a forward lean and a horizontal flight speed (flight distance ~1 m, 1.6-2 m in all).
Rebound hops (in place, rope skipping at ~2 Hz, jumping jacks, bouncing) are spring-mass hops: short contacts
(0.25-0.45 s) with a half-sine ground force and flights of 4-20 cm, as in running.
Variation from the seed: jump height (+-10 %), timing (+-8 %), pauses, arm swing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .kinematic_body import (
    G_MPS2,
    J,
    contact_points,
    euler,
    forward_kinematics,
    identity_pose,
    rot_x,
    rot_z,
    set_arm,
    smoothstep,
)
from .kinematic_ground import ground_root
from .kinematic_words import Plan

BROAD_TAKEOFF_MPS = 2.5  # horizontal take-off speed of a standing long jump (~2.3-3 m/s)
CHANNELS = ("pelvis", "spine", "hip", "knee", "heel", "shoulder", "shoulder_abd", "elbow", "hip_abd")
# Poses in degrees: pelvis and spine forward lean, hip/knee flexion, heel rise (0 = flat foot), shoulder
# flexion and abduction, elbow flexion, hip abduction (both legs).
POSES: dict[str, tuple[float, ...]] = {
    "stand": (0, 2, 0, 3, 0, 0, 4, 12, 0),
    "bottom": (30, 12, 95, 95, 0, -50, 10, 10, 0),
    "takeoff": (5, 2, 0, 3, 40, 130, 10, 15, 0),
    "apex": (5, 2, 5, 10, 35, 160, 10, 15, 0),
    "touchdown": (8, 4, 20, 22, 30, 90, 10, 20, 0),
    "absorb": (25, 10, 70, 75, 0, 30, 10, 30, 0),
    "broad_bottom": (40, 12, 100, 95, 0, -60, 10, 10, 0),
    "broad_takeoff": (35, 5, 5, 5, 40, 100, 10, 15, 0),
    "broad_tuck": (25, 5, 75, 75, 25, 70, 10, 20, 0),
    "broad_touchdown": (25, 5, 70, 45, 0, 50, 10, 20, 0),
    "broad_absorb": (35, 10, 100, 100, 0, 30, 10, 30, 0),
    "hop_down": (6, 3, 25, 35, 8, 5, 8, 20, 0),
    "hop_up": (3, 2, 5, 8, 35, 0, 8, 20, 0),
}
HOPS = {  # variant: (jump height m, contact time s, arm style)
    "hop": (0.09, 0.26, "relaxed"),
    "repeat": (0.20, 0.40, "swing"),
    "rope": (0.06, 0.30, "rope"),
    "jack": (0.08, 0.30, "jack"),
}


def _pose(name: str) -> dict[str, float]:
    return dict(zip(CHANNELS, np.radians(POSES[name]), strict=True))


def _channels(keys: list[tuple[float, dict[str, float], str]], t: np.ndarray) -> dict[str, np.ndarray]:
    """Interpolate pose keys [(time s, pose, ease of the segment that starts there)] at ``t``.

    Eases: "smooth" (zero speed at both keys), "in" (accelerating into the next key), "out" (decelerating).
    """
    ease = {"smooth": smoothstep, "in": lambda u: np.clip(u, 0, 1) ** 2,
            "out": lambda u: 1 - (1 - np.clip(u, 0, 1)) ** 2}
    out = {c: np.full(len(t), keys[0][1][c]) for c in CHANNELS}
    for (t0, p0, e), (t1, p1, _) in zip(keys[:-1], keys[1:], strict=True):
        inside = (t >= t0) & (t < t1)
        u = ease[e]((t[inside] - t0) / max(t1 - t0, 1e-9))
        for c in CHANNELS:
            out[c][inside] = p0[c] + (p1[c] - p0[c]) * u
    last = t >= keys[-1][0]
    for c in CHANNELS:
        out[c][last] = keys[-1][1][c]
    return out


def _local(ch: dict[str, np.ndarray]) -> np.ndarray:
    """Local rotations (T, 22, 3, 3) of a symmetric pose track; feet flat plus the heel rise."""
    n = len(ch["hip"])
    local = identity_pose(n)
    local[:, 0] = euler(n, 0.0, ch["pelvis"])
    for name in ("spine1", "spine2", "spine3"):
        local[:, J[name]] = rot_x(ch["spine"] / 3)
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        local[:, J[f"{side}_hip"]] = rot_x(-ch["hip"]) @ rot_z(sgn * ch["hip_abd"])
        local[:, J[f"{side}_knee"]] = rot_x(ch["knee"])
        g_knee = local[:, 0] @ local[:, J[f"{side}_hip"]] @ local[:, J[f"{side}_knee"]]
        local[:, J[f"{side}_ankle"]] = np.swapaxes(g_knee, -1, -2) @ rot_x(ch["heel"]) @ rot_z(-sgn * ch["hip_abd"])
        set_arm(local, side, ch["shoulder"], ch["shoulder_abd"], 0.0, ch["elbow"])
    local[:, J["neck"]] = rot_x(-(ch["pelvis"] + ch["spine"]) * 0.5)
    return local


def _stand_height(pose: dict[str, float]) -> float:
    """Pelvis height of a static pose standing on its lowest contact point (m)."""
    local = _local({c: np.array([v]) for c, v in pose.items()})
    rel, glob = forward_kinematics(local, np.zeros((1, 3)))
    heel, toe = contact_points(rel, glob)
    return float(-min(heel[..., 1].min(), toe[..., 1].min()))


def _ahead_of_toes(pose: dict[str, float]) -> float:
    """How far the pelvis of a static pose is ahead (+z) of the toe joints (m)."""
    rel, _ = forward_kinematics(_local({c: np.array([v]) for c, v in pose.items()}), np.zeros((1, 3)))
    return float(-rel[0, [J["left_foot"], J["right_foot"]], 2].mean())


def _ballistic(y_to: float, y_td: float, v0: float) -> tuple[float, float]:
    """(flight time s, touch-down speed m/s) of a take-off at ``v0`` m/s from pelvis height y_to to y_td."""
    v_td = np.sqrt(v0**2 + 2 * G_MPS2 * (y_to - y_td))
    return float((v0 + v_td) / G_MPS2), float(v_td)


def big_jumps(plan: Plan, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Countermovement ("cmj") or standing long ("broad") jumps filling ``t`` (s); joints (T, 22, 3)."""
    broad = plan.variant == "broad"
    height = (0.28 if broad else 0.30) * (1.3 if "high" in plan.styles else 1.0) * rng.uniform(0.9, 1.1)
    names = ("broad_bottom", "broad_takeoff", "broad_tuck", "broad_touchdown", "broad_absorb") if broad else (
        "bottom", "takeoff", "apex", "touchdown", "absorb")
    bottom, takeoff, air, touchdown, absorb = (_pose(n) for n in names)
    stand = _pose("stand")
    v0 = np.sqrt(2 * G_MPS2 * height)
    t_prop = 2 * (_stand_height(takeoff) - _stand_height(bottom)) / v0
    v_fwd = BROAD_TAKEOFF_MPS * rng.uniform(0.9, 1.1)
    if broad:  # the forward swing of the body sets the push time: leave at ~2.5 m/s forward, 2.4 m/s up
        t_prop = max(t_prop, 2 * (_ahead_of_toes(takeoff) - _ahead_of_toes(bottom)) / v_fwd)
    t_flight, v_td = _ballistic(_stand_height(takeoff), _stand_height(touchdown), v0)
    t_land = 2 * (_stand_height(touchdown) - _stand_height(absorb)) / v_td
    one = 0.45 + t_prop + t_flight + t_land + 0.6
    count = plan.count or max(1, int((t[-1] - 0.6) // (one + 0.5)))
    keys: list[tuple[float, dict[str, float], str]] = []
    flights: list[tuple[float, float]] = []
    at = rng.uniform(0.3, 0.8)
    keys.append((0.0, stand, "smooth"))
    for _ in range(count):
        s = rng.uniform(0.92, 1.08)
        seq = [(at, stand, "smooth"), (at + 0.45 * s, bottom, "in"), (at + 0.45 * s + t_prop, takeoff, "smooth")]
        t_to = seq[-1][0]
        seq += [(t_to + t_flight / 2, air, "smooth"), (t_to + t_flight, touchdown, "out"),
                (t_to + t_flight + t_land, absorb, "smooth"), (t_to + t_flight + t_land + 0.6 * s, stand, "smooth")]
        flights.append((t_to, t_to + t_flight))
        keys += seq
        at = seq[-1][0] + rng.uniform(0.3, 0.9)
    ch = _channels(keys, t)
    arms = _channels([(k, p, "smooth") for k, p, _ in keys], t)  # arms swing smoothly (peak ~700 deg/s)
    for c in ("shoulder", "shoulder_abd", "elbow"):
        ch[c] = arms[c]
    ch["shoulder"] = ch["shoulder"] * plan.arm_swing ** 0.5
    local = _local(ch)
    contact = np.ones((len(t), 2))
    flight_v = np.full((len(t), 2), np.nan)
    for a, b in flights:
        contact[(t >= a) & (t < b)] = 0.0
        flight_v[(t >= a) & (t < b)] = (0.0, v_fwd if broad else 0.0)
    rel, glob = forward_kinematics(local, np.zeros((len(t), 3)))
    root = ground_root(rel, glob, contact, np.zeros((len(t), 2)), float(t[1] - t[0]), flight_v)
    joints = rel + root[:, None]
    facts = {"variant": plan.variant, "jumps": count, "jump_height_m": round(height, 3),
             "flight_s": round(t_flight, 3)}
    return joints, facts


def _scaled(pose: dict[str, float], base: dict[str, float], k: float) -> dict[str, float]:
    """The pose ``base + k (pose - base)`` in the leg and trunk channels."""
    out = dict(pose)
    for c in ("pelvis", "spine", "hip", "knee", "heel"):
        out[c] = base[c] + k * (pose[c] - base[c])
    return out


def hops(plan: Plan, rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Rebound hops in place (variants "hop", "repeat", "rope", "jack") filling ``t`` (s); joints (T, 22, 3).

    Each contact decelerates the landing (angles ease out) into the deepest pose at mid-contact and accelerates
    into take-off (ease in); the depth is chosen so that the pelvis moves v0 T_c / 4 in each half, which makes
    the take-off speed equal the flight's v0 = sqrt(2 g h): a constant ~1-2 g push, then free fall.
    """
    v = plan.variant if plan.variant in HOPS else "hop"
    height, t_c, arms = HOPS[v]
    height *= (0.8 if "low" in plan.styles else 1.0) * (1.3 if "high" in plan.styles else 1.0)
    height *= rng.uniform(0.9, 1.1)
    t_c *= rng.uniform(0.92, 1.08)
    v0 = np.sqrt(2 * G_MPS2 * height)
    t_f = 2 * v0 / G_MPS2
    period = t_c + t_f
    up, deep, stand = _pose("hop_up"), _pose("hop_down"), _pose("stand")
    want = v0 * t_c / 4
    lo, hi = 0.0, 3.0
    for _ in range(30):  # bisection on the depth that lowers the pelvis by `want`
        k = (lo + hi) / 2
        lo, hi = (k, hi) if _stand_height(up) - _stand_height(_scaled(deep, up, k)) < want else (lo, k)
    down = _scaled(deep, up, (lo + hi) / 2)
    start = rng.uniform(0.5, 0.9)
    count = plan.count or int((t[-1] - start - 0.8) // period)
    keys: list[tuple[float, dict[str, float], str]] = [(0.0, stand, "smooth"), (start - 0.45, stand, "smooth"),
                                                       (start - t_c / 2, down, "in")]
    contact = np.ones((len(t), 2))
    for k in range(count):
        lift = start + k * period
        jack = np.radians(18.0) if v == "jack" and k % 2 == 0 else 0.0
        air, land = dict(up, hip_abd=jack), dict(down, hip_abd=jack)
        keys += [(lift, air, "smooth"), (lift + t_f, air, "out"), (lift + t_f + t_c / 2, land, "in")]
        contact[(t >= lift) & (t < lift + t_f)] = 0.0
    end = start + count * period
    keys[-1] = (keys[-1][0], keys[-1][1], "smooth")
    keys += [(end - t_c / 2 + 0.5, stand, "smooth")]
    ch = _channels(keys, t)
    phase = 2 * np.pi * (t - start) / period
    hopping = (t > start - t_c) & (t < end)
    if arms == "rope":
        ch["shoulder"] = np.radians(15.0) + np.radians(8.0) * np.sin(phase) * hopping
        ch["shoulder_abd"] = np.radians(25.0) + np.radians(6.0) * np.cos(phase) * hopping
        ch["elbow"] = np.full(len(t), np.radians(75.0))
    elif arms == "jack":
        sweep = gaussian_filter1d(ch["hip_abd"] / np.radians(18.0), period / 4 / float(t[1] - t[0]))
        ch["shoulder_abd"] = np.radians(5.0) + np.clip(sweep / max(sweep.max(), 1e-9), 0, 1) * np.radians(150.0)
    elif arms == "swing":
        ch["shoulder"] = np.radians(25.0) * np.sin(phase) * hopping * plan.arm_swing
    local = _local(ch)
    rel, glob = forward_kinematics(local, np.zeros((len(t), 3)))
    root = ground_root(rel, glob, contact, np.zeros((len(t), 2)), float(t[1] - t[0]))
    return rel + root[:, None], {"variant": v, "jumps": count, "jump_height_m": round(height, 3),
                                 "flight_s": round(float(t_f), 3)}


def synthesize_jumps(plan: Plan, rng: np.random.Generator, fps: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Joints (T, 22, 3) m at ``fps`` over ``plan.duration_s`` for a jumping plan, and facts for metadata."""
    t = np.arange(int(round(plan.duration_s * fps)) + 1) / fps
    make = big_jumps if plan.variant in ("cmj", "broad") else hops
    joints, facts = make(plan, rng, t)
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
    joints[..., 1] -= joints[..., 1].min()
    return joints, facts
