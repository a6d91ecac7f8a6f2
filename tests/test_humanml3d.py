"""HumanML3D features <-> joints and the analytic IK/FK, on the real sample and a synthetic gait.

Run ``.venv/bin/python tests/test_humanml3d.py`` to print the error table against the real sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.humanml3d_gait import gait, turn_yaw

from text2imu.builder import humanml3d as h
from text2imu.builder.errors import MotionError
from text2imu.builder.humanml3d import (
    FEATURE_SLICES,
    features_to_joints,
    joints_to_features,
)
from text2imu.builder.motion import Motion, bone_lengths_m
from text2imu.builder.rotations import quat_conj, quat_rotate
from text2imu.builder.skeleton import skeleton

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "humanml3d"
# Row t of the features smooths the facing over frames t-80..t+80 (Gaussian sigma 20, truncated at 4 sigma).
# new_joints holds one frame fewer than the clip the features were computed from, so rows >= T - 80 of features
# recomputed from new_joints see a different facing near the end.
SMOOTH_RADIUS = 80


@pytest.fixture(scope="module")
def sample():
    if not SAMPLE.is_dir():
        pytest.skip(f"HumanML3D sample folder {SAMPLE} not found (../shared/data beside the repository)")
    joints = np.load(SAMPLE / "new_joints_012314.npy")
    feats = np.load(SAMPLE / "new_joint_vecs_012314.npy")
    return joints, feats


def restore_lost_frame(joints, feats):
    """new_joints lacks the clip's last frame; its displacement is in the last feature row (slice 193:259)."""
    r, _ = h.features_to_root(feats)
    vel = feats[-1, FEATURE_SLICES["local_vel"]].reshape(22, 3).astype(np.float64)
    last = joints[-1].astype(np.float64) + quat_rotate(quat_conj(r[-1]), vel)
    return np.concatenate([joints.astype(np.float64), last[None]], axis=0)


def error_table(joints, feats):
    """Max abs error per slice of features recomputed from new_joints, for three row ranges / variants."""
    mine = joints_to_features(joints, uniform_skeleton=False)
    err = np.abs(mine - feats[: len(mine)])
    far = len(feats) - SMOOTH_RADIUS  # rows whose smoothing window lies inside new_joints
    full = np.abs(joints_to_features(restore_lost_frame(joints, feats), uniform_skeleton=False) - feats)
    rows = {}
    for name, sl in [("all", slice(0, 263)), *FEATURE_SLICES.items()]:
        rows[name] = (err[:far, sl].max(), err[:, sl].max(), full[:, sl].max())
    return far, rows


# ---------------------------------------------------------------------------------------- real sample


def test_recover_from_ric_reproduces_new_joints(sample):
    joints, feats = sample
    rec = features_to_joints(feats)
    assert rec.shape == joints.shape and rec.dtype == np.float32
    assert np.abs(rec - joints).max() < 1e-6  # measured 2.4e-7 (float32 rounding)
    np.testing.assert_allclose(features_to_joints(feats.astype(np.float64)), rec, atol=1e-6)


def test_features_from_new_joints_match_new_joint_vecs(sample):
    joints, feats = sample
    far, rows = error_table(joints, feats)
    # Rows 0..far-1 (90 of 169) do not see the lost last frame through the facing smoothing: they match to
    # float32 precision (measured: rot6d 7.7e-6, ric 2.1e-7, others <= 1.4e-7, root_y and contacts exact).
    tol = {"rot6d": 2e-5, "all": 2e-5, "root_y": 0.0, "foot_contact": 0.0}
    for name, (near_start, _, _) in rows.items():
        assert near_start <= tol.get(name, 1e-6), (name, near_start)
    # Over all rows the smoothed facing differs near the end (measured: up to 1.3e-2 in rot6d, 6.8e-3 in ric,
    # 3.0e-4 rad/frame in root_rot_vel, on the last rows); root height and foot contacts do not use it.
    assert rows["root_y"][1] == 0.0 and rows["foot_contact"][1] == 0.0
    assert 1e-3 < rows["all"][1] < 5e-2


def test_end_rows_match_once_the_lost_frame_is_restored(sample):
    """The end-row difference is only the missing frame: restore it and every row matches (measured 7.7e-6)."""
    joints, feats = sample
    _, rows = error_table(joints, feats)
    assert rows["all"][2] < 2e-5
    assert rows["foot_contact"][2] == 0.0 and rows["root_y"][2] == 0.0


def test_published_features_use_the_facing_bug(sample):
    joints, feats = sample
    fixed = joints_to_features(joints, uniform_skeleton=False, compat_facing_bug=False)
    err = np.abs(fixed - feats[: len(fixed)])
    assert err[:, FEATURE_SLICES["rot6d"]].max() > 0.1  # measured 0.61: the shipped data has the bug
    # positions do not depend on the facing choice
    np.testing.assert_allclose(features_to_joints(fixed), joints[:-1], atol=1e-5)


def test_uniform_skeleton_on_new_joints_changes_only_by_table_rounding(sample):
    joints, feats = sample
    # skeleton.toml has the target lengths to 0.1 mm; new_joints has them exactly
    assert np.abs(bone_lengths_m(joints)[:, 1:] - skeleton().bone_lengths_m[1:]).max() < 6e-5
    mine = joints_to_features(joints)  # uniform_skeleton=True
    far = len(feats) - SMOOTH_RADIUS
    assert np.abs(mine[:far] - feats[:far]).max() < 5e-4  # measured 2.4e-4 (rot6d), root_y 3.1e-5


def test_real_std_is_flat_per_group(sample):
    std = np.load(SAMPLE / "Std.npy")
    mean = np.load(SAMPLE / "Mean.npy")
    assert std.shape == mean.shape == (263,)
    for name, sl in FEATURE_SLICES.items():
        assert np.ptp(std[sl]) == 0.0, name
    assert len({float(std[sl][0]) for sl in FEATURE_SLICES.values()}) == len(FEATURE_SLICES)


# ------------------------------------------------------------------------------------ synthetic gait


@pytest.mark.parametrize("kwargs", [{}, {"turn_radps": 0.6, "twist_rad": 0.4}])
@pytest.mark.parametrize("uniform", [False, True])
def test_gait_round_trip(kwargs, uniform):
    p = gait(**kwargs)
    feats = joints_to_features(p, uniform_skeleton=uniform)
    assert feats.shape == (len(p) - 1, 263) and feats.dtype == np.float32
    np.testing.assert_allclose(features_to_joints(feats), p[:-1], atol=1e-5)
    np.testing.assert_allclose(
        h.to_humanml3d_joints(p.astype(np.float64), uniform_skeleton=uniform), p[:-1], atol=1e-5
    )


def test_features_are_invariant_to_start_position_heading_and_floor():
    p = gait(turn_radps=0.3, twist_rad=0.3)
    moved = turn_yaw(p, 1.2, shift=(3.0, 0.25, -2.0))
    np.testing.assert_allclose(joints_to_features(moved), joints_to_features(p), atol=2e-5)


def test_uniform_skeleton_rescales_a_bigger_body_back():
    p = gait(turn_radps=0.4)
    big = p * 1.25
    np.testing.assert_allclose(h.to_uniform_skeleton(big), p, atol=1e-5)
    lengths = bone_lengths_m(h.to_uniform_skeleton(big))
    np.testing.assert_allclose(
        lengths[:, 1:], np.broadcast_to(skeleton().bone_lengths_m[1:], lengths[:, 1:].shape), atol=1e-6
    )


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("bug", [False, True])
def test_fk_inverts_ik(smooth, bug):
    p = gait(turn_radps=0.5, twist_rad=0.5).astype(np.float64)
    q = h.inverse_kinematics(p, smooth, compat_facing_bug=bug)
    assert q.shape == (len(p), 22, 4)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(q[0, 0], [1, 0, 0, 0])  # r_0 is forced to identity
    np.testing.assert_allclose(h.forward_kinematics(q, p[:, 0], bone_lengths_m(p)[0]), p, atol=1e-6)


def test_ik_of_the_rest_pose_is_identity():
    sk = skeleton()
    rest = np.zeros((3, 22, 3))
    rest[:, 0, 1] = 0.9
    for j in range(1, 22):
        rest[:, j] = rest[:, sk.parents[j]] + sk.rest_directions[j] * sk.bone_lengths_m[j]
    q = h.inverse_kinematics(rest)
    np.testing.assert_allclose(np.abs(q[..., 0]), 1.0, atol=1e-12)


def test_walking_forward_velocity_and_contacts():
    p = gait(speed=1.2)
    f = joints_to_features(p)
    lin = f[:, FEATURE_SLICES["root_lin_vel"]]
    # root moves 1.2 m/s = 0.06 m/frame forward (+z in the facing frame) on average; sway is sideways
    assert abs(lin[:, 1].mean() - 0.06) < 0.005 and abs(lin[:, 0].mean()) < 0.005
    # contacts: squared displacement to the next frame < 0.002 m^2, order left ankle/foot, right ankle/foot
    sq = np.sum(np.diff(p[:, [7, 10, 8, 11]].astype(np.float64), axis=0) ** 2, axis=-1)
    assert (
        np.abs(sq - 0.002).min() > 1e-5 and 0 < (sq < 0.002).sum() < sq.size
    )  # both states, none borderline
    np.testing.assert_array_equal(f[:, FEATURE_SLICES["foot_contact"]], sq < 0.002)
    still = joints_to_features(np.repeat(gait(n=2)[:1], 10, axis=0))
    assert (still[:, FEATURE_SLICES["foot_contact"]] == 1).all()
    np.testing.assert_allclose(still[:, FEATURE_SLICES["local_vel"]], 0, atol=1e-7)


def test_turning_gives_negative_half_yaw_rate_for_a_left_turn():
    rate = 0.8  # rad/s about +y: forward turns from +z towards +x; 6 s turn through 180 degrees
    p = gait(n=120, turn_radps=rate)
    fixed = joints_to_features(p, compat_yaw_wrap=False)
    mid = fixed[30:90, 0]  # away from the smoothing edges
    np.testing.assert_allclose(mid, -rate / 20 / 2, rtol=0.05)
    np.testing.assert_allclose(features_to_joints(fixed), p[:-1], atol=1e-5)
    # HumanML3D's arcsin flips the sign of the one step where the facing passes 180 degrees
    compat = joints_to_features(p)
    flipped = np.nonzero(np.sign(compat[:, 0]) != np.sign(fixed[:, 0]))[0]
    assert len(flipped) == 1
    np.testing.assert_allclose(compat[flipped, 0], -fixed[flipped, 0], atol=1e-7)
    mask = np.ones(len(compat), bool)
    mask[flipped] = False
    np.testing.assert_array_equal(compat[mask], fixed[mask])
    # ... so the recovered clip ends up turned by twice that frame's yaw change
    heading_error = np.abs(features_to_joints(compat)[-1] - p[-2]).max()
    assert heading_error > 0.01


def test_facing_bug_reverses_the_hip_line():
    p = gait(n=2, speed=0.0).astype(np.float64)
    # twist the shoulders 50 degrees about y around the spine3 joint
    upper = [9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
    q = turn_yaw(p[:, upper] - p[:, 9:10], np.radians(50)) + p[:, 9:10]
    p[:, upper] = q
    hips = p[0, 2] - p[0, 1]
    shoulders = p[0, 17] - p[0, 16]
    up = np.array([0, 1.0, 0])
    for bug, across in ((False, hips + shoulders), (True, shoulders - hips)):
        want = np.cross(up, across / np.linalg.norm(across))
        got = h.facing_forward(p, compat_facing_bug=bug)[0]
        np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-12)
    diff = np.degrees(
        np.arccos(np.dot(h.facing_forward(p)[0], h.facing_forward(p, compat_facing_bug=True)[0]))
    )
    assert diff > 10


def test_frames_without_a_facing_borrow_it_and_all_degenerate_raises(caplog):
    p = gait(n=12).astype(np.float64)
    # frame 5: shoulder line equal to the hip line, so HumanML3D's (buggy) across vector is zero
    centre = (p[5, 16] + p[5, 17]) / 2
    p[5, 17], p[5, 16] = centre + (p[5, 2] - p[5, 1]) / 2, centre - (p[5, 2] - p[5, 1]) / 2
    fwd = h.facing_forward(p, compat_facing_bug=True)
    assert np.isfinite(fwd).all() and "borrow" in caplog.text
    assert any(np.allclose(fwd[5], fwd[k]) for k in (4, 6))
    assert np.isfinite(joints_to_features(p)).all()
    flat = np.repeat(p[5:6], 4, axis=0)
    with pytest.raises(MotionError, match="no frame has a facing direction"):
        h.facing_forward(flat, compat_facing_bug=True)


def test_motion_at_other_rate_is_resampled():
    p = gait(n=81)
    t20, t40 = np.arange(81) / 20, np.arange(161) / 40
    fine = np.stack([np.interp(t40, t20, x) for x in p.reshape(81, -1).T], axis=-1).reshape(161, 22, 3)
    # every other 40 fps frame is a 20 fps frame, so the resampled motion is p exactly
    np.testing.assert_allclose(joints_to_features(Motion(fine, fps=40)), joints_to_features(p), atol=1e-6)


@pytest.mark.parametrize(
    "bad, needle",
    [
        (np.zeros((10, 21, 3)), "(T, 22, 3)"),
        (np.zeros((1, 22, 3)), "at least 2"),
        (np.where(np.arange(5)[:, None, None] == 3, np.nan, np.zeros((5, 22, 3))), "first at frame 3"),
    ],
)
def test_bad_joints_raise_motion_error(bad, needle):
    with pytest.raises(MotionError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        joints_to_features(bad)


def test_bad_features_raise_motion_error():
    with pytest.raises(MotionError, match="263"):
        features_to_joints(np.zeros((5, 262)))
    f = np.zeros((5, 263))
    f[2, 7] = np.nan
    with pytest.raises(MotionError, match="NaN"):
        features_to_joints(f)


# ------------------------------------------------------------------------------------------- report

if __name__ == "__main__":
    j = np.load(SAMPLE / "new_joints_012314.npy")
    v = np.load(SAMPLE / "new_joint_vecs_012314.npy")
    print(
        f"recover_from_ric(new_joint_vecs) vs new_joints: max abs {np.abs(features_to_joints(v) - j).max():.3g} m"
    )
    n_far, table = error_table(j, v)
    print(
        f"features from new_joints vs new_joint_vecs, max abs error (rows 0..{n_far - 1} | all 169 rows | "
        "all 170 rows with the lost last frame restored):"
    )
    for name, (a, b, c) in table.items():
        print(f"  {name:13s} {a:10.3g} {b:10.3g} {c:10.3g}")
