"""The `files` generator: motions made elsewhere (MDM results.npy, joints, BVH) matched to prompts by a manifest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.motion_files import (
    MOMASK_NAMES,
    walking,
    write_analytic_bvh,
    write_mdm_results,
)

from text2imu.builder.bundle import read_bundle, validate_bundle
from text2imu.builder.errors import FormatError, Text2ImuError
from text2imu.builder.generators import get_generator
from text2imu.builder.generators.files import FilesGenerator, read_manifest
from text2imu.builder.prompts import parse_prompt_set
from text2imu.cli import main

PROMPTS = """\
version = "test-files"

[[prompts]]
prompt_id = "walking-01"
activity = "walking"
text = "A person walks forward for about five seconds."

[[prompts]]
prompt_id = "sitting-01"
activity = "sitting"
text = "A person sits on a chair."

[[prompts]]
prompt_id = "jumping-01"
activity = "jumping"
text = "A person jumps twice."
"""


@pytest.fixture
def pset():
    return parse_prompt_set(PROMPTS, source="p.toml")


@pytest.fixture
def made_elsewhere(tmp_path):
    """Motion files in three formats and the manifest rows that map them to (prompt, repetition).

    walking-01: both repetitions from an MDM results.npy (2 samples x 2 repetitions, index r*2 + 0);
    sitting-01: joints .npy files; jumping-01: a joints .npz and a MoMask-style BVH.
    Returns (folder, rows, expected {(prompt_id, rep): (T, 22, 3)}, tolerance {key: atol}).
    """
    root = tmp_path / "elsewhere"
    _, mdm_expected = write_mdm_results(root / "mdm", ["a person walks", "something else"], num_repetitions=2,
                                        n_frames=48)
    sit0, sit1 = walking(40, speed=0.0), walking(44, speed=0.1, shift_x=0.3)
    np.save(root / "sit0.npy", sit0)
    np.save(root / "sit1.npy", sit1)
    jump0 = walking(36, speed=0.4)
    np.savez(root / "jump0.npz", joints=jump0, fps=np.array(20.0))
    jump1 = write_analytic_bvh(root / "bvh" / "jump1.bvh", MOMASK_NAMES, n_frames=24)
    rows = [
        {"prompt_id": "walking-01", "repetition": 0, "path": "mdm/results.npy", "format": "mdm-results", "index": 0},
        {"prompt_id": "walking-01", "repetition": 1, "path": "mdm/results.npy", "format": "mdm-results", "index": 2},
        {"prompt_id": "sitting-01", "repetition": 0, "path": "sit0.npy", "format": "", "index": ""},
        {"prompt_id": "sitting-01", "repetition": 1, "path": "sit1.npy", "format": "joints", "index": ""},
        {"prompt_id": "jumping-01", "repetition": 0, "path": "jump0.npz", "format": "", "index": ""},
        {"prompt_id": "jumping-01", "repetition": 1, "path": "bvh/jump1.bvh", "format": "bvh", "index": ""},
    ]
    expected = {("walking-01", 0): mdm_expected[0], ("walking-01", 1): mdm_expected[2],
                ("sitting-01", 0): sit0, ("sitting-01", 1): sit1, ("jumping-01", 0): jump0,
                ("jumping-01", 1): jump1}
    return root, rows, expected


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["prompt_id", "repetition", "path", "format", "index"])
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("writer", [write_csv, write_jsonl])
def test_manifest_to_bundle(tmp_path, made_elsewhere, pset, writer, capsys):
    root, rows, expected = made_elsewhere
    manifest = writer(root / ("manifest.csv" if writer is write_csv else "manifest.jsonl"), rows)
    prompt_file = tmp_path / "p.toml"
    prompt_file.write_text(PROMPTS)
    out = tmp_path / "bundle"
    argv = ["generate", "files", "--manifest", str(manifest), "--prompt-file", str(prompt_file),
            "--repetitions", "2", "--out", str(out), "--generator-name", "mymodel", "--generator-version", "2.1",
            "--license", "CC-BY-4.0", "--reference", "https://example.org/mymodel", "--weights-sha256", "ab" * 32]
    assert main(argv) == 0, capsys.readouterr().err
    assert validate_bundle(out, pset) == []
    b = read_bundle(out)
    assert (b.spec.name, b.spec.version, b.spec.license, b.spec.weights_sha256) == \
        ("mymodel", "2.1", "CC-BY-4.0", "ab" * 32)
    assert all(e.seed is None for e in b.entries)
    assert b.options["generator_options"]["manifest"] == manifest.name
    for (pid, rep), joints in expected.items():
        got = b.motion(pid, rep)
        atol = 2e-5 if pid == "jumping-01" and rep == 1 else 0.0  # BVH: %f text, forward kinematics
        np.testing.assert_allclose(got.joints_m, joints, atol=atol, rtol=0)
        assert got.prompt == pset.get(pid).text


def test_extra_repetitions_are_ignored(made_elsewhere, pset):
    root, rows, expected = made_elsewhere
    gen = FilesGenerator(write_csv(root / "m.csv", rows))
    gen.check_coverage(pset, 1)
    np.testing.assert_array_equal(gen.generate(pset.get("sitting-01"), 0).joints_m, expected[("sitting-01", 0)])
    with pytest.raises(FormatError, match="misses 3 of 9 motions: jumping-01 rep 2, sitting-01 rep 2, "
                                          "walking-01 rep 2"):
        gen.check_coverage(pset, 3)


def _fails(tmp_path, capsys, manifest, needle, reps="2"):
    prompt_file = tmp_path / "p.toml"
    prompt_file.write_text(PROMPTS)
    out = tmp_path / "bundle"
    status = main(["generate", "files", "--manifest", str(manifest), "--prompt-file", str(prompt_file),
                   "--repetitions", reps, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and needle in err[0], err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_manifest_missing_prompts(tmp_path, made_elsewhere, capsys):
    root, rows, _ = made_elsewhere
    manifest = write_csv(root / "m.csv", [r for r in rows if r["prompt_id"] != "sitting-01"])
    _fails(tmp_path, capsys, manifest, "m.csv: misses 2 of 6 motions: sitting-01 rep 0, sitting-01 rep 1")


def test_manifest_unknown_prompt_id(tmp_path, made_elsewhere, capsys):
    root, rows, _ = made_elsewhere
    manifest = write_csv(root / "m.csv", [*rows, {**rows[0], "prompt_id": "walkng-01", "repetition": 0}])
    _fails(tmp_path, capsys, manifest, "line 8: Unknown prompt (set test-files) 'walkng-01'. Did you mean: walking-01?")


def test_manifest_names_missing_files(tmp_path, made_elsewhere, capsys):
    root, rows, _ = made_elsewhere
    rows[3]["path"] = "gone/sit1.npy"
    manifest = write_csv(root / "m.csv", rows)
    _fails(tmp_path, capsys, manifest, f"1 listed file(s) do not exist: {root / 'gone' / 'sit1.npy'}")


def test_file_with_many_motions_needs_an_index(tmp_path, made_elsewhere, capsys):
    root, rows, _ = made_elsewhere
    rows[0]["index"] = ""
    _fails(tmp_path, capsys, write_csv(root / "m.csv", rows),
           "line 2 (" + str(root / "mdm" / "results.npy") + "): holds 4 motions; give an 'index' column")
    rows[0]["index"] = 9
    _fails(tmp_path, capsys, write_csv(root / "m.csv", rows), "index 9 is out of range (it holds 4 motions)")


def test_bad_motion_file_is_named(tmp_path, made_elsewhere, capsys):
    root, rows, _ = made_elsewhere
    np.save(root / "sit1.npy", np.zeros((40, 21, 3), dtype=np.float32))
    _fails(tmp_path, capsys, write_csv(root / "m.csv", rows), "sit1.npy: array of shape (40, 21, 3) is not")


@pytest.mark.parametrize(
    "content, suffix, needle",
    [
        ("", ".csv", "empty manifest"),
        ("prompt_id,repetition,path\n", ".csv", "the manifest lists no motions"),
        ("prompt_id,repetition\nwalking-01,0\n", ".csv", "line 2: missing column(s) path"),
        ("prompt_id,repetition,path,colour\nwalking-01,0,a.npy,red\n", ".csv", "unknown column(s) colour"),
        ("prompt_id,repetition,path\nwalking-01,first,a.npy\n", ".csv", "'repetition' must be an integer >= 0"),
        ("prompt_id,repetition,path\nwalking-01,-1,a.npy\n", ".csv", "'repetition' must be an integer >= 0"),
        ("prompt_id,repetition,path\nwalking-01,0,a.npy,extra\n", ".csv", "line 2 has more values"),
        ("prompt_id,repetition,path,format\nwalking-01,0,a.npy,mdm-result\n", ".csv",
         "Unknown motion format 'mdm-result'. Did you mean: mdm-results?"),
        ('{"prompt_id": "walking-01", "repetition": 0}\n', ".jsonl", "line 1: missing column(s) path"),
        ('{"prompt_id": "walking-01", "repetition": 0.5, "path": "a"}\n', ".jsonl", "must be an integer"),
        ("[1, 2]\n", ".jsonl", "line 1 must be a JSON object"),
        ("{oops\n", ".jsonl", "line 1 is not JSON"),
        ("prompt_id: walking-01\n", ".yaml", "a manifest is a .csv or .jsonl file"),
        ("prompt_id,repetition,path\nwalking-01,0,a.npy\nwalking-01,0,b.npy\n", ".csv",
         "walking-01 repetition 0 is listed twice (lines 2 and 3)"),
    ],
)
def test_malformed_manifest(tmp_path, capsys, content, suffix, needle):
    manifest = tmp_path / f"manifest{suffix}"
    manifest.write_text(content)
    _fails(tmp_path, capsys, manifest, needle)


def test_read_manifest_resolves_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    m = write_csv(tmp_path / "sub" / "m.csv", [{"prompt_id": "a", "repetition": "1", "path": "x/y.bvh",
                                               "format": "bvh", "index": "3"}])
    (row,) = read_manifest(m)
    assert (row.prompt_id, row.repetition, row.path, row.format, row.index, row.line) == \
        ("a", 1, tmp_path / "sub" / "x" / "y.bvh", "bvh", 3, 2)


def test_files_generator_needs_its_options():
    with pytest.raises(Text2ImuError, match="needs a manifest"):
        get_generator("files")
    with pytest.raises(FormatError, match="no such manifest file"):
        FilesGenerator("does-not-exist.csv")
