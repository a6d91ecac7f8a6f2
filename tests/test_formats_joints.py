"""Joint-position files (.npy, .npz, folders) and format detection across every reader of the registry."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.motion_files import (
    MOMASK_NAMES,
    walking,
    write_analytic_bvh,
    write_mdm_results,
    write_momask_generation,
    write_t2m_gpt_outputs,
)

from text2imu.builder.errors import FormatError, MotionError
from text2imu.builder.formats import FORMATS, detect_format, read_motions
from text2imu.builder.formats.joints import path_kind


def test_single_npy(tmp_path):
    path = tmp_path / "clip.npy"
    np.save(path, walking(50).astype(np.float64))
    assert detect_format(path).name == "joints"
    (m,) = read_motions(path)
    assert m.fps == 20.0 and m.prompt is None and m.metadata["file"] == "clip.npy"
    np.testing.assert_allclose(m.joints_m, walking(50))
    assert read_motions(path, fps=30)[0].fps == 30.0


def test_npz_with_fps_and_prompt(tmp_path):
    path = tmp_path / "clip.npz"
    np.savez(path, joints=walking(40), fps=np.float64(30.0), prompt=np.array("a person walks"))
    assert detect_format(path).name == "joints"
    (m,) = read_motions(path)
    assert m.fps == 30.0 and m.prompt == "a person walks"
    assert read_motions(path, fps=20)[0].fps == 20.0  # an explicit rate wins
    np.savez(tmp_path / "bytes.npz", joints=walking(40), prompt=np.array(b"jumps"))
    assert read_motions(tmp_path / "bytes.npz")[0].prompt == "jumps"


def test_folder_sorted_recursively(tmp_path):
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "b" / "002.npy", walking(30, speed=0.2))
    np.save(tmp_path / "001.npy", walking(31, speed=0.3))
    np.savez(tmp_path / "b" / "001.npz", joints=walking(32, speed=0.4))
    (tmp_path / "notes.txt").write_text("ignored")
    assert detect_format(tmp_path).name == "joints"
    motions = read_motions(tmp_path)
    assert [m.metadata["file"] for m in motions] == ["001.npy", "b/001.npz", "b/002.npy"]
    assert [m.n_frames for m in motions] == [31, 32, 30]


def test_humanml3d_features_through_features_to_joints(shared_data):
    pytest.importorskip("text2imu.builder.humanml3d").features_to_joints  # noqa: B018
    vecs = shared_data / "humanml3d" / "new_joint_vecs_012314.npy"
    (m,) = read_motions(vecs)
    np.testing.assert_allclose(
        m.joints_m, np.load(shared_data / "humanml3d" / "new_joints_012314.npy"), atol=1e-4
    )


@pytest.mark.parametrize(
    "array, needle",
    [
        (np.zeros((30, 21, 3), np.float32), "is not (T, 22, 3)"),
        (np.zeros((2, 30, 22, 3), np.float32), "is not (T, 22, 3)"),
        (np.array(["a", "b"]), "real numbers"),
    ],
)
def test_wrong_arrays(tmp_path, array, needle):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(FormatError) as err:
        read_motions(path, format="joints")
    assert str(path) in str(err.value) and needle in str(err.value)


def test_npz_without_joints_key(tmp_path):
    path = tmp_path / "poses.npz"
    np.savez(path, poses=np.zeros((10, 156)), trans=np.zeros((10, 3)))
    with pytest.raises(FormatError, match="no 'joints' array") as err:
        read_motions(path, format="joints")
    assert str(path) in str(err.value)


def test_object_npy_is_never_unpickled(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object))
    with pytest.raises(FormatError) as err:
        read_motions(path, format="joints")
    assert str(path) in str(err.value)


def test_nan_and_too_short(tmp_path):
    joints = walking(30)
    joints[4, 3, 0] = np.nan
    np.save(tmp_path / "nan.npy", joints)
    with pytest.raises(MotionError, match="NaN") as err:
        read_motions(tmp_path / "nan.npy")
    assert str(tmp_path / "nan.npy") in str(err.value)
    assert read_motions(tmp_path / "nan.npy", validate=False)[0].n_frames == 30
    np.save(tmp_path / "short.npy", walking(2))
    with pytest.raises(MotionError, match="short.npy"):
        read_motions(tmp_path / "short.npy")


def test_folder_without_motion_files(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(FormatError, match="not a known motion format") as err:
        read_motions(tmp_path)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(FormatError, match="no .npy or .npz") as err:
        read_motions(tmp_path, format="joints")
    assert str(tmp_path) in str(err.value)


def test_unknown_option_and_missing_path(tmp_path):
    np.save(tmp_path / "a.npy", walking(30))
    with pytest.raises(FormatError, match="takes no option"):
        read_motions(tmp_path / "a.npy", units="cm")
    with pytest.raises(FormatError, match="no such file"):
        read_motions(tmp_path / "missing.npy")


def test_each_path_is_claimed_by_exactly_one_format(tmp_path):
    """Sniffers are mutually exclusive: every kind of path is detected by one reader only."""
    mdm, _ = write_mdm_results(tmp_path / "mdm", ["walk"], num_repetitions=1)
    write_momask_generation(tmp_path / "momask", ["walk"], repeats=1)
    write_t2m_gpt_outputs(tmp_path / "t2m", ["000001"])
    np.save(tmp_path / "one.npy", walking(30))
    np.savez(tmp_path / "one.npz", joints=walking(30))
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "folder" / "a.npy", walking(30))
    write_analytic_bvh(tmp_path / "one.bvh", MOMASK_NAMES, n_frames=5)
    cases = {
        mdm: "mdm-results",
        mdm.parent: "mdm-results",
        tmp_path / "momask": "momask",
        tmp_path / "t2m": "t2m-gpt",
        tmp_path / "one.npy": "joints",
        tmp_path / "one.npz": "joints",
        tmp_path / "folder": "joints",
        tmp_path / "one.bvh": "bvh",
        tmp_path / "momask" / "animations": "bvh",
    }
    for path, name in cases.items():
        claims = [f.name for f in FORMATS.values() if f.sniff(path)]
        assert claims == [name], (path, claims)
        assert path_kind(path) == name
    # an AMASS file and a HumanML3D root belong to no reader of these modules
    np.savez(tmp_path / "amass_poses.npz", poses=np.zeros((5, 156)), trans=np.zeros((5, 3)))
    (tmp_path / "hml" / "new_joints").mkdir(parents=True)
    np.save(tmp_path / "hml" / "new_joints" / "000000.npy", walking(30))
    mine = {"mdm-results", "momask", "t2m-gpt", "joints", "bvh"}
    for path in (tmp_path / "amass_poses.npz", tmp_path / "hml"):
        assert not mine & {f.name for f in FORMATS.values() if f.sniff(path)}
