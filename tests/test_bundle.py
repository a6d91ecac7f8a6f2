"""Motions bundles (write/read/validate) and `text2imu generate` / `text2imu bundle` with the kinematic generator."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.motion_files import walking

import text2imu.builder.generators as gens
from text2imu.builder.bundle import (
    BUNDLE_FILE,
    MANIFEST_FILE,
    MAX_FRAMES,
    read_bundle,
    validate_bundle,
    write_bundle,
)
from text2imu.builder.errors import FormatError, MotionError, Text2ImuError, UnknownNameError
from text2imu.builder.generators import GeneratorEntry, GeneratorSpec, derive_seed, get_generator
from text2imu.builder.motion import Motion
from text2imu.builder.prompts import load_prompt_set, parse_prompt_set
from text2imu.cli import main

SMALL_PROMPTS = """\
version = "test-small"

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
text = "A person jumps up and down on the spot three times."
"""

SPEC = GeneratorSpec(name="walker", version="0.1", license="MIT", reference="tests", weights_sha256="cd" * 32)


@pytest.fixture
def small_set():
    return parse_prompt_set(SMALL_PROMPTS, source="small.toml")


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "prompts.toml"
    path.write_text(SMALL_PROMPTS)
    return path


def items(pset, reps=2):
    """(prompt_id, repetition, Motion, seed) with a distinct walking motion per item; also {key: joints}."""
    out, expected = [], {}
    for i, p in enumerate(pset):
        for r in range(reps):
            joints = walking(30 + 4 * i, speed=0.5 + 0.2 * r, shift_x=0.1 * i)
            expected[(p.prompt_id, r)] = joints
            out.append((p.prompt_id, r, Motion(joints, fps=20.0), 100 * i + r))
    return out, expected


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# --- write / read -------------------------------------------------------------------------------------------------


def test_round_trip(tmp_path, small_set):
    its, expected = items(small_set)
    written = write_bundle(tmp_path / "b", SPEC, small_set, reversed(its), options={"seed": 7})
    b = read_bundle(tmp_path / "b")
    assert b.spec == SPEC and b.repetitions == 2 and len(b) == 6
    assert b.prompt_set_version == "test-small" and b.prompt_set_sha256 == small_set.sha256
    assert b.prompt_set == small_set and b.options == {"seed": 7}
    assert b.entries == written.entries
    assert [(e.prompt_id, e.repetition) for e in b.entries] == sorted(expected)
    for pid, rep, motion in b:
        np.testing.assert_array_equal(motion.joints_m, expected[(pid, rep)])
        assert motion.fps == 20.0 and motion.prompt == small_set.get(pid).text
        assert motion.metadata["seed"] == b.entry(pid, rep).seed
    e = b.entry("sitting-01", 1)
    assert e.path == "motions/sitting-01/1.npy" and e.n_frames == 34 and e.seed == 101  # prompts sorted by id: sitting is i = 1
    assert e.sha256 == hashlib.sha256((tmp_path / "b" / e.path).read_bytes()).hexdigest()
    assert np.load(tmp_path / "b" / e.path).dtype == np.float32
    doc = json.loads((tmp_path / "b" / BUNDLE_FILE).read_text())
    assert doc["format"] == "text2imu-motions" and doc["format_version"] == 1
    assert doc["generator"]["weights_sha256"] == "cd" * 32
    assert "walker" in (tmp_path / "b" / "README.md").read_text()
    assert validate_bundle(tmp_path / "b", small_set) == []
    with pytest.raises(UnknownNameError):
        b.motion("walking-01", 5)


def test_copy_through_iteration_is_byte_identical(tmp_path, small_set):
    its, _ = items(small_set)
    a = write_bundle(tmp_path / "a", SPEC, small_set, its)
    write_bundle(tmp_path / "c", a.spec, a.prompt_set, ((p, r, m, a.entry(p, r).seed) for p, r, m in a))
    assert files_of(tmp_path / "a") == files_of(tmp_path / "c")


def test_same_seeds_give_byte_identical_bundles(tmp_path, small_set):
    kin = get_generator("kinematic")

    def make(out, base):
        its = [(p.prompt_id, r, kin.generate(p, r, derive_seed(base, "kinematic", p.prompt_id, r)))
               for p in small_set for r in range(2)]
        write_bundle(out, kin.spec, small_set, its, options={"seed": base})
        return files_of(out)

    first, again, other = make(tmp_path / "1", 0), make(tmp_path / "2", 0), make(tmp_path / "3", 1)
    assert first == again
    changed = [k for k in first if k.startswith("motions/") and first[k] != other[k]]
    assert len(changed) == 6  # another seed draws other motions


def test_existing_out_needs_force_and_force_only_replaces_bundles(tmp_path, small_set):
    its, _ = items(small_set)
    write_bundle(tmp_path / "b", SPEC, small_set, its)
    with pytest.raises(Text2ImuError, match="exists; pass --force"):
        write_bundle(tmp_path / "b", SPEC, small_set, its)
    spec2 = dataclasses.replace(SPEC, version="0.2")
    write_bundle(tmp_path / "b", spec2, small_set, its, force=True)
    assert read_bundle(tmp_path / "b").spec.version == "0.2"
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    with pytest.raises(Text2ImuError, match="not a motions bundle"):
        write_bundle(other, SPEC, small_set, its, force=True)
    assert (other / "thesis.tex").read_text() == "keep me"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "mutate, error, needle",
    [
        (lambda its: its[:-1], Text2ImuError, "1 of 6 motions are missing: walking-01 rep 1"),
        (lambda its: [*its, its[0]], Text2ImuError, "given twice"),
        (lambda its: [("walking-1", *its[0][1:]), *its], UnknownNameError, "Did you mean: walking-01"),
        (lambda its: [*its[:2], (its[2][0], its[2][1], np.zeros((40, 21, 3))), *its[3:]], MotionError,
         r"got a ndarray of shape \(40, 21, 3\)"),
        (lambda its: [(*its[0][:2], Motion(np.full((30, 22, 3), np.nan))), *its[1:]], MotionError,
         "NaN or infinite"),
        (lambda its: [(*its[0][:2], Motion(walking(MAX_FRAMES + 1))), *its[1:]], MotionError,
         "at most 2000"),
        (lambda its: [(its[0][0], -1, its[0][2]), *its], Text2ImuError, "repetition must be an integer >= 0"),
    ],
)
def test_bad_items_leave_nothing(tmp_path, small_set, mutate, error, needle):
    its, _ = items(small_set)
    with pytest.raises(error, match=needle):
        write_bundle(tmp_path / "b", SPEC, small_set, mutate(its))
    assert not (tmp_path / "b").exists() and leftovers(tmp_path) == []


def test_failure_midway_leaves_nothing(tmp_path, small_set):
    its, _ = items(small_set)

    def stream():
        yield from its[:4]
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        write_bundle(tmp_path / "b", SPEC, small_set, stream())
    assert list(tmp_path.iterdir()) == []


def test_repetitions_argument_bounds_items(tmp_path, small_set):
    its, _ = items(small_set, reps=3)
    with pytest.raises(Text2ImuError, match="out of range 0..1"):
        write_bundle(tmp_path / "b", SPEC, small_set, its, repetitions=2)


# --- read_bundle and validate_bundle on damaged bundles -------------------------------------------------------------


@pytest.fixture
def bundle_dir(tmp_path, small_set):
    its, _ = items(small_set)
    write_bundle(tmp_path / "b", SPEC, small_set, its)
    return tmp_path / "b"


def rewrite_manifest(bundle: Path, edit) -> None:
    """Edit manifest lines (list of dicts) and re-seal bundle.json's manifest hash, as a careless submitter might."""
    lines = [json.loads(x) for x in (bundle / MANIFEST_FILE).read_text().splitlines()]
    lines = edit(lines)
    data = "".join(json.dumps(x, sort_keys=True, separators=(",", ":")) + "\n" for x in lines).encode()
    (bundle / MANIFEST_FILE).write_bytes(data)
    doc = json.loads((bundle / BUNDLE_FILE).read_text())
    doc["manifest_sha256"], doc["n_motions"] = hashlib.sha256(data).hexdigest(), len(lines)
    (bundle / BUNDLE_FILE).write_text(json.dumps(doc))


def reseal_file(bundle: Path, rel: str, array: np.ndarray) -> None:
    np.save(bundle / rel, array)
    sha = hashlib.sha256((bundle / rel).read_bytes()).hexdigest()

    def edit(lines):
        for x in lines:
            if x["path"] == rel:
                x["sha256"], x["n_frames"] = sha, int(array.shape[0])
        return lines

    rewrite_manifest(bundle, edit)


def test_tampered_file_is_caught_by_hash(bundle_dir):
    f = bundle_dir / "motions" / "walking-01" / "0.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="walking-01/0.npy: sha256 does not match"):
        read_bundle(bundle_dir)
    assert len(read_bundle(bundle_dir, check_hashes=False)) == 6
    assert validate_bundle(bundle_dir) == ["motions/walking-01/0.npy: sha256 does not match the manifest"]


def test_validate_lists_every_problem(bundle_dir, small_set):
    (bundle_dir / "motions" / "sitting-01" / "1.npy").unlink()
    (bundle_dir / "motions" / "extra.npy").write_bytes(b"x")
    bad = walking(30)
    bad[5, 20] = np.inf
    reseal_file(bundle_dir, "motions/walking-01/1.npy", bad)
    reseal_file(bundle_dir, "motions/jumping-01/0.npy", walking(30).astype(np.float64))
    problems = validate_bundle(bundle_dir, small_set)
    text = "\n".join(problems)
    assert "motions/sitting-01/1.npy: missing" in text
    assert "motions/extra.npy: not listed in the manifest" in text
    assert "walking-01/1.npy (walking-01 repetition 1): 3 NaN or infinite values (first at frame 5)" in text
    assert "jumping-01/0.npy: holds float64 (30, 22, 3); expected float32" in text
    assert len(problems) == 4
    with pytest.raises(FormatError, match=r"sitting-01/1.npy: missing \(or not a regular file\)$"):
        read_bundle(bundle_dir)


def test_validate_coverage_and_prompt_set(bundle_dir, small_set):
    rewrite_manifest(bundle_dir, lambda lines: [x for x in lines if x["prompt_id"] != "walking-01"])
    problems = validate_bundle(bundle_dir, load_prompt_set("v1"))
    assert any("is not the expected v1" in p for p in problems)
    assert any("2 of 6 motions are missing from the manifest: walking-01 rep 0, walking-01 rep 1" in p
               for p in problems)
    assert any("motions/walking-01/0.npy: not listed" in p for p in problems)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d.update(format_version=2), "format_version 2 is not supported"),
        (lambda d: d.update(format="zip"), "'format' must be 'text2imu-motions'"),
        (lambda d: d["generator"].update(weights_sha256="xyz"), "weights_sha256"),
        (lambda d: d["prompt_set"]["prompts"][0].update(text="changed"), "does not match its prompts"),
        (lambda d: d.update(repetitions=3), "3 of 9 motions are missing"),
        (lambda d: d.update(manifest_sha256="0" * 64), "does not match the manifest_sha256"),
    ],
)
def test_bad_bundle_json(bundle_dir, edit, needle):
    doc = json.loads((bundle_dir / BUNDLE_FILE).read_text())
    edit(doc)
    (bundle_dir / BUNDLE_FILE).write_text(json.dumps(doc))
    assert any(needle in p for p in validate_bundle(bundle_dir)), validate_bundle(bundle_dir)
    with pytest.raises(FormatError, match="not a valid motions bundle"):
        read_bundle(bundle_dir)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda x: x.update(path="../../etc/passwd"), "path '../../etc/passwd' must be 'motions/"),
        (lambda x: x.update(n_frames=5000), "n_frames 5000 is not in 3..2000"),
        (lambda x: x.update(fps=0), "fps 0 is not a positive number"),
        (lambda x: x.pop("seed"), "must have exactly the fields"),
        (lambda x: x.update(prompt_id="running-09"), "'running-09' is not in the bundle's prompt set"),
    ],
)
def test_bad_manifest_lines(bundle_dir, edit, needle):
    def change_first(lines):
        edit(lines[0])
        return lines

    rewrite_manifest(bundle_dir, change_first)
    assert any(needle in p for p in validate_bundle(bundle_dir)), validate_bundle(bundle_dir)


def test_not_a_bundle(tmp_path):
    assert validate_bundle(tmp_path / "nope") == [f"{tmp_path / 'nope'} is not a folder"]
    (tmp_path / "empty").mkdir()
    assert validate_bundle(tmp_path / "empty") == ["bundle.json is missing"]
    (tmp_path / "empty" / BUNDLE_FILE).write_text("{not json")
    assert "not UTF-8 JSON" in validate_bundle(tmp_path / "empty")[0]


# --- text2imu generate / bundle (CLI, kinematic) --------------------------------------------------------------


def test_generate_kinematic_cli_is_deterministic(tmp_path, prompt_file, small_set, capsys):
    args = ["generate", "kinematic", "--prompt-file", str(prompt_file), "--repetitions", "2", "--seed", "3"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    b = read_bundle(tmp_path / "a")
    assert b.spec.name == "kinematic" and b.repetitions == 2 and len(b) == 6
    kin = get_generator("kinematic")
    e = b.entry("walking-01", 1)
    assert e.seed == derive_seed(3, "kinematic", "walking-01", 1)
    np.testing.assert_array_equal(b.motion("walking-01", 1).joints_m,
                                  kin.generate(small_set.get("walking-01"), 1, e.seed).joints_m)
    assert b.options["command"] == ("text2imu generate kinematic --prompt-file prompts.toml --repetitions 2 "
                                    "--seed 3")
    assert main(["bundle", "validate", str(tmp_path / "a"), "--prompt-file", str(prompt_file)]) == 0
    assert main(["bundle", "validate", str(tmp_path / "a"), "--prompts", "v1"]) == 1
    assert "is not the expected v1" in capsys.readouterr().out
    assert main(["bundle", "info", str(tmp_path / "a")]) == 0
    from text2imu.builder.generators.kinematic import KINEMATIC_SPEC

    assert f"kinematic {KINEMATIC_SPEC.version} (Apache-2.0)" in capsys.readouterr().out


@pytest.mark.slow
def test_generate_kinematic_whole_v1(tmp_path):
    assert main(["generate", "kinematic", "--prompts", "v1", "--repetitions", "1", "--out", str(tmp_path / "v1")]) == 0
    v1 = load_prompt_set("v1")
    assert validate_bundle(tmp_path / "v1", v1) == []
    assert len(read_bundle(tmp_path / "v1")) == len(v1) == 80


def _fails_cleanly(tmp_path, capsys, argv, needle):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("text2imu: error:") and needle in err[0], err
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "is empty"),
        ("version = \"x\"\n[[prompts]]\nprompt_id = \"a\"\n", "missing field(s) activity, text"),
        ("version = \"x\"\nprompts = [\n", "not valid TOML"),
        ("version = \"x\"\n[[prompts]]\nprompt_id = \"a\"\nactivity = \"dancing\"\ntext = \"t\"\n",
         "Unknown activity 'dancing'"),
    ],
)
def test_generate_bad_prompt_file(tmp_path, capsys, content, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    _fails_cleanly(tmp_path, capsys, ["generate", "kinematic", "--prompt-file", str(bad)], needle)
    bad.unlink()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["generate", "kinematc"], "Did you mean: kinematic?"),
        (["generate", "kinematic", "--prompts", "v9"], "Unknown prompt set 'v9'"),
        (["generate", "kinematic", "--repetitions", "0"], "--repetitions must be in 1..1000"),
        (["generate", "kinematic", "--manifest", "m.csv"], "generator 'kinematic' does not take --manifest"),
        (["generate", "files"], "generator 'files' needs --manifest"),
        (["generate", "mdm", "--repo", "."], "generator 'mdm' needs --checkpoint"),
        (["generate", "kinematic", "--prompt-file", "nope.toml"], "--prompt-file nope.toml: no such file"),
    ],
)
def test_generate_bad_arguments(tmp_path, capsys, argv, needle):
    _fails_cleanly(tmp_path, capsys, argv, needle)


def test_generate_refuses_existing_out(tmp_path, prompt_file, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["generate", "kinematic", "--prompt-file", str(prompt_file), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["generate", "kinematic", "--prompt-file", str(prompt_file), "--out", str(out), "--force"]) == 2
    assert "not a motions bundle" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


class WrongShape:
    spec = GeneratorSpec(name="wrongshape", version="1", license="MIT", reference="tests")

    def generate(self, prompt, repetition, seed):
        if prompt.prompt_id == "sitting-01":
            return np.zeros((40, 21, 3), dtype=np.float32)  # KIT-like skeleton: not a Motion
        return Motion(walking(30), fps=20.0)


class Exploding(WrongShape):
    def generate(self, prompt, repetition, seed):
        if repetition == 1:
            return Motion(walking(30) * 40.0, fps=20.0)  # a giant: bones 40x too long
        return Motion(walking(30), fps=20.0)


@pytest.mark.parametrize(
    "cls, needle",
    [
        (WrongShape, "generator 'fake' returned a ndarray of shape (40, 21, 3) for sitting-01 repetition 0; "
                     "expected a Motion with joints (T, 22, 3)"),
        (Exploding, "repetition 1: invalid motion: bone"),
    ],
)
def test_generator_returning_bad_motions(tmp_path, prompt_file, capsys, monkeypatch, cls, needle):
    monkeypatch.setitem(gens.GENERATORS._entries, "fake", GeneratorEntry(spec=cls.spec, factory=cls))
    _fails_cleanly(tmp_path, capsys, ["generate", "fake", "--prompt-file", str(prompt_file), "--repetitions", "2"],
                   needle)


def test_bundle_validate_cli_reports_problems(bundle_dir, capsys):
    (bundle_dir / "motions" / "walking-01" / "0.npy").unlink()
    assert main(["bundle", "validate", str(bundle_dir)]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "motions/walking-01/0.npy: missing" in out
    assert main(["bundle", "info", str(bundle_dir)]) == 2
    assert main(["bundle", "validate", str(bundle_dir / "nope")]) == 2
