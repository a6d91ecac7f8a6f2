"""Ground reaction forces of walking and stair gait for the ``kinematic`` generator's pelvis.

Each foot in stance carries a normative ground-reaction-force curve over its stance (keyframes in
``kinematic_gait.toml``: ``vgrf`` vertical, ``apgrf`` anterior-posterior, ``mlgrf`` medio-lateral, in body
weights, percent of stance);
both feet's sum drives the pelvis as the body's centre of mass
(:func:`~text2imu.builder.generators.kinematic_ground.force_root_height`,
:func:`~text2imu.builder.generators.kinematic_ground.force_root_horizontal`).

Scaling with speed ``v`` against the gait's normal pace ``v_ref``: the vertical departure from 1 BW with
``(v / v_ref) ** 2`` (inverted pendulum: excursion ~ step length squared, acceleration ~ cadence squared; Keller
et al. 1996 measured ~1.2 BW peaks at 1.5 m/s), the anterior-posterior force with ``v / v_ref`` (braking and
propulsive peaks grow about linearly with walking speed: Nilsson & Thorstensson 1989, Acta Physiol Scand
136:217-227; Keller et al. 1996); the medio-lateral force is left unscaled.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from .kinematic_body import body

if TYPE_CHECKING:
    from .kinematic_gait import GaitParams


@cache
def gait_tables() -> dict[str, Any]:
    """The parsed ``kinematic_gait.toml`` (cached)."""
    return tomllib.loads(resources.files(__package__).joinpath("kinematic_gait.toml").read_text("utf-8"))


@cache
def _load_curve(kind: str, key: str) -> PchipInterpolator:
    k = np.asarray(gait_tables()[kind][key], dtype=np.float64)
    return PchipInterpolator(k[:, 0] / 100.0, k[:, 1])


def reference_speed_mps(kind: str) -> float:
    """Speed in m/s of the gait's "normal" pace (the pace its force curves describe)."""
    tab = gait_tables()[kind]
    step = tab["step_stature"][1] * body().stature_m or gait_tables()["staircase"]["going_m"]
    return tab["cadence_spm"][1] / 60.0 * step


def _stance_sum(params: GaitParams, phase: np.ndarray, key: str, signs: tuple[float, float]) -> np.ndarray:
    """(T,) sum over both feet in stance of the gait's ``key`` curve at the left-leg ``phase`` (T,) cycles, the
    left foot's times ``signs[0]`` and the right's (half a cycle later) times ``signs[1]``."""
    curve = _load_curve(params.kind, key)
    total = np.zeros(np.shape(phase), dtype=np.float64)
    for offset, sign in zip((0.0, 0.5), signs, strict=True):
        p = np.mod(np.asarray(phase, dtype=np.float64) + offset, 1.0)
        total += sign * np.where(p < params.duty, curve(np.clip(p / params.duty, 0.0, 1.0)), 0.0)
    return total


def _cycle_mean(params: GaitParams, key: str, signs: tuple[float, float]) -> float:
    """Mean of :func:`_stance_sum` over one whole cycle (fine grid), whatever phases a clip covers."""
    return float(_stance_sum(params, np.linspace(0.0, 1.0, 2000, endpoint=False), key, signs).mean())


def _speed_ratio(params: GaitParams) -> float:
    return params.step_m * params.cadence_spm / 60.0 / reference_speed_mps(params.kind)


def vertical_load_bw(params: GaitParams, phase: np.ndarray) -> np.ndarray:
    """(T,) total vertical ground reaction force of both feet in body weights at the left-leg ``phase`` (T,).

    The sum of both feet's ``vgrf`` curves, normalised to a mean of 1 BW over a cycle, its departure from 1 scaled by
    ``(v / v_ref) ** 2`` (module docstring). Walking (not running) and stairs only.
    """
    total = _stance_sum(params, phase, "vgrf", (1.0, 1.0)) / _cycle_mean(params, "vgrf", (1.0, 1.0))
    return 1.0 + _speed_ratio(params) ** 2 * (total - 1.0)


def has_horizontal_load(kind: str) -> bool:
    """Whether the gait ``kind`` has anterior-posterior and medio-lateral force curves (``apgrf``, ``mlgrf``)."""
    return "apgrf" in gait_tables()[kind] and "mlgrf" in gait_tables()[kind]


def ap_load_bw(params: GaitParams, phase: np.ndarray) -> np.ndarray:
    """(T,) total anterior-posterior ground reaction force of both feet in body weights (+ = forward, along the
    direction of travel) at the left-leg ``phase`` (T,): the sum of both feet's ``apgrf`` curves (braking in
    early stance, propulsion late), its mean over a cycle removed (steady walking: braking and propulsive impulses balance),
    scaled by ``v / v_ref`` (module docstring)."""
    total = _stance_sum(params, phase, "apgrf", (1.0, 1.0)) - _cycle_mean(params, "apgrf", (1.0, 1.0))
    return _speed_ratio(params) * total


def ml_load_bw(params: GaitParams, phase: np.ndarray) -> np.ndarray:
    """(T,) total medio-lateral ground reaction force of both feet in body weights (+ = toward the body's left)
    at the left-leg ``phase`` (T,): each foot's ``mlgrf`` curve (+ medial) pushes toward the other side, so the
    left foot's counts negative and the right foot's positive; mean over a cycle removed."""
    signs = (-1.0, 1.0)
    return _stance_sum(params, phase, "mlgrf", signs) - _cycle_mean(params, "mlgrf", signs)
