"""Noise presets, their application and placement perturbation."""

import zipfile
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from text2imu.builder.errors import UnknownNameError
from text2imu.builder.imu import ImuSignals, SimulationError, simulate_imu
from text2imu.builder.noise import (
    STANDARD_GRAVITY_MPS2,
    ChannelNoise,
    NoisePreset,
    apply_noise,
    get_noise_preset,
    noise_presets,
    parse_noise_presets,
    perturb_placement,
    quantisation_step,
    sample_placement,
    saturate_and_quantise,
    white_noise_std,
)

G = STANDARD_GRAVITY_MPS2
DEG = np.pi / 180


def signals(n=200, sensors=None, rate_hz=20.0, acc=(0.0, 9.81, 0.0), gyro=(0.1, -0.2, 0.3)):
    batch = (n,) if sensors is None else (n, sensors)
    q = np.zeros(batch + (4,))
    q[..., 0] = 1.0
    return ImuSignals(np.broadcast_to(acc, batch + (3,)), np.broadcast_to(gyro, batch + (3,)), q, rate_hz)


def white_only(preset, channel="acc_mps2"):
    """The preset's white noise alone (no bias, range or quantisation) on one channel, nothing on the other."""
    model = replace(getattr(preset, channel), bias_sigma=0.0, range=None, step=None)
    other = "gyro_radps" if channel == "acc_mps2" else "acc_mps2"
    return NoisePreset(name="white", **{channel: model, other: ChannelNoise()})


# ---------------------------------------------------------------------------------------------- presets data


def test_bundled_presets_and_their_figures():
    presets = noise_presets()
    assert {"ideal", "lsm6ds3", "mpu6500", "uci_hapt"} <= set(presets)
    assert presets["ideal"].is_ideal and not presets["lsm6ds3"].is_ideal
    lsm = presets["lsm6ds3"]
    assert lsm.acc_mps2.noise_density_per_sqrt_hz == pytest.approx(90e-6 * G)
    assert lsm.gyro_radps.noise_density_per_sqrt_hz == pytest.approx(0.007 * DEG)
    assert lsm.acc_mps2.range == pytest.approx(8 * G) and lsm.gyro_radps.range == pytest.approx(2000 * DEG)
    assert lsm.acc_mps2.step == pytest.approx(8 * G / 2**15)  # 0.244 mg/LSB at +-8 g
    assert lsm.gyro_radps.step == pytest.approx(2000 * DEG / 2**15)  # ~61 mdps/LSB at +-2000 dps
    for preset in presets.values():
        assert preset.description and preset.source
    hapt = presets["uci_hapt"].gyro_radps
    assert hapt.range == pytest.approx(10.008, abs=1e-3)  # HAPT's gyro saturates at +-10 rad/s
    assert round(hapt.range / hapt.step) == 2**15


def test_uci_hapt_preset_codes_match_the_real_recordings(shared_data):
    archive = shared_data / "uci-hapt" / "hapt_users01-20.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} not found")
    preset = get_noise_preset("uci_hapt")
    with zipfile.ZipFile(archive) as zf:
        gyro_radps = np.loadtxt(zf.open("HAPT/RawData/gyro_exp01_user01.txt"), max_rows=3000)
        acc_g = np.loadtxt(zf.open("HAPT/RawData/acc_exp01_user01.txt"), max_rows=3000)
    for values, step in ((gyro_radps, preset.gyro_radps.step), (acc_g * G, preset.acc_mps2.step)):
        codes = values / step
        assert np.abs(codes - np.round(codes)).max() < 0.01  # every real sample sits on the preset's grid
    assert np.abs(gyro_radps).max() <= preset.gyro_radps.range
    assert np.abs(acc_g * G).max() <= preset.acc_mps2.range


def test_unknown_preset_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean: lsm6ds3"):
        get_noise_preset("lsm6ds")
    with pytest.raises(UnknownNameError):
        apply_noise(signals(), "bosch", seed=1)


@pytest.mark.parametrize(
    "toml, match",
    [
        ("[x.acc]\nnoise_density_ug = 3\n", "unknown keys"),
        ("[x]\nacc = {bits = 16, step_mg = 1, range_g = 2}\n", "either bits or a step"),
        ("[x.acc]\nbits = 16\n", "needs a range"),
        ("[x.gyro]\nstep_mdps = 1\n", "needs a range"),
        ("[x.gyro]\nbias_sigma_dps = -1\n", ">= 0"),
        ("[x.gyro]\nrange_dps = 'big'\n", "must be a number"),
        ("[x]\ncolour = 'red'\n", "unknown keys"),
        ("[x\n", "not valid TOML"),
    ],
)
def test_bad_preset_files_raise(toml, match):
    with pytest.raises(SimulationError, match=match):
        parse_noise_presets(toml)


def test_preset_file_from_a_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[mine]\ndescription = "d"\n[mine.gyro]\nnoise_density_dps_per_sqrt_hz = 0.1\n')
    presets = noise_presets(path)
    assert presets["mine"].gyro_radps.noise_density_per_sqrt_hz == pytest.approx(0.1 * DEG)
    assert presets["mine"].acc_mps2.is_ideal
    with pytest.raises(SimulationError, match="cannot read"):
        noise_presets(tmp_path / "missing.toml")


# ------------------------------------------------------------------------------------------------ application


def test_ideal_is_identity():
    sig = signals()
    assert apply_noise(sig) is sig
    assert apply_noise(sig, "ideal", seed=5) is sig


@pytest.mark.parametrize("preset", ["lsm6ds3", "mpu6500", "uci_hapt"])
def test_seeded_noise_is_deterministic(preset):
    sig = signals(sensors=2)
    a, b = apply_noise(sig, preset, seed=7), apply_noise(sig, preset, seed=7)
    c = apply_noise(sig, preset, seed=8)
    assert a.acc_mps2.tobytes() == b.acc_mps2.tobytes() and a.gyro_radps.tobytes() == b.gyro_radps.tobytes()
    assert a.acc_mps2.tobytes() != c.acc_mps2.tobytes() and a.gyro_radps.tobytes() != c.gyro_radps.tobytes()
    assert a.noise_preset == preset and a.rate_hz == sig.rate_hz
    assert a.orientation_wxyz.tobytes() == sig.orientation_wxyz.tobytes()  # ground truth untouched
    assert not np.array_equal(a.acc_mps2[:, 0], a.acc_mps2[:, 1])  # sensors get independent noise


@pytest.mark.parametrize("rate_hz", [20.0, 200.0])
@pytest.mark.parametrize("channel", ["acc_mps2", "gyro_radps"])
def test_white_noise_std_matches_the_preset_figure(channel, rate_hz):
    lsm = get_noise_preset("lsm6ds3")
    density = getattr(lsm, channel).noise_density_per_sqrt_hz
    expected = density * np.sqrt(rate_hz / 2)  # bandwidth = Nyquist
    assert white_noise_std(density, rate_hz) == pytest.approx(expected)
    sig = signals(n=20000, sensors=2, rate_hz=rate_hz)
    noisy = apply_noise(sig, white_only(lsm, channel), seed=3)
    err = getattr(noisy, channel) - getattr(sig, channel)
    np.testing.assert_allclose(err.std(axis=0), expected, rtol=0.03)
    assert np.abs(err.mean(axis=0)).max() < 0.05 * expected
    lag1 = np.mean(err[1:] * err[:-1]) / err.var()
    assert abs(lag1) < 0.03  # white
    other = "gyro_radps" if channel == "acc_mps2" else "acc_mps2"
    assert getattr(noisy, other).tobytes() == getattr(sig, other).tobytes()


def test_turn_on_bias_is_constant_per_recording_with_the_preset_sigma():
    model = ChannelNoise(bias_sigma=0.2)
    sig = signals(n=5, sensors=4000)
    noisy = apply_noise(sig, NoisePreset(name="bias", acc_mps2=model), seed=11)
    err = noisy.acc_mps2 - sig.acc_mps2
    np.testing.assert_allclose(err, np.broadcast_to(err[0], err.shape), atol=1e-12)
    assert err[0].std() == pytest.approx(0.2, rel=0.05)


def test_bias_random_walk_increments():
    model = ChannelNoise(bias_walk_per_sqrt_s=0.01)
    sig = signals(n=4001, sensors=5, rate_hz=100.0)
    err = apply_noise(sig, NoisePreset(name="walk", gyro_radps=model), seed=2).gyro_radps - sig.gyro_radps
    np.testing.assert_allclose(err[0], 0.0, atol=1e-15)
    assert np.diff(err, axis=0).std() == pytest.approx(0.01 * np.sqrt(1 / 100.0), rel=0.03)


def test_saturation_clips_at_the_range():
    lsm = get_noise_preset("lsm6ds3")
    acc_range, step = lsm.acc_mps2.range, lsm.acc_mps2.step
    x = np.linspace(-30 * G, 30 * G, 1001)
    quantised = saturate_and_quantise(x, acc_range, step)
    assert quantised.min() == pytest.approx(-acc_range) and quantised.max() == pytest.approx(acc_range - step)
    np.testing.assert_allclose(saturate_and_quantise(x, acc_range, None)[[0, -1]], [-acc_range, acc_range])
    assert saturate_and_quantise(x, None, None).tobytes() == x.tobytes()
    # through apply_noise: a 12 g specific force and a 50 rad/s spin saturate
    sig = signals(acc=(12 * G, -12 * G, 1.0), gyro=(50.0, -50.0, 0.5))
    noisy = apply_noise(sig, "lsm6ds3", seed=0)
    assert noisy.acc_mps2[:, 0].max() == pytest.approx(acc_range - step)
    assert noisy.acc_mps2[:, 1].min() == pytest.approx(-acc_range)
    gyro_range = lsm.gyro_radps.range
    assert noisy.gyro_radps[:, 0].max() <= gyro_range and noisy.gyro_radps[:, 1].min() == pytest.approx(
        -gyro_range
    )
    assert abs(noisy.gyro_radps[:, 2].mean() - 0.5) < 0.5  # in range: not clipped


def test_quantisation_step_is_range_over_two_to_bits_minus_one():
    assert quantisation_step(8.0, 16) == 8.0 / 32768
    lsm = get_noise_preset("lsm6ds3")
    step = lsm.gyro_radps.step
    assert step == pytest.approx(2000 * DEG / 2 ** (16 - 1))
    ramp = np.linspace(-1.0, 1.0, 100001)
    q = saturate_and_quantise(ramp, lsm.gyro_radps.range, step)
    codes = q / step
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
    assert np.diff(np.unique(q)).min() == pytest.approx(step) and np.abs(q - ramp).max() <= step / 2 + 1e-12
    noisy = apply_noise(signals(), "lsm6ds3", seed=4).gyro_radps / step
    np.testing.assert_allclose(noisy, np.round(noisy), atol=1e-9)


def test_seed_must_be_a_non_negative_integer():
    for seed in (-1, 1.5, "1", True, None):
        with pytest.raises(SimulationError, match="seed"):
            apply_noise(signals(), "lsm6ds3", seed=seed)
    sig = apply_noise(signals(), "lsm6ds3", seed=np.random.SeedSequence(3))
    assert sig.noise_preset == "lsm6ds3"


# -------------------------------------------------------------------------------------------------- placement


def test_offset_on_a_spinning_body_adds_centripetal_acceleration():
    # Body at rest in position, spinning about world y at w; a sensor offset r along its x axis reads -w^2 r on x.
    fps, n, w, r = 100.0, 101, 3.0, 0.2
    t = np.arange(n) / fps
    rot = Rotation.from_rotvec(np.outer(w * t, [0, 1, 0])).as_matrix()
    pos = np.tile([0.0, 1.0, 0.0], (n, 1))
    pos2, rot2 = perturb_placement(pos, rot, offset_m=[r, 0.0, 0.0], mount_rotvec_deg=[0.0, 0.0, 0.0])
    np.testing.assert_allclose(rot2, rot)
    np.testing.assert_allclose(pos2 - pos, r * rot[:, :, 0])
    sig = simulate_imu(pos2, rot2, fps, method="spline")
    np.testing.assert_allclose(sig.acc_mps2, np.tile([-(w**2) * r, 9.81, 0.0], (n, 1)), atol=0.01)


def test_mounting_rotation_tilts_the_reading():
    n = 8
    pos, rot = np.zeros((n, 3)), np.tile(np.eye(3), (n, 1, 1))
    _, rot2 = perturb_placement(pos, rot, [0, 0, 0], [90.0, 0.0, 0.0])  # sensor y axis now along world z
    sig = simulate_imu(pos, rot2, 20.0)
    np.testing.assert_allclose(sig.acc_mps2, np.tile([0.0, 0.0, -9.81], (n, 1)), atol=1e-9)
    # per-sensor placements broadcast over (T, S)
    pos_s, rot_s = np.zeros((n, 2, 3)), np.tile(np.eye(3), (n, 2, 1, 1))
    p2, r2 = perturb_placement(pos_s, rot_s, [[0.1, 0, 0], [0, 0.2, 0]], [[0, 0, 0], [0, 0, 45.0]])
    np.testing.assert_allclose(p2[0], [[0.1, 0, 0], [0, 0.2, 0]])
    np.testing.assert_allclose(r2[0, 1], Rotation.from_rotvec([0, 0, np.pi / 4]).as_matrix())
    with pytest.raises(SimulationError, match="offset_m"):
        perturb_placement(pos_s, rot_s, np.zeros((3, 3)), [0, 0, 0])
    with pytest.raises(SimulationError, match="mount_rotvec_deg"):
        perturb_placement(pos, rot, [0, 0, 0], [np.nan, 0, 0])


def test_sample_placement_is_seeded_with_the_given_spread():
    a, b = sample_placement(5, n_sensors=3000), sample_placement(5, n_sensors=3000)
    assert a.offset_m.tobytes() == b.offset_m.tobytes() and a.offset_m.shape == (3000, 3)
    assert sample_placement(6).offset_m.tobytes() != sample_placement(5).offset_m.tobytes()
    assert a.offset_m.std() == pytest.approx(0.01, rel=0.05)
    assert a.mount_rotvec_deg.std() == pytest.approx(5.0, rel=0.05)
    zero = sample_placement(1, offset_sigma_m=0.0, mount_sigma_deg=0.0)
    assert not zero.offset_m.any() and not zero.mount_rotvec_deg.any()
    with pytest.raises(SimulationError):
        sample_placement(1, offset_sigma_m=-0.1)
