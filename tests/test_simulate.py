"""simulate_motion, the IMU .npz layout, and the `simulate` / `plot` commands end to end."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.synthetic_body import synthetic_body, write_synthetic_body

from text2imu.builder.bodies.asset import asset_path
from text2imu.builder.errors import MotionError, Text2ImuError, UnknownNameError
from text2imu.builder.motion import Motion
from text2imu.builder.simulate import read_imu_npz, simulate_motion, write_imu_npz
from text2imu.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sample_path(humanml3d_sample):
    return humanml3d_sample / "new_joints_012314.npy"


@pytest.fixture(scope="module")
def asset_file(tmp_path_factory):
    return write_synthetic_body(tmp_path_factory.mktemp("body") / "synthetic.npz")


def run(capsys, *args):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_simulates_and_plots_the_humanml3d_sample_on_anny(tmp_path, capsys, sample_path):
    if not asset_path("anny", "female_short").is_file():
        pytest.skip("Anny assets not compiled")
    out, fig = tmp_path / "imu.npz", tmp_path / "fig.png"
    sites = "realworld.waist,realworld.head"
    status, stdout, _ = run(
        capsys,
        "simulate",
        sample_path,
        "--body",
        "anny",
        "--shape",
        "female_short",
        "--sites",
        sites,
        "--out",
        out,
    )
    assert status == 0 and "2 site(s), 170 samples at 20 Hz" in stdout
    with np.load(out) as z:
        assert set(z.files) == {
            "sites", "rate_hz", "meta_json",
            *(f"{s}/{k}" for s in sites.split(",") for k in ("acc_mps2", "gyro_radps", "orientation_wxyz")),
        }  # fmt: skip
        assert list(z["sites"]) == sites.split(",")
        assert (
            z["realworld.waist/acc_mps2"].shape == (170, 3)
            and z["realworld.waist/acc_mps2"].dtype == np.float32
        )
    signals, meta = read_imu_npz(out)
    assert meta["shape"] == "female_short" and meta["method"] == "central" and meta["motion_frames"] == 170
    for sig in signals.values():
        assert np.isfinite(sig.acc_mps2).all() and np.isfinite(sig.gyro_radps).all()
        assert np.abs(np.linalg.norm(sig.orientation_wxyz, axis=-1) - 1).max() < 1e-5
        # a person moving about: specific force averages near 1 g, the body turns
        assert 8.0 < np.linalg.norm(sig.acc_mps2, axis=-1).mean() < 13.0
        assert np.abs(sig.gyro_radps).max() > 0.5
    status, stdout, _ = run(capsys, "plot", out, "--out", fig)
    assert status == 0 and fig.read_bytes()[:8] == PNG_MAGIC and fig.stat().st_size > 20_000


def test_cli_with_an_asset_file_spline_rate_and_seeded_noise(tmp_path, capsys, sample_path, asset_file):
    common = ["simulate", sample_path, "--asset", asset_file, "--sites", "realworld.thigh,realworld.forearm"]
    common += ["--method", "spline", "--rate-hz", "50", "--noise", "lsm6ds3"]
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    for path, seed in ((a, 3), (b, 3), (c, 4)):
        assert run(capsys, *common, "--seed", seed, "--out", path)[0] == 0
    sa, sb, sc = (read_imu_npz(p)[0]["realworld.thigh"] for p in (a, b, c))
    assert sa.rate_hz == 50.0 and sa.n_samples == int(169 / 20 * 50) + 1
    assert np.array_equal(sa.acc_mps2, sb.acc_mps2) and not np.array_equal(sa.acc_mps2, sc.acc_mps2)
    assert np.array_equal(sa.orientation_wxyz, sc.orientation_wxyz)  # noise never touches the orientation
    # an existing output is kept unless --force
    status, _, err = run(capsys, *common, "--out", a)
    assert status == 2 and "--force" in err
    # plot a subset of the sites; an unknown one is refused before anything is drawn
    fig = tmp_path / "thigh.png"
    assert run(capsys, "plot", a, "--sites", "realworld.thigh", "--out", fig)[0] == 0
    assert fig.read_bytes()[:8] == PNG_MAGIC
    status, _, err = run(capsys, "plot", a, "--sites", "realworld.thihg", "--out", tmp_path / "no.png")
    assert status == 2 and "Did you mean: realworld.thigh" in err and not (tmp_path / "no.png").exists()


BAD = {
    "nan motion": ("nan", [], "NaN"),
    "wrong joint count": ("j21", [], "22"),
    "zero fps": ("ok", ["--fps", "0"], "must be positive"),
    "unknown site": ("ok", ["--sites", "realworld.wiast"], "Did you mean: realworld.waist"),
    "unknown shape": ("ok", ["--shape", "female_shrot"], "Did you mean: female_short"),
    "unknown body": ("ok", ["--body", "anyn"], "Did you mean: anny"),
    "unknown noise": ("ok", ["--noise", "lsm6ds"], "Did you mean: lsm6ds3"),
    "index out of range": ("ok", ["--index", "3"], "out of range"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path, capsys, sample_path, asset_file, case
):
    kind, extra, expected = BAD[case]
    joints = np.load(sample_path)[:40].copy()
    if kind == "nan":
        joints[7, 3, 1] = np.nan
    elif kind == "j21":
        joints = joints[:, :21]
    motion = tmp_path / "motion.npy"
    np.save(motion, joints)
    uses_names = case in ("unknown shape", "unknown body")
    body = [] if uses_names else ["--asset", asset_file]
    out = tmp_path / "out" / "imu.npz"
    status, stdout, err = run(capsys, "simulate", motion, *body, *extra, "--out", out)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("text2imu: error: ") and expected in err, err
    assert not out.exists() and (not out.parent.exists() or not any(out.parent.iterdir()))


def test_simulate_motion_checks_its_inputs():
    asset = synthetic_body()
    good = Motion(np.repeat(asset.rest_joints_m[None], 10, axis=0))
    with pytest.raises(MotionError):
        simulate_motion(Motion(np.zeros((10, 22, 3))), asset=asset)  # every bone has length 0
    with pytest.raises(MotionError):
        simulate_motion(Motion(good.joints_m, fps=0.0), asset=asset)
    with pytest.raises(UnknownNameError, match="Did you mean: realworld.head"):
        simulate_motion(good, sites=["realworld.haed"], asset=asset)
    with pytest.raises(UnknownNameError, match="simulation method"):
        simulate_motion(good, asset=asset, method="centrall")
    with pytest.raises(UnknownNameError, match="body shape"):
        simulate_motion(good, "anny", "female_averag")
    with pytest.raises(Text2ImuError, match="twice"):
        simulate_motion(good, sites=["realworld.head", "realworld.head"], asset=asset)


def test_noise_of_a_site_does_not_depend_on_the_other_sites(sample_path):
    asset = synthetic_body()
    motion = Motion(np.load(sample_path)[:60])
    kw = {"asset": asset, "noise": "mpu6500", "seed": 11}
    ab = simulate_motion(motion, sites=["realworld.head", "realworld.shin"], **kw)
    ba = simulate_motion(motion, sites=["realworld.shin", "realworld.head"], **kw)
    only = simulate_motion(motion, sites=["realworld.shin"], **kw)
    assert np.array_equal(ab["realworld.shin"].acc_mps2, ba["realworld.shin"].acc_mps2)
    assert np.array_equal(ab["realworld.shin"].gyro_radps, only["realworld.shin"].gyro_radps)
    assert not np.array_equal(ab["realworld.shin"].acc_mps2 - ab["realworld.head"].acc_mps2, 0)


def test_imu_file_round_trip_and_atomic_write(tmp_path, sample_path):
    asset = synthetic_body()
    signals = simulate_motion(
        Motion(np.load(sample_path)[:30]), sites=["pamap2.hand", "usc_had.hip"], asset=asset
    )
    path = write_imu_npz(tmp_path / "x.npz", signals, {"note": "test"})
    back, meta = read_imu_npz(path)
    assert (
        list(back) == ["pamap2.hand", "usc_had.hip"]
        and meta["note"] == "test"
        and meta["format_version"] == 1
    )
    for site in signals:
        assert np.allclose(back[site].acc_mps2, signals[site].acc_mps2, atol=1e-5)
        assert back[site].rate_hz == 20.0
    with pytest.raises(Text2ImuError):
        write_imu_npz(tmp_path / "empty.npz", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]
