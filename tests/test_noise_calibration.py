"""Calibration model fit and the measurement of the uci_hapt preset (text2imu.builder.noise_calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from text2imu.benchmark.real import Recording
from text2imu.builder.errors import Text2ImuError
from text2imu.builder.imu import ImuSignals
from text2imu.builder.noise import ChannelNoise, NoisePreset, apply_noise, get_noise_preset
from text2imu.builder.noise_calibration import (
    G_MPS2,
    STILL,
    Calibration,
    acc_gyro_coherence,
    acc_spectra_g,
    band_density,
    fit_calibration,
    half_power_frequency_hz,
    main,
    still_windows,
    turn_on_bias_sigma,
)

TRUE = Calibration(offset=(0.03, -0.012, 0.008), scale_error=(0.04, 0.015, -0.01), cross_axis=(-0.015, 0.004, 0.008))


def directions(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) unit vectors spread over the sphere."""
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("cross_axis", [False, True])
def test_fit_recovers_a_known_calibration_from_many_orientations(cross_axis):
    true = TRUE if cross_axis else Calibration(TRUE.offset, TRUE.scale_error)
    readings = true.apply(directions(400)) + 0.002 * np.random.default_rng(1).normal(size=(400, 3))
    fit = fit_calibration(readings, cross_axis=cross_axis)
    np.testing.assert_allclose(fit.offset, true.offset, atol=1e-3)
    np.testing.assert_allclose(fit.scale_error, true.scale_error, atol=2e-3)
    np.testing.assert_allclose(fit.cross_axis, true.cross_axis, atol=2e-3)
    assert np.abs(np.linalg.norm(fit.correct(readings), axis=1) - 1).max() < 0.01
    if not cross_axis:
        assert fit.cross_axis == (0.0, 0.0, 0.0)


def test_fit_rejects_too_few_or_bad_points():
    with pytest.raises(Text2ImuError, match="N >= 9"):
        fit_calibration(np.ones((5, 3)))
    with pytest.raises(Text2ImuError, match="N >= 9"):
        fit_calibration(np.full((20, 3), np.nan))


def recording(acc_mps2, activity="lying", subject=1, rate_hz=50.0, gyro=None) -> Recording:
    gyro = np.zeros_like(acc_mps2) if gyro is None else gyro
    return Recording("uci_hapt", subject, "exp01", activity, "hapt.waist", rate_hz, acc_mps2, gyro)


def test_still_windows_keep_still_seconds_of_the_middle_half_in_g():
    rng = np.random.default_rng(2)
    acc = np.tile([0.0, G_MPS2, 0.0], (400, 1)) + 0.01 * rng.normal(size=(400, 3))  # 8 s at 50 Hz
    acc[200:250] += [0.0, 2.0, 0.0] * np.sin(np.linspace(0, 20, 50))[:, None]  # one moving second
    acc[:100] += 3.0  # the first quarter is a transition, never used
    win = still_windows([recording(acc, subject=4), recording(acc, activity="walking")])
    assert len(win.mean_g) == 3  # 4 s in the middle half, one of them moving
    np.testing.assert_allclose(win.mean_g, np.tile([0, 1, 0], (3, 1)), atol=0.005)
    assert set(win.subject) == {4} and set(win.activity) == {"lying"} and set(win.recording) == {0}
    with pytest.raises(Text2ImuError, match="still windows"):
        still_windows([recording(acc, activity="walking")])


def test_turn_on_bias_sigma_measures_the_spread_left_per_recording():
    rng = np.random.default_rng(3)
    means, recs = [], []
    for r in range(300):
        bias = 0.004 * rng.normal(size=3)
        d = np.repeat(directions(1, seed=r), 5, axis=0) + 0.0005 * rng.normal(size=(5, 3))  # one still posture
        means.append(TRUE.apply(d) + bias)
        recs += [r] * 5
    windows = type("W", (), {})()
    windows.mean_g, windows.recording = np.concatenate(means), np.array(recs)
    assert turn_on_bias_sigma(windows, TRUE) == pytest.approx(0.004, rel=0.15)


def test_band_density_and_half_power_frequency_recover_a_known_sensor():
    density_g = np.array([0.001, 0.0015, 0.002])
    model = ChannelNoise(noise_density_per_sqrt_hz=tuple(density_g * G_MPS2), bandwidth_hz=12.0)
    n, recs = 3000, []
    for seed in range(6):
        clean = ImuSignals(np.tile([0, G_MPS2, 0], (n, 1)), np.zeros((n, 3)), np.tile([1.0, 0, 0, 0], (n, 1)), 50.0)
        noisy = apply_noise(clean, NoisePreset(name="s", acc_mps2=model), seed=seed)
        recs.append(recording(noisy.acc_mps2, activity="sitting"))
    freq, psd = acc_spectra_g(recs)
    assert psd.shape == (6, len(freq), 3)
    np.testing.assert_allclose(band_density(freq, psd, (1.0, 6.0)), density_g, rtol=0.08)
    assert half_power_frequency_hz(freq, psd, (1.0, 6.0)) == pytest.approx(12.0, abs=1.0)
    with pytest.raises(Text2ImuError, match="no still recordings"):
        acc_spectra_g(recs, activities=("lying",))


def test_coherence_is_low_for_independent_noise_and_high_for_shared_motion():
    rng = np.random.default_rng(4)
    n = 3000
    acc_noise, gyro_noise = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    independent = acc_gyro_coherence([recording(acc_noise, gyro=gyro_noise)], [(2.0, 10.0)])
    motion = np.repeat(rng.normal(size=(n, 1)), 3, axis=1)  # one motion seen by every axis of both sensors
    coupled = acc_gyro_coherence([recording(acc_noise * 0.2 + motion, gyro=gyro_noise * 0.2 + motion)],
                                 [(2.0, 10.0)])
    assert independent.max() < 0.35 and coupled.min() > 0.8


def test_the_preset_calibration_is_what_the_bundled_still_recordings_give():
    """Refit on the bundled 20 Hz HAPT still recordings (the same segments the preset was measured on at 50 Hz):
    the TOML's offset, scale and cross-axis figures come back within a fraction of their bootstrap spread."""
    from text2imu.benchmark.data import load_bundled_hapt

    windows = still_windows([r for r in load_bundled_hapt() if r.activity in STILL])
    fit = fit_calibration(windows.mean_g, cross_axis=True)
    preset = get_noise_preset("uci_hapt").acc_mps2.calibration
    np.testing.assert_allclose(np.array(fit.offset) * G_MPS2, preset.offset, atol=2e-3 * G_MPS2)
    np.testing.assert_allclose(fit.scale_error, preset.scale_error, atol=2e-3)
    np.testing.assert_allclose(fit.cross_axis, preset.cross_axis, atol=1e-3)


def test_axis_correspondence_x_up_standing_and_y_z_forward_lying():
    """The module docstring's argument: HAPT's phone reads gravity on +x standing, and on +y and +z lying on the
    back (both have a forward component), as our hapt.waist frame does at the front-left of the waist."""
    from text2imu.benchmark.data import load_bundled_hapt

    windows = still_windows([r for r in load_bundled_hapt() if r.activity in ("standing", "lying")])
    stand = np.median(windows.mean_g[windows.activity == "standing"], axis=0)
    lie = np.median(windows.mean_g[windows.activity == "lying"], axis=0)
    assert stand[0] > 0.95 and abs(stand[1]) < 0.3 and abs(stand[2]) < 0.3
    assert abs(lie[0]) < 0.2 and lie[1] > 0.4 and lie[2] > 0.4


@pytest.mark.parametrize(("argv", "message"), [
    (["--hapt", "/nonexistent/hapt"], "no such file or folder"),
    (["--hapt", "x", "--bootstrap", "1"], "--bootstrap"),
])
def test_command_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""


def test_command_without_hapt_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--hapt" in err and err.count("\n") == 1


@pytest.mark.slow
def test_command_remeasures_the_preset_figures(shared_data, capsys):
    """`python -m text2imu.builder.noise_calibration --hapt ../shared/data/uci-hapt` (2 bootstrap draws, ~15 s)
    prints the figures that data/noise_presets.toml holds."""
    hapt = shared_data / "uci-hapt"
    if not hapt.is_dir():
        pytest.skip(f"{hapt} not found")
    assert main(["--hapt", str(hapt), "--bootstrap", "2"]) == 0
    out = capsys.readouterr().out
    preset = get_noise_preset("uci_hapt").acc_mps2
    assert "-> preset: offset + scale + cross-axis" in out
    assert "offset_mg = [-13.6, -5.2, -4.1]" in out and "cross_axis_percent = [-1.77, 0.19, 0.85]" in out
    assert f"bias_sigma_mg = {preset.bias_sigma / G_MPS2 * 1e3:.1f}" in out
    density = ", ".join(f"{d / G_MPS2 * 1e6:.0f}" for d in preset.noise_density_per_sqrt_hz)
    assert f"noise_density_ug_per_sqrt_hz = [{density}]" in out
    assert f"bandwidth_hz = {preset.bandwidth_hz:.1f}" in out
