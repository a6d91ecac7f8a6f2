"""AMASS .npz reader: golden joints from a tiny made-up SMPL-H model, HumanML3D's axes and downsampling, the
format registry, and clear errors (no body model, malformed files)."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.tiny_smpl import tiny_model, write_tiny_smpl_npz, write_tiny_smplh
from scipy.spatial.transform import Rotation

from text2imu.builder.errors import FormatError
from text2imu.builder.formats import FORMATS, detect_format, read_motions
from text2imu.builder.formats.amass import AMASS_TO_WORLD, downsample_step, read_amass, sniff


@pytest.fixture(autouse=True)
def _private_smpl_cache(tmp_path, monkeypatch):
    """Converted .pkl models go to a temporary folder, never the user's ~/.cache."""
    monkeypatch.setenv("TEXT2IMU_SMPL_CACHE", str(tmp_path / "smpl-cache"))


@pytest.fixture(scope="module")
def body_models(tmp_path_factory):
    """AMASS's smplh layout: <root>/female/model.npz, <root>/male/model.npz (different bodies)."""
    root = tmp_path_factory.mktemp("body_models") / "smplh"
    write_tiny_smplh(root, "female")
    write_tiny_smplh(root, "male")
    return root


def _clip(path, *, frames=241, rate=120.0, poses=None, trans=None, betas=None, gender="female", **extra):
    poses = np.zeros((frames, 156)) if poses is None else poses
    trans = np.zeros((frames, 3)) if trans is None else trans
    betas = np.zeros(16) if betas is None else betas
    np.savez(
        path,
        poses=poses,
        trans=trans,
        betas=betas,
        gender=np.array(gender),
        mocap_framerate=np.array(rate),
        dmpls=np.zeros((len(poses), 8)),
        **extra,
    )
    return path


def _expected_rest_joints(gender: str, betas: np.ndarray) -> np.ndarray:
    """(22, 3) rest joints of the tiny SMPL-H with the first 10 betas, computed here without smplx."""
    m = tiny_model(gender, n_joints=52)
    verts = m["v_template"] + m["shapedirs"][:, :, :10] @ betas[:10]
    return (m["J_regressor"] @ verts)[:22]


def test_zero_pose_gives_the_rest_joints_moved_and_axes_swapped(tmp_path, body_models):
    rng = np.random.default_rng(3)
    betas = rng.normal(0, 1, 16)  # betas 10-15 must be ignored, as HumanML3D does
    trans = np.tile([0.3, -0.2, 0.9], (241, 1))
    path = _clip(tmp_path / "zero_poses.npz", trans=trans, betas=betas, gender="female")
    (motion,) = read_motions(path, body_model_path=body_models, validate=False)
    expected = (_expected_rest_joints("female", betas) + trans[0]) @ AMASS_TO_WORLD.T
    assert motion.joints_m.shape == (41, 22, 3)
    np.testing.assert_allclose(motion.joints_m[0], expected, atol=2e-6)
    np.testing.assert_allclose(motion.joints_m, np.broadcast_to(motion.joints_m[0], motion.joints_m.shape))
    # the map itself, written out: (x, y, z)_AMASS -> (-x, z, y)
    pelvis_rest = _expected_rest_joints("female", betas)[0]
    np.testing.assert_allclose(
        motion.joints_m[0, 0],
        [-(0.3 + pelvis_rest[0]), 0.9 + pelvis_rest[2], -0.2 + pelvis_rest[1]],
        atol=2e-6,
    )
    assert motion.metadata["num_betas"] == 10 and motion.metadata["body_model_kind"] == "SMPL-H"


def test_upright_amass_clip_stands_y_up_without_mirroring(tmp_path, body_models):
    """AMASS bodies stand along +z (root orientation +90 deg about x); HumanML3D's map makes them y-up."""
    frames = 121
    poses = np.zeros((frames, 156))
    poses[:, :3] = Rotation.from_euler("x", 90, degrees=True).as_rotvec()
    poses[:, 3 * 18 + 2] = 0.8  # bend the left elbow: only that arm's forearm moves
    trans = np.zeros((frames, 3))
    trans[:, 2] = 0.85  # the female tiny body: pelvis 0.82 m above its soles
    path = _clip(tmp_path / "standing.npz", frames=frames, poses=poses, trans=trans)
    j = read_amass(path, body_model_path=body_models)[0].joints_m.astype(np.float64)[0]
    assert (
        j[15, 1] > j[12, 1] > j[0, 1] > j[4, 1] > j[7, 1]
    )  # head over neck over pelvis over knee over ankle
    assert 0 < j[7, 1] < 0.12 and j[0, 1] == pytest.approx(0.85, abs=1e-6)  # ankles just above y = 0
    # a proper rotation keeps handedness: forward (toes - ankle) = left x up, as in SMPL's own rest frame
    left, up = j[1] - j[2], j[12] - j[0]
    forward = np.cross(left, up)
    toes = (j[10] - j[7]) * [1, 0, 1]  # horizontal part of ankle -> toes
    assert np.dot(forward, toes) / (np.linalg.norm(forward) * np.linalg.norm(toes)) > 0.9
    # the bent elbow is the left one: the left wrist leaves the shoulder line, the right one does not
    assert np.linalg.norm(np.cross(j[20] - j[16], j[18] - j[16])) > 1e-3
    assert np.linalg.norm(np.cross(j[21] - j[17], j[19] - j[17])) < 1e-6


@pytest.mark.parametrize(
    "rate, step, fps",
    [
        (120.00004577636719, 6, 20.0),  # float32 noise of 120 Hz: exactly 20 fps
        (100.0, 5, 20.0),
        (250.0, 12, 250 / 12),
        (59.9999885, 2, 30.0),  # SSM: HumanML3D steps by 2, so the clip really is 30 fps
        (15.0, 1, 15.0),
    ],
)
def test_downsampling_follows_humanml3d(tmp_path, body_models, rate, step, fps):
    frames = 100
    trans = np.zeros((frames, 3))
    trans[:, 0] = np.arange(frames) * 0.01  # frame index, readable back from the pelvis
    path = _clip(tmp_path / "ramp.npz", frames=frames, rate=rate, trans=trans)
    motion = read_amass(path, body_model_path=body_models, validate=False)[0]
    assert downsample_step(rate) == step and motion.metadata["downsample_step"] == step
    assert motion.fps == pytest.approx(fps, rel=1e-12)
    kept = np.arange(0, frames, step)
    assert motion.n_frames == len(kept)
    pelvis_x = -motion.joints_m[:, 0, 0].astype(np.float64)  # x is negated
    np.testing.assert_allclose(pelvis_x - pelvis_x[0], kept * 0.01, atol=1e-6)


def test_bytes_gender_is_decoded_and_neutral_uses_the_female_model(tmp_path, body_models):
    out = {}
    for gender in ("male", b"male", "female", "neutral"):
        path = _clip(tmp_path / f"g_{gender!r}.npz".replace("'", ""), gender=gender)
        out[repr(gender)] = read_amass(path, body_model_path=body_models, validate=False)[0].joints_m[0]
    male = _expected_rest_joints("male", np.zeros(16)) @ AMASS_TO_WORLD.T
    female = _expected_rest_joints("female", np.zeros(16)) @ AMASS_TO_WORLD.T
    np.testing.assert_allclose(out["'male'"], male, atol=2e-6)
    np.testing.assert_allclose(out["b'male'"], male, atol=2e-6)  # HumanML3D would use the female model here
    np.testing.assert_allclose(out["'female'"], female, atol=2e-6)
    np.testing.assert_allclose(out["'neutral'"], female, atol=2e-6)


def test_smpl_poses_with_an_smpl_model_file(tmp_path):
    model = write_tiny_smpl_npz(tmp_path, "neutral")
    path = tmp_path / "smpl_clip.npz"
    np.savez(
        path,
        poses=np.zeros((40, 72)),
        trans=np.zeros((40, 3)),
        betas=np.zeros(10),
        gender=np.array("neutral"),
        mocap_framerate=np.array(60.0),
    )
    motion = read_amass(path, body_model_path=model, validate=False)[0]
    ref = tiny_model("neutral")
    np.testing.assert_allclose(
        motion.joints_m[0], (ref["J_regressor"] @ ref["v_template"])[:22] @ AMASS_TO_WORLD.T, atol=2e-6
    )
    assert motion.n_frames == 14 and motion.fps == 20.0


def test_registered_and_detected(tmp_path, body_models):
    fmt = FORMATS["amass"]
    assert "body_model_path" in fmt.options
    clip = _clip(tmp_path / "a_poses.npz", gender="male")
    assert detect_format(clip).name == "amass"
    stageii = tmp_path / "b_stageii.npz"
    np.savez(stageii, poses=np.zeros((10, 165)), trans=np.zeros((10, 3)), mocap_frame_rate=np.array(60.0))
    assert sniff(stageii)
    joints = tmp_path / "joints.npz"
    np.savez(joints, joints=np.zeros((10, 22, 3)))
    assert not sniff(joints)
    # a folder of clips: shape files (no poses) are skipped, as HumanML3D does
    folder = tmp_path / "KIT" / "3"
    folder.mkdir(parents=True)
    _clip(folder / "walk_poses.npz")
    _clip(folder / "run_poses.npz")
    np.savez(folder / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    assert detect_format(tmp_path / "KIT").name == "amass"
    motions = read_motions(tmp_path / "KIT", body_model_path=body_models, validate=False)
    assert [m.metadata["file"] for m in motions] == ["3/run_poses.npz", "3/walk_poses.npz"]


def test_no_body_model_is_a_clear_error(tmp_path):
    path = _clip(tmp_path / "clip.npz")
    with pytest.raises(FormatError, match=r"--body-model.*body_model_path") as err:
        read_motions(path)
    assert str(path) in str(err.value)


def test_body_model_folder_without_the_gender(tmp_path):
    root = tmp_path / "smplh"
    write_tiny_smplh(root, "neutral")
    path = _clip(tmp_path / "clip.npz", gender="male")
    assert read_amass(path, body_model_path=root, validate=False)  # falls back to neutral, with a warning
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError, match="no male .or neutral. body model"):
        read_amass(path, body_model_path=empty)


@pytest.mark.parametrize("case", ["garbage", "short_poses", "trans_mismatch", "no_rate", "nan", "object"])
def test_malformed_npz_errors_name_the_file(tmp_path, body_models, case):
    path = tmp_path / f"{case}.npz"
    if case == "garbage":
        path.write_bytes(b"PK not really a zip")
        message = "cannot read"
    elif case == "short_poses":
        _clip(path, poses=np.zeros((50, 30)), trans=np.zeros((50, 3)))
        message = r"poses has shape \(50, 30\)"
    elif case == "trans_mismatch":
        _clip(path, poses=np.zeros((50, 156)), trans=np.zeros((49, 3)))
        message = "trans has shape"
    elif case == "no_rate":
        np.savez(path, poses=np.zeros((5, 156)), trans=np.zeros((5, 3)))
        message = "missing mocap_framerate"
    elif case == "nan":
        poses = np.zeros((50, 156))
        poses[3, 4] = np.nan
        _clip(path, poses=poses, trans=np.zeros((50, 3)))
        message = "NaN"
    else:  # an object array needs pickle: refused, never unpickled
        np.savez(
            path,
            poses=np.array([{"a": 1}], dtype=object),
            trans=np.zeros((1, 3)),
            mocap_framerate=np.array(60.0),
        )
        message = "cannot read"
    with pytest.raises(FormatError, match=message) as err:
        read_motions(path, format="amass", body_model_path=body_models)
    assert str(path) in str(err.value)
