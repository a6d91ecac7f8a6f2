"""BVH parser, forward kinematics, skeleton mapping and writer."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.motion_files import (
    IMUGPT_NAMES,
    MOMASK_NAMES,
    SMPL_NAMES,
    analytic_positions,
    write_analytic_bvh,
    write_momask_generation,
)

from text2imu.builder.errors import FormatError, MotionError
from text2imu.builder.formats import detect_format, read_motions
from text2imu.builder.formats.bvh import bvh_global_positions, map_joints, parse_bvh, write_bvh
from text2imu.builder.motion import Motion
from text2imu.builder.skeleton import JOINT_NAMES

TOL_M = 1e-5  # the files print 6 decimals


# ------------------------------------------------------------------------------ golden files of the pipelines


def test_momask_joints2bvh_layout(tmp_path):
    path = tmp_path / "sample0_repeat0_len40.bvh"
    expected = write_analytic_bvh(path, MOMASK_NAMES, n_frames=40)
    assert detect_format(path).name == "bvh"
    (m,) = read_motions(path)
    assert m.metadata["skeleton"] == "mixamo" and m.metadata["units"] == "m" and m.fps == 20.0
    np.testing.assert_allclose(m.joints_m, expected, atol=TOL_M)


@pytest.mark.parametrize("scale", [1.0, 1.7 / 1.55])  # IMUGPT writes bvh/ and bvh_resized/ (x 1.7/1.55)
def test_imugpt_motion2bvh_layout(tmp_path, scale):
    path = tmp_path / "walking_0_0.bvh"
    expected = write_analytic_bvh(path, IMUGPT_NAMES, units_per_m=scale)
    (m,) = read_motions(path)
    assert m.metadata["skeleton"] == "humanml3d" and m.metadata["units"] == "m"
    np.testing.assert_allclose(m.joints_m, expected * scale, atol=TOL_M)


def test_smpl_names_in_centimetres_z_up(tmp_path):
    path = tmp_path / "smpl.bvh"
    expected = write_analytic_bvh(
        path, SMPL_NAMES, units_per_m=100.0, z_up=True, root_offset_from_frame0=False
    )
    (m,) = read_motions(path, up="z")
    assert (m.metadata["skeleton"], m.metadata["units"], m.metadata["up"]) == ("smpl", "cm", "z")
    np.testing.assert_allclose(m.joints_m, expected, atol=TOL_M)
    # read as y-up, the same file is the motion lying down: the pelvis height is along +z
    (lying,) = read_motions(path, validate=False)
    np.testing.assert_allclose(lying.joints_m[:, 0, 2], expected[:, 0, 1], atol=TOL_M)
    (mm,) = read_motions(path, up="z", units="mm", validate=False)
    np.testing.assert_allclose(mm.joints_m, expected / 10, atol=TOL_M)


def test_folder_of_momask_animations(tmp_path):
    write_momask_generation(tmp_path / "gen", ["walk"], repeats=1)
    folder = tmp_path / "gen" / "animations"
    assert detect_format(folder).name == "bvh"
    motions = read_motions(folder)
    assert [m.metadata["file"] for m in motions] == [
        "0/sample0_repeat0_len40.bvh",
        "0/sample0_repeat0_len40_ik.bvh",
    ]
    np.testing.assert_allclose(motions[0].joints_m, analytic_positions(8, 20.0), atol=TOL_M)


# ------------------------------------------------------------------------------ parser and kinematics, by hand

CHAIN = """HIERARCHY
ROOT A
{
  OFFSET 5 5 5
  CHANNELS 5 Xposition Yposition Zposition Xrotation Zrotation
  JOINT B
  {
    OFFSET 1 0 0
    CHANNELS 3 Yrotation Xposition Yposition
    JOINT C
    {
      OFFSET 0 0 2
      CHANNELS 0
      End Site
      {
        OFFSET 0 0 1
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
1 2 3 0 0 0 1 0
1 2 3 90 90 90 3 4
"""


def test_channel_order_and_position_channels_by_hand():
    bvh = parse_bvh(CHAIN, "chain.bvh")
    assert bvh.names == ("A", "B", "C") and bvh.parents == (-1, 0, 1)
    assert bvh.channels[1] == ("yrotation", "xposition", "yposition")
    pos = bvh_global_positions(bvh)
    # frame 0: the root sits at its channels (OFFSET ignored), B at its position channels (1, 0) + OFFSET z,
    # C further along z
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [2, 2, 3], [2, 2, 5]], atol=1e-12)
    # frame 1: root R = Rx(90) @ Rz(90) (the listed order). B's translation is (3, 4, 0): the position channels
    # replace the OFFSET's x and y. C hangs off B rotated by Ry(90).
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    r_a = rx @ rz
    b = np.array([1, 2, 3]) + r_a @ [3, 4, 0]
    c = b + r_a @ ry @ [0, 0, 2]
    np.testing.assert_allclose(pos[1], [[1, 2, 3], b, c], atol=1e-12)
    np.testing.assert_allclose(r_a @ [1, 0, 0], [0, 0, 1], atol=1e-12)  # not Rz @ Rx, which gives (0, 1, 0)


def test_fps_from_frame_time(tmp_path):
    assert parse_bvh(CHAIN).frame_time_s == pytest.approx(0.033333)
    path = tmp_path / "a.bvh"
    for fps, read_as in ((30.0, 30.0), (120.0, 120.0), (29.97, pytest.approx(29.97, abs=1e-3)), (12.5, 12.5)):
        write_analytic_bvh(path, MOMASK_NAMES, n_frames=6, fps=fps)  # Frame Time printed with 6 decimals
        assert read_motions(path)[0].fps == read_as


def test_map_joints_reports_missing_names():
    with pytest.raises(FormatError, match="x.bvh.*mixamo.*LeftLeg, LeftFoot"):
        map_joints([n for n in MOMASK_NAMES if n not in ("LeftLeg", "LeftFoot")] + ["LeftFinger"], "x.bvh")
    scheme, idx = map_joints(["mixamorig:" + n for n in MOMASK_NAMES[::-1]] + ["LeftToeBase_End"], "y.bvh")
    assert scheme == "mixamo" and list(idx) == list(range(21, -1, -1))


# ------------------------------------------------------------------------------ writer


def test_write_bvh_round_trip_of_a_rigid_motion(tmp_path):
    motion = Motion(analytic_positions(40, 20.0), fps=20.0, prompt="walk")
    path = write_bvh(motion, tmp_path / "out.bvh")
    text = path.read_text()
    assert "ROOT pelvis" in text and "Frame Time: 0.050000" in text and "Frames: 40" in text
    bvh = parse_bvh(text)
    assert sorted(bvh.names) == sorted(JOINT_NAMES)
    assert bvh.channels[0] == ("xposition", "yposition", "zposition", "zrotation", "yrotation", "xrotation")
    (back,) = read_motions(path)
    assert back.metadata["skeleton"] == "humanml3d" and back.fps == 20.0
    assert np.abs(back.joints_m - motion.joints_m).max() < 1e-4


def test_write_bvh_round_trip_of_real_humanml3d(tmp_path, humanml3d_sample):
    joints = np.load(humanml3d_sample / "new_joints_012314.npy")
    path = write_bvh(Motion(joints, fps=30.0), tmp_path / "012314.bvh")
    (back,) = read_motions(path)
    assert back.fps == 30.0
    assert np.abs(back.joints_m - joints).max() < 1e-4


def test_write_bvh_refuses_zero_length_bones(tmp_path):
    joints = analytic_positions(5, 20.0)
    joints[:, 15] = joints[:, 12]  # head on the neck
    with pytest.raises(MotionError, match="head"):
        write_bvh(Motion(joints, fps=20.0), tmp_path / "bad.bvh")


# ------------------------------------------------------------------------------ bad files


def _in_motion(text, old, new):
    cut = text.index("Frame Time")
    return text[:cut] + text[cut:].replace(old, new, 1)


def _momask_text(tmp_path, **kwargs):
    path = tmp_path / "src.bvh"
    write_analytic_bvh(path, MOMASK_NAMES, n_frames=6, **kwargs)
    return path.read_text()


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda t: t[: t.index("JOINT RightUpLeg")], "no MOTION section"),
        (lambda t: t.replace("LeftForeArm", "LeftLowerArm"), "LeftForeArm"),
        (lambda t: t.replace("Xrotation\n", "Wrotation\n", 1), "unknown channel"),
        (lambda t: t.replace("Frame Time: 0.050000", "Frame Time: 0"), "Frame Time must be positive"),
        (lambda t: t.replace("Frames: 6", "Frames: six"), "whole number"),
        (lambda t: t.replace("MOTION", "}\nMOTION"), "unbalanced"),
        (lambda t: t.replace("HIERARCHY", "HIERARCHY\nJOINT X {"), "outside a joint"),
        (lambda t: _in_motion(t, "0.000000 ", "nan "), "NaN"),
        (lambda t: _in_motion(t, "0.000000 ", "abc "), "non-numeric"),
        (lambda t: t.replace("OFFSET 0.000000", "OFFSET zero", 1), "OFFSET must be a number"),
    ],
)
def test_malformed_bvh(tmp_path, edit, needle):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(_momask_text(tmp_path)))
    with pytest.raises(FormatError) as err:
        read_motions(path, format="bvh")
    assert str(path) in str(err.value) and needle in str(err.value)


def test_truncated_motion_block(tmp_path):
    path = tmp_path / "cut.bvh"
    write_analytic_bvh(path, MOMASK_NAMES, n_frames=6, truncate_values=30)
    with pytest.raises(
        FormatError, match=r"truncated: 6 frames x 69 channels need 414 values, found 384"
    ) as err:
        read_motions(path)
    assert str(path) in str(err.value)


def test_units_and_up_options(tmp_path):
    path = tmp_path / "m.bvh"
    write_analytic_bvh(path, MOMASK_NAMES, n_frames=6)
    with pytest.raises(FormatError, match="units must be"):
        read_motions(path, units="furlong")
    with pytest.raises(FormatError, match="up must be"):
        read_motions(path, up="x")
    with pytest.raises(MotionError, match="m.bvh"):  # read as centimetres, every bone is 100x too short
        read_motions(path, units="cm")
    tiny = tmp_path / "tiny.bvh"
    write_analytic_bvh(tiny, MOMASK_NAMES, n_frames=6, units_per_m=10.0)  # decimetres: no unit fits
    with pytest.raises(FormatError, match="cannot tell the length unit") as err:
        read_motions(tiny)
    assert str(tiny) in str(err.value)
