"""Training, fine-tuning, checkpoints, sampling and the ``diffusion`` generator, on a tiny model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures.diffusion_settings import MIN_FRAMES, TINY_ARGS

from text2imu.builder.diffusion.checkpoint import file_sha256, load_checkpoint, read_config, save_checkpoint
from text2imu.builder.diffusion.data import load_clips
from text2imu.builder.diffusion.export import split_of
from text2imu.builder.diffusion.generator import CHECKPOINT_ENV, DiffusionGenerator, motion_frames
from text2imu.builder.diffusion.sample import sample_features
from text2imu.builder.errors import FormatError, Text2ImuError
from text2imu.builder.formats import read_motions
from text2imu.builder.generators import available_generators, get_generator
from text2imu.builder.humanml3d_folder import HumanML3DFolder
from text2imu.builder.prompts import Prompt
from text2imu.cli import main

pytest_plugins = ["fixtures.diffusion_data"]  # minilm, h3d_dir, tiny_ckpt, tiny_ckpt_acc (session-wide)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("text2imu: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_train_writes_checkpoint_and_config(tiny_ckpt):
    meta = read_config(tiny_ckpt)
    assert meta["weights_sha256"] == file_sha256(tiny_ckpt / "model.safetensors")
    assert meta["model"]["max_frames"] == 48 and meta["model"]["n_layers"] == 2
    (h,) = meta["history"]
    assert h["stage"] == "train" and h["steps"] == 3 and h["from_sha256"] is None
    assert h["lambdas"] == {"simple": 1.0, "pos": 0.0, "vel": 0.0, "foot": 0.0, "acc": 0.0}
    assert [r["step"] for r in h["loss_log"]] == [1, 2, 3] and h["n_clips"] == 7  # 6 motions + 1 segment
    assert "divided by N-1" in meta["loss_reductions"]["acc"]


def test_training_is_deterministic(tiny_ckpt, h3d_dir, tmp_path):
    args = ["diffusion", "train", "--data", str(h3d_dir), "--steps", "3", *TINY_ARGS]
    assert main([*args, "--out", str(tmp_path / "again")]) == 0
    assert file_sha256(tmp_path / "again" / "model.safetensors") == file_sha256(tiny_ckpt / "model.safetensors")
    assert main([*args, "--out", str(tmp_path / "seed1"), "--seed", "1"]) == 0
    assert file_sha256(tmp_path / "seed1" / "model.safetensors") != file_sha256(tiny_ckpt / "model.safetensors")


def test_finetune_with_lacc_records_history(tiny_ckpt, tiny_ckpt_acc):
    base, tuned = read_config(tiny_ckpt), read_config(tiny_ckpt_acc)
    assert len(tuned["history"]) == 2 and tuned["history"][0] == base["history"][0]
    h = tuned["history"][1]
    assert h["stage"] == "finetune" and h["from_sha256"] == base["weights_sha256"]
    assert h["lambdas"]["acc"] == 1.0 and "acc" in h["final_losses"]
    assert tuned["weights_sha256"] != base["weights_sha256"]
    assert tuned["model"] == base["model"]


def test_loss_terms_weighting(tiny_ckpt, h3d_dir, minilm):
    from text2imu.builder.diffusion.data import Pick, make_batch
    from text2imu.builder.diffusion.losses import l_acc
    from text2imu.builder.diffusion.recover import features_to_joints_torch
    from text2imu.builder.diffusion.schedule import Schedule
    from text2imu.builder.diffusion.train import LossWeights, loss_terms

    ck = load_checkpoint(tiny_ckpt)
    clips = load_clips(HumanML3DFolder(h3d_dir), min_frames=MIN_FRAMES, progress=False)
    batch = make_batch(clips, [Pick(0, 0, 0, 30), Pick(2, 1, 5, 40)], ck.mean, ck.std, minilm)
    t, noise = torch.tensor([3, 40]), torch.randn(batch.x0.shape, generator=torch.Generator().manual_seed(0))
    mean, std = torch.as_tensor(ck.mean), torch.as_tensor(ck.std)
    with torch.no_grad():
        terms = loss_terms(ck.model, Schedule.cosine(50), batch, t, noise, None, LossWeights(1.0, acc=2.0), mean, std)
        assert set(terms) == {"simple", "acc", "total"}
        assert torch.allclose(terms["total"], terms["simple"] + 2.0 * terms["acc"])
        x_t = Schedule.cosine(50).q_sample(batch.x0, t, noise)
        pred = ck.model(x_t, t, batch.text_emb, batch.mask)
        want = l_acc(features_to_joints_torch(pred * std + mean), features_to_joints_torch(batch.x0 * std + mean),
                     batch.mask)
    assert torch.allclose(terms["acc"], want)


def test_checkpoint_round_trip(tiny_ckpt, tmp_path):
    ck = load_checkpoint(tiny_ckpt / "model.safetensors")  # the weights file names its folder too
    save_checkpoint(tmp_path / "copy", ck.model, ck.mean, ck.std, ck.meta)
    again = load_checkpoint(tmp_path / "copy")
    assert again.sha256 == ck.sha256 and again.config == ck.config and again.meta["history"] == ck.meta["history"]
    assert np.array_equal(again.mean, ck.mean) and np.array_equal(again.std, ck.std)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["model"].update(n_layers=3), "does not match config.json"),
    (lambda m: m["model"].update(latent_dim=64, n_heads=4), "does not match config.json"),
    (lambda m: m.update(weights_sha256="0" * 64), "written for a different model.safetensors"),
    (lambda m: m["model"].update(layers=2), "unknown keys"),
    (lambda m: m.update(format="mdm"), "not a text2imu-diffusion checkpoint"),
])
def test_checkpoint_config_mismatch_is_a_clear_error(tiny_ckpt, tmp_path, capsys, edit, message):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_ckpt, bad)
    meta = json.loads((bad / "config.json").read_text())
    edit(meta)
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match=message):
        load_checkpoint(bad)
    out = tmp_path / "samples"
    assert main(["diffusion", "sample", "--ckpt", str(bad), "--text", "a person walks.", "--out", str(out)]) == 2
    assert message in _error_line(capsys)
    assert not out.exists()


def test_missing_checkpoint_files(tiny_ckpt, tmp_path):
    shutil.copytree(tiny_ckpt, tmp_path / "c")
    (tmp_path / "c" / "config.json").unlink()
    with pytest.raises(FormatError, match="config.json: missing"):
        load_checkpoint(tmp_path / "c")
    with pytest.raises(FormatError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope")


@pytest.mark.parametrize("remove, what", [("texts/000002.txt", "caption file missing"),
                                          ("new_joint_vecs/000003.npy", "feature file missing")])
def test_train_on_folder_missing_a_file_fails_cleanly(h3d_dir, tmp_path, capsys, remove, what):
    data = tmp_path / "h3d"
    shutil.copytree(h3d_dir, data)
    (data / remove).unlink()
    out = tmp_path / "ckpt"
    assert main(["diffusion", "train", "--data", str(data), "--out", str(out), "--steps", "1", *TINY_ARGS]) == 2
    line = _error_line(capsys)
    assert what in line and remove.split("/")[1] in line
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [(["--lambda-acc", "-1"], "--lambda-acc must be"),
                                            (["--lambda-simple", "0"], "nothing to train"),
                                            (["--steps", "0"], "must be >= 1")])
def test_bad_training_flags(tiny_ckpt, h3d_dir, tmp_path, capsys, flags, message):
    out = tmp_path / "ft"
    args = ["diffusion", "finetune", "--from", str(tiny_ckpt), "--data", str(h3d_dir), "--out", str(out),
            "--steps", "1", *flags]
    assert main(args) == 2
    assert message in _error_line(capsys)
    assert not out.exists()


def test_finetune_refuses_to_overwrite_its_source(tiny_ckpt, h3d_dir, capsys):
    before = file_sha256(tiny_ckpt / "model.safetensors")
    assert main(["diffusion", "finetune", "--from", str(tiny_ckpt), "--data", str(h3d_dir), "--out",
                 str(tiny_ckpt), "--steps", "1"]) == 2
    assert "is the --from checkpoint" in _error_line(capsys)
    assert file_sha256(tiny_ckpt / "model.safetensors") == before


def test_sample_command_writes_readable_deterministic_motions(tiny_ckpt, tmp_path, capsys):
    args = ["diffusion", "sample", "--ckpt", str(tiny_ckpt), "--text", "a person walks.", "--text",
            "a person jumps.", "--repetitions", "2", "--sample-steps", "5", "--length-s", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    manifest = json.loads((tmp_path / "a" / "samples.json").read_text())
    assert [s["frames"] for s in manifest["samples"]] == [40] * 4
    motions = read_motions(tmp_path / "a" / "sample001_rep01.npz", validate=False)  # 3 steps of training
    assert motions[0].joints_m.shape == (40, 22, 3) and motions[0].fps == 20.0
    assert motions[0].prompt == "a person jumps."
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for s in manifest["samples"]:
        a, b = np.load(tmp_path / "a" / s["file"]), np.load(tmp_path / "b" / s["file"])
        assert np.array_equal(a["joints"], b["joints"])
    r0, r1 = np.load(tmp_path / "a" / "sample000_rep00.npz"), np.load(tmp_path / "a" / "sample000_rep01.npz")
    assert not np.allclose(r0["joints"], r1["joints"])  # repetitions differ


def test_a_sample_does_not_depend_on_its_batch(tiny_ckpt, minilm):
    ck = load_checkpoint(tiny_ckpt)
    emb = minilm.encode(["a person walks.", "a person sits down."])
    alone = sample_features(ck, emb[:1], [30], [7], sample_steps=4)[0]
    together = sample_features(ck, emb, [30, 44], [7, 8], sample_steps=4)
    assert np.allclose(alone, together[0], atol=1e-4) and together[1].shape == (44, 263)
    plain = sample_features(ck, emb[:1], [30], [7], sample_steps=4, guidance=1.0)[0]
    assert not np.allclose(plain, alone, atol=1e-4)  # guidance changes the result
    with pytest.raises(Text2ImuError, match="motion lengths"):
        sample_features(ck, emb[:1], [49], [7])


def test_diffusion_generator_is_registered_and_uses_its_checkpoint(tiny_ckpt, monkeypatch, minilm):
    assert "diffusion" in available_generators()
    assert available_generators()["diffusion"].spec.weights_sha256 is None
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    with pytest.raises(Text2ImuError, match=CHECKPOINT_ENV):
        get_generator("diffusion")
    monkeypatch.setenv(CHECKPOINT_ENV, str(tiny_ckpt))
    gen = get_generator("diffusion")
    assert gen.spec.weights_sha256 == file_sha256(tiny_ckpt / "model.safetensors") and gen.spec.name == "diffusion"
    prompt = Prompt("walking-01", "walking", "A person walks for about two seconds.")
    m = gen.generate(prompt, 0, 123)
    assert m.joints_m.shape == (48, 22, 3) and m.fps == 20.0 and m.metadata["checkpoint_sha256"] == gen.spec.weights_sha256
    assert np.array_equal(DiffusionGenerator(tiny_ckpt).generate(prompt, 0, 123).joints_m, m.joints_m)
    assert not np.allclose(gen.generate(prompt, 1, 123).joints_m, m.joints_m)


def test_motion_frames():
    assert motion_frames("a person walks for about eight seconds.", 196) == 160
    assert motion_frames("a person walks.", 196) == 120  # MDM's default 6 s
    assert motion_frames("a person walks for two seconds.", 196) == 60  # the prompt durations' 3 s minimum
    assert motion_frames("a person walks.", 100, length_s=9.0) == 100
    with pytest.raises(Text2ImuError):
        motion_frames("x", 100, length_s=-1.0)


def test_export_splits_by_repetition():
    assert [split_of(r, 5, 1, 1) for r in range(5)] == ["train", "train", "train", "val", "test"]
    assert [split_of(r, 2, 0, 1) for r in range(2)] == ["train", "test"]


def test_export_refuses_no_training_repetition(tmp_path, capsys):
    assert main(["diffusion", "export", "--out", str(tmp_path / "x"), "--repetitions", "2"]) == 2
    assert "no training repetition" in _error_line(capsys)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_export_writes_a_humanml3d_folder(tmp_path):
    out = tmp_path / "h3d"
    assert main(["diffusion", "export", "--out", str(out), "--repetitions", "2", "--val-repetitions", "0"]) == 0
    folder = HumanML3DFolder(out)
    assert len(folder.split("train")) == len(folder.split("test")) == 80 and folder.split("val") == []
    manifest = json.loads((out / "export.json").read_text())
    first = manifest["items"][0]
    assert folder.captions(first["id"])[0].caption.startswith("a person walks down a flight of stairs")
    assert folder.features(first["id"]).shape[1] == 263 and manifest["prompt_set"] == "v1"


def test_user_error_is_one_line_on_stderr(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "text2imu.cli", "diffusion", "sample", "--ckpt",
                          str(tmp_path / "none"), "--text", "a person walks.", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0, res.stderr
    assert "checkpoint not found" in res.stderr and not (tmp_path / "o").exists()


def test_info_command(tiny_ckpt, capsys):
    assert main(["diffusion", "info", str(tiny_ckpt)]) == 0
    rows = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    assert rows["weights_sha256"] == file_sha256(tiny_ckpt / "model.safetensors")
    assert rows["model.n_layers"] == "2" and rows["history.0"].startswith("train steps=3")
