"""External generators (mdm, momask, remodiffuse, t2m-gpt) run against fake checkouts that take the real flags and
write the real output layouts (tests/fixtures/fake_generators.py)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.fake_generators import (
    FAIL_ENV,
    SHUFFLE_ENV,
    SLEEP_ENV,
    make_fake_mdm,
    make_fake_momask,
    make_fake_remodiffuse,
    make_fake_t2m_gpt,
    text_tag_m,
)

from text2imu.builder.bundle import read_bundle, validate_bundle
from text2imu.builder.errors import Text2ImuError
from text2imu.builder.generators import derive_seed
from text2imu.builder.generators.external import summarise_output
from text2imu.builder.generators.external_mdm import MdmGenerator
from text2imu.builder.generators.external_momask import MomaskGenerator
from text2imu.builder.prompts import Prompt, parse_prompt_set
from text2imu.cli import main

PROMPTS = """\
version = "test-external"

[[prompts]]
prompt_id = "walking-01"
activity = "walking"
text = "A person walks forward at a normal pace for about eight seconds."

[[prompts]]
prompt_id = "sitting-01"
activity = "sitting"
text = "A person sits on a chair for about five seconds."

[[prompts]]
prompt_id = "jumping-01"
activity = "jumping"
text = "A person jumps up and down on the spot."
"""
FRAMES = {"walking-01": 160, "sitting-01": 100, "jumping-01": 120}  # 8 s, 5 s, default 6 s at 20 fps


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "prompts.toml"
    path.write_text(PROMPTS)
    return path


@pytest.fixture
def pset():
    return parse_prompt_set(PROMPTS, source="p.toml")


def generate(fake, prompt_file, out, *extra, reps=2):
    return main(["generate", fake.name, "--prompt-file", str(prompt_file), "--repetitions", str(reps),
                 "--out", str(out), *fake.cli_args(sys.executable), *extra])


def pelvis0(motion) -> np.ndarray:
    return motion.joints_m[0, 0]


def fails_cleanly(capsys, status, out, needle):
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("text2imu: error:") and needle in err[0], err
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


# --- mdm ------------------------------------------------------------------------------------------------------


def test_mdm_end_to_end(tmp_path, prompt_file, pset):
    fake = make_fake_mdm(tmp_path / "src")
    out = tmp_path / "mdm"
    assert generate(fake, prompt_file, out, "--seed", "5") == 0
    assert validate_bundle(out, pset) == []
    b = read_bundle(out)
    assert b.spec.name == "mdm" and b.spec.license == "MIT"
    assert b.spec.weights_sha256 == hashlib.sha256(fake.checkpoint.read_bytes()).hexdigest()
    for pid, rep, motion in b:
        # the fake marks each motion with its prompt text (x) and repetition (z): the mapping is right
        x, _, z = pelvis0(motion)
        assert x == pytest.approx(text_tag_m(pset.get(pid).text), abs=1e-6)
        assert z == pytest.approx(3.0 * rep, abs=1e-6)
        assert motion.n_frames == FRAMES[pid]  # one MDM run per prompt duration
        assert b.entry(pid, rep).seed == derive_seed(5, "mdm", f"len={FRAMES[pid] / 20:g}") % 2**31
    again = tmp_path / "again"
    assert generate(fake, prompt_file, again, "--seed", "5") == 0
    other = tmp_path / "other"
    assert generate(fake, prompt_file, other, "--seed", "6") == 0
    same = [(out / e.path).read_bytes() == (again / e.path).read_bytes() for e in b.entries]
    differ = [(out / e.path).read_bytes() != (other / e.path).read_bytes() for e in b.entries]
    assert all(same) and all(differ)
    assert (out / "bundle.json").read_bytes() == (again / "bundle.json").read_bytes()


def test_mdm_fixed_length(tmp_path, prompt_file):
    fake = make_fake_mdm(tmp_path / "src")
    assert generate(fake, prompt_file, tmp_path / "b", "--motion-length-s", "3.5", reps=1) == 0
    assert {e.n_frames for e in read_bundle(tmp_path / "b").entries} == {70}


def test_mdm_failing_script_writes_nothing(tmp_path, prompt_file, capsys, monkeypatch):
    fake = make_fake_mdm(tmp_path / "src")
    monkeypatch.setenv(FAIL_ENV, "1")
    status = generate(fake, prompt_file, tmp_path / "out")
    fails_cleanly(capsys, status, tmp_path / "out", "failed (exit status 1): ")
    status = generate(fake, prompt_file, tmp_path / "out")
    assert "RuntimeError: CUDA out of memory (fake)" in capsys.readouterr().err


def test_mdm_outputs_that_do_not_match_the_prompts(tmp_path, prompt_file, capsys, monkeypatch):
    fake = make_fake_mdm(tmp_path / "src")
    monkeypatch.setenv(SHUFFLE_ENV, "1")
    status = generate(fake, prompt_file, tmp_path / "out", "--motion-length-s", "4")
    fails_cleanly(capsys, status, tmp_path / "out", "cannot map the outputs back to the prompts")


def test_mdm_timeout(tmp_path, prompt_file, capsys, monkeypatch):
    fake = make_fake_mdm(tmp_path / "src")
    monkeypatch.setenv(SLEEP_ENV, "20")
    status = generate(fake, prompt_file, tmp_path / "out", "--timeout-s", "1")
    fails_cleanly(capsys, status, tmp_path / "out", "timed out after 1 s (raise --timeout-s)")


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda f: (f.checkpoint.parent / "args.json").unlink(), "MDM needs its args.json"),
        (lambda f: (f.repo / "sample" / "generate.py").unlink(), "no sample/generate.py; is this a mdm checkout?"),
        (lambda f: f.checkpoint.unlink(), "model000200000.pt: no such file"),
    ],
)
def test_mdm_bad_setup(tmp_path, prompt_file, capsys, change, needle):
    fake = make_fake_mdm(tmp_path / "src")
    change(fake)
    fails_cleanly(capsys, generate(fake, prompt_file, tmp_path / "out"), tmp_path / "out", needle)


def test_missing_interpreter(tmp_path, prompt_file, capsys):
    fake = make_fake_mdm(tmp_path / "src")
    status = main(["generate", "mdm", "--prompt-file", str(prompt_file), "--out", str(tmp_path / "out"),
                   "--repo", str(fake.repo), "--checkpoint", str(fake.checkpoint),
                   "--python", str(tmp_path / "no-such-python")])
    fails_cleanly(capsys, status, tmp_path / "out", "not found or not executable; pass --python")


def test_single_generate_runs_a_batch_of_one(tmp_path):
    fake = make_fake_mdm(tmp_path / "src")
    gen = MdmGenerator(fake.repo, fake.checkpoint, python=sys.executable, motion_length_s=2.0)
    prompt = Prompt("walking-07", "walking", "Someone walks.")
    motion = gen.generate(prompt, 3, seed=11)
    assert motion.n_frames == 40 and motion.prompt == "Someone walks."
    assert motion.metadata["repetition"] == 3 and motion.metadata["prompt_id"] == "walking-07"
    np.testing.assert_array_equal(motion.joints_m, gen.generate(prompt, 3, seed=11).joints_m)


def test_summarise_output_keeps_the_last_lines():
    text = "Traceback (most recent call last):\n  File x\n\n  line 3\nKeyError: 'motion'\n"
    assert summarise_output(text, 2) == "line 3 | KeyError: 'motion'"
    assert summarise_output("") == "(no output)"


# --- momask ------------------------------------------------------------------------------------------------------


def test_momask_end_to_end(tmp_path, prompt_file, pset):
    fake = make_fake_momask(tmp_path / "src")
    assert generate(fake, prompt_file, tmp_path / "plain") == 0
    assert generate(fake, prompt_file, tmp_path / "ik", "--foot-ik") == 0
    assert validate_bundle(tmp_path / "plain", pset) == []
    plain, ik = read_bundle(tmp_path / "plain"), read_bundle(tmp_path / "ik")
    assert plain.options["generator_options"]["foot_ik"] is False and ik.options["generator_options"]["foot_ik"]
    for pid, rep, motion in plain:
        x, y, z = pelvis0(motion)
        assert x == pytest.approx(text_tag_m(pset.get(pid).text), abs=1e-6) and z == pytest.approx(3.0 * rep)
        assert motion.n_frames % 4 == 0  # MoMask's length estimator: whole tokens of 4 frames
        assert pelvis0(ik.motion(pid, rep))[1] == pytest.approx(y - 0.005, abs=1e-6)  # the _ik twin
    assert not (fake.repo / "generation").exists()  # --ext is absolute: nothing written into the checkout


def test_momask_checkpoint_layout_and_prompt_text(tmp_path, prompt_file, capsys):
    fake = make_fake_momask(tmp_path / "src")
    with pytest.raises(Text2ImuError, match="MoMask loads <checkpoints_dir>/<dataset>/<name>/model/latest.tar"):
        MomaskGenerator(fake.repo, fake.repo / "_fake_rest_pose.npy", python=sys.executable)
    gen = MomaskGenerator(fake.repo, fake.checkpoint, python=sys.executable)
    with pytest.raises(Text2ImuError, match="contains '#'"):
        gen.generate(Prompt("walking-01", "walking", "walk #1"), 0, 0)


# --- remodiffuse and t2m-gpt (a subprocess per motion / a torch import: slower) ----------------------------------


@pytest.mark.slow
def test_remodiffuse_end_to_end(tmp_path, prompt_file, pset):
    fake = make_fake_remodiffuse(tmp_path / "src")
    assert generate(fake, prompt_file, tmp_path / "a", reps=1) == 0
    assert validate_bundle(tmp_path / "a", pset) == []
    b = read_bundle(tmp_path / "a")
    assert b.spec.license == "LicenseRef-S-Lab-1.0"
    for pid, _, motion in b:
        assert motion.n_frames == FRAMES[pid]
        assert pelvis0(motion)[0] == pytest.approx(text_tag_m(pset.get(pid).text), abs=1e-6)
        assert b.entry(pid, 0).seed == derive_seed(0, "remodiffuse", pid, 0) % 2**31
    # one motion per run, seeded per (prompt, repetition) by the launcher: the same motion without the others
    one = tmp_path / "one.toml"
    one.write_text(PROMPTS.split("[[prompts]]")[0] + "[[prompts]]" + PROMPTS.split("[[prompts]]")[1])
    assert generate(fake, one, tmp_path / "b", reps=1) == 0
    assert len(read_bundle(tmp_path / "b")) == 1
    rel = "motions/walking-01/0.npy"
    assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


@pytest.mark.slow
def test_t2m_gpt_end_to_end(tmp_path, prompt_file, pset):
    fake = make_fake_t2m_gpt(tmp_path / "src")
    assert generate(fake, prompt_file, tmp_path / "a") == 0
    assert validate_bundle(tmp_path / "a", pset) == []
    b = read_bundle(tmp_path / "a")
    assert b.spec.license == "Apache-2.0" and b.options["generator_options"]["vq_checkpoint"] == "net_last.pth"
    seeds = {(e.prompt_id, e.repetition): e.seed for e in b.entries}
    assert seeds == {(p.prompt_id, r): derive_seed(0, "t2m-gpt", p.prompt_id, r) % 2**31 for p in pset
                     for r in range(2)}
    assert all(e.n_frames % 4 == 0 for e in b.entries)
    assert len({(tmp_path / "a" / e.path).read_bytes() for e in b.entries}) == 6  # every job drew its own motion


def test_t2m_gpt_needs_the_vq_checkpoint(tmp_path, prompt_file, capsys):
    repo = tmp_path / "T2M-GPT"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "t2m_trans.py").write_text("")
    ckpt = repo / "gpt.pth"
    ckpt.write_bytes(b"x")
    status = main(["generate", "t2m-gpt", "--prompt-file", str(prompt_file), "--out", str(tmp_path / "out"),
                   "--repo", str(repo), "--checkpoint", str(ckpt), "--python", sys.executable])
    fails_cleanly(capsys, status, tmp_path / "out", "--vq-checkpoint pretrained/VQVAE/net_last.pth: no such file")


def test_generator_flags_are_checked_per_generator(tmp_path, prompt_file, capsys):
    fake = make_fake_momask(tmp_path / "src")
    status = generate(fake, prompt_file, tmp_path / "out", "--config", "x.py")
    fails_cleanly(capsys, status, tmp_path / "out", "generator 'momask' does not take --config")
    assert Path(fake.checkpoint).is_file()
