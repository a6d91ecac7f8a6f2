"""``text2imu lacc``: shared seeded t and noise, the per-category table, the files, bad input."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from fixtures.diffusion_settings import MIN_FRAMES, TINY_ARGS

from text2imu.benchmark.lacc import (
    LaccSample,
    compare_lacc,
    format_table,
    lacc_of_model,
    sample_pairs,
    summarise,
)
from text2imu.builder.diffusion.checkpoint import load_checkpoint
from text2imu.builder.diffusion.data import load_clips
from text2imu.builder.diffusion.losses import LACC_REDUCTION
from text2imu.builder.humanml3d_folder import HumanML3DFolder
from text2imu.cli import main

pytest_plugins = ["fixtures.diffusion_data"]  # minilm, h3d_dir, tiny_ckpt, tiny_ckpt_acc (session-wide)


def _s(category, before, after):
    return LaccSample("000000", 0, 0, "c", 40, 3, category, 0.5, before, after)


def test_summarise_by_hand():
    samples = [_s("Running", 0.04, 0.03), _s("Running", 0.06, 0.05), _s("Walking", 0.02, 0.03),
               _s("Other", 0.10, 0.10)]
    s = summarise(samples)
    run = s["categories"]["Running"]
    assert run["n"] == 2 and run["before"] == pytest.approx(0.05) and run["after"] == pytest.approx(0.04)
    assert run["delta"] == pytest.approx(-0.01) and run["percent"] == pytest.approx(-20.0)
    assert s["categories"]["Walking"]["percent"] == pytest.approx(50.0)
    assert s["categories"]["Lying"] == {"n": 0, "before": None, "after": None, "delta": None, "percent": None}
    assert s["groups"]["high"]["n"] == 2 and s["groups"]["low"]["n"] == 1 and s["groups"]["other"]["n"] == 1
    assert s["groups"]["all"]["before"] == pytest.approx(0.055) and s["groups"]["all"]["after"] == pytest.approx(0.0525)
    table = format_table(s)
    assert "| Running | high | 2 | 0.05 | 0.04 | -0.01 | -20.0 |" in table and "| Lying | low | 0 | - |" in table


def test_same_model_gives_zero_delta_and_draws_are_seeded(tiny_ckpt, h3d_dir, minilm):
    ck = load_checkpoint(tiny_ckpt)
    clips = load_clips(HumanML3DFolder(h3d_dir), "test", min_frames=MIN_FRAMES, progress=False)
    samples = compare_lacc(ck, load_checkpoint(tiny_ckpt), clips, progress=False, batch_size=4)
    assert len(samples) == len(sample_pairs(clips)) == 6  # 3 test clips x 2 captions
    assert all(s.lacc_before == s.lacc_after > 0 for s in samples)
    pairs = sample_pairs(clips)
    a, t_a = lacc_of_model(ck, clips, pairs, seed=0, batch_size=2, progress=False)
    b, t_b = lacc_of_model(ck, clips, pairs[::-1], seed=0, batch_size=5, progress=False)
    assert np.allclose(a, b[::-1], rtol=1e-6) and np.array_equal(t_a, t_b[::-1])  # per sample, not per batch
    _, t_c = lacc_of_model(ck, clips, pairs, seed=1, batch_size=2, progress=False)
    assert not np.array_equal(t_a, t_c)


def test_lacc_command_writes_table_json_csv_and_figure(tiny_ckpt, tiny_ckpt_acc, h3d_dir, tmp_path, capsys):
    out = tmp_path / "lacc"
    assert main(["lacc", "--data", str(h3d_dir), "--before", str(tiny_ckpt), "--after", str(tiny_ckpt_acc),
                 "--out", str(out), "--min-frames", str(MIN_FRAMES)]) == 0
    printed = capsys.readouterr().out
    assert "| category | group | n | L_acc before | L_acc after | delta | percent |" in printed
    doc = json.loads((out / "lacc_summary.json").read_text())
    assert doc["lacc_reduction"] == LACC_REDUCTION and doc["categorise_mode"] == "paper"
    assert doc["categorise_threshold"] == 0.45 and doc["split"] == "test" and doc["n_samples"] == 6
    assert set(doc["groups"]) == {"high", "low", "other", "all"} and doc["groups"]["all"]["n"] == 6
    assert doc["before"]["sha256"] != doc["after"]["sha256"]
    with open(out / "lacc_samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    before = np.array([float(r["lacc_before"]) for r in rows])
    assert doc["groups"]["all"]["before"] == pytest.approx(before.mean())
    assert (out / "lacc_categories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "divided by N-1" in (out / "lacc_table.md").read_text()


def test_lacc_refuses_checkpoints_with_different_schedules(tiny_ckpt, h3d_dir, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["diffusion", "train", "--data", str(h3d_dir), "--out", str(other), "--steps", "1", *TINY_ARGS,
                 "--diffusion-steps", "20"]) == 0
    capsys.readouterr()
    out = tmp_path / "lacc"
    assert main(["lacc", "--data", str(h3d_dir), "--before", str(tiny_ckpt), "--after", str(other), "--out",
                 str(out), "--min-frames", str(MIN_FRAMES)]) == 2
    err = capsys.readouterr().err
    assert "50 and 20 diffusion steps" in err and err.count("text2imu: error") == 1
    assert not out.exists()


def test_lacc_on_a_folder_missing_a_motion(tiny_ckpt, h3d_dir, tmp_path, capsys):
    data = tmp_path / "h3d"
    shutil.copytree(h3d_dir, data)
    (data / "new_joint_vecs" / "000007.npy").unlink()  # a test-split motion
    out = tmp_path / "lacc"
    assert main(["lacc", "--data", str(data), "--before", str(tiny_ckpt), "--after", str(tiny_ckpt), "--out",
                 str(out)]) == 2
    assert "000007.npy: feature file missing" in capsys.readouterr().err
    assert not out.exists()
