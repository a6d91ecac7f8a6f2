"""`text2imu run`, the main job, end to end on a tiny setting (the defaults are the same path, larger)."""

import json

import pytest

from text2imu.cli import main


@pytest.mark.slow
def test_run_end_to_end_tiny(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--repetitions", "1", "--shapes", "female_short", "--sites", "hapt.waist",
            "--seeds", "1", "--epochs", "1", "--no-realism", "--no-progress", "--gap-cap", "40"]
    # the gap runs too (catch22 on at most 500 windows per class per side)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "balanced accuracy (mean +- std over 1 seeds)" in text and "protocol v1 reports 10" in text
    assert "real-vs-synthetic AUC" in text and (out / "gap" / "tsne_all.png").is_file()
    results = json.loads((out / "results" / "kinematic_hapt.waist_uci-hapt.json").read_text())
    assert results["schema_version"] == 1 and results["task"]["site"] == "hapt.waist"
    assert results["classes"] == ["climbingdown", "climbingup", "lying", "sitting", "standing", "walking"]
    ba = results["summary"]["balanced_accuracy"]["mean"]
    assert 0.0 <= ba <= 1.0
    manifest = json.loads((out / "corpus" / "kinematic" / "manifest.json").read_text())
    assert manifest["recordings"] == 80  # 80 prompts x 1 repetition x 1 shape x 1 site
    # a second run reuses the finished corpus instead of rebuilding it
    assert main(args) == 0
    assert "160 recordings" not in capsys.readouterr().out


def test_run_refuses_bad_counts(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "r"), "--seeds", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
