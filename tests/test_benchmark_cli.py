"""`text2imu benchmark` end to end on a fixture corpus, the reference rows, the backends, and bad input."""

import json

import pytest
from fixtures.cli_run import assert_bad_cli, run_cli
from fixtures.corpus_fixture import write_corpus_fixture

from text2imu.benchmark.results import read_results

FAST = ["--seeds", "2", "--epochs", "1", "--threads", "1", "--jobs", "1"]


def test_benchmark_writes_schema_v1_results(corpus, hapt, tmp_path, capsys):
    out = tmp_path / "results.json"
    code, stdout, _ = run_cli(
        ["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist", *FAST, "--out", out],
        capsys,
    )
    assert code == 0 and "balanced accuracy" in stdout and str(out) in stdout
    r = read_results(out)
    assert r["kind"] == "benchmark" and r["seeds"] == [0, 1] and len(r["scores_per_seed"]) == 2
    assert r["task"] == {"generator": "fixture", "corpus_revision": None, "real_dataset": "uci_hapt",
                         "site": "hapt.waist", "real_site": "hapt.waist", "mode": "synthetic",
                         "model": "deepconvlstm", "real_fraction": None, "calibration_subjects": []}
    # every shape config of the site pooled; classes: the six HAPT activities the fixture corpus also has
    assert r["corpus"]["configs"] == ["hapt.waist-female_short", "hapt.waist-male_tall"]
    assert r["corpus"]["shapes"] == ["female_short", "male_tall"]
    assert r["corpus"]["card"]["text2imu"]["generator"] == "fixture" and len(r["corpus"]["card_sha256"]) == 64
    real_classes = set(r["real"]["windows_per_class"])
    assert set(r["classes"]) == real_classes and "jumping" not in r["classes"]
    assert r["reference"]["chance"]["balanced_accuracy"] == pytest.approx(1 / len(r["classes"]))
    assert r["scores_per_seed"][0]["n_windows"] == r["real"]["n_windows_shared_classes"]
    assert r["environment"]["torch_threads"] == 1 and r["protocol"]["epochs"] == 1
    assert r["versions"]["text2imu"] and "git_commit" in r["versions"]
    # a second run without --force refuses to overwrite
    code, _, err = run_cli(["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist",
                            "--out", out], capsys)
    assert code == 2 and "--force" in err


def test_reference_rows(hapt, tmp_path, capsys):
    out = tmp_path / "ref.json"
    code, stdout, _ = run_cli(
        ["benchmark", "--reference", "--real", "uci_hapt", "--data", hapt, "--folds", "loso", *FAST, "--out", out],
        capsys,
    )
    assert code == 0 and stdout.startswith("ceiling on uci_hapt")
    r = read_results(out)
    assert r["kind"] == "reference" and r["folds"]["scheme"] == "leave-one-subject-out"
    assert sorted(s for f in r["folds"]["test_subjects"] for s in f) == ["1", "2", "21"]
    for fold in r["scores_per_seed"][0]["folds"]:
        assert not set(fold["test_subjects"]) & set(fold["train_subjects"] + fold["val_subjects"])


def _bad(argv, capsys, tmp_path, pattern):
    assert_bad_cli(argv, capsys, tmp_path / "out" / "r.json", pattern)


def test_corpus_without_the_site(corpus, hapt, tmp_path, capsys):
    _bad(["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "realworld.waist"], capsys,
         tmp_path, "has no configs of site 'realworld.waist' (its sites: hapt.waist)")


def test_no_class_in_common(tmp_path, hapt, capsys):
    odd = write_corpus_fixture(tmp_path / "odd", shapes=("male_tall",), activities=("jumping", "running"))
    capsys.readouterr()
    _bad(["benchmark", odd, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist"], capsys, tmp_path,
         "share no activity: the corpus has jumping, running")


def test_unknown_dataset_name_with_did_you_mean(corpus, capsys, tmp_path):
    _bad(["benchmark", corpus, "--real", "uci-hpat", "--site", "hapt.waist"], capsys, tmp_path,
         "Unknown real dataset 'uci-hpat'. Did you mean: uci-hapt")


def test_unknown_site_name_with_did_you_mean(corpus, capsys, tmp_path):
    _bad(["benchmark", corpus, "--real", "uci-hapt", "--site", "hapt.wiast"], capsys, tmp_path,
         "Did you mean: hapt.waist?")


def test_missing_corpus_folder(tmp_path, capsys):
    _bad(["benchmark", tmp_path / "nope", "--real", "uci-hapt", "--site", "hapt.waist"], capsys, tmp_path,
         "corpus folder")


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--real", "realworld", "--site", "realworld.waist"], "--data PATH is needed for realworld"),
        (["--real", "uci-hapt", "--data", "/no/such/hapt", "--site", "hapt.waist"], "real data path"),
        (["--real", "uci-hapt"], "--site is required"),
        (["--real", "uci-hapt", "--site", "hapt.waist", "--seeds", "0"], "--seeds"),
        (["--real", "uci-hapt", "--site", "hapt.waist", "--backend", "dask"], "--scheduler"),
        (["--real", "uci-hapt", "--site", "hapt.waist", "--reference"], "leave out CORPUS"),
        (["--real", "pamap2", "--site", "hapt.waist", "--data", "."], "--real-site"),
    ],
)
def test_bad_options(corpus, argv, pattern, capsys, tmp_path):
    _bad(["benchmark", corpus, *argv], capsys, tmp_path, pattern)


def test_a_file_is_not_a_corpus(tmp_path, capsys):
    (tmp_path / "c.json").write_text("{}")
    _bad(["benchmark", tmp_path / "c.json", "--real", "uci-hapt", "--site", "hapt.waist"], capsys, tmp_path,
         "not a file")


@pytest.mark.slow
def test_seeds_give_the_same_scores_in_process_in_a_pool_and_on_dask(corpus, hapt, tmp_path, capsys):
    from distributed import LocalCluster

    base = ["benchmark", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist", "--seeds", "2",
            "--epochs", "2", "--threads", "1"]
    assert run_cli([*base, "--jobs", "1", "--out", tmp_path / "a.json"], capsys)[0] == 0
    assert run_cli([*base, "--jobs", "2", "--out", tmp_path / "b.json"], capsys)[0] == 0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        argv = [*base, "--backend", "dask", "--scheduler", cluster.scheduler_address, "--out", tmp_path / "c.json"]
        assert run_cli(argv, capsys)[0] == 0
    runs = [json.loads((tmp_path / f"{n}.json").read_text()) for n in "abc"]
    assert [r["environment"]["backend"] for r in runs] == ["local", "local", "dask"]
    for key in ("balanced_accuracy", "confusion_matrix"):
        first = [s[key] for s in runs[0]["scores_per_seed"]]
        assert all([s[key] for s in r["scores_per_seed"]] == first for r in runs[1:]), key


@pytest.mark.slow
def test_bundled_hapt_is_the_default_real_data(corpus, tmp_path, capsys):
    out = tmp_path / "bundled.json"
    code, _, _ = run_cli(["benchmark", corpus, "--real", "uci-hapt", "--site", "hapt.waist", "--seeds", "1",
                          "--epochs", "1", "--threads", "1", "--out", out], capsys)
    assert code == 0
    r = read_results(out)
    assert r["real"]["source"] == "bundled" and len(r["real"]["subjects"]) == 30
    assert r["classes"] == ["climbingdown", "climbingup", "lying", "sitting", "standing", "walking"]
