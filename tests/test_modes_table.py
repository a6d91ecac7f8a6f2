"""`text2imu modes`: the four training modes per model as one table, the mixed-vs-real learning curve, resuming,
and bad input (on a corpus fixture and HAPT zips in the official layout)."""

import json

import numpy as np
import pytest
from fixtures.cli_run import run_cli

from text2imu.benchmark.modes_table import ModesPlan, curve_points, planned_runs, render_modes_table
from text2imu.benchmark.results import read_results
from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.cli import main


def base(corpus, hapt, out):
    return ["modes", corpus, "--real", "uci-hapt", "--data", hapt, "--site", "hapt.waist", "--seeds", "2",
            "--threads", "1", "--epochs", "1", "--calibration-subjects", "1", "--out", out]


@pytest.fixture(scope="module")
def table_run(corpus, hapt, tmp_path_factory):
    out = tmp_path_factory.mktemp("modes") / "m"
    argv = [*base(corpus, hapt, out), "--models", "deepconvlstm,rf-ecdf", "--folds", "deepconvlstm=2",
            "--curve-fractions", "0.5,1"]
    assert main([str(a) for a in argv]) == 0
    return out, argv


def test_the_table_has_every_mode_of_every_model_scored_on_the_same_subjects(table_run):
    out, _ = table_run
    runs = {p.name: read_results(p) for p in sorted((out / "results").glob("*.json"))}
    expected = {f"{m}__{mode}{'__f1' if mode in ('real', 'mixed') else ''}.json"
                for m in ("deepconvlstm", "rf-ecdf") for mode in ("synthetic", "calibrated", "mixed", "real")}
    assert expected <= set(runs)
    assert {"rf-ecdf__real__f0.5.json", "rf-ecdf__mixed__f0.5.json"} <= set(runs)
    for name, r in runs.items():
        assert r["task"]["calibration_subjects"] == ["1"], name
        assert r["mode"]["test_subjects"] == ["2", "21"], name  # the calibration subject is never tested
        assert r["seeds"] == [0, 1]
        for seed in r["scores_per_seed"]:
            tested = [s for fold in seed["folds"] for s in fold["test_subjects"]]
            assert sorted(tested) == ["2", "21"], name
            for fold in seed["folds"]:
                assert not set(fold["test_subjects"]) & set(fold.get("train_subjects", [])), name
    assert runs["deepconvlstm__mixed__f1.json"]["mode"]["folds"] == "grouped 2-fold by subject"
    assert runs["rf-ecdf__mixed__f1.json"]["mode"]["folds"] == "leave-one-subject-out"
    table = (out / "modes_table.md").read_text()
    lines = [ln for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith("| mode")]
    assert [ln.split("|")[1:3] for ln in lines] == [
        [f" {mode} ", f" {m} "] for mode in ("synthetic", "calibrated", "mixed", "real")
        for m in ("deepconvlstm", "rf-ecdf")]
    ba = runs["rf-ecdf__calibrated.json"]["summary"]["balanced_accuracy"]
    assert f"{100 * ba['mean']:.1f} ± {100 * ba['std']:.1f}" in lines[3]
    assert "calibration subjects 1 (never tested)" in table


def test_the_learning_curve_has_real_and_mixed_at_each_fraction(table_run):
    out, _ = table_run
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = json.loads((out / "learning_curve.json").read_text())
    assert curve["model"] == "rf-ecdf"
    for mode in ("real", "mixed"):
        pts = curve["points"][mode]
        assert [p["real_fraction"] for p in pts] == [0.5, 1.0]
        # pool of a fold: the other test subject and the calibration subject -> 1 of 2 at 0.5, both at 1
        assert [p["mean_real_subjects"] for p in pts] == [1.0, 2.0]
        for p in pts:
            r = read_results(out / "results" / p["results_file"])
            assert p["balanced_accuracy"]["mean"] == pytest.approx(r["summary"]["balanced_accuracy"]["mean"])
    assert set(curve["references"]) == {"synthetic (rf-ecdf)", "calibrated (rf-ecdf)"}


def test_a_second_run_reuses_the_results_and_other_options_need_force(table_run, capsys):
    out, argv = table_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")} == before
    changed = [a if a != "2" or i == 0 else a for i, a in enumerate(argv)]
    changed[changed.index("--seeds") + 1] = "3"
    code, _, err = run_cli(changed, capsys)
    assert code == 2 and "pass --force" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")} == before


def test_planned_runs_share_the_table_row_at_fraction_one():
    plan = ModesPlan(models=("rf-ecdf",), calibration_subjects=("1",), seeds=2, curve_fractions=(1.0, 0.25))
    names = [n for n, _ in planned_runs(plan, ("1",))]
    assert len(names) == len(set(names)) == 6  # 4 table rows + real/mixed at 0.25 (1.0 is the table's)
    other = ModesPlan(models=("rf-ecdf",), calibration_subjects=("1",), seeds=2, curve_fractions=(1.0,),
                      curve_folds="5")
    runs = dict(planned_runs(other, ("1",)))
    assert len(runs) == 6 and runs["rf-ecdf__real__f1__curve-folds5.json"].folds == "5"
    assert runs["rf-ecdf__real__f1.json"].folds is None  # the table's row keeps the model's own folds
    assert plan.curve_fractions == (0.25, 1.0)
    with pytest.raises(Text2ImuError, match="at least 2 seeds"):
        ModesPlan(seeds=1)
    with pytest.raises(UnknownNameError, match="Did you mean: rf-ecdf"):
        ModesPlan(models=("rf-ecfd",))
    with pytest.raises(Text2ImuError, match=r"\(0, 1\]"):
        ModesPlan(curve_fractions=(0.5, 1.5))


def test_render_and_curve_points_read_results_dicts():
    def fake(mode, model, ba, fraction=None, chosen=()):
        return {"task": {"mode": mode, "model": model, "site": "s", "real_dataset": "d", "real_site": "s",
                         "generator": "g", "corpus_revision": "r", "calibration_subjects": ["7"]},
                "classes": ["a", "b"], "seeds": [0, 1], "mode": {"test_subjects": ["1", "2"], "folds": "x"},
                "summary": {k: {"mean": m, "std": 0.01, "n": 2} for k, m in
                            (("balanced_accuracy", ba), ("macro_f1", ba - 0.1))},
                "scores_per_seed": [{"folds": [{"real_subjects_chosen": list(chosen)}]}] * 2}
    runs = {"rf-ecdf__synthetic.json": fake("synthetic", "rf-ecdf", 0.5),
            "rf-ecdf__real__f1.json": fake("real", "rf-ecdf", 0.9, 1.0, ("1", "2", "3")),
            "rf-ecdf__real__f0.5.json": fake("real", "rf-ecdf", 0.8, 0.5, ("1",))}
    table = render_modes_table(runs, ["rf-ecdf"])
    assert "| synthetic | rf-ecdf | 50.0 ± 1.0 | 40.0 ± 1.0 | 2 |" in table
    assert "| real | rf-ecdf | 90.0 ± 1.0 | 80.0 ± 1.0 | 2 |" in table
    plan = ModesPlan(models=("rf-ecdf",), calibration_subjects=("7",), seeds=2, curve_fractions=(1.0, 0.5))
    pts = curve_points(runs, plan)
    assert [p["mean_real_subjects"] for p in pts["real"]] == [1.0, 3.0] and pts["mixed"] == []
    assert np.isclose(pts["real"][0]["balanced_accuracy"]["mean"], 0.8)


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--seeds", "1"], "--seeds must be at least 2"),
        (["--models", "deepconvlstn"], "Did you mean: deepconvlstm"),
        (["--curve-model", "rf-ecdf", "--curve-fractions", "0,1"], "--curve-fractions must be numbers in (0, 1], got '0'"),
        (["--curve-model", "rf-ecdf", "--curve-fractions", "1.5"], "got '1.5'"),
        (["--curve-model", "rf-ecfd"], "Did you mean: rf-ecdf"),
        (["--folds", "rf-ecdf"], "MODEL=K or MODEL=loso"),
        (["--folds", "rf-ecdf=1"], "loso or a number of folds >= 2"),
        (["--calibration-subjects", "1,99"], "calibration subject(s) 99 not in uci_hapt"),
        (["--calibration-subjects", "2"], "class 'climbingdown' has no real sample"),
        (["--site", "hapt.wrist"], "hapt.waist"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(corpus, hapt, tmp_path, extra, pattern, capsys):
    out = tmp_path / "m"
    argv = [*base(corpus, hapt, out), "--models", "rf-ecdf", "--curve-model", "none"]
    for i in range(0, len(extra), 2):
        if extra[i] in argv:
            argv[argv.index(extra[i]) + 1] = extra[i + 1]
        else:
            argv += extra[i:i + 2]
    code, _, err = run_cli(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and pattern in lines[0], err
    assert not out.exists()


def test_committed_table_and_readme_match_the_committed_results():
    """docs/imugpt/uci_hapt__hapt.waist holds the results of the README's `text2imu modes` run: its table is
    what they render to, and the README shows that table."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = root / "docs" / "imugpt" / "uci_hapt__hapt.waist"
    runs = {p.name: read_results(p) for p in sorted((folder / "results").glob("*.json"))}
    assert len(runs) >= 8
    table = render_modes_table(runs, ["deepconvlstm", "rf-ecdf"])
    assert (folder / "modes_table.md").read_text(encoding="utf-8") == table
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- imugpt:start -->\n", 1)[1].split("<!-- imugpt:end -->", 1)[0]
    assert shown.strip() == table.strip(), "README modes table is stale: paste docs/imugpt/.../modes_table.md"
    curve = json.loads((folder / "learning_curve.json").read_text(encoding="utf-8"))
    for mode in ("real", "mixed"):
        pts = curve["points"][mode]
        assert len(pts) >= 3 and len({p["folds"] for p in pts}) == 1, pts  # one fold scheme along the curve
        for p in pts:
            r = runs[p["results_file"]]
            assert r["task"]["mode"] == mode and r["task"]["real_fraction"] == p["real_fraction"]
            assert p["balanced_accuracy"]["mean"] == r["summary"]["balanced_accuracy"]["mean"]
