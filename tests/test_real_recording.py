import math

import numpy as np
import pytest

from text2imu.benchmark.real import (
    ACTIVITIES,
    REAL_DATASETS,
    REAL_SITES,
    Recording,
    Recordings,
    label_map,
    resample_recording,
    resample_recordings,
)
from text2imu.benchmark.real.recording import resampling_ratio
from text2imu.builder.errors import Text2ImuError, UnknownNameError


def make(n=500, rate_hz=50.0, gyro=True, **kw):
    t = np.arange(n) / 50.0
    acc = np.stack([np.full(n, 9.81), np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 15 * t)], axis=1)
    fields = dict(
        dataset="uci_hapt",
        subject=1,
        session="exp01",
        activity="walking",
        site="hapt.waist",
        rate_hz=rate_hz,
        acc_mps2=acc,
        gyro_radps=acc[:, ::-1] if gyro else None,
    )
    fields.update(kw)
    return Recording(**fields)


def test_recording_stores_read_only_float32():
    rec = make()
    assert rec.acc_mps2.dtype == np.float32 and rec.gyro_radps.dtype == np.float32
    assert rec.n_samples == 500 and rec.duration_s == pytest.approx(10.0)
    with pytest.raises(ValueError):
        rec.acc_mps2[0, 0] = 1.0
    assert make(gyro=False).gyro_radps is None


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(activity="walk"), "Did you mean: walking"),
        (dict(site="hapt.wiast"), "Did you mean: hapt.waist"),
        (dict(rate_hz=0), "rate_hz"),
        (dict(acc_mps2=np.zeros((5, 2))), "shape (T, 3)"),
        (dict(gyro_radps=np.zeros((4, 3))), "4 rows"),
        (dict(acc_mps2=np.full((500, 3), np.nan)), "NaN"),
    ],
)
def test_recording_rejects_bad_fields(kw, message):
    with pytest.raises(Text2ImuError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(**kw)


def test_vocabularies_are_the_design_ones():
    assert ACTIVITIES == (
        "climbingdown",
        "climbingup",
        "jumping",
        "lying",
        "running",
        "sitting",
        "standing",
        "walking",
    )
    assert len(REAL_SITES) == 12 and "usc_had.hip" in REAL_SITES and "realworld.upperarm" in REAL_SITES


def test_resampling_ratio_is_exact_for_dataset_rates():
    assert resampling_ratio(50, 20) == (2, 5)
    assert resampling_ratio(100, 20) == (1, 5)
    up, down = resampling_ratio(99.63, 20)  # a measured PAMAP2 rate: a close small fraction
    assert abs(up / down - 20 / 99.63) < 1e-3 and down <= 100


def test_resample_keeps_gravity_and_slow_motion_and_removes_aliases():
    rec = make(n=503)
    out = resample_recording(rec, 20)
    assert out.rate_hz == 20.0 and out.n_samples == math.ceil(503 * 2 / 5)
    # Gravity stays gravity up to the ends (no zero padding pulling the edges down).
    assert np.abs(out.acc_mps2[:, 0] - 9.81).max() < 2e-3
    # A 2 Hz wave passes unchanged (away from the ends).
    t = np.arange(out.n_samples) / 20.0
    assert np.abs(out.acc_mps2[10:-10, 1] - np.sin(2 * np.pi * 2 * t[10:-10])).max() < 1e-3
    # A 15 Hz wave, above the new 10 Hz Nyquist, is filtered out instead of folding to 5 Hz (naive decimation
    # would keep its full amplitude).
    assert np.sqrt(np.mean(out.acc_mps2[10:-10, 2] ** 2)) < 0.05
    assert out.gyro_radps.shape == out.acc_mps2.shape
    assert (out.dataset, out.subject, out.session, out.activity, out.site) == (
        rec.dataset,
        rec.subject,
        rec.session,
        rec.activity,
        rec.site,
    )


def test_resample_other_rates_and_edge_cases():
    rec = make(n=1000, rate_hz=100.0, gyro=False)
    out = resample_recording(rec)
    assert out.n_samples == 200 and out.gyro_radps is None
    assert resample_recording(out, 20) is out
    assert resample_recording(make(n=1), 20).n_samples == 1
    assert resample_recording(make(n=2), 20).n_samples == 1


def test_resample_recordings_keeps_dropped_counts():
    recs = Recordings([make(), make(n=100)], {"STAND_TO_SIT": 7})
    out = resample_recordings(recs)
    assert isinstance(out, Recordings) and out.dropped == {"STAND_TO_SIT": 7}
    assert [r.n_samples for r in out] == [200, 40]


def test_label_maps_cover_the_issue_mappings():
    hapt = label_map("uci_hapt")
    assert [hapt.activity(i) for i in range(1, 7)] == [
        "walking",
        "climbingup",
        "climbingdown",
        "sitting",
        "standing",
        "lying",
    ]
    assert all(hapt.activity(i) is None for i in range(7, 13)) and hapt.name(7) == "STAND_TO_SIT"
    pamap = label_map("pamap2")
    assert {k: pamap.activity(k) for k in (1, 2, 3, 4, 5, 12, 13, 24)} == {
        1: "lying",
        2: "sitting",
        3: "standing",
        4: "walking",
        5: "running",
        12: "climbingup",
        13: "climbingdown",
        24: "jumping",
    }
    assert all(pamap.activity(k) is None for k in (0, 6, 7, 9, 10, 11, 16, 17, 18, 19, 20))
    usc = label_map("usc_had")
    assert usc.activity(4) == "climbingup" and usc.activity(10) == "lying" and usc.activity(11) is None
    assert sorted(set(usc.activities.values())) == sorted(ACTIVITIES)
    rw = label_map("realworld")
    assert all(rw.activity(a) == a for a in ACTIVITIES)
    with pytest.raises(UnknownNameError, match="Did you mean: pamap2"):
        label_map("pamap")


def test_registry_has_the_four_datasets_with_metadata():
    assert sorted(REAL_DATASETS) == ["pamap2", "realworld", "uci_hapt", "usc_had"]
    for name in REAL_DATASETS:
        entry = REAL_DATASETS[name]
        assert entry.name == name and entry.license and entry.citation and callable(entry.reader)
        assert set(entry.sites) <= set(REAL_SITES)
    assert REAL_DATASETS["uci_hapt"].license == "CC BY 4.0"
    assert len(REAL_DATASETS["realworld"].sites) == 7
    with pytest.raises(UnknownNameError, match="Did you mean: uci_hapt"):
        REAL_DATASETS["uci-hapt"]
