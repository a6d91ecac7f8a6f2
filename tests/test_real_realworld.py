import logging
import shutil
import zipfile

import numpy as np
import pytest
from fixtures.real_datasets import (
    RW_ACTIVITIES,
    RW_GAP,
    RW_POSITIONS,
    RW_T0_MS,
    rw_code,
    write_realworld,
)

from text2imu.benchmark.real import REAL_DATASETS, read_realworld, resample_recording
from text2imu.builder.errors import FormatError, UnknownNameError


@pytest.fixture(scope="module")
def rw_root(tmp_path_factory):
    return write_realworld(tmp_path_factory.mktemp("rw"))


@pytest.fixture(scope="module")
def rw(rw_root):
    return read_realworld(rw_root)


def by_key(recs):
    return {(r.subject, r.activity, int(r.session), r.site.split(".")[1], r.segment): r for r in recs}


def test_every_csv_becomes_a_recording_with_its_own_values(rw):
    keys = by_key(rw)
    expected = set()
    for proband in (1, 2, 4):
        for activity in RW_ACTIVITIES:
            sessions = (
                [1, 2, 3]
                if (proband == 4 and activity.startswith("climbing"))
                else ([2] if (proband == 4 and activity == "walking") else [1])
            )
            for session in sessions:
                for position in RW_POSITIONS:
                    if (proband, activity, position) == (2, "climbingup", "forearm"):
                        continue  # missing in the dataset: skipped, not an error
                    expected.add((proband, activity, session, position, 0))
    expected.add((*RW_GAP, 1))  # the 1.2 s hole split this one in two
    assert set(keys) == expected
    for (proband, activity, session, position, _), rec in keys.items():
        code = rw_code(proband, activity, session, position)
        assert rec.activity == activity and rec.site == f"realworld.{position}" and rec.dataset == "realworld"
        np.testing.assert_allclose(rec.acc_mps2[:, 2], code, rtol=1e-6)  # acc of this very CSV
        np.testing.assert_allclose(rec.gyro_radps[:, 2], code / 10, rtol=1e-5)  # and the gyro beside it


def test_time_base_is_a_shared_20ms_grid_in_epoch_milliseconds(rw):
    for rec in rw:
        assert rec.rate_hz == 50.0 and rec.n_samples >= 2
        # acc x = 0.5 * t_s is linear in time, so interpolation onto the grid is exact: the grid times come back
        # as multiples of 20 ms of the wall clock, 20 ms apart (ms, not s or us).
        t_ms = RW_T0_MS + rec.acc_mps2[:, 0].astype(np.float64) / 0.5 * 1000.0
        steps = np.diff(t_ms)
        np.testing.assert_allclose(steps, 20.0, atol=0.05)
        assert abs((t_ms[0] - RW_T0_MS) / 20.0 - round((t_ms[0] - RW_T0_MS) / 20.0)) < 0.01
        np.testing.assert_allclose(rec.gyro_radps[:, 0], -0.4 * rec.acc_mps2[:, 0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rec.acc_mps2[:, 1], 9.81, rtol=1e-6)


def test_gap_splits_the_recording(rw):
    keys = by_key(rw)
    first, second = keys[(*RW_GAP, 0)], keys[(*RW_GAP, 1)]
    t_end_first = first.acc_mps2[-1, 0] / 0.5
    t_start_second = second.acc_mps2[0, 0] / 0.5
    assert t_start_second - t_end_first > 1.0  # seconds: nothing was interpolated across the hole
    assert first.n_samples > 100 and second.n_samples > 50


def test_ignores_sqlite_mag_images_and_reads_selected_sites(rw_root, caplog):
    # acc_walking_sqlite.zip is not a zip at all: reading succeeds only because it is never opened.
    with caplog.at_level(logging.WARNING):
        recs = read_realworld(
            rw_root / "proband2", activities=["climbingup"], sites=["realworld.forearm", "realworld.waist"]
        )
    assert [r.site for r in recs] == ["realworld.waist"]
    assert "forearm" in caplog.text
    with pytest.raises(UnknownNameError, match="Did you mean: realworld.waist"):
        read_realworld(rw_root, sites=["realworld.wasit"])
    with pytest.raises(UnknownNameError):
        read_realworld(rw_root, activities=["swimming"])


def test_flattened_layout_without_data_folder(tmp_path, rw_root):
    flat = tmp_path / "proband1"
    shutil.copytree(rw_root / "proband1" / "data", flat)
    recs = REAL_DATASETS["realworld"].read(tmp_path, activities=["jumping"])
    assert len(recs) == 7 and {r.subject for r in recs} == {1}


def test_resampled_to_20hz(rw):
    rec = next(
        r
        for r in rw
        if r.subject == 1 and r.activity == "walking" and r.segment == 0 and r.site == "realworld.waist"
    )
    out = resample_recording(rec)
    assert out.rate_hz == 20.0 and out.n_samples == int(np.ceil(rec.n_samples * 2 / 5))
    np.testing.assert_allclose(out.acc_mps2[5:-5, 2], rec.acc_mps2[0, 2], rtol=1e-4)


def test_missing_zip_is_named(tmp_path):
    root = write_realworld(tmp_path, probands=(1, 2))
    (root / "proband2" / "data" / "gyr_running_csv.zip").unlink()
    with pytest.raises(FormatError, match=r"proband2/data/gyr_running_csv\.zip"):
        read_realworld(root)
    assert len(read_realworld(root, activities=["walking"])) > 0  # fine when running is not asked for


def test_corrupt_zip_is_named(tmp_path):
    root = write_realworld(tmp_path, probands=(1,))
    (root / "proband1" / "data" / "acc_lying_csv.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FormatError, match=r"proband1/data/acc_lying_csv\.zip.*not a readable zip"):
        read_realworld(root)


def test_corrupt_inner_zip_is_named(tmp_path):
    root = write_realworld(tmp_path, probands=(4,))
    path = root / "proband4" / "data" / "gyr_climbingup_csv.zip"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["gyr_climbingup_2_csv.zip"] = b"not a zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(FormatError, match=r"gyr_climbingup_csv\.zip!gyr_climbingup_2_csv\.zip"):
        read_realworld(root, activities=["climbingup"])


def test_csv_without_time_column_is_named(tmp_path):
    root = write_realworld(tmp_path, probands=(1,))
    path = root / "proband1" / "data" / "acc_sitting_csv.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readMe", "x")
        z.writestr("acc_sitting_chest.csv", "id,time,attr_x,attr_y,attr_z\n1,2,3,4,5\n")
    with pytest.raises(FormatError, match=r"acc_sitting_csv\.zip!acc_sitting_chest\.csv.*attr_time"):
        read_realworld(root, activities=["sitting"])


def test_no_probands_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="no probandN folders"):
        read_realworld(tmp_path)


def test_missing_gyroscope_csv_gives_acc_only(tmp_path):
    root = write_realworld(tmp_path, probands=(1,))
    path = root / "proband1" / "data" / "gyr_sitting_csv.zip"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist() if n != "Gyroscope_sitting_head.csv"}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    recs = {r.site: r for r in read_realworld(root, activities=["sitting"])}
    assert recs["realworld.head"].gyro_radps is None and recs["realworld.head"].n_samples >= 50
    assert recs["realworld.chest"].gyro_radps is not None
