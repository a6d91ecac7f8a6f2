import math
import re
from importlib import resources

import numpy as np
import pyarrow.parquet as pq
import pytest
from fixtures.real_datasets import HAPT_EXPERIMENTS, write_hapt_zips

from text2imu.benchmark.data import BUNDLE_FILE, load_bundled_hapt
from text2imu.benchmark.data.hapt_bundle import (
    ACC_STEP_MPS2,
    GYRO_STEP_RADPS,
    build_hapt_bundle,
    bundle_path,
    recordings_from_table,
    sha256_of,
)
from text2imu.benchmark.data.make_hapt_bundle import main as make_bundle_main
from text2imu.benchmark.real import ACTIVITIES

# ../shared/data README: samples per activity at 50 Hz (1 WALKING ... 6 LAYING).
README_COUNTS_50HZ = {
    "walking": 122091,
    "climbingup": 116707,
    "climbingdown": 107961,
    "sitting": 126677,
    "standing": 138105,
    "lying": 136865,
}
README = resources.files("text2imu.benchmark.data").joinpath("README.md")


@pytest.fixture(scope="module")
def bundle():
    return load_bundled_hapt()


def test_bundle_is_small_and_has_30_subjects_and_six_classes(bundle):
    assert bundle_path().stat().st_size < 4_000_000
    assert len(bundle) == 856
    assert {r.subject for r in bundle} == set(range(1, 31))
    assert {r.activity for r in bundle} == set(README_COUNTS_50HZ) and set(README_COUNTS_50HZ) < set(
        ACTIVITIES
    )
    assert all(r.rate_hz == 20.0 and r.site == "hapt.waist" and r.dataset == "uci_hapt" for r in bundle)
    assert all(r.acc_mps2.dtype == np.float32 and r.gyro_radps.shape == r.acc_mps2.shape for r in bundle)
    acc = np.concatenate([r.acc_mps2 for r in bundle])
    assert np.median(np.linalg.norm(acc, axis=1)) == pytest.approx(1.02 * 9.80665, rel=0.01)  # m/s^2, not g


def test_per_class_durations_match_the_raw_counts_resampled(bundle):
    for activity, n_50hz in README_COUNTS_50HZ.items():
        recs = [r for r in bundle if r.activity == activity]
        n_20hz = sum(r.n_samples for r in recs)
        # Each segment of n samples becomes ceil(2 n / 5): the total exceeds 2/5 of the raw count by < 1 per segment.
        assert 0 <= n_20hz - n_50hz * 2 / 5 < len(recs)
        assert sum(r.duration_s for r in recs) == pytest.approx(n_50hz / 50.0, abs=len(recs) / 20.0)


def test_values_sit_on_the_stated_grid(bundle):
    for rec in bundle[:50]:
        acc, gyro = rec.acc_mps2.astype(np.float64), rec.gyro_radps.astype(np.float64)
        np.testing.assert_array_equal(acc / ACC_STEP_MPS2, np.round(acc / ACC_STEP_MPS2))
        np.testing.assert_array_equal(gyro / GYRO_STEP_RADPS, np.round(gyro / GYRO_STEP_RADPS))


def test_readme_states_the_bundle_sha256_and_license():
    text = README.read_text(encoding="utf-8")
    assert sha256_of(bundle_path()) in text
    assert "CC BY 4.0" in text and "Reyes-Ortiz" in text and "doi:10.1016/j.neucom.2015.07.085" in text
    assert re.search(rf"{re.escape(BUNDLE_FILE)}` \({bundle_path().stat().st_size:,} bytes\)", text)


def test_rebuilding_from_the_real_zips_reproduces_the_sha256(shared_data, tmp_path):
    out = tmp_path / BUNDLE_FILE
    assert make_bundle_main(["--zips", str(shared_data / "uci-hapt"), "--out", str(out)]) == 0
    assert sha256_of(out) == sha256_of(bundle_path())


def test_build_from_fixture_round_trips(tmp_path):
    zips = write_hapt_zips(tmp_path / "zips")
    out = tmp_path / "bundle.parquet"
    sha = build_hapt_bundle(zips, out)
    assert sha == build_hapt_bundle(zips, tmp_path / "again.parquet")  # deterministic bytes
    recs = recordings_from_table(pq.read_table(out))
    mapped = [
        (exp, k, end - start + 1)
        for exp, _, _, segs in HAPT_EXPERIMENTS
        for k, (act, start, end) in enumerate(segs)
        if act <= 6
    ]
    assert [(int(r.session[3:]), r.segment, r.n_samples) for r in recs] == [
        (exp, k, math.ceil(n * 2 / 5)) for exp, k, n in mapped
    ]
    assert recs[0].acc_mps2[:, 0].mean() == pytest.approx((1.01) * 9.80665, rel=0.01)
