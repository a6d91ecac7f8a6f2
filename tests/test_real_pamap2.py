import numpy as np
import pytest
from fixtures.real_datasets import (
    PAMAP2_S101_ANKLE_GAP,
    PAMAP2_S101_NAN_ALL,
    pamap2_acc16,
    write_pamap2,
)

from text2imu.benchmark.real import REAL_DATASETS, read_pamap2
from text2imu.builder.errors import FormatError, UnknownNameError


@pytest.fixture(scope="module")
def pamap_root(tmp_path_factory):
    return write_pamap2(tmp_path_factory.mktemp("pamap2"))


@pytest.fixture(scope="module")
def pamap(pamap_root):
    return read_pamap2(pamap_root.parent)  # the folder above PAMAP2_Dataset/ works too


def find(recs, subject, activity, site, segment=0):
    return next(
        r for r in recs if (r.subject, r.activity, r.site, r.segment) == (subject, activity, site, segment)
    )


def test_activities_sites_and_dropped_rows(pamap):
    assert sorted({(r.subject, r.activity) for r in pamap}) == [
        (101, "jumping"),
        (101, "lying"),
        (101, "walking"),
        (102, "climbingdown"),
        (102, "climbingup"),
    ]
    assert {r.site for r in pamap} == {"pamap2.hand", "pamap2.chest", "pamap2.ankle"}
    assert all(r.rate_hz == 100.0 and r.session == "protocol" and r.gyro_radps is not None for r in pamap)
    # Activity 0 (150 + 50 rows) and cycling (100 rows) are dropped and counted, per file row.
    assert pamap.dropped == {"cycling": 100, "other (transient)": 200}


def test_uses_the_16g_accelerometer_and_the_right_block(pamap):
    for site, index in (("pamap2.hand", 0), ("pamap2.chest", 1), ("pamap2.ankle", 2)):
        rec = find(pamap, 101, "lying", site)
        np.testing.assert_allclose(rec.acc_mps2, pamap2_acc16(site, 1, np.arange(150, 350)), rtol=1e-6)
        assert rec.acc_mps2[0, 1] == index
        np.testing.assert_allclose(rec.gyro_radps[0], [0.01, -0.02, 0.03], rtol=1e-6)


def test_nan_rows_are_interpolated_and_long_gaps_split(pamap):
    # Three all-NaN IMU rows inside rope jumping (rows 350-549): filled on the straight line of the values.
    for site in ("pamap2.hand", "pamap2.chest", "pamap2.ankle"):
        rec = find(pamap, 101, "jumping", site)
        assert rec.n_samples == 200 and np.isfinite(rec.acc_mps2).all()
        np.testing.assert_allclose(rec.acc_mps2, pamap2_acc16(site, 24, np.arange(350, 550)), rtol=1e-6)
    assert min(PAMAP2_S101_NAN_ALL) > 350
    # 0.8 s of ankle NaN inside walking (rows 650-799) is longer than 0.5 s: two pieces, the hole left out.
    first, second = (
        find(pamap, 101, "walking", "pamap2.ankle", 0),
        find(pamap, 101, "walking", "pamap2.ankle", 1),
    )
    assert (first.n_samples, second.n_samples) == (
        min(PAMAP2_S101_ANKLE_GAP) - 650,
        800 - max(PAMAP2_S101_ANKLE_GAP) - 1,
    )
    np.testing.assert_allclose(
        second.acc_mps2[0, 0], 9.8 + (max(PAMAP2_S101_ANKLE_GAP) + 1) / 1000, rtol=1e-6
    )
    assert find(pamap, 101, "walking", "pamap2.hand").n_samples == 150


def test_clock_jump_splits_a_resumed_activity(pamap):
    recs = [r for r in pamap if r.subject == 102 and r.activity == "climbingup" and r.site == "pamap2.chest"]
    assert [(r.segment, r.n_samples) for r in recs] == [(0, 120), (1, 80)]


def test_optional_sessions_and_site_selection(pamap_root):
    recs = REAL_DATASETS["pamap2"].read(pamap_root, sessions=["protocol", "optional"], sites=["pamap2.hand"])
    optional = [r for r in recs if r.session == "optional"]
    assert [(r.subject, r.activity, r.n_samples) for r in optional] == [(101, "sitting", 60)]
    assert recs.dropped["watching TV"] == 120
    assert {r.site for r in recs} == {"pamap2.hand"}
    with pytest.raises(UnknownNameError, match="Did you mean: pamap2.ankle"):
        read_pamap2(pamap_root, sites=["pamap2.ankel"])
    one = read_pamap2(pamap_root / "Protocol" / "subject102.dat")
    assert {r.subject for r in one} == {102}


def test_wrong_column_count_is_named(tmp_path, pamap_root):
    bad = tmp_path / "Protocol"
    bad.mkdir()
    lines = (pamap_root / "Protocol" / "subject101.dat").read_text().splitlines()
    (bad / "subject105.dat").write_text("\n".join(" ".join(line.split()[:53]) for line in lines) + "\n")
    with pytest.raises(FormatError, match=r"subject105\.dat: expected 54 columns per row, found 53"):
        read_pamap2(tmp_path)
    (bad / "subject105.dat").write_text("\n".join(lines[:5] + [lines[5] + " 1.0"] + lines[6:]) + "\n")
    with pytest.raises(FormatError, match=r"subject105\.dat"):
        read_pamap2(tmp_path)


def test_no_files_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="Protocol/subjectNNN.dat"):
        read_pamap2(tmp_path)
