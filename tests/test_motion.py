import numpy as np
import pytest

from text2imu.builder.errors import MotionError
from text2imu.builder.motion import Motion, describe, motion_problems, resample_joints
from text2imu.builder.skeleton import JOINT_NAMES, skeleton


def rest_pose(height_pelvis=0.92):
    """The HumanML3D rest pose (arms down, facing +z), pelvis at the given height."""
    sk = skeleton()
    j = np.zeros((22, 3))
    j[0] = (0, height_pelvis, 0)
    for i in range(1, 22):
        j[i] = j[sk.parents[i]] + sk.rest_directions[i] * sk.bone_lengths_m[i]
    return j


def walking(n=60, fps=20.0, speed=1.2):
    t = np.arange(n) / fps
    j = np.repeat(rest_pose()[None], n, axis=0)
    j[:, :, 2] += speed * t[:, None]
    j[:, :, 1] += 0.02 * np.sin(2 * np.pi * 2 * t)[:, None]
    return j.astype(np.float32)


def test_skeleton_table_is_humanml3d():
    sk = skeleton()
    assert JOINT_NAMES[0] == "pelvis" and JOINT_NAMES[21] == "right_wrist" and len(JOINT_NAMES) == 22
    assert sk.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
    # mirror permutation is an involution that swaps left and right names
    perm = sk.mirror_permutation()
    assert (perm[perm] == np.arange(22)).all()
    for a, b in enumerate(perm):
        if a != b:
            assert JOINT_NAMES[a].replace("left", "right") == JOINT_NAMES[b] or JOINT_NAMES[a].replace(
                "right", "left"
            ) == JOINT_NAMES[b]


def test_real_sample_is_valid(humanml3d_sample):
    joints = np.load(humanml3d_sample / "new_joints_012314.npy")
    m = Motion(joints, fps=20)
    assert m.problems() == []
    assert m.n_frames == 170 and m.duration_s == pytest.approx(169 / 20)
    info = describe(m)
    assert info["range_m"]["y"][0] == pytest.approx(0.0, abs=1e-6)  # floor at 0


def test_motion_is_float32_and_read_only():
    m = Motion(walking().astype(np.float64), fps=20)
    assert m.joints_m.dtype == np.float32
    with pytest.raises(ValueError):
        m.joints_m[0, 0, 0] = 1.0


@pytest.mark.parametrize(
    "joints, fps, needle",
    [
        (np.zeros((10, 21, 3)), 20, "(T, 22, 3)"),
        (np.zeros((10, 22)), 20, "(T, 22, 3)"),
    ],
)
def test_wrong_shape_is_refused_at_construction(joints, fps, needle):
    with pytest.raises(MotionError, match=__import__("re").escape(needle)):
        Motion(joints, fps=fps)


def test_problems_found():
    good = walking()
    assert motion_problems(good, 20) == []
    nan = good.copy()
    nan[5, 3, 1] = np.nan
    assert any("NaN" in p and "frame 5" in p for p in motion_problems(nan, 20))
    assert any("fps" in p for p in motion_problems(good, 0))
    assert any("frames" in p for p in motion_problems(good[:2], 20))
    giant = good * 4
    assert any("bone" in p and "x a typical" in p for p in motion_problems(giant, 20))
    stretch = good.copy()
    stretch[30:, 20] += np.array([0, -0.2, 0], dtype=np.float32)  # left forearm grows 75 %
    assert any("changes length" in p and "left_elbow->left_wrist" in p for p in motion_problems(stretch, 20))
    teleport = walking(speed=20.0)
    assert any("pelvis speed" in p for p in motion_problems(teleport, 20))


def test_validated_names_source():
    bad = walking()
    bad[0, 0, 0] = np.inf
    with pytest.raises(MotionError, match="clip.npy: invalid motion"):
        Motion(bad).validated("clip.npy")


def test_resample_integer_factor_equals_striding():
    j60 = walking(n=181, fps=60.0)
    out = resample_joints(j60, 60.0, 20.0)
    np.testing.assert_array_equal(out, j60[::3])


def test_resample_up_and_down_keeps_smooth_signal():
    fps_in = 20.0
    t = np.arange(80) / fps_in
    j = np.repeat(rest_pose()[None], 80, axis=0)
    j[:, :, 0] += 0.1 * np.sin(2 * np.pi * 0.5 * t)[:, None]
    up = resample_joints(j, fps_in, 50.0)
    t_up = np.arange(up.shape[0]) / 50.0
    assert t_up[-1] <= t[-1] + 1e-9 and up.shape[0] == int(79 / 20 * 50) + 1
    expected = rest_pose()[0, 0] + 0.1 * np.sin(2 * np.pi * 0.5 * t_up)
    np.testing.assert_allclose(up[:, 0, 0], expected, atol=2e-4)
    m = Motion(j, fps=fps_in).resampled(30.0)
    assert m.fps == 30.0 and m.n_frames == int(79 / 20 * 30) + 1


def test_resample_rejects_bad_rates():
    with pytest.raises(MotionError):
        resample_joints(walking(), 0, 20)


def test_atomic_path_gives_usual_permissions(tmp_path):
    import os

    from text2imu.builder.output import atomic_path

    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
