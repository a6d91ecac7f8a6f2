"""The walk's horizontal ground forces and the pelvis path they drive (kinematic generator)."""

from __future__ import annotations

import numpy as np
import pytest

from text2imu.builder.generators.kinematic_body import G_MPS2
from text2imu.builder.generators.kinematic_gait import gait_params
from text2imu.builder.generators.kinematic_ground import force_root_horizontal
from text2imu.builder.generators.kinematic_loads import (
    ap_load_bw,
    has_horizontal_load,
    ml_load_bw,
    vertical_load_bw,
)
from text2imu.builder.generators.kinematic_words import parse_prompt
from text2imu.builder.prompts import Prompt


@pytest.fixture(scope="module")
def walk_params():
    plan = parse_prompt(Prompt("walking-x", "walking", "A person walks forward at a normal pace for about eight seconds."))
    return gait_params(plan, np.random.default_rng(0))


def test_only_walking_has_horizontal_force_curves():
    assert has_horizontal_load("walk")
    assert not has_horizontal_load("stairs_up") and not has_horizontal_load("run")


def test_ap_force_brakes_after_contact_and_propels_before_toe_off(walk_params):
    duty = walk_params.duty
    phase = np.linspace(0, 4, 4001, endpoint=False)
    ap = ap_load_bw(walk_params, phase)
    assert abs(ap.mean()) < 1e-3  # steady walking: the impulses balance
    # in single support (the right foot in swing: left phase between duty - 0.5 and 0.5) only the left foot acts:
    # it brakes early in its stance and propels late
    at = lambda p: float(ap_load_bw(walk_params, np.array([p]))[0])  # noqa: E731
    assert duty - 0.5 < 0.22 * duty and 0.78 * duty < 0.5
    assert at(0.22 * duty) < -0.08
    assert at(0.78 * duty) > 0.08
    assert 0.15 < np.abs(ap).max() < 0.4  # ~0.2 BW peaks (Winter 1991), scaled with speed


def test_ml_force_pushes_away_from_the_stance_foot(walk_params):
    duty = walk_params.duty
    # mid single support of the left foot (left phase ~ 0.3 of the cycle, the right foot in swing): the left
    # foot's medial force pushes toward the body's right, i.e. negative (+ = toward the left)
    single_left = np.array([0.5 * (duty - 0.5) + 0.25])
    assert ml_load_bw(walk_params, single_left)[0] < 0
    assert ml_load_bw(walk_params, single_left + 0.5)[0] > 0
    assert abs(ml_load_bw(walk_params, np.linspace(0, 3, 3000, endpoint=False)).mean()) < 1e-9


def test_vertical_load_is_one_body_weight_on_average(walk_params):
    v = vertical_load_bw(walk_params, np.linspace(0, 5, 5000, endpoint=False))
    assert v.mean() == pytest.approx(1.0, abs=1e-4)
    assert v.max() > 1.05 and v.min() < 0.95


def _second_derivative(x: np.ndarray, dt: float) -> np.ndarray:
    return (x[2:] - 2 * x[1:-1] + x[:-2]) / dt**2


@pytest.mark.parametrize("facing", [1.0, -1.0])
def test_horizontal_force_path_reads_the_force_as_acceleration(facing):
    """Walking along +z at 1.2 m/s with a sinusoidal AP force of 0.2 BW at 2 Hz and an ML force of 0.05 BW at
    1 Hz: the pelvis accelerates by g x force along and across the travel (left = +x when facing +z), and keeps
    the foot-locked path's mean speed."""
    dt, n = 0.005, 4000
    t = np.arange(n) * dt
    lock = np.stack([np.zeros(n), 1.2 * t], axis=1)
    ap = 0.2 * np.sin(2 * np.pi * 2.0 * t)
    ml = 0.05 * np.sin(2 * np.pi * 1.0 * t)
    xz = force_root_horizontal(lock, ap, ml, dt, stride_s=1.0, facing=facing)
    mid = slice(800, n - 800)
    acc_z = _second_derivative(xz[:, 1], dt)[mid]
    acc_x = _second_derivative(xz[:, 0], dt)[mid]
    ref_ap = (G_MPS2 * ap[1:-1])[mid]
    ref_ml = facing * (G_MPS2 * ml[1:-1])[mid]
    assert np.corrcoef(acc_z, ref_ap)[0, 1] > 0.99
    assert np.std(acc_z) == pytest.approx(np.std(ref_ap), rel=0.05)
    assert np.corrcoef(acc_x, ref_ml)[0, 1] > 0.99
    assert np.std(acc_x) == pytest.approx(np.std(ref_ml), rel=0.1)
    assert np.gradient(xz[:, 1], dt)[mid].mean() == pytest.approx(1.2, rel=0.01)


def test_walking_pelvis_sways_and_surges_like_measured_gait():
    """The kinematic walk's pelvis (20 fps joints) at a normal pace: anterior-posterior and medio-lateral
    acceleration RMS in the ranges trunk accelerometry reports for healthy adults at preferred speed (AP ~0.6-1.7,
    ML ~0.4-1.0 m/s^2; Menz et al. 2003, Moe-Nilssen & Helbostad 2004), well above the ~0.06 m/s^2 ML of a
    pelvis that only follows its feet."""
    from text2imu.builder.generators import get_generator
    from text2imu.builder.prompts import load_prompt_set

    prompt = next(p for p in load_prompt_set("v1").prompts if p.prompt_id == "walking-01")
    motion = get_generator("kinematic").generate(prompt, 0, 1)
    dt = 1.0 / motion.fps
    pelvis = np.asarray(motion.joints_m[:, 0], dtype=np.float64)
    acc = np.stack([_second_derivative(pelvis[:, k], dt) for k in (0, 2)], axis=1)
    v = np.diff(pelvis[:, [0, 2]], axis=0).mean(axis=0)
    along = v / np.linalg.norm(v)
    across = np.array([along[1], -along[0]])
    core = slice(int(motion.fps), -int(motion.fps))
    ap, ml = acc[core] @ along, acc[core] @ across
    assert 0.6 < np.sqrt(np.mean((ap - ap.mean()) ** 2)) < 1.7
    assert 0.4 < np.sqrt(np.mean(ml**2)) < 1.0
