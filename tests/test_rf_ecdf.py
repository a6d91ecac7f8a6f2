"""rf-ecdf (IMUGPT's classifier): ECDF features with known values, a separable problem learned, determinism."""

import numpy as np
import pytest
from fixtures.corpus_fixture import separable_signal

from text2imu.benchmark.models import MODELS
from text2imu.benchmark.protocol import Protocol
from text2imu.benchmark.rf_ecdf import (
    RfEcdfConfig,
    ecdf_features,
    ecdf_positions,
    fit_and_predict_rf_ecdf,
    train_rf_ecdf,
)
from text2imu.benchmark.windows import V1_WINDOWS, window_signals
from text2imu.builder.errors import Text2ImuError, UnknownNameError

SMALL = RfEcdfConfig(n_estimators=25, threads=1)


def test_v1_windows_are_imugpts_2s_windows_with_a_1s_hop():
    assert V1_WINDOWS.window_samples == 40 and V1_WINDOWS.step_samples == 20 and V1_WINDOWS.rate_hz == 20
    assert V1_WINDOWS.step_samples / V1_WINDOWS.rate_hz == 1.0


def test_features_of_a_shuffled_ramp_are_its_quantiles_and_mean():
    rng = np.random.default_rng(0)
    t, q = 40, 15
    ramp = np.arange(t, dtype=np.float32)  # sorted values 0..39: the order statistic i is i
    window = np.stack([rng.permutation(ramp) * (c + 1) - 3 * c for c in range(6)], axis=1)  # (40, 6)
    feats = ecdf_features(window[None], q)
    assert feats.shape == (1, 6 * (q + 1)) and feats.dtype == np.float32
    expected_idx = np.rint(np.linspace(0, t - 1, q))
    for c in range(6):
        np.testing.assert_allclose(feats[0, c * q:(c + 1) * q], expected_idx * (c + 1) - 3 * c)
        assert feats[0, 6 * q + c] == pytest.approx(ramp.mean() * (c + 1) - 3 * c)
    assert feats[0, 0] == 0 and feats[0, q - 1] == 39  # p = 0 is the minimum, p = 1 the maximum


def test_features_are_per_window_and_order_invariant_in_time():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40, 6)).astype(np.float32)
    feats = ecdf_features(x, 15)
    assert feats.shape == (5, 96)
    np.testing.assert_array_equal(ecdf_features(x[:, ::-1], 15), feats)  # a distribution, not a sequence
    np.testing.assert_array_equal(ecdf_features(x[2:3], 15), feats[2:3])
    np.testing.assert_allclose(feats[:, 90:], x.mean(axis=1), rtol=1e-5, atol=1e-6)
    assert ecdf_features(np.empty((0, 40, 6), np.float32)).shape == (0, 96)
    np.testing.assert_array_equal(ecdf_positions(40, 3), [0, 20, 39])


def test_bad_feature_inputs():
    with pytest.raises(Text2ImuError, match=r"\(N, T, C\)"):
        ecdf_features(np.zeros((40, 6)))
    with pytest.raises(Text2ImuError, match="n_quantiles"):
        ecdf_features(np.zeros((1, 40, 6)), 1)
    with pytest.raises(Text2ImuError, match="invalid rf-ecdf settings"):
        RfEcdfConfig(n_estimators=0)


def _windows(activities, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    sigs, acts, groups = [], [], []
    for act in activities:
        for p in range(3):
            acc, gyro = separable_signal(act, 100, rng, shift=shift)
            sigs.append(np.concatenate([acc, gyro], axis=1))
            acts.append(act)
            groups.append(f"{act}-{p}")
    ws = window_signals(sigs, acts, groups)
    labels = np.array([activities.index(a) for a in np.asarray(acts)[ws.source]])
    return ws, labels


def test_a_separable_problem_is_learned_and_a_seed_is_deterministic():
    classes = ["lying", "sitting", "walking", "climbingup"]
    train, y_train = _windows(classes, seed=0)
    test, y_test = _windows(classes, seed=1, shift=0.05)
    pred, info = fit_and_predict_rf_ecdf(train.x, y_train, test.x, seed=3, config=SMALL)
    assert pred.shape == y_test.shape and (pred == y_test).mean() > 0.9
    assert info["n_train_windows"] == len(y_train) and info["n_features"] == 96
    again, _ = fit_and_predict_rf_ecdf(train.x, y_train, test.x, seed=3, config=SMALL)
    np.testing.assert_array_equal(pred, again)
    # the seed decides the forest: the same seed grows the same trees, another seed other trees
    forests = [train_rf_ecdf(train.x, y_train, seed=s, config=SMALL) for s in (3, 3, 4)]
    imp = [f.feature_importances_ for f in forests]
    np.testing.assert_array_equal(imp[0], imp[1])
    assert not np.array_equal(imp[0], imp[2])


def test_the_registry_says_did_you_mean_and_rf_ignores_the_validation_split():
    with pytest.raises(UnknownNameError, match="Did you mean: rf-ecdf"):
        MODELS["rf-ecfd"]
    spec = MODELS["rf-ecdf"]
    assert not spec.needs_validation and MODELS["deepconvlstm"].needs_validation
    train, y = _windows(["lying", "walking"], seed=0)
    val = np.zeros(len(y), bool)
    val[::2] = True
    pred, info = spec.fit_predict(train, y, val, train.x[:4], 2, 0, Protocol(), SMALL)
    assert info["n_train_windows"] == len(y) and info["n_val_windows"] == 0 and pred.shape == (4,)
    d = spec.protocol_dict(Protocol(), SMALL)
    assert d["model_name"] == "rf-ecdf" and d["n_quantiles"] == 15 and d["window_samples"] == 40
    assert "epochs" not in d and d["threads"] == Protocol().train.threads
