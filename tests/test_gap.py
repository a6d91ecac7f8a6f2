"""The domain gap: catch22 features (constant windows), separability AUC, Fréchet distance, figures, gap JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from text2imu.benchmark.gap import GapConfig, domain_gap, read_gap, validate_gap, write_gap
from text2imu.benchmark.gap_features import (
    N_CATCH22,
    catch22_features,
    frechet_distance,
    pooled_standardise,
    separability_auc,
    subsample_per_class,
)
from text2imu.benchmark.windows import WindowSet
from text2imu.builder.errors import FormatError
from text2imu.builder.vocab import ACTIVITIES
from text2imu.cli import main


def make_windows(activities, n_rec: int, per_rec: int, seed: int, freq_hz: float = 1.5, noise: float = 0.5,
                 amp: float = 2.0) -> WindowSet:
    """Windows (N, 40, 6) of n_rec recordings per activity: gravity on z, a sinusoid on x, white noise."""
    rng = np.random.default_rng(seed)
    xs, ys, src = [], [], []
    t = np.arange(40) / 20.0
    rec = 0
    for act in activities:
        k = ACTIVITIES.index(act)
        for _ in range(n_rec):
            for _ in range(per_rec):
                w = rng.normal(0.0, noise, (40, 6))
                w[:, 0] += amp * np.sin(2 * np.pi * (freq_hz + 0.2 * k) * t + rng.uniform(0, 2 * np.pi))
                w[:, 2] += 9.81
                xs.append(w)
                ys.append(k)
                src.append(rec)
            rec += 1
    n = len(ys)
    return WindowSet(np.asarray(xs, np.float32), np.asarray(ys, np.int64), np.array(["s"] * n), np.asarray(src))


def test_constant_axes_get_zero_features_and_are_counted():
    rng = np.random.default_rng(0)
    acc = rng.normal(0, 1, (4, 40, 3))
    acc[1, :, 2] = 9.81  # one constant axis
    acc[3] = 0.0  # three constant axes
    feats, info = catch22_features(acc)
    assert feats.shape == (4, 3 * N_CATCH22)
    assert np.isfinite(feats).all()
    assert (feats[1, 2 * N_CATCH22:] == 0).all() and (feats[1, :2 * N_CATCH22] != 0).any()
    assert (feats[3] == 0).all()
    assert (info["n_constant_axes"], info["n_windows_with_constant_axis"]) == (4, 2)
    # Without the rule catch22 returns arbitrary numbers for a constant series: the rule is what makes these 0.
    import pycatch22

    assert max(abs(v) for v in pycatch22.catch22_all([9.81] * 40)["values"]) > 1.0


def test_catch22_features_refuse_bad_input():
    from text2imu.builder.errors import Text2ImuError

    with pytest.raises(Text2ImuError, match="NaN"):
        catch22_features(np.full((1, 40, 3), np.nan))
    with pytest.raises(Text2ImuError, match="acc windows"):
        catch22_features(np.zeros((2, 40)))


def test_subsample_per_class_is_seeded_and_capped():
    y = np.array([0] * 10 + [1] * 3)
    a, b = subsample_per_class(y, 4, 7), subsample_per_class(y, 4, 7)
    assert np.array_equal(a, b)
    assert np.bincount(y[a]).tolist() == [4, 3]
    assert not np.array_equal(a, subsample_per_class(y, 4, 8))


def test_frechet_identical_is_zero_and_shift_is_its_square():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 5))
    assert frechet_distance(a, a)[0] == pytest.approx(0.0, abs=1e-6)
    d, _ = frechet_distance(a, a + 2.0)  # mean shift of 2 on 5 axes -> 5 * 4
    assert d == pytest.approx(20.0, rel=1e-6)


def test_frechet_singular_covariance_adds_eps():
    rng = np.random.default_rng(2)
    a = np.concatenate([rng.normal(size=(50, 3)), np.zeros((50, 1))], axis=1)  # a constant feature
    d, used_eps = frechet_distance(a, a)
    assert used_eps and d == pytest.approx(0.0, abs=1e-4)


def test_auc_near_half_for_one_distribution_and_near_one_for_two():
    acts = ["walking", "sitting"]
    real = make_windows(acts, 8, 6, seed=0)
    same = make_windows(acts, 8, 6, seed=1)
    other = make_windows(acts, 8, 6, seed=2, freq_hz=4.0, noise=0.05, amp=0.5)
    fr, _ = catch22_features(real.x[:, :, :3])
    fs, _ = catch22_features(same.x[:, :, :3])
    fo, _ = catch22_features(other.x[:, :, :3])
    label = np.r_[np.zeros(len(fr)), np.ones(len(fs))]
    groups = np.r_[[f"r{s}" for s in real.source], [f"s{s}" for s in same.source]]
    auc_same = separability_auc(np.concatenate([fr, fs]), label, groups, folds=4, seed=0)
    auc_diff = separability_auc(np.concatenate([fr, fo]), label, groups, folds=4, seed=0)
    assert 0.3 < auc_same["mean"] < 0.7
    assert auc_diff["mean"] > 0.95
    assert auc_same["n_folds"] == 4 and len(auc_same["per_fold"]) == 4
    zr, zs = pooled_standardise(fr, fs)
    zr2, zo = pooled_standardise(fr, fo)
    assert frechet_distance(zr, zs)[0] < 0.5 * frechet_distance(zr2, zo)[0]


def test_auc_folds_never_split_a_recording():
    from text2imu.builder.errors import Text2ImuError

    feats = np.random.default_rng(0).normal(size=(20, 3))
    label = np.r_[np.zeros(10), np.ones(10)]
    with pytest.raises(Text2ImuError, match="at least 2 recordings"):
        separability_auc(feats, label, np.array(["a"] * 10 + ["b"] * 10))


def test_domain_gap_writes_figures_and_notes_missing_high_dynamic(tmp_path, caplog):
    real = make_windows(["walking", "sitting", "climbingup"], 3, 4, seed=0)
    synth = make_windows(["walking", "sitting", "running"], 3, 4, seed=1)
    gap = domain_gap(real, synth, GapConfig(cap_per_class=5, folds=3), out_dir=tmp_path, real_name="fake")
    assert gap["classes"] == ["sitting", "walking"]  # shared only
    assert gap["n_windows"] == {"real": 10, "synthetic": 10}  # capped at 5 per activity per side
    assert gap["figures"]["high_dynamic_present"] is False
    assert gap["figures"]["high_dynamic_classes"] == ["walking"]
    assert "no high-dynamic activity" in caplog.text
    for name in ("tsne_all.png", "tsne_high_dynamic.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _gap_doc(**changes) -> dict:
    doc = {"schema_version": 1, "kind": "gap", "task": {"generator": "g", "corpus_revision": "r",
           "real_dataset": "uci_hapt", "site": "hapt.waist", "real_site": "hapt.waist"}, "config": {},
           "classes": ["walking"], "gap": {"auc": {"mean": 0.7, "std": 0.1}, "frechet": {"value": 3.0}},
           "created_utc": "2025-01-01T00:00:00Z"}
    doc.update(changes)
    return doc


def test_gap_json_round_trip_and_unknown_schema_refused(tmp_path):
    path = write_gap(tmp_path / "g.gap.json", _gap_doc())
    assert read_gap(path)["gap"]["auc"]["mean"] == 0.7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_gap_doc(schema_version=2)))
    with pytest.raises(FormatError, match=r"schema_version 2 is not supported"):
        read_gap(bad)
    with pytest.raises(FormatError, match="auc.mean"):
        validate_gap(_gap_doc(gap={"auc": {"mean": 1.5}, "frechet": {"value": 1.0}}))


def test_gap_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "gap"
    assert main(["gap", str(tmp_path / "nope"), "--real", "uci-hapt", "--site", "hapt.waist", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]
    assert not out.exists()
    assert main(["gap", str(tmp_path), "--real", "uci-hapt", "--site", "hapt.wiast", "--out", str(out)]) == 2
    assert "hapt.waist" in capsys.readouterr().err
    assert not out.exists()
