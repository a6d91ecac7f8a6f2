"""Fitting: analytic IK, forward kinematics, retargeting, refinement, and the physics through the whole path."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.synthetic_body import REST_JOINTS_M, synthetic_body

from text2imu.builder import fit
from text2imu.builder.motion import Motion, bone_lengths_m
from text2imu.builder.rotations import axis_angle_to_matrix, matrix_to_axis_angle, quat_rotate
from text2imu.builder.simulate import simulate_motion
from text2imu.builder.skinning import site_frames


def random_pose(n=30, seed=0, spread=0.7):
    """(T, 22, 3, 3) random segment rotations (leaves copy their source) and a root path."""
    rng = np.random.default_rng(seed)
    rot = axis_angle_to_matrix(rng.normal(0, spread, (n, 22, 3)))
    for leaf, src in fit.LEAF_SOURCE.items():
        rot[:, leaf] = rot[:, src]
    root = np.cumsum(rng.normal(0, 0.02, (n, 3)), axis=0) + (0, 0.95, 0)
    return rot, root


def angle_deg(a, b):
    return np.degrees(np.linalg.norm(matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b), axis=-1))


@pytest.fixture(scope="module")
def sample_joints(humanml3d_sample):
    return np.load(humanml3d_sample / "new_joints_012314.npy").astype(np.float64)


def test_ik_fk_reproduce_joints_of_the_same_proportions():
    rot, root = random_pose()
    joints = fit.forward_kinematics(rot, REST_JOINTS_M, root)
    ik = fit.solve_ik(joints, REST_JOINTS_M)
    assert np.abs(fit.forward_kinematics(ik, REST_JOINTS_M, joints[:, 0]) - joints).max() < 1e-9
    # the three-bone segments are fully determined; rotations are proper; leaves follow their source
    assert angle_deg(ik[:, 0], rot[:, 0]).max() < 1e-6 and angle_deg(ik[:, 9], rot[:, 9]).max() < 1e-6
    assert np.abs(ik @ np.swapaxes(ik, -1, -2) - np.eye(3)).max() < 1e-9
    assert np.linalg.det(ik).min() > 0.999
    for leaf, src in fit.LEAF_SOURCE.items():
        assert np.array_equal(ik[:, leaf], ik[:, src])
    # fit_motion: same body, so scale 1, and the reference is the motion moved onto the floor
    pose = fit.fit_motion(joints, REST_JOINTS_M)
    assert pose.scale == pytest.approx(1.0, abs=1e-12)
    shift = pose.target_m - joints
    assert np.abs(shift[..., [0, 2]]).max() < 1e-9 and np.ptp(shift[..., 1]) < 1e-9
    assert np.abs(pose.joints_m - pose.target_m).max() < 1e-9


def _leg_pose(twist_deg, knee_deg=90.0):
    """Left knee bent, the whole left leg twisted about the thigh axis; true rotations and joints."""
    n = 1
    rot = np.repeat(np.eye(3)[None, None], 22, axis=1).repeat(n, axis=0)
    thigh = REST_JOINTS_M[4] - REST_JOINTS_M[1]
    twist = axis_angle_to_matrix(np.radians(twist_deg) * thigh / np.linalg.norm(thigh))
    knee = axis_angle_to_matrix(np.radians(knee_deg) * np.array([1.0, 0, 0]))
    rot[:, 1] = twist
    rot[:, 4] = rot[:, 7] = rot[:, 10] = twist @ knee
    return rot, fit.forward_kinematics(rot, REST_JOINTS_M, REST_JOINTS_M[None, 0])


def _arm_pose(twist_deg, elbow_deg=90.0):
    """Left elbow flexed forward, the whole left arm twisted about the upper-arm axis."""
    rot = np.repeat(np.eye(3)[None, None], 22, axis=1)
    upper = REST_JOINTS_M[18] - REST_JOINTS_M[16]
    upper = upper / np.linalg.norm(upper)
    axis = np.cross(upper, [0, 0, 1.0])  # flexion towards the front
    flex = axis_angle_to_matrix(np.radians(elbow_deg) * axis / np.linalg.norm(axis))
    twist = axis_angle_to_matrix(np.radians(twist_deg) * upper)
    rot[:, 16] = twist
    rot[:, 18] = rot[:, 20] = twist @ flex
    return rot, fit.forward_kinematics(rot, REST_JOINTS_M, REST_JOINTS_M[None, 0])


@pytest.mark.parametrize("twist", [-40.0, 0.0, 35.0])
def test_limb_twist_follows_the_hinge_plane(twist):
    rot, joints = _leg_pose(twist)
    ik = fit.solve_ik(joints, REST_JOINTS_M)
    for seg in (1, 4, 7):  # thigh, shin, ankle
        assert angle_deg(ik[0, seg], rot[0, seg]) < 7.0, seg  # knee and ankle axes are not parallel
    rot, joints = _arm_pose(twist)
    ik = fit.solve_ik(joints, REST_JOINTS_M)
    for seg in (16, 18):  # upper arm, forearm
        assert angle_deg(ik[0, seg], rot[0, seg]) < 5.0, seg
    # untouched segments stay at rest
    assert angle_deg(ik[0, 0], np.eye(3)) < 1e-6 and angle_deg(ik[0, 17], np.eye(3)) < 1e-6


def test_straight_arm_keeps_the_torso_twist():
    rot = np.repeat(np.eye(3)[None, None], 22, axis=1)
    yaw = axis_angle_to_matrix(np.array([0, 0.8, 0]))
    rot[:] = yaw  # the whole body turned: a straight arm must turn with it, with no extra twist
    joints = fit.forward_kinematics(rot, REST_JOINTS_M, REST_JOINTS_M[None, 0])
    ik = fit.solve_ik(joints, REST_JOINTS_M)
    err = angle_deg(ik[0], rot[0])
    # the synthetic rest knees are slightly bent: their hinge term is a 0.2 degree bias
    assert err.max() < 0.5
    assert err[[0, 3, 6, 9, 12, 13, 14, 16, 17, 18, 19]].max() < 1e-6


def test_retargeting_scales_the_root_path_and_keeps_feet_on_the_floor(sample_joints):
    target, scale = fit.retarget_joints(sample_joints, REST_JOINTS_M)
    assert scale == pytest.approx(fit.leg_length_m(REST_JOINTS_M) / fit.leg_length_m(sample_joints))
    assert 0.85 < scale < 1.1
    # bones: the body's lengths, the motion's directions
    rest_len = bone_lengths_m(REST_JOINTS_M[None])[0]
    assert np.abs(bone_lengths_m(target) - rest_len).max() < 1e-9
    d_t = target[:, 1:] - target[:, fit.PARENTS[1:]]
    d_m = sample_joints[:, 1:] - sample_joints[:, fit.PARENTS[1:]]
    cos = np.sum(d_t * d_m, -1) / np.linalg.norm(d_t, axis=-1) / np.linalg.norm(d_m, axis=-1)
    assert cos.min() > 1 - 1e-12
    # root path: horizontal displacement scaled about frame 0; height changes scaled
    disp_t = target[:, 0, [0, 2]] - target[0, 0, [0, 2]]
    disp_m = sample_joints[:, 0, [0, 2]] - sample_joints[0, 0, [0, 2]]
    assert np.abs(disp_t - scale * disp_m).max() < 1e-9 and np.abs(disp_m).max() > 0.3
    dh_t, dh_m = np.diff(target[:, 0, 1]), np.diff(sample_joints[:, 0, 1])
    assert np.abs(dh_t - scale * dh_m).max() < 1e-9
    # floor: the lowest foot joint over the clip sits where the rest pose has it
    feet = list(fit.FOOT_JOINTS)
    assert target[:, feet, 1].min() == pytest.approx(REST_JOINTS_M[feet, 1].min(), abs=1e-9)
    # the fitted body follows, within its fit error
    pose = fit.fit_motion(sample_joints, REST_JOINTS_M)
    assert abs(pose.joints_m[:, feet, 1].min() - REST_JOINTS_M[feet, 1].min()) < 0.03


def test_refinement_lowers_the_error_deterministically(sample_joints):
    joints = sample_joints[:60]
    plain = fit.fit_motion(joints, REST_JOINTS_M)
    refined = fit.fit_motion(joints, REST_JOINTS_M, refine=True)
    again = fit.fit_motion(joints, REST_JOINTS_M, refine=True)
    assert refined.refined and not plain.refined
    assert plain.mpjpe_m() > 0.005  # the synthetic torso differs from the motion's: a real error to remove
    assert refined.mpjpe_m() < 0.7 * plain.mpjpe_m()
    assert refined.mpjpe_m() < 0.02
    assert np.array_equal(refined.joints_m, again.joints_m)
    # smooth: no frame-to-frame jump much above the reference's own
    jump = np.abs(np.diff(refined.joints_m, axis=0)).max()
    assert jump < 1.5 * np.abs(np.diff(refined.target_m, axis=0)).max()


def test_fit_rejects_bad_joints():
    from text2imu.builder.errors import MotionError

    with pytest.raises(MotionError):
        fit.fit_motion(np.full((5, 22, 3), np.nan), REST_JOINTS_M)
    with pytest.raises(MotionError):
        fit.fit_motion(np.zeros((5, 21, 3)), REST_JOINTS_M)


def load_body(name):
    if name == "synthetic":
        return synthetic_body()
    from text2imu.builder.bodies.asset import BodyAsset, asset_path

    path = asset_path("anny", name)
    if not path.is_file():
        pytest.skip(f"{path} not compiled")
    return BodyAsset.load(path)


def test_anny_average_bodies_follow_the_humanml3d_sample(sample_joints):
    """The Anny assets' joints follow SMPL's convention (anny_skeleton.toml [smpl_convention]), so the analytic
    IK reproduces the retargeted sample. With Anny's own bone-head pelvis, hips and collars it was 4.4 / 6.2 cm
    (female / male average), 1.9 / 3.1 cm after refinement; the issue's target is 2 cm after refinement. The
    convention's numbers come from this very clip, so 5 mm (not ~0.5 mm) is the bound on its analytic error."""
    from text2imu.builder.fit_refine import mpjpe_report

    for body in ("female_average", "male_average"):
        load_body(body)  # skips when not compiled
    rows = mpjpe_report(sample_joints)
    for row in rows:
        assert row["mpjpe_m"] < 0.005, row["shape"]
        assert row["per_joint_m"].max() < 0.01, row["shape"]
        assert row["mpjpe_refined_m"] < 0.02, row["shape"]
        assert 0.9 < row["scale"] < 1.1


@pytest.mark.parametrize("body", ["synthetic", "female_average"])
@pytest.mark.parametrize("method", ["central", "spline"])
def test_a_body_standing_still_reads_gravity_up_and_no_rotation(sample_joints, method, body):
    asset = load_body(body)
    still = Motion(np.repeat(sample_joints[:1], 30, axis=0))  # a real standing pose, not the rest pose
    out = simulate_motion(still, sites=list(asset.site_names), asset=asset, method=method, rate_hz=50.0)
    for site, sig in out.items():
        up_world = quat_rotate(sig.orientation_wxyz, sig.acc_mps2)
        assert np.abs(up_world - (0, 9.81, 0)).max() < 1e-4, site
        assert np.abs(sig.gyro_radps).max() < 1e-5, site
        assert sig.acc_mps2.shape == (int(29 / 20 * 50) + 1, 3)


@pytest.mark.parametrize("body", ["synthetic", "male_tall"])
def test_a_body_turning_in_place_reads_its_yaw_rate_at_the_waist(sample_joints, body):
    asset = load_body(body)
    rate, fps, n = 1.3, 20.0, 60
    frame0 = sample_joints[0] - sample_joints[0, 0] * (1, 0, 1)
    yaw = axis_angle_to_matrix(np.outer(rate * np.arange(n) / fps, [0, 1.0, 0]))
    joints = np.einsum("tab,jb->tja", yaw, frame0)
    out = simulate_motion(Motion(joints, fps=fps), sites=["realworld.waist"], asset=asset)
    sig = out["realworld.waist"]
    assert np.abs(np.linalg.norm(sig.gyro_radps, axis=-1) - rate).max() < 1e-3
    world = quat_rotate(sig.orientation_wxyz, sig.gyro_radps)
    assert np.abs(world - (0, rate, 0)).max() < 1e-3
    # the waist goes round a circle about the vertical axis: centripetal acceleration rate^2 * radius
    pose = fit.fit_motion(joints, asset.rest_joints_m)
    pos, _ = site_frames(asset, pose.rotations, pose.joints_m, [asset.site_index("realworld.waist")])
    radius = np.linalg.norm(pos[:, 0, [0, 2]], axis=-1)
    assert np.ptp(radius) < 1e-5
    horiz = quat_rotate(sig.orientation_wxyz, sig.acc_mps2)[:, [0, 2]]
    assert np.linalg.norm(horiz, axis=-1) == pytest.approx(rate**2 * radius, rel=0.01)
