"""Body mechanics of the ``kinematic`` generator: rotations, forward kinematics, arms, breathing, noise.

Frames and signs. The body frame is x: the person's left, y: up, z: forward (HumanML3D's rest frame). Angles are
radians. Each joint carries a local rotation ``L[j]`` (T, 3, 3); global rotations compose down the tree,
``G[j] = G[parent] @ L[j]``, and a joint sits at ``p[j] = p[parent] + G[parent] @ offset[j]`` where ``offset[j]``
is the neutral bone vector (``kinematic_body.toml`` direction x skeleton.toml length). So the rotation of a joint
turns the bones below it, as in SMPL, and bone lengths are constant by construction. With ``rot_x``
right-handed: hip flexion is ``rot_x(-a)``, knee flexion ``rot_x(+a)``, ankle dorsiflexion ``rot_x(-a)``, trunk
forward lean ``rot_x(+a)``, shoulder flexion ``rot_x(-a)``, elbow flexion ``rot_x(-a)``; ``rot_z(+a)`` lifts a
segment hanging down towards the left (+x), ``rot_y(+a)`` turns the body to its left.
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


def set_arm(local: np.ndarray, side: str, flex: np.ndarray | float, abduction: np.ndarray | float = 0.0,
            internal: np.ndarray | float = 0.0, elbow: np.ndarray | float = 0.0) -> None:
    """Set one arm in place (radians): shoulder flexion (forward), abduction (sideways), internal rotation
    (forearm towards the midline when the elbow is bent) and elbow flexion."""
    n = local.shape[0]
    sgn = 1.0 if side == "left" else -1.0
    local[:, J[f"{side}_shoulder"]] = rot_x(-np.broadcast_to(flex, (n,))) @ rot_z(
        sgn * np.broadcast_to(abduction, (n,))) @ rot_y(-sgn * np.broadcast_to(internal, (n,)))
    local[:, J[f"{side}_elbow"]] = rot_x(-np.broadcast_to(elbow, (n,)))


def breathing(local: np.ndarray, t_s: np.ndarray, rng: np.random.Generator, rate_hz: float = 0.25) -> np.ndarray:
    """Add quiet breathing in place: ~15 breaths/min (12-20 in adults at rest), the thoracic spine extending by
    ~0.6 deg and the shoulders rising by ~1 deg at inspiration, with breath-to-breath rate variation.

    Returns (T,) the breath, 0 at full expiration and 1 at full inspiration."""
    rate = rate_hz * rng.uniform(0.85, 1.15)
    phase = 2 * np.pi * rate * t_s + rng.uniform(0, 2 * np.pi) + smooth_noise(rng, t_s, 0.02, 0.1, 0.3, 3)
    b = 0.5 * (1 - np.cos(phase))
    for name in ("spine2", "spine3"):
        local[:, J[name]] = local[:, J[name]] @ rot_x(-np.radians(0.3) * b)
    local[:, J["left_collar"]] = local[:, J["left_collar"]] @ rot_z(np.radians(1.0) * b)
    local[:, J["right_collar"]] = local[:, J["right_collar"]] @ rot_z(-np.radians(1.0) * b)
    return b


@dataclass(frozen=True)
class MicroMotion:
    """Physiological micro-motion of the still postures (``[micro_motion]`` of ``kinematic_body.toml``, sources
    there).

    Attributes:
        stance_band_hz: frequency band of the vertical trunk micro-motion of quiet standing, Hz.
        stance_acc_rms_mps2: range of its acceleration RMS, m/s^2 (one value drawn per motion).
        breath_excursion_m: range of the peak-to-peak rise of the waist with each breath when lying, metres.
    """

    stance_band_hz: tuple[float, float]
    stance_acc_rms_mps2: tuple[float, float]
    breath_excursion_m: tuple[float, float]


@cache
def micro_motion() -> MicroMotion:
    """The :class:`MicroMotion` figures from ``kinematic_body.toml`` (cached)."""
    raw = tomllib.loads(resources.files(__package__).joinpath("kinematic_body.toml").read_text("utf-8"))
    m = raw["micro_motion"]
    return MicroMotion(tuple(m["stance_band_hz"]), tuple(m["stance_acc_rms_mps2"]), tuple(m["breath_excursion_m"]))


def micro_vibration(rng: np.random.Generator, t_s: np.ndarray, band_hz: tuple[float, float], acc_rms_mps2: float,
                    n_waves: int = 8) -> np.ndarray:
    """(T,) displacement in metres of a band-limited random vibration whose acceleration has RMS ``acc_rms_mps2``
    (m/s^2) over ``t_s``: ``n_waves`` sinusoids with log-uniform frequencies in ``band_hz`` (Hz), uniform phases
    and acceleration amplitudes uniform in [0.5, 1], scaled so that the RMS over the given times is exact."""
    freqs = np.exp(rng.uniform(np.log(band_hz[0]), np.log(band_hz[1]), n_waves))
    phases = rng.uniform(0, 2 * np.pi, n_waves)
    amps = rng.uniform(0.5, 1.0, n_waves)
    waves = np.sin(2 * np.pi * freqs[:, None] * t_s[None, :] + phases[:, None])
    acc = (amps[:, None] * waves).sum(axis=0)
    scale = acc_rms_mps2 / np.sqrt(np.mean(acc**2))
    return -(scale * amps / (2 * np.pi * freqs) ** 2) @ waves
