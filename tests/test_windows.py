"""Windows of protocol v1: counts, 50 % overlap, straddling and unlabelled windows dropped, labels and groups."""

from dataclasses import replace

import numpy as np
import pytest
from fixtures.corpus_fixture import fake_real_recordings

from text2imu.benchmark.real import resample_recording
from text2imu.benchmark.windows import (
    WindowSpec,
    labelled_windows,
    n_windows,
    sliding_windows,
    window_recordings,
    window_signals,
)
from text2imu.builder.errors import Text2ImuError
from text2imu.builder.vocab import ACTIVITIES


def test_v1_spec_is_40_samples_with_a_20_sample_step():
    spec = WindowSpec()
    assert (spec.window_samples, spec.step_samples) == (40, 20)
    assert WindowSpec(rate_hz=50, window_s=2, overlap=0.5).window_samples == 100
    with pytest.raises(Text2ImuError):
        WindowSpec(overlap=1.0)


@pytest.mark.parametrize(("t", "expected"), [(0, 0), (39, 0), (40, 1), (59, 1), (60, 2), (100, 4), (101, 4)])
def test_window_count(t, expected):
    assert n_windows(t, 40, 20) == expected
    assert len(sliding_windows(np.zeros((t, 6)), 40, 20)) == expected


def test_windows_hold_the_right_samples_and_overlap_by_half():
    x = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
    w = sliding_windows(x, 40, 20)
    assert w.shape == (4, 40, 2)
    for i in range(4):
        np.testing.assert_array_equal(w[i], x[20 * i : 20 * i + 40])
    np.testing.assert_array_equal(w[1][:20], w[0][20:])  # 50 % overlap
    w[0, 0, 0] = -1  # a copy, not a view
    assert x[0, 0] == 0


def test_straddling_and_unlabelled_windows_are_dropped():
    x = np.random.default_rng(0).standard_normal((140, 3))
    labels = np.r_[np.zeros(50), np.ones(50), np.full(40, -1)].astype(int)
    win, y, starts = labelled_windows(x, labels, 40, 20)
    # starts 0..100 by 20: [0,40) label 0; [20,60) and [40,80) straddle; [60,100) label 1; [80,120) and
    # [100,140) hold unlabelled samples.
    np.testing.assert_array_equal(starts, [0, 60])
    np.testing.assert_array_equal(y, [0, 1])
    np.testing.assert_array_equal(win[1], x[60:100])


def test_window_signals_labels_groups_and_sources():
    sigs = [np.ones((80, 6)), np.ones((39, 6)), 2 * np.ones((60, 6))]
    ws = window_signals(sigs, ["walking", "lying", "running"], ["p1", "p2", "p3"])
    assert ws.x.shape == (3 + 0 + 2, 40, 6) and ws.x.dtype == np.float32
    assert [ACTIVITIES[k] for k in ws.y] == ["walking"] * 3 + ["running"] * 2
    assert ws.groups.tolist() == ["p1"] * 3 + ["p3"] * 2
    assert ws.source.tolist() == [0, 0, 0, 2, 2]
    assert ws.counts() == {"running": 2, "walking": 3}
    with pytest.raises(Text2ImuError, match="dancing"):
        window_signals([np.ones((40, 6))], ["dancing"], ["p"])


def test_window_recordings_acc_then_gyro_grouped_by_subject():
    recs = fake_real_recordings(activities=("walking",), subjects=(3, 7), segments_per_activity=1, seconds=3)
    ws = window_recordings(recs)
    assert ws.x.shape == (4, 40, 6)  # 60 samples -> 2 windows per recording
    np.testing.assert_array_equal(ws.x[0, :, :3], recs[0].acc_mps2[:40])
    np.testing.assert_array_equal(ws.x[0, :, 3:], recs[0].gyro_radps[:40])
    assert ws.groups.tolist() == ["3", "3", "7", "7"]
    with pytest.raises(Text2ImuError, match="resample"):
        window_recordings([resample_recording(recs[0], 50.0)])
    with pytest.raises(Text2ImuError, match="no gyro"):
        window_recordings([replace(recs[0], gyro_radps=None)])
