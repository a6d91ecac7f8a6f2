"""`text2imu calibrate`: a calibrated corpus revision written from a tiny built corpus and fixture UCI HAPT data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.cli_run import run_cli
from fixtures.corpus import tiny
from fixtures.corpus_fixture import write_corpus_fixture

from text2imu.benchmark.calibrate_corpus import parse_subjects, resample_orientation, revision_name
from text2imu.benchmark.calibration import QuantileCalibration
from text2imu.benchmark.inputs import load_corpus_site, load_real
from text2imu.builder.corpus import build_corpus, sha256_file, verify_corpus
from text2imu.builder.rotations import axis_angle_to_quat
from text2imu.builder.vocab import ACTIVITIES
from text2imu.cli import main

SITE = "hapt.waist"
# walking and sitting are HAPT activities, jumping is not; stored at 50 Hz so the 20 Hz resampling is exercised
SPEC = tiny(prompt_ids=("walking-01", "sitting-01", "jumping-02"), rate_hz=50.0)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("src") / "corpus"
    build_corpus(SPEC, out, workers=1, progress=False)
    return out


def calibrate_argv(source, hapt, out, *extra, subjects="1"):
    return ["calibrate", source, "--real", "uci-hapt", "--data", hapt, "--site", SITE, "--calibration-subjects",
            subjects, "--out", out, "--no-progress", *extra]


@pytest.fixture(scope="module")
def calibrated(source, hapt, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cal") / "calibrated"
    assert main([str(a) for a in calibrate_argv(source, hapt, out)]) == 0
    return out


def test_calibrated_corpus_is_complete_and_verifies(source, calibrated):
    report = verify_corpus(calibrated)
    assert report.ok, report.problems
    files = sorted(p.relative_to(calibrated).as_posix() for p in calibrated.rglob("*") if p.is_file())
    assert files == ["README.md", "calibration.json",
                     *(f"data/{s}-{shape}/train-00000-of-00001.parquet" for s in ("hapt.waist", "realworld.head")
                       for shape in ("female_short", "male_tall")), "manifest.json"]
    src, new = (json.loads((f / "manifest.json").read_text()) for f in (source, calibrated))
    assert new["revision"] == f"build-{src['fingerprint'][:12]}+calibrated-uci-hapt-hapt.waist-s1"
    assert new["calibrated_from"]["fingerprint"] == src["fingerprint"] != new["fingerprint"]
    assert new["calibrated_from"]["manifest_sha256"] == sha256_file(source / "manifest.json")
    assert new["spec"] == src["spec"]
    # jumping rows of the site dropped (2 repetitions per shape), other site untouched
    assert new["configs"] == {"hapt.waist-female_short": 4, "hapt.waist-male_tall": 4,
                              "realworld.head-female_short": 6, "realworld.head-male_tall": 6}
    assert new["recordings"] == 20


def test_other_site_configs_are_byte_identical(source, calibrated):
    for shape in ("female_short", "male_tall"):
        rel = f"data/realworld.head-{shape}/train-00000-of-00001.parquet"
        assert sha256_file(calibrated / rel) == sha256_file(source / rel)
        rel = f"data/hapt.waist-{shape}/train-00000-of-00001.parquet"
        assert sha256_file(calibrated / rel) != sha256_file(source / rel)


def test_site_rows_are_calibrated_at_20_hz(calibrated):
    import datasets

    ds = datasets.load_dataset(str(calibrated), "hapt.waist-male_tall", split="train").with_format("numpy")
    names = [ACTIVITIES[int(a)] for a in ds["activity"]]
    assert sorted(set(names)) == ["sitting", "walking"]
    for rate, duration, acc, gyro, quat in zip(ds["rate_hz"], ds["duration_s"], ds["acc_mps2"], ds["gyro_radps"],
                                               ds["orientation_wxyz"], strict=True):
        assert rate == 20.0 and duration == pytest.approx((len(acc) - 1) / 20.0)
        assert acc.shape == gyro.shape == (len(acc), 3) and quat.shape == (len(acc), 4)
        np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-5)
    # the whole corpus still loads as one dataset
    assert datasets.load_dataset(str(calibrated), "default", split="train").num_rows == 20


def _quantiles(x: np.ndarray, probs) -> np.ndarray:
    return np.quantile(x.reshape(-1, x.shape[-1]), probs, axis=0)  # (P, C)


def test_distributions_moved_onto_the_calibration_subjects(source, calibrated, hapt):
    before, _ = load_corpus_site(source, SITE)
    after, info = load_corpus_site(calibrated, SITE)
    real, _ = load_real("uci_hapt", hapt, SITE)
    real = real.subset(real.groups == "1")
    assert sorted(info["windows_per_class"]) == ["sitting", "walking"]
    probs = np.linspace(0.1, 0.9, 9)
    for name in ("sitting", "walking"):
        k = ACTIVITIES.index(name)
        q_real = _quantiles(real.x[real.y == k], probs)
        q_before = _quantiles(before.x[before.y == k], probs)
        q_after = _quantiles(after.x[after.y == k], probs)
        spread = q_real[-1] - q_real[0] + 0.05  # per channel scale of the real distribution
        err_before = np.abs(q_before - q_real) / spread
        err_after = np.abs(q_after - q_real) / spread
        assert err_after.max() < 0.05, (name, err_after.max(axis=0))
        assert err_after.mean() < 0.05 * err_before.mean(), (name, err_after.mean(), err_before.mean())


def test_card_and_calibration_json_record_the_calibration(calibrated, hapt):
    record = json.loads((calibrated / "calibration.json").read_text())
    cal = QuantileCalibration.from_dict(record["calibration"])
    assert cal.classes == ("sitting", "walking") and cal.calibration_subjects == ("1",)
    assert cal.n_quantiles == 101 and cal.synthetic_quantiles.shape == (2, 6, 101)
    real, _ = load_real("uci_hapt", hapt, SITE)
    real = real.subset(real.groups == "1")
    assert record["real_windows_per_class"] == {a: n for a, n in real.counts().items() if a in cal.classes}
    assert record["dropped_rows_per_class"] == {"jumping": 4}
    assert record["stored_rates_hz"] == [50.0] and record["site"] == SITE
    # the real quantiles are those of subject 1's windows
    np.testing.assert_allclose(cal.real_quantiles[1, :, 50],
                               np.median(real.x[real.y == ACTIVITIES.index("walking")].reshape(-1, 6), axis=0),
                               rtol=1e-5)
    card = (calibrated / "README.md").read_text()
    section = card.split("## Calibration", 1)[1].split("## License", 1)[0]
    assert "subjects 1 only" in section and "101 quantiles" in section and "jumping 4" in section
    for name, n in record["real_windows_per_class"].items():
        assert f"| {name} | {n} | {record['synthetic_windows_per_class'][name]} |" in section
    assert sha256_file(calibrated / "calibration.json") in section
    assert record["revision"] in card.split("\n# ", 1)[1].splitlines()[0]
    assert "16 recordings" not in card and "20 recordings in 4 configs" in card


def test_force_replaces_a_calibrated_corpus(source, hapt, tmp_path, capsys):
    out = tmp_path / "cal"
    assert run_cli(calibrate_argv(source, hapt, out), capsys)[0] == 0
    code, stdout, _ = run_cli(calibrate_argv(source, hapt, out, "--force", "--n-quantiles", "11"), capsys)
    assert code == 0 and "revision" in stdout
    assert json.loads((out / "calibration.json").read_text())["calibration"]["probabilities"] == \
        np.linspace(0, 1, 11).tolist()
    assert verify_corpus(out).ok and sorted(p.name for p in tmp_path.iterdir()) == ["cal"]


def test_resample_orientation_follows_a_constant_rotation():
    rate_in, rate_out, n = 50.0, 20.0, 101
    angles = 0.02 * np.arange(n)  # rad per input sample, about z
    quat = np.stack([axis_angle_to_quat(np.array([0.0, 0.0, 1.0]) * a) for a in angles]).astype(np.float32)
    quat[1::3] *= -1  # sign flips must not matter
    out = resample_orientation(quat, 41, 2, 5)
    expect = np.stack([axis_angle_to_quat(np.array([0.0, 0.0, 1.0]) * 0.02 * i * rate_in / rate_out)
                       for i in range(41)])
    dots = np.abs(np.sum(out * expect, axis=1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-4)


def test_names():
    assert parse_subjects(" 9,1, 5,1 ") == ("1", "5", "9")
    manifest = {"fingerprint": "ab" * 32, "spec": {"version": "v0.2.0"}}
    assert revision_name(manifest, "uci_hapt", SITE, ("1", "5")) == "v0.2.0+calibrated-uci-hapt-hapt.waist-s1.5"


# --- bad input: exit 2, one line, nothing written -------------------------------------------------------------


def _bad(argv, capsys, parent: Path, pattern: str):
    before = sorted(p.name for p in parent.iterdir())
    code, out, err = run_cli(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("text2imu: error:"), err
    assert pattern in lines[0], lines[0]
    assert sorted(p.name for p in parent.iterdir()) == before


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"subjects": "1,99"}, "calibration subject(s) 99 not in uci-hapt"),
        ({"subjects": "2"}, "class(es) sitting have no real window in calibration subject(s) 2"),
        ({"subjects": ","}, "--calibration-subjects needs at least one subject"),
        ({"site": "realworld.waist"}, "has no configs of site 'realworld.waist'"),
        ({"site": "hapt.wiast"}, "Did you mean: hapt.waist"),
        ({"extra": ("--n-quantiles", "1")}, "--n-quantiles must be at least 2"),
        ({"real": "uci-hpat"}, "Did you mean: uci-hapt"),
    ],
)
def test_bad_input(source, hapt, tmp_path, capsys, changes, pattern):
    argv = calibrate_argv(source, hapt, tmp_path / "out", *changes.get("extra", ()),
                          subjects=changes.get("subjects", "1"))
    if "site" in changes:
        argv[argv.index("--site") + 1] = changes["site"]
    if "real" in changes:
        argv[argv.index("--real") + 1] = changes["real"]
    _bad(argv, capsys, tmp_path, pattern)


def test_existing_out_needs_force(source, hapt, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _bad(calibrate_argv(source, hapt, out), capsys, tmp_path, "exists and is not empty; pass --force")
    _bad(calibrate_argv(source, hapt, out, "--force"), capsys, tmp_path, "holds no text2imu corpus")
    assert (out / "keep.txt").read_text() == "mine"


def test_corpus_without_manifest(hapt, tmp_path, capsys):
    folder = write_corpus_fixture(tmp_path / "fixture", shapes=("male_tall",), prompts_per_activity=1)
    capsys.readouterr()  # the fixture writer's progress bars
    _bad(calibrate_argv(folder, hapt, tmp_path / "out"), capsys, tmp_path, "manifest.json: missing")


def test_output_inside_the_source_is_refused(source, hapt, capsys):
    _bad(calibrate_argv(source, hapt, source / "cal"), capsys, source, "must be outside the source corpus")


# --- benchmarking a calibrated corpus: its calibration subjects are never tested --------------------------------

def _bench(calibrated, hapt, out, *extra):
    return ["benchmark", calibrated, "--real", "uci-hapt", "--data", hapt, "--site", SITE, "--seeds", "2",
            "--threads", "1", "--jobs", "1", "--model", "rf-ecdf", "--out", out, *extra]


def test_benchmark_of_a_calibrated_corpus_keeps_its_subjects_out_of_the_test(calibrated, hapt, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, err = run_cli(_bench(calibrated, hapt, out), capsys)
    assert code == 0, err
    results = json.loads(out.read_text())
    assert results["task"]["calibration_subjects"] == ["1"]
    assert "1" not in results["mode"]["test_subjects"] and results["mode"]["test_subjects"]
    for seed in results["scores_per_seed"]:
        assert "1" not in [s for fold in seed["folds"] for s in fold["test_subjects"]]


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--test-subjects", "1,21"], "calibrated on uci_hapt subject(s) 1 (calibration.json); they cannot be test"),
        (["--calibration-subjects", "21"], "must name those or be left out"),
        (["--mode", "calibrated", "--calibration-subjects", "1"], "with mode synthetic, not calibrated"),
    ],
)
def test_benchmark_of_a_calibrated_corpus_refuses_to_test_its_subjects(calibrated, hapt, tmp_path, capsys, extra,
                                                                          pattern):
    out = tmp_path / "sub" / "r.json"
    code, _, err = run_cli(_bench(calibrated, hapt, out, *extra), capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and pattern in lines[0], err
    assert not out.parent.exists()
