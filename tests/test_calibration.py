"""Per-class, per-channel quantile mapping (benchmark/calibration.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from text2imu.benchmark.calibration import (
    QuantileCalibration,
    apply_quantile_calibration,
    fit_quantile_calibration,
    map_values,
)
from text2imu.benchmark.windows import CHANNELS
from text2imu.builder.errors import Text2ImuError


def _windows(rng, n, mean, std, t=40, c=6):
    return (rng.standard_normal((n, t, c)) * std + mean).astype(np.float32)


def test_normal_onto_shifted_normal_per_class_and_channel():
    rng = np.random.default_rng(0)
    syn = np.concatenate([_windows(rng, 200, 0.0, 1.0), _windows(rng, 200, -5.0, 0.5)])
    syn_lab = np.array(["walking"] * 200 + ["sitting"] * 200)
    real_mean = np.array([3.0, -1.0, 9.81, 0.0, 0.5, -0.5])
    real_std = np.array([2.0, 0.5, 1.0, 0.1, 3.0, 1.5])
    real = np.concatenate([_windows(rng, 150, real_mean, real_std), _windows(rng, 150, -real_mean, 2 * real_std)])
    real_lab = np.array(["walking"] * 150 + ["sitting"] * 150)
    cal = fit_quantile_calibration(syn, syn_lab, real, real_lab, ["walking", "sitting"], ("1", "5"))
    assert cal.channels == CHANNELS
    assert cal.synthetic_quantiles.shape == (2, 6, 101)
    out = apply_quantile_calibration(cal, syn, syn_lab)
    assert out.shape == syn.shape and out.dtype == np.float32
    for name, mean, std in (("walking", real_mean, real_std), ("sitting", -real_mean, 2 * real_std)):
        got = out[syn_lab == name].reshape(-1, 6)
        np.testing.assert_allclose(got.mean(axis=0), mean, atol=0.05 * std.max() + 0.02)
        np.testing.assert_allclose(got.std(axis=0), std, rtol=0.05)
    # the two classes received different maps: the same input value maps differently
    probe = np.zeros((2, 6), np.float32)
    mapped = apply_quantile_calibration(cal, probe, ["walking", "sitting"])
    assert not np.allclose(mapped[0], mapped[1])


def test_map_is_monotone_and_extends_with_slope_one():
    rng = np.random.default_rng(1)
    syn = rng.gamma(2.0, size=(5000, 1))
    real = rng.standard_normal((3000, 1)) * 4 + 1
    cal = fit_quantile_calibration(syn, ["lying"] * 5000, real, ["lying"] * 3000, ["lying"], channels=("a",))
    v = np.linspace(-5, 40, 2001)[:, None]
    out = apply_quantile_calibration(cal, v, ["lying"] * v.shape[0])[:, 0]
    assert np.all(np.diff(out) >= 0)
    lo, hi = cal.synthetic_quantiles[0, 0, [0, -1]]
    beyond = v[:, 0] > hi + 1
    np.testing.assert_allclose(out[beyond] - out[beyond][0], v[beyond, 0] - v[beyond, 0][0], atol=1e-4)
    assert np.all(np.diff(out[v[:, 0] < lo]) > 0)


def test_identity_when_synthetic_equals_real():
    rng = np.random.default_rng(2)
    x = _windows(rng, 50, 1.0, 2.0)
    lab = np.array(["standing"] * 25 + ["walking"] * 25)
    cal = fit_quantile_calibration(x, lab, x, lab, ["standing", "walking"])
    np.testing.assert_allclose(apply_quantile_calibration(cal, x, lab), x, atol=1e-5)


def test_constant_and_tied_channels_do_not_break_the_map():
    rng = np.random.default_rng(3)
    syn = np.zeros((300, 2))
    syn[:, 1] = np.round(rng.standard_normal(300))  # heavy ties
    real = rng.standard_normal((300, 2)) + 4.0
    cal = fit_quantile_calibration(syn, ["lying"] * 300, real, ["lying"] * 300, ["lying"], channels=("c", "t"))
    out = apply_quantile_calibration(cal, syn, ["lying"] * 300)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], cal.real_quantiles[0, 0].mean(), rtol=1e-6)
    order = np.argsort(syn[:, 1], kind="stable")
    assert np.all(np.diff(out[order, 1]) >= 0)
    assert abs(out[:, 1].mean() - 4.0) < 0.3  # moved onto the real location


def test_integer_labels_index_the_activities():
    rng = np.random.default_rng(4)
    x = _windows(rng, 20, 0.0, 1.0)
    cal = fit_quantile_calibration(x, np.full(20, 7), x * 2, ["walking"] * 20, ["walking"])
    assert cal.classes == ("walking",)
    np.testing.assert_allclose(apply_quantile_calibration(cal, x, np.full(20, 7)), x * 2, atol=1e-4)


def test_to_dict_from_dict_round_trip_through_json():
    rng = np.random.default_rng(5)
    x = _windows(rng, 30, 0.0, 1.0)
    lab = ["running"] * 10 + ["jumping"] * 20
    cal = fit_quantile_calibration(x, lab, x + 1, lab, ["running", "jumping"], ["3", "7"], n_quantiles=11)
    back = QuantileCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back.classes == cal.classes and back.channels == cal.channels
    assert back.calibration_subjects == ("3", "7") and back.n_quantiles == 11
    np.testing.assert_array_equal(back.synthetic_quantiles, cal.synthetic_quantiles)
    np.testing.assert_array_equal(back.real_quantiles, cal.real_quantiles)
    np.testing.assert_array_equal(apply_quantile_calibration(back, x, lab), apply_quantile_calibration(cal, x, lab))


def test_map_values_matches_quantiles_at_the_knots():
    syn_q = np.array([0.0, 1.0, 2.0, 4.0])
    real_q = np.array([10.0, 11.0, 15.0, 16.0])
    np.testing.assert_allclose(map_values(syn_q, syn_q, real_q), real_q)
    np.testing.assert_allclose(map_values(np.array([3.0, -1.0, 5.0]), syn_q, real_q), [15.5, 9.0, 17.0])


# --- bad input -----------------------------------------------------------------------------------------------


def test_class_missing_from_real_calibration_set_is_named():
    rng = np.random.default_rng(6)
    x = _windows(rng, 10, 0.0, 1.0)
    with pytest.raises(Text2ImuError, match="'sitting'.*subjects 1, 5"):
        fit_quantile_calibration(x, ["walking"] * 5 + ["sitting"] * 5, x, ["walking"] * 10,
                                 ["walking", "sitting"], ["1", "5"])
    with pytest.raises(Text2ImuError, match="'lying' has no synthetic"):
        fit_quantile_calibration(x, ["walking"] * 10, x, ["lying"] * 10, ["lying"])


def test_apply_with_an_uncalibrated_label_is_named():
    rng = np.random.default_rng(7)
    x = _windows(rng, 10, 0.0, 1.0)
    cal = fit_quantile_calibration(x, ["walking"] * 10, x, ["walking"] * 10, ["walking"])
    with pytest.raises(Text2ImuError, match="jumping"):
        apply_quantile_calibration(cal, x, ["walking"] * 9 + ["jumping"])


@pytest.mark.parametrize(
    "x, labels",
    [
        (np.zeros((10, 40, 5)), ["walking"] * 10),  # wrong channel count
        (np.zeros((10, 40, 6)), ["walking"] * 9),  # labels shorter than x
        (np.zeros((10,)), ["walking"] * 10),  # not windows or samples
    ],
)
def test_apply_shape_mismatch(x, labels):
    rng = np.random.default_rng(8)
    w = _windows(rng, 10, 0.0, 1.0)
    cal = fit_quantile_calibration(w, ["walking"] * 10, w, ["walking"] * 10, ["walking"])
    with pytest.raises(Text2ImuError):
        apply_quantile_calibration(cal, x, labels)


def test_fit_bad_input():
    x = np.zeros((10, 40, 6))
    lab = ["walking"] * 10
    with pytest.raises(Text2ImuError, match="channels"):
        fit_quantile_calibration(x, lab, np.zeros((10, 40, 3)), lab, ["walking"])
    with pytest.raises(Text2ImuError, match="labels"):
        fit_quantile_calibration(x, lab[:3], x, lab, ["walking"])
    with pytest.raises(Text2ImuError, match="n_quantiles"):
        fit_quantile_calibration(x, lab, x, lab, ["walking"], n_quantiles=1)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(Text2ImuError, match="non-finite"):
        fit_quantile_calibration(x, lab, bad, lab, ["walking"])
    with pytest.raises(Text2ImuError, match="missing key"):
        QuantileCalibration.from_dict({"classes": ["walking"]})
