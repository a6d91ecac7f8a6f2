import zipfile

import numpy as np
import pytest
from fixtures.real_datasets import (
    HAPT_EXPERIMENTS,
    G,
    hapt_signals,
    hapt_text_number_re,
    write_hapt_folder,
    write_hapt_zips,
)

from text2imu.benchmark.real import REAL_DATASETS, read_uci_hapt
from text2imu.builder.errors import FormatError

HAPT_NAMES = {1: "walking", 2: "climbingup", 3: "climbingdown", 4: "sitting", 5: "standing", 6: "lying"}
# The README of ../shared/data: per-activity sample counts of activities 1-6 (at 50 Hz).
README_COUNTS = {1: 122091, 2: 116707, 3: 107961, 4: 126677, 5: 138105, 6: 136865}


def expected_segments():
    """[(exp, user, activity, start, end, segment index)] of the mapped segments of the fixture."""
    out = []
    for exp, user, _, segments in HAPT_EXPERIMENTS:
        for k, (act, start, end) in enumerate(segments):
            if act <= 6:
                out.append((exp, user, HAPT_NAMES[act], start, end, k))
    return out


def check_fixture_recordings(recs):
    assert [(int(r.session[3:]), r.subject, r.activity, r.n_samples, r.segment) for r in recs] == [
        (exp, user, act, end - start + 1, k) for exp, user, act, start, end, k in expected_segments()
    ]
    for rec, (exp, _, _, start, end, _) in zip(recs, expected_segments(), strict=True):
        n = next(n for e, _, n, _ in HAPT_EXPERIMENTS if e == exp)
        acc_g, gyro = hapt_signals(exp, n)
        # g -> m/s^2 with 9.80665; gyro already rad/s; the segment's rows inclusive of its end.
        np.testing.assert_allclose(rec.acc_mps2, (acc_g[start : end + 1] * G).astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(rec.gyro_radps, gyro[start : end + 1].astype(np.float32), rtol=1e-6)
        assert rec.site == "hapt.waist" and rec.rate_hz == 50.0 and rec.dataset == "uci_hapt"
        assert rec.session == f"exp{exp:02d}"
    # Transitions (7, 8, 11) and unlabelled stretches are dropped and counted.
    assert recs.dropped == {
        "SIT_TO_STAND": 40,
        "STAND_TO_LIE": 50,
        "STAND_TO_SIT": 60,
        "unlabelled": 50 + 20 + 10 + 10 + 10 + 10 + 20 + 10 + 20,
    }


def test_fixture_is_in_the_official_number_format(tmp_path):
    write_hapt_zips(tmp_path)
    with zipfile.ZipFile(tmp_path / "hapt_users01-20.zip") as z:
        first = z.read("HAPT/RawData/acc_exp01_user01.txt").decode().splitlines()[0].split(" ")
    assert len(first) == 3 and all(hapt_text_number_re().match(x) for x in first)


def test_reads_both_zips_from_their_folder(tmp_path):
    check_fixture_recordings(read_uci_hapt(write_hapt_zips(tmp_path)))


def test_reads_zips_given_one_by_one_and_the_extracted_folder(tmp_path):
    zips = write_hapt_zips(tmp_path / "zips")
    check_fixture_recordings(read_uci_hapt([zips / "hapt_users01-20.zip", zips / "hapt_users21-30.zip"]))
    only_first = read_uci_hapt(zips / "hapt_users01-20.zip")
    assert {r.subject for r in only_first} == {1, 2}
    check_fixture_recordings(read_uci_hapt(write_hapt_folder(tmp_path / "extracted")))
    via_registry = REAL_DATASETS["uci_hapt"].read(tmp_path / "extracted" / "HAPT Data Set")
    assert len(via_registry) == len(expected_segments())


def test_zip_without_rawdata_is_a_format_error_naming_it(tmp_path):
    path = tmp_path / "hapt_users01-20.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("HAPT/README.txt", "no signals here")
    with pytest.raises(FormatError, match=r"hapt_users01-20\.zip.*RawData"):
        read_uci_hapt(path)


def test_other_bad_inputs_name_the_file(tmp_path):
    zips = write_hapt_zips(tmp_path / "a")
    with pytest.raises(FormatError, match="experiment 4 is in both"):
        read_uci_hapt([zips / "hapt_users21-30.zip", zips / "hapt_users21-30.zip"])
    # A label row past the end of its experiment.
    folder = write_hapt_folder(tmp_path / "b")
    labels = folder / "HAPT Data Set" / "RawData" / "labels.txt"
    labels.write_text(labels.read_text() + "4 21 1 290 300\n")
    with pytest.raises(FormatError, match=r"labels\.txt.*outside experiment 4"):
        read_uci_hapt(folder)
    # A row with two numbers in an acc file.
    folder = write_hapt_folder(tmp_path / "c")
    acc = folder / "HAPT Data Set" / "RawData" / "acc_exp02_user01.txt"
    acc.write_text(acc.read_text() + "1.0 2.0\n")
    with pytest.raises(FormatError, match="acc_exp02_user01.txt"):
        read_uci_hapt(folder)
    # A gyro file missing.
    (folder / "HAPT Data Set" / "RawData" / "gyro_exp03_user02.txt").unlink()
    with pytest.raises(FormatError, match=r"gyro_exp03_user02\.txt is missing"):
        read_uci_hapt(folder)
    with pytest.raises(FormatError, match="no such file or folder"):
        read_uci_hapt(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def real_hapt(shared_data):
    return read_uci_hapt(shared_data / "uci-hapt")


def test_real_copy_matches_the_readme_counts(real_hapt):
    counts = {}
    for rec in real_hapt:
        counts[rec.activity] = counts.get(rec.activity, 0) + rec.n_samples
    assert counts == {HAPT_NAMES[k]: v for k, v in README_COUNTS.items()}
    assert len({r.subject for r in real_hapt}) == 30 and len({r.session for r in real_hapt}) == 61
    transitions = {
        "STAND_TO_SIT": 10316,
        "SIT_TO_STAND": 8029,
        "SIT_TO_LIE": 12428,
        "LIE_TO_SIT": 11150,
        "STAND_TO_LIE": 14418,
        "LIE_TO_STAND": 10867,
    }
    assert real_hapt.dropped == {
        **transitions,
        "unlabelled": 1_122_772 - sum(README_COUNTS.values()) - sum(transitions.values()),
    }


def test_real_copy_is_converted_from_g(real_hapt):
    acc = np.concatenate([r.acc_mps2 for r in real_hapt])
    median_g = np.median(np.linalg.norm(acc, axis=1)) / G
    assert median_g == pytest.approx(1.02, abs=0.01)
    gyro = np.concatenate([r.gyro_radps for r in real_hapt])
    assert np.abs(gyro).max() <= 10.5  # rad/s (saturates at +-10), not deg/s
    # Lying puts gravity on another axis than standing: labels reach the right samples.
    mean_x = {
        a: np.mean([r.acc_mps2[:, 0].mean() for r in real_hapt if r.activity == a])
        for a in ("lying", "standing")
    }
    assert mean_x["standing"] > 8.0 and abs(mean_x["lying"]) < 5.0
