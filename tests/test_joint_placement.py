"""The ``joint`` sensor placement (IMUSim-style, rigidly at a skeleton joint) beside the ``skin`` one: physics at
rest and under a known rotation, the same gyro and a lever-arm acc on a walk, the joint's position, the data
table, and the option through simulate_motion, ``text2imu simulate`` and ``text2imu build``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.corpus import tiny
from fixtures.synthetic_body import synthetic_body, write_synthetic_body
from scipy.spatial.transform import Rotation

from text2imu.builder.bodies.asset import asset_path
from text2imu.builder.bodies.sites import _parse_joint, site
from text2imu.builder.corpus import build_corpus
from text2imu.builder.corpus_spec import CorpusSpec, normalize_spec
from text2imu.builder.errors import FormatError, UnknownNameError
from text2imu.builder.fit import fit_motion
from text2imu.builder.generators import derive_seed, get_generator
from text2imu.builder.imu import GRAVITY_MPS2, second_derivative_central
from text2imu.builder.motion import Motion
from text2imu.builder.placement import PLACEMENTS, check_placement, joint_frames, rest_site_axes
from text2imu.builder.prompts import load_prompt_set
from text2imu.builder.simulate import load_body, read_imu_npz, simulate_motion
from text2imu.builder.skeleton import skeleton
from text2imu.cli import main

SHAPE = "female_average"
UP_MPS2 = np.array([0.0, GRAVITY_MPS2, 0.0])
# Anny patches skinned by their data/sites.toml segment alone (forearm: elbow and wrist, and the wrist segment
# turns with the forearm): their skin frame is the joint sensor's frame at every frame.
RIGID = ("realworld.thigh", "realworld.forearm", "realworld.head")
WAIST = ("realworld.waist", "hapt.waist")  # hapt.waist has a device mounting

pytestmark = pytest.mark.skipif(not asset_path("anny", SHAPE).is_file(), reason="Anny assets not compiled")


@pytest.fixture(scope="module")
def body():
    return load_body("anny", SHAPE)


@pytest.fixture(scope="module")
def walk():
    prompt = load_prompt_set("v1").by_activity("walking")[0]
    return get_generator("kinematic").generate(prompt, 0, derive_seed(0, "kinematic", prompt.prompt_id, 0))


def world(sig, field: str) -> np.ndarray:
    """(T, 3) a sensor-frame signal turned into the world frame with the sensor's own orientation."""
    rot = Rotation.from_quat(np.roll(np.asarray(sig.orientation_wxyz), -1, axis=-1)).as_matrix()
    return np.einsum("tab,tb->ta", rot, getattr(sig, field))


def both(motion, body, sites, **kw):
    return (simulate_motion(motion, sites=sites, asset=body, placement="skin", **kw),
            simulate_motion(motion, sites=sites, asset=body, placement="joint", **kw))


def turning(rest_joints_m: np.ndarray, rate_radps: float, n_frames: int = 41, fps: float = 20.0) -> Motion:
    """The rest pose turning about the vertical through its pelvis at a constant rate."""
    centre = np.array([rest_joints_m[0, 0], 0.0, rest_joints_m[0, 2]])
    t = np.arange(n_frames) / fps
    rot = Rotation.from_rotvec(np.outer(rate_radps * t, [0.0, 1.0, 0.0])).as_matrix()  # (T, 3, 3)
    return Motion(np.einsum("tab,jb->tja", rot, rest_joints_m - centre) + centre, fps=fps)


def test_at_rest_the_joint_sensor_reads_one_g_up_in_the_skin_sensor_axes():
    body = synthetic_body()  # its rest pose is a valid motion (Anny's rest skeleton is not HumanML3D-like)
    sites = [*RIGID, *WAIST, "realworld.chest"]
    skin, joint = both(Motion(np.repeat(body.rest_joints_m[None], 12, axis=0)), body, sites)
    for s in sites:
        np.testing.assert_allclose(world(joint[s], "acc_mps2"), np.broadcast_to(UP_MPS2, (12, 3)), atol=1e-6)
        np.testing.assert_allclose(joint[s].gyro_radps, 0.0, atol=1e-6)
        assert np.linalg.norm(joint[s].acc_mps2, axis=-1) == pytest.approx(GRAVITY_MPS2, abs=1e-6)
        # same axes as the skin sensor (mounting included): the same reading of gravity (the analytic fit of the
        # rest pose leaves the straight legs turned by ~3e-3, which the thigh's blended patch follows in part)
        np.testing.assert_allclose(joint[s].orientation_wxyz, skin[s].orientation_wxyz, atol=2e-4)
        np.testing.assert_allclose(joint[s].acc_mps2, skin[s].acc_mps2, atol=2e-3)
    # the mounting turns the hapt.waist axes away from the waist's gravity reading, in both placements
    assert not np.allclose(joint["hapt.waist"].acc_mps2, joint["realworld.waist"].acc_mps2, atol=0.5)


def test_a_turn_about_the_vertical_reads_its_rate_and_only_the_skin_sensor_feels_the_lever_arm():
    body = synthetic_body()
    rate = 1.3
    sites = [*WAIST, "realworld.thigh"]
    skin, joint = both(turning(body.rest_joints_m, rate), body, sites)
    for s in sites:
        for sig in (skin[s], joint[s]):
            np.testing.assert_allclose(world(sig, "gyro_radps"), np.broadcast_to([0.0, rate, 0.0], (41, 3)),
                                       atol=1e-6)
    # the pelvis joint is on the axis: 1 g up, nothing else
    for s in WAIST:
        np.testing.assert_allclose(world(joint[s], "acc_mps2"), np.broadcast_to(UP_MPS2, (41, 3)), atol=1e-6)
    # the waist skin vertex circles the axis at radius r: centripetal rate^2 r towards the axis (the second
    # difference of a circle is rate^2 r (1 - (rate dt)^2 / 12 + ...), hence the tolerance)
    idx = body.site_index("realworld.waist")
    offset = body.patch_vertices_m[idx, 0] - body.rest_joints_m[0]
    radius_m = float(np.hypot(offset[0], offset[2]))
    horizontal = world(skin["realworld.waist"], "acc_mps2")[:, [0, 2]]
    assert radius_m > 0.05
    centripetal = np.linalg.norm(horizontal, axis=-1)
    np.testing.assert_allclose(centripetal[1:-1], rate**2 * radius_m, rtol=1e-3)
    np.testing.assert_allclose(centripetal[[0, -1]], rate**2 * radius_m, rtol=1e-2)  # one-sided end stencils


def test_on_a_walk_the_gyro_agrees_and_the_acc_differs_by_the_lever_arm(body, walk):
    sites = [*RIGID, *WAIST]
    skin, joint = both(walk, body, sites)
    for s in RIGID:  # same rigid frame: same angular rate
        np.testing.assert_allclose(joint[s].gyro_radps, skin[s].gyro_radps, atol=1e-5)
        np.testing.assert_allclose(joint[s].orientation_wxyz, skin[s].orientation_wxyz, atol=1e-5)
    for s in WAIST:  # soft tissue blended over the lower spine turns the skin frame a little
        g_skin, g_joint = skin[s].gyro_radps, joint[s].gyro_radps
        assert np.sqrt(np.mean((g_skin - g_joint) ** 2)) < 0.3 * np.sqrt(np.mean(g_skin**2))
        assert min(np.corrcoef(g_skin[:, k], g_joint[:, k])[0, 1] for k in range(3)) > 0.9
    # the thigh: skin vertex - hip joint = R_segment (v_rest - J_rest): the acc difference is its second derivative
    pose = fit_motion(walk.joints_m, body.rest_joints_m)
    k = skeleton().index("left_hip")
    lever = np.einsum("tab,b->ta", pose.rotations[:, k],
                      body.patch_vertices_m[body.site_index("realworld.thigh"), 0] - body.rest_joints_m[k])
    difference = world(skin["realworld.thigh"], "acc_mps2") - world(joint["realworld.thigh"], "acc_mps2")
    np.testing.assert_allclose(difference, second_derivative_central(lever, 1.0 / walk.fps), atol=1e-6)
    assert np.sqrt(np.mean(difference**2)) > 0.5  # the lever arm is felt (several m/s^2 on a walk)


def test_the_sensor_sits_at_the_joint_of_the_table_and_turns_with_its_segment(body, walk):
    sites = ["realworld.forearm", "realworld.thigh", "hapt.waist"]
    sk = skeleton()
    assert [site(s).sensor_joint for s in sites] == ["left_wrist", "left_hip", "pelvis"]
    pose = fit_motion(walk.joints_m, body.rest_joints_m)
    idx = np.array([body.site_index(s) for s in sites])
    positions, frames = joint_frames(body, pose.rotations, pose.joints_m, sites, idx)
    axes = rest_site_axes(body, idx)
    for i, s in enumerate(sites):
        np.testing.assert_array_equal(positions[:, i], pose.joints_m[:, sk.index(site(s).sensor_joint)])
        np.testing.assert_allclose(frames[:, i], pose.rotations[:, sk.index(site(s).segment)] @ axes[i], atol=1e-12)
    # through simulate_motion: acc = R^T (d2 J / dt2 - g) at the joint (mounting in R for hapt.waist)
    joint = simulate_motion(walk, sites=sites, asset=body, placement="joint")
    for i, s in enumerate(sites):
        expected = second_derivative_central(positions[:, i], 1.0 / walk.fps) + UP_MPS2
        np.testing.assert_allclose(world(joint[s], "acc_mps2"), expected, atol=1e-6)


def test_bad_placements_and_joint_tables_are_refused(body, walk):
    assert check_placement("joint") == "joint" and PLACEMENTS == ("skin", "joint")
    with pytest.raises(UnknownNameError, match="Did you mean: joint"):
        simulate_motion(walk, sites=["realworld.waist"], asset=body, placement="jiont")
    with pytest.raises(UnknownNameError, match="sensor placement"):
        check_placement(None)
    with pytest.raises(UnknownNameError, match="Did you mean: skin"):
        normalize_spec(tiny(placement="skni"))
    with pytest.raises(FormatError, match="neither the segment"):
        _parse_joint("left_wrist", "left_hip", "sites.toml: site x")
    with pytest.raises(FormatError, match="must be a joint name"):
        _parse_joint("wrist", "left_elbow", "sites.toml: site x")
    assert _parse_joint("left_wrist", "left_elbow", "x") == "left_wrist"


def test_spec_records_the_placement_only_when_it_is_not_the_default():
    skin, joint = tiny(), tiny(placement="joint")
    assert "placement" not in skin.to_dict() and joint.to_dict()["placement"] == "joint"
    assert CorpusSpec.from_dict(joint.to_dict()) == joint and CorpusSpec.from_dict(skin.to_dict()) == skin
    assert skin.fingerprint() != joint.fingerprint()


def run(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_simulate_with_placement(tmp_path, capsys, walk):
    np.save(motion := tmp_path / "walk.npy", np.asarray(walk.joints_m)[:40])
    asset = write_synthetic_body(tmp_path / "body.npz")
    common = ["simulate", motion, "--asset", asset, "--sites", "realworld.thigh,realworld.waist"]
    status, stdout, _ = run(capsys, *common, "--placement", "joint", "--out", tmp_path / "joint.npz")
    assert status == 0 and "2 site(s)" in stdout
    assert run(capsys, *common, "--out", tmp_path / "skin.npz")[0] == 0
    (joint, meta), (skin, meta_skin) = read_imu_npz(tmp_path / "joint.npz"), read_imu_npz(tmp_path / "skin.npz")
    assert meta["placement"] == "joint" and meta_skin["placement"] == "skin"
    assert not np.allclose(joint["realworld.thigh"].acc_mps2, skin["realworld.thigh"].acc_mps2, atol=0.1)
    out = tmp_path / "bad" / "x.npz"
    status, _, err = run(capsys, *common, "--placement", "jiont", "--out", out)
    assert status == 2 and err.count("\n") == 1 and "Did you mean: joint" in err
    assert not out.parent.exists()


def test_cli_build_bad_placement_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "corpus"
    status, _, err = run(capsys, "build", "kinematic", "--prompts", "walking-01", "--repetitions", "1",
                         "--placement", "joints", "--out", out, "--workers", "1", "--no-progress")
    assert status == 2 and err.count("\n") == 1 and "Unknown sensor placement 'joints'. Did you mean: joint" in err
    assert not out.exists()


def test_a_joint_corpus_records_its_placement_and_holds_joint_signals(tmp_path, capsys):
    common = ["build", "kinematic", "--prompts", "walking-01", "--repetitions", "1", "--shapes", SHAPE,
              "--sites", "realworld.thigh", "--workers", "1", "--no-progress"]
    assert run(capsys, *common, "--placement", "joint", "--out", tmp_path / "joint")[0] == 0
    skin = build_corpus(tiny(prompt_ids=("walking-01",), repetitions=1, shapes=(SHAPE,),
                             sites=("realworld.thigh",)), tmp_path / "skin", workers=1, progress=False)
    manifests = {p: json.loads((tmp_path / p / "manifest.json").read_text()) for p in ("joint", "skin")}
    assert manifests["joint"]["spec"]["placement"] == "joint" and "placement" not in manifests["skin"]["spec"]
    assert manifests["joint"]["fingerprint"] != manifests["skin"]["fingerprint"]
    assert skin.spec.placement == "skin"
    cards = {p: (tmp_path / p / "README.md").read_text("utf-8") for p in ("joint", "skin")}
    assert "| sensor placement | joint (IMUSim-style" in cards["joint"] and "skeleton joints of 1 sites" in cards["joint"]
    assert "| sensor placement | skin (" in cards["skin"] and "at 1 skin sites." in cards["skin"]
    import datasets

    rows = {p: datasets.load_dataset(str(tmp_path / p), f"realworld.thigh-{SHAPE}", split="train").with_format("numpy")[0]
            for p in ("joint", "skin")}
    prompt = load_prompt_set("v1").get("walking-01")
    motion = get_generator("kinematic").generate(prompt, 0, derive_seed(0, "kinematic", "walking-01", 0))
    for p in ("joint", "skin"):
        sig = simulate_motion(motion, "anny", SHAPE, ["realworld.thigh"], placement=p)["realworld.thigh"]
        np.testing.assert_array_equal(rows[p]["acc_mps2"], sig.acc_mps2.astype(np.float32))
    assert not np.allclose(rows["joint"]["acc_mps2"], rows["skin"]["acc_mps2"], atol=0.1)
