"""Corpora built from a motions bundle folder (and a bundle with NaN motions refused)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from text2imu.builder.bundle import npy_bytes, write_bundle
from text2imu.builder.corpus import build_corpus
from text2imu.builder.corpus_spec import CorpusSpec
from text2imu.builder.errors import Text2ImuError
from text2imu.builder.generators import derive_seed, get_generator
from text2imu.builder.generators.kinematic import KINEMATIC_SPEC
from text2imu.builder.prompts import parse_prompt_set
from text2imu.builder.simulate import simulate_motion

PROMPTS = """
version = "tiny"

[[prompts]]
prompt_id = "sit-a"
activity = "sitting"
text = "A person sits down on a chair and stays seated."

[[prompts]]
prompt_id = "walk-a"
activity = "walking"
text = "A person walks forward at a normal pace."
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    pset = parse_prompt_set(PROMPTS, "tiny.toml")
    gen = get_generator("kinematic")
    items = []
    for p in pset:
        for r in range(2):
            seed = derive_seed(7, "kinematic", p.prompt_id, r)
            items.append((p.prompt_id, r, gen.generate(p, r, seed), seed))
    out = tmp_path_factory.mktemp("bundle") / "kin"
    write_bundle(out, KINEMATIC_SPEC, pset, items, repetitions=2)
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "text2imu", *args], capture_output=True, text=True, timeout=120)


def test_build_from_a_bundle_uses_its_motions_and_prompts(bundle, tmp_path):
    import datasets

    out = tmp_path / "from-bundle"
    res = cli("build", str(bundle), "--shapes", "male_short", "--sites", "realworld.thigh", "--out", str(out),
              "--workers", "1", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "4 recordings, 1 configs" in res.stdout  # the bundle's 2 prompts x 2 repetitions
    ds = datasets.load_dataset(str(out), "realworld.thigh-male_short", split="train").with_format("numpy")
    assert [str(x) for x in ds["prompt_id"]] == ["sit-a", "sit-a", "walk-a", "walk-a"]
    from text2imu.builder.bundle import read_bundle

    motion = read_bundle(bundle).motion("walk-a", 1)
    sig = simulate_motion(motion, "anny", "male_short", ["realworld.thigh"])["realworld.thigh"]
    np.testing.assert_array_equal(ds[3]["acc_mps2"], sig.acc_mps2.astype(np.float32))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "bundle" and manifest["source"]["prompt_set_version"] == "tiny"
    assert "read from a motions bundle" in (out / "README.md").read_text()


def test_bundle_checks(bundle, tmp_path):
    spec = CorpusSpec(generator="kinematic", bundle=str(bundle), prompt_set="tiny", repetitions=3,
                      shapes=("male_short",), sites=("hapt.waist",))
    with pytest.raises(Text2ImuError, match="holds 2 repetitions per prompt, 3 asked for"):
        build_corpus(spec, tmp_path / "x", progress=False)
    with pytest.raises(Text2ImuError, match="prompt set 'tiny', not 'v1'"):
        build_corpus(CorpusSpec(generator="kinematic", bundle=str(bundle), repetitions=1), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_bundle_with_nan_motions_is_refused_before_anything_is_written(bundle, tmp_path):
    import shutil

    bad = tmp_path / "nan-bundle"
    shutil.copytree(bundle, bad)
    rel = "motions/walk-a/1.npy"
    joints = np.load(bad / rel)
    joints[10, 4, :] = np.nan
    data = npy_bytes(joints)
    (bad / rel).write_bytes(data)
    lines = [json.loads(line) for line in (bad / "manifest.jsonl").read_text().splitlines()]
    for entry in lines:
        if entry["path"] == rel:
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest = "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in lines).encode()
    (bad / "manifest.jsonl").write_bytes(manifest)
    doc = json.loads((bad / "bundle.json").read_text())
    doc["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
    (bad / "bundle.json").write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")
    out = tmp_path / "out"
    res = cli("build", str(bad), "--out", str(out), "--no-progress")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a usable motions bundle" in lines[0], res.stderr
    assert "walk-a repetition 1" in lines[0] and "NaN" in lines[0], res.stderr
    assert not out.exists()
