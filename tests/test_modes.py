"""Training modes (synthetic, real, mixed, calibrated) with rf-ecdf and DeepConvLSTM: fold and fraction
bookkeeping (no test subject ever trains, validates or calibrates; every other subject tested once per seed),
the calibration changes the training windows, results and file names per mode, the leaderboard ranks protocol v1
only, and every bad input."""

import json
from dataclasses import replace

import numpy as np
import pytest
from fixtures.cli_run import assert_bad_cli, run_cli
from fixtures.corpus_fixture import separable_signal

from text2imu.benchmark.data import load_bundled_hapt
from text2imu.benchmark.deepconvlstm import TrainConfig
from text2imu.benchmark.leaderboard import collect, render_rows
from text2imu.benchmark.modes import ModeSetup, fraction_subjects, prepare_mode_task, run_mode_seed
from text2imu.benchmark.protocol import Protocol, SyntheticTask, restrict, run_synthetic_seed
from text2imu.benchmark.results import default_file_name, read_results
from text2imu.benchmark.rf_ecdf import RfEcdfConfig
from text2imu.benchmark.windows import window_recordings, window_signals
from text2imu.builder.errors import Text2ImuError, UnknownNameError

CLASSES = ("climbingdown", "climbingup", "lying", "sitting", "standing", "walking")
SUBJECTS = ("1", "2", "3", "4", "5", "6")
RF = RfEcdfConfig(n_estimators=15, threads=1)
FAST = Protocol(train=TrainConfig(epochs=1, patience=1, batch_size=64, threads=1))


@pytest.fixture(scope="module")
def real():
    """Bundled HAPT, subjects 1-6, every third window (about 850 windows)."""
    recs = [r for r in load_bundled_hapt() if str(r.subject) in SUBJECTS]
    ws = window_recordings(recs)
    return restrict(ws.subset(np.arange(len(ws)) % 3 == 0), CLASSES)


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    sigs, acts, groups = [], [], []
    for act in CLASSES:
        for p in range(3):
            acc, gyro = separable_signal(act, 80, rng)
            sigs.append(np.concatenate([acc, gyro], axis=1))
            acts.append(act)
            groups.append(f"{act}-{p:02d}")
    return restrict(window_signals(sigs, acts, groups), CLASSES)


def task_of(setup, real, synthetic, protocol=FAST):
    setup = replace(setup, rf=RF)
    return prepare_mode_task(setup, *synthetic, *real, CLASSES, "uci_hapt", protocol)


@pytest.mark.parametrize(("mode", "model"), [("real", "rf-ecdf"), ("mixed", "rf-ecdf"), ("mixed", "deepconvlstm")])
def test_folds_never_train_or_validate_on_a_test_subject(mode, model, real, synthetic):
    folds = "loso" if model == "rf-ecdf" else 2
    task, info = task_of(ModeSetup(mode, model, calibration_subjects=("2",), folds=folds), real, synthetic)
    assert info["calibration_subjects"] == ["2"] and info["test_subjects"] == ["1", "3", "4", "5", "6"]
    for seed in (0, 1):
        out = run_mode_seed(task, seed)
        tested = [s for f in out["folds"] for s in f["test_subjects"]]
        assert sorted(tested) == sorted(info["test_subjects"])  # every non-calibration subject exactly once
        for fold in out["folds"]:
            used = set(fold["train_subjects"]) | set(fold["val_subjects"])
            assert not used & set(fold["test_subjects"])
            assert used <= set(SUBJECTS) - set(fold["test_subjects"])
            assert fold["n_real_pool_subjects"] == len(SUBJECTS) - len(fold["test_subjects"])
        n_test = int(np.isin(real[0].groups, info["test_subjects"]).sum())
        assert out["n_windows"] == n_test == sum(f["n_test_windows"] for f in out["folds"])
    if model == "deepconvlstm":  # early stopping on training subjects and prompts, never on the test fold
        assert all(f["val_subjects"] and f["val_groups"] for f in out["folds"])
    else:
        assert all(f["n_val_windows"] == 0 for f in out["folds"])
    if mode == "mixed":
        syn = len(synthetic[1])
        assert all(f["n_synthetic_windows"] == syn and f["n_train_windows"] > syn for f in out["folds"])


def test_the_calibration_subject_may_train_but_is_never_tested(real, synthetic):
    task, _ = task_of(ModeSetup("real", "rf-ecdf", calibration_subjects=("2",), folds="loso"), real, synthetic)
    out = run_mode_seed(task, 0)
    assert all("2" in f["train_subjects"] for f in out["folds"])
    assert all("2" not in f["test_subjects"] for f in out["folds"])


def test_real_fraction_keeps_a_seeded_nested_share_of_each_folds_subjects(real, synthetic):
    task, info = task_of(ModeSetup("real", "rf-ecdf", real_fraction=0.4, folds="loso"), real, synthetic)
    assert info["real_fraction"] == 0.4
    out = run_mode_seed(task, 0)
    for fold in out["folds"]:  # 5 other subjects per LOSO fold: round(0.4 * 5) = 2 of them
        assert len(fold["train_subjects"]) == 2 and fold["n_real_pool_subjects"] == 5
    pool = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    small, large = fraction_subjects(pool, 0.3, 7, 1), fraction_subjects(pool, 0.7, 7, 1)
    assert len(small) == 3 and len(large) == 7 and set(small) <= set(large)
    assert fraction_subjects(pool, 0.01, 7, 1) and len(fraction_subjects(pool, 0.01, 7, 1)) == 1
    assert fraction_subjects(pool, 1.0, 7, 1) == sorted(pool, key=int)
    picks = {tuple(fraction_subjects(pool, 0.3, s, 1)) for s in range(6)}
    assert len(picks) > 1  # the seed chooses


def test_synthetic_and_calibrated_train_once_and_test_the_same_subjects(real, synthetic):
    results = {}
    for mode in ("synthetic", "calibrated"):
        task, info = task_of(ModeSetup(mode, "rf-ecdf", calibration_subjects=2), real, synthetic)
        out = run_mode_seed(task, 0)
        assert len(out["folds"]) == 1 and out["folds"][0]["train_subjects"] == []
        assert info["folds"].startswith("none") and info["real_fraction"] is None
        results[mode] = (info, out)
    info_s, info_c = results["synthetic"][0], results["calibrated"][0]
    assert info_s["calibration_subjects"] == info_c["calibration_subjects"] and len(info_c["calibration_subjects"]) == 2
    assert info_s["test_subjects"] == info_c["test_subjects"]
    assert results["synthetic"][1]["n_windows"] == results["calibrated"][1]["n_windows"]
    assert not set(info_c["test_subjects"]) & set(info_c["calibration_subjects"])


def test_calibrated_mode_maps_the_synthetic_windows_onto_the_calibration_subjects(real, synthetic):
    task, info = task_of(ModeSetup("calibrated", "rf-ecdf", calibration_subjects=("3", "5")), real, synthetic)
    assert info["calibration"]["n_real_windows"] == int(np.isin(real[0].groups, ["3", "5"]).sum())
    raw_x, y = synthetic[0].x, synthetic[1]
    assert task.synthetic.x.shape == raw_x.shape and not np.allclose(task.synthetic.x, raw_x)
    np.testing.assert_array_equal(task.y_synthetic, y)
    cal = np.isin(real[0].groups, ["3", "5"])
    k = CLASSES.index("walking")
    for c in range(6):  # the medians of a class now are the calibration subjects' medians, not the raw ones
        got = np.median(task.synthetic.x[y == k][:, :, c])
        want = np.median(real[0].x[cal & (real[1] == k)][:, :, c])
        spread = np.subtract(*np.percentile(real[0].x[cal & (real[1] == k)][:, :, c], [90, 10]))
        assert abs(got - want) < 0.05 * spread + 1e-3
    np.testing.assert_array_equal(task.real.x, real[0].x)  # the real windows stay untouched


def test_synthetic_deepconvlstm_mode_predicts_as_protocol_v1(real, synthetic):
    """Same seed, same model: the mode path scores the test subjects as protocol v1's seed does."""
    task, info = task_of(ModeSetup("synthetic", "deepconvlstm", calibration_subjects=("1", "2")), real, synthetic)
    out = run_mode_seed(task, 4)
    keep = np.isin(real[0].groups, info["test_subjects"])
    v1 = SyntheticTask(synthetic[0], synthetic[1], real[0].subset(keep), real[1][keep], CLASSES, FAST)
    ref = run_synthetic_seed(v1, 4)
    assert out["confusion_matrix"] == ref["confusion_matrix"] and out["folds"][0]["val_groups"] == ref["val_groups"]
    assert ModeSetup().is_protocol_v1 and not ModeSetup(model="rf-ecdf").is_protocol_v1


def test_a_class_missing_from_the_calibration_set_is_named(real, synthetic):
    ws, y = real
    drop = (ws.groups == "4") & (y == CLASSES.index("lying"))
    with pytest.raises(Text2ImuError, match="class 'lying' has no real sample in the calibration set.*4"):
        task_of(ModeSetup("calibrated", "rf-ecdf", calibration_subjects=("4",)), (ws.subset(~drop), y[~drop]),
                synthetic)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(mode="mixd"), "Unknown training mode 'mixd'. Did you mean: mixed"),
        (dict(model="rf_ecdf"), "Did you mean: rf-ecdf"),
        (dict(mode="real", real_fraction=0), r"\(0, 1\]"),
        (dict(mode="real", real_fraction=-0.5), r"\(0, 1\]"),
        (dict(mode="mixed", real_fraction=1.5), r"\(0, 1\]"),
        (dict(mode="mixed", real_fraction=float("nan")), r"\(0, 1\]"),
        (dict(mode="synthetic", real_fraction=0.5), "for the real and mixed modes"),
        (dict(mode="calibrated"), "needs --calibration-subjects"),
    ],
)
def test_bad_setups(kwargs, pattern):
    with pytest.raises(Text2ImuError, match=pattern):
        ModeSetup(**kwargs)
    assert issubclass(UnknownNameError, Text2ImuError)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(calibration_subjects=("2", "99")), "calibration subject.*99 not in uci_hapt"),
        (dict(calibration_subjects=6), "choose 1 to 5"),
        (dict(calibration_subjects=("1", "2"), test_subjects=("2", "3")), "2 are both calibration and test"),
        (dict(test_subjects=("42",)), "test subject.*42 not in"),
    ],
)
def test_bad_subjects(kwargs, pattern, real, synthetic):
    with pytest.raises(Text2ImuError, match=pattern):
        task_of(ModeSetup("real", "rf-ecdf", **kwargs), real, synthetic)


# --- the command line: a mode run end to end, file names, the leaderboard, bad input --------------------------

FASTCLI = ["--seeds", "2", "--threads", "1", "--jobs", "1", "--model", "rf-ecdf"]


def test_mode_runs_write_their_own_files_and_stay_off_the_leaderboard(corpus, hapt, tmp_path, capsys):
    base = ["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist", *FASTCLI]
    runs = [["--mode", "mixed", "--real-fraction", "0.5", "--calibration-subjects", "2", "--folds", "loso"],
            ["--mode", "calibrated", "--calibration-subjects", "1"], ["--mode", "synthetic"]]
    for extra in runs:
        code, stdout, err = run_cli([*base, *extra, "--out", tmp_path], capsys)
        assert code == 0, err
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert names == ["fixture__local__uci_hapt__hapt.waist__calibrated-rf-ecdf-cal1.json",
                     "fixture__local__uci_hapt__hapt.waist__mixed-rf-ecdf-f0.5-cal2.json",
                     "fixture__local__uci_hapt__hapt.waist__synthetic-rf-ecdf.json"]
    mixed = read_results(tmp_path / names[1])
    assert {k: mixed["task"][k] for k in ("mode", "model", "real_fraction", "calibration_subjects")} == {
        "mode": "mixed", "model": "rf-ecdf", "real_fraction": 0.5, "calibration_subjects": ["2"]}
    assert mixed["mode"]["test_subjects"] == ["1", "21"] and mixed["protocol"]["model_name"] == "rf-ecdf"
    for seed in mixed["scores_per_seed"]:  # LOSO over 1 and 21: one real training subject of the two others
        assert [f["test_subjects"] for f in seed["folds"]] == [["1"], ["21"]]
        assert all(len(f["train_subjects"]) == 1 and not set(f["train_subjects"]) & set(f["test_subjects"])
                   for f in seed["folds"])
    cal = read_results(tmp_path / names[0])
    assert cal["task"]["calibration_subjects"] == ["1"] and "calibration" in cal["mode"]
    # a protocol-v1 file beside them: the only ranked row; the mode files are read and validated but left off
    v1 = json.loads((tmp_path / names[2]).read_text())
    v1["task"] = {k: v1["task"][k] for k in ("generator", "corpus_revision", "real_dataset", "site", "real_site")}
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    found = collect(tmp_path)
    assert [p.name for p, _ in found.benchmark] == ["v1.json"] and len(found.other_modes) == 3
    assert render_rows(found, tmp_path / "page.md").count("fixture") == 1
    assert default_file_name(v1["task"]) == "fixture__local__uci_hapt__hapt.waist.json"


def test_mode_real_needs_no_corpus(hapt, tmp_path, capsys):
    code, stdout, err = run_cli(["benchmark", "--real", "uci-hapt", "--data", hapt, "--mode", "real", "--seeds", "1",
                                 "--threads", "1", "--model", "rf-ecdf", "--out", tmp_path], capsys)
    assert code == 0, err
    (path,) = tmp_path.glob("*.json")
    assert path.name == "real-only__uci_hapt__hapt.waist__real-rf-ecdf-f1.json"
    r = read_results(path)
    assert r["task"]["generator"] is None and r["corpus"] is None and r["mode"]["folds"] == "leave-one-subject-out"


def _bad(argv, capsys, tmp_path, pattern):
    assert_bad_cli(argv, capsys, tmp_path / "out" / "r.json", pattern)


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--mode", "mixd"], "Unknown training mode 'mixd'. Did you mean: mixed?"),
        (["--model", "rf"], "Unknown model 'rf'"),
        (["--mode", "real", "--real-fraction", "0"], "--real-fraction must be in (0, 1], got 0"),
        (["--mode", "real", "--real-fraction", "-0.2"], "--real-fraction must be in (0, 1]"),
        (["--mode", "mixed", "--real-fraction", "1.5"], "--real-fraction must be in (0, 1], got 1.5"),
        (["--mode", "mixed", "--real-fraction", "nan"], "--real-fraction must be in (0, 1], got nan"),
        (["--mode", "mixed", "--real-fraction", "half"], "--real-fraction must be a number"),
        (["--mode", "calibrated"], "mode calibrated needs --calibration-subjects"),
        (["--mode", "calibrated", "--calibration-subjects", "2"],
         "class 'climbingdown' has no real sample in the calibration set (subjects 2)"),
        (["--mode", "calibrated", "--calibration-subjects", "1,7"], "calibration subject(s) 7 not in uci_hapt"),
        (["--mode", "calibrated", "--calibration-subjects", "1,", "--test-subjects", "1,21"],
         "subject(s) 1 are both calibration and test subjects"),
        (["--mode", "calibrated", "--calibration-subjects", "random:1", "--test-subjects", "1,21"],  # draws 21
         "subject(s) 21 are both calibration and test subjects"),
        (["--mode", "calibrated", "--calibration-subjects", "random:3"], "choose 1 to 2"),
        (["--mode", "calibrated", "--calibration-subjects", "3"], "calibration subject(s) 3 not in uci_hapt"),
        (["--mode", "real", "--calibration-subjects", "random:0"], "number K >= 1"),
        (["--mode", "real", "--calibration-subjects", "random:two"], "number K >= 1"),
        (["--mode", "real", "--calibration-subjects", ","], "needs subject ids"),
        (["--mode", "real", "--folds", "5"], "cannot make 5 subject folds from 3 subjects"),
    ],
)
def test_bad_mode_options(corpus, hapt, argv, pattern, capsys, tmp_path):
    base = ["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist", "--seeds", "1"]
    _bad([*base, *argv], capsys, tmp_path, pattern)


def test_reference_takes_no_mode_and_synthetic_needs_a_corpus(hapt, capsys, tmp_path):
    _bad(["benchmark", "--reference", "--real", "uci-hapt", "--data", hapt, "--mode", "real"], capsys, tmp_path,
         "--reference takes no --mode")
    _bad(["benchmark", "--real", "uci-hapt", "--data", hapt, "--mode", "mixed"], capsys, tmp_path,
         "CORPUS is required")
