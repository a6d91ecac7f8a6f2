"""text2imu submit: a tiny bundle end to end (results + leaderboard in a tmp folder), bad bundles refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from text2imu.cli import main

PROMPTS = """\
version = "test-submit"

[[prompts]]
prompt_id = "walking-01"
activity = "walking"
text = "A person walks forward at a normal pace for about eight seconds."

[[prompts]]
prompt_id = "walking-02"
activity = "walking"
text = "A person walks briskly in a straight line."

[[prompts]]
prompt_id = "sitting-01"
activity = "sitting"
text = "A person sits on a chair for about six seconds."

[[prompts]]
prompt_id = "sitting-02"
activity = "sitting"
text = "A person sits still on a stool."
"""


@pytest.fixture(scope="module")
def bundle_src(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("submit")
    prompts = root / "prompts.toml"
    prompts.write_text(PROMPTS)
    bundle = root / "bundle"
    assert main(["generate", "kinematic", "--prompt-file", str(prompts), "--repetitions", "1", "--out",
                 str(bundle)]) == 0
    return bundle, prompts


@pytest.fixture
def bundle(bundle_src, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(bundle_src[0], tmp_path / "bundle"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reseal(bundle: Path, edit_lines=None, replace: dict | None = None) -> None:
    """Rewrite motion files (``replace`` {relpath: array}) and manifest lines (``edit_lines``), then fix every
    hash so that only the content problem remains."""
    lines = [json.loads(line) for line in (bundle / "manifest.jsonl").read_text().splitlines() if line.strip()]
    for rel, array in (replace or {}).items():
        np.save(bundle / rel, array)
        for entry in lines:
            if entry["path"] == rel:
                entry["sha256"] = _sha((bundle / rel).read_bytes())
                entry["n_frames"] = int(array.shape[0])
    if edit_lines is not None:
        lines = edit_lines(lines)
    text = "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in lines)
    (bundle / "manifest.jsonl").write_text(text)
    doc = json.loads((bundle / "bundle.json").read_text())
    doc["manifest_sha256"] = _sha(text.encode())
    doc["n_motions"] = len(lines)
    (bundle / "bundle.json").write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")


def first_motion(bundle: Path) -> str:
    return json.loads((bundle / "manifest.jsonl").read_text().splitlines()[0])["path"]


def submit_args(bundle: Path, prompts: Path, tmp_path: Path) -> list[str]:
    return ["submit", str(bundle), "--prompt-file", str(prompts), "--sites", "hapt.waist", "--shapes",
            "female_short", "--seeds", "1", "--epochs", "1", "--threads", "1", "--gap-cap", "30", "--no-progress",
            "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"), "--leaderboard",
            str(tmp_path / "leaderboard.md")]


def _nan(bundle: Path) -> None:
    rel = first_motion(bundle)
    joints = np.load(bundle / rel)
    joints[3, 5, 1] = np.nan
    reseal(bundle, replace={rel: joints})


def _wrong_skeleton(bundle: Path) -> None:
    rel = first_motion(bundle)
    reseal(bundle, replace={rel: np.load(bundle / rel)[:, :21]})


def _missing(bundle: Path) -> None:
    rel = first_motion(bundle)
    (bundle / rel).unlink()
    reseal(bundle, edit_lines=lambda lines: lines[1:])


def _oversized(bundle: Path) -> None:
    with open(bundle / first_motion(bundle), "r+b") as handle:
        handle.truncate(2_000_000)  # sparse: over the per-file limit without writing 2 MB


@pytest.mark.parametrize(
    ("spoil", "needle"),
    [
        (_missing, "1 of 4 motions are missing from the manifest: sitting-01 rep 0"),
        (_nan, "NaN"),
        (_wrong_skeleton, "expected float32 (T, 22, 3)"),
        (_oversized, "2000000 bytes, over the per-file limit"),
    ],
)
def test_bad_bundles_refused_with_nothing_built(bundle, bundle_src, tmp_path, capsys, spoil, needle):
    spoil(bundle)
    assert main(submit_args(bundle, bundle_src[1], tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "submission refused" in err[0] and needle in err[0], err[0]
    for name in ("work", "results", "leaderboard.md"):
        assert not (tmp_path / name).exists()


def test_bundle_of_another_prompt_set_refused(bundle, bundle_src, tmp_path, capsys):
    args = submit_args(bundle, bundle_src[1], tmp_path)
    i = args.index("--prompt-file")
    assert main(args[:i] + ["--prompts", "v1"] + args[i + 2:]) == 2  # the official set, which it does not cover
    err = capsys.readouterr().err
    assert "is not the expected v1" in err and not (tmp_path / "work").exists()


@pytest.mark.slow
def test_submit_end_to_end(bundle, bundle_src, tmp_path, capsys):
    from text2imu.benchmark.gap import read_gap
    from text2imu.benchmark.leaderboard import check_leaderboard
    from text2imu.benchmark.results import TASK_KEYS, read_results

    assert main(submit_args(bundle, bundle_src[1], tmp_path)) == 0
    out = capsys.readouterr().out
    assert "balanced accuracy" in out and "gap AUC" in out
    results = sorted((tmp_path / "results").glob("*.json"))
    assert [p.name.split("__")[0] for p in results] == ["kinematic", "kinematic"]
    bench = read_results(next(p for p in results if not p.name.endswith(".gap.json")))
    gap = read_gap(next(p for p in results if p.name.endswith(".gap.json")))
    assert bench["task"]["corpus_revision"].startswith("submission-")
    assert {k: bench["task"][k] for k in TASK_KEYS} == {k: gap["task"][k] for k in TASK_KEYS}
    assert (bench["task"]["mode"], bench["task"]["model"]) == ("synthetic", "deepconvlstm")
    assert bench["classes"] == ["sitting", "walking"] and len(bench["seeds"]) == 1
    assert 0.0 <= gap["gap"]["auc"]["mean"] <= 1.0
    page = (tmp_path / "leaderboard.md").read_text()
    assert "| kinematic |" in page and bench["task"]["corpus_revision"] in page
    assert check_leaderboard(tmp_path / "results", tmp_path / "leaderboard.md") is None
    # the same submission again is refused unless --force
    assert main(submit_args(bundle, bundle_src[1], tmp_path)) == 2
    assert "pass --force" in capsys.readouterr().err
