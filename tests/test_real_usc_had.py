import logging

import numpy as np
import pytest
from fixtures.real_datasets import G, usc_readings, write_usc_had
from scipy.io import savemat

from text2imu.benchmark.real import REAL_DATASETS, read_usc_had
from text2imu.builder.errors import FormatError


@pytest.fixture(scope="module")
def usc_root(tmp_path_factory):
    return write_usc_had(tmp_path_factory.mktemp("usc"))


def test_reads_converts_and_maps(usc_root, caplog):
    with caplog.at_level(logging.WARNING):
        recs = read_usc_had(usc_root.parent)
    assert [(r.subject, r.activity, r.session, r.n_samples) for r in recs] == [
        (1, "walking", "t1", 500),
        (1, "jumping", "t2", 300),
        (13, "walking", "t1", 500),
        (13, "lying", "t4", 400),
    ]
    assert recs.dropped == {"Elevator Up": 200}
    for rec in recs:
        number = {"walking": 1, "jumping": 7, "lying": 10}[rec.activity]
        raw = usc_readings(rec.subject, number, int(rec.session[1:]), rec.n_samples)
        np.testing.assert_allclose(rec.acc_mps2, raw[:, :3] * G, rtol=1e-6, atol=1e-6)  # g -> m/s^2
        np.testing.assert_allclose(rec.gyro_radps, np.deg2rad(raw[:, 3:]), rtol=1e-6)  # deg/s -> rad/s
        assert rec.site == "usc_had.hip" and rec.rate_hz == 100.0
        assert np.median(np.linalg.norm(rec.acc_mps2, axis=1)) == pytest.approx(G, rel=0.01)
    # a10t4.mat says activity_number 0: the file name wins, with a warning; activity_numbr is read as well.
    assert "a10t4.mat" in caplog.text and "activity_numbr" not in caplog.text
    assert len(REAL_DATASETS["usc_had"].read(usc_root / "Subject13")) == 2


def test_mat_without_readings_is_named(tmp_path):
    folder = tmp_path / "USC-HAD" / "Subject2"
    folder.mkdir(parents=True)
    savemat(folder / "a3t1.mat", {"title": "USC Human Motion Database", "readings": np.zeros((10, 6))})
    with pytest.raises(
        FormatError, match=r"a3t1\.mat: no 'sensor_readings' field \(found: readings, title\)"
    ):
        read_usc_had(tmp_path)


def test_bad_matrix_and_bad_file_are_named(tmp_path):
    folder = tmp_path / "Subject2"
    folder.mkdir()
    savemat(folder / "a3t1.mat", {"sensor_readings": np.zeros((10, 5))})
    with pytest.raises(FormatError, match=r"a3t1\.mat: 'sensor_readings' must be an \(N, 6\) matrix"):
        read_usc_had(tmp_path)
    (folder / "a3t1.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(FormatError, match=r"a3t1\.mat"):
        read_usc_had(tmp_path)
    (folder / "empty").mkdir()
    with pytest.raises(FormatError, match="no SubjectN folders"):
        read_usc_had(tmp_path / "Subject2" / "empty")
