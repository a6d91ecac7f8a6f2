"""Building a corpus: the dataset folder, load_dataset, determinism, verify, refusal, failing units, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures.corpus import TINY, NanSource, assert_same_tree, tiny

from text2imu.builder.corpus import STAGING, CorpusBuildError, build_corpus, sha256_file, verify_corpus
from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.builder.generators import derive_seed, get_generator
from text2imu.builder.prompts import load_prompt_set
from text2imu.builder.simulate import simulate_motion
from text2imu.builder.vocab import ACTIVITIES
from text2imu.cli import main

CONFIGS = ("hapt.waist-female_short", "hapt.waist-male_tall", "realworld.head-female_short",
           "realworld.head-male_tall")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The tiny corpus built in this process (workers=1)."""
    out = tmp_path_factory.mktemp("corpus") / "ref"
    result = build_corpus(TINY, out, workers=1, progress=False)
    assert result.n_recordings == 16 and result.units_run == 4
    return out


def front_matter(readme: Path) -> dict:
    text = readme.read_text("utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_folder_layout_and_manifest(reference):
    files = sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*") if p.is_file())
    assert files == ["README.md", *(f"data/{c}/train-00000-of-00001.parquet" for c in CONFIGS), "manifest.json"]
    manifest = json.loads((reference / "manifest.json").read_text())
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(reference / rel)
    assert manifest["configs"] == dict.fromkeys(CONFIGS, 4) and manifest["recordings"] == 16


def test_load_dataset_returns_the_simulated_recordings(reference):
    import datasets

    ds = datasets.load_dataset(str(reference), "hapt.waist-female_short", split="train")
    assert ds.num_rows == 4
    assert ds.features["activity"] == datasets.ClassLabel(names=list(ACTIVITIES))
    assert ds.features["acc_mps2"] == datasets.Array2D((None, 3), "float32")
    assert ds.features["orientation_wxyz"] == datasets.Array2D((None, 4), "float32")
    rows = ds.with_format("numpy")
    assert [str(r) for r in rows["recording_id"]] == [
        f"kinematic/{p}/r{r:03d}/female_short/hapt.waist" for p in ("jumping-02", "walking-01") for r in (0, 1)]
    # recompute one recording independently: the generator with its seed, then the simulation
    row = rows[3]
    prompt = load_prompt_set("v1").get("walking-01")
    assert ds.features["activity"].int2str(int(row["activity"])) == "walking" and str(row["prompt"]) == prompt.text
    motion = get_generator("kinematic").generate(prompt, 1, derive_seed(0, "kinematic", "walking-01", 1))
    sig = simulate_motion(motion, "anny", "female_short", ["hapt.waist"])["hapt.waist"]
    np.testing.assert_array_equal(row["acc_mps2"], sig.acc_mps2.astype(np.float32))
    np.testing.assert_array_equal(row["gyro_radps"], sig.gyro_radps.astype(np.float32))
    np.testing.assert_array_equal(row["orientation_wxyz"], sig.orientation_wxyz.astype(np.float32))
    assert row["rate_hz"] == 20.0 and row["duration_s"] == pytest.approx((len(sig.acc_mps2) - 1) / 20.0)
    assert int(row["seed"]) == derive_seed(0, "kinematic", "walking-01", 1, "female_short", "hapt.waist")
    every = datasets.load_dataset(str(reference), "default", split="train")
    ids = every["recording_id"]
    assert len(ids) == 16 and len(set(ids)) == 16
    assert sorted({(r["site"], r["body_shape"]) for r in every.select_columns(["site", "body_shape"])}) == sorted(
        tuple(c.split("-")) for c in CONFIGS)


def test_card_yaml_and_provenance(reference):
    import datasets

    meta = front_matter(reference / "README.md")
    assert meta["license"] == "apache-2.0"
    assert [c["config_name"] for c in meta["configs"]] == ["default", *CONFIGS]
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data/*/train-*.parquet"}]
    info = {d["config_name"]: d for d in meta["dataset_info"]}
    assert info["default"]["splits"][0]["num_examples"] == 16 and info[CONFIGS[0]]["splits"][0]["num_examples"] == 4
    features = datasets.Features._from_yaml_list(info["default"]["features"])
    assert features["activity"].names == list(ACTIVITIES)
    assert features["gyro_radps"] == datasets.Array2D((None, 3), "float32")
    text = (reference / "README.md").read_text("utf-8")
    manifest = json.loads((reference / "manifest.json").read_text())
    for rel, entry in manifest["files"].items():
        if rel != "README.md":
            assert entry["sha256"] in text and rel in text
    assert load_prompt_set("v1").sha256 in text
    from text2imu.builder.generators.kinematic import KINEMATIC_SPEC

    for needle in ("text2imu 0", f"kinematic {KINEMATIC_SPEC.version}", "anny 0.", "| 150.0 | 50.0 |", "central", "ideal"):
        assert needle in text, needle
    # every spec field that shapes the data is in the manifest
    assert manifest["spec"]["shapes"] == ["male_tall", "female_short"]
    assert manifest["spec"]["sites"] == ["realworld.head", "hapt.waist"]


def test_same_spec_same_bytes_with_a_process_pool_and_verify(reference, tmp_path):
    out = tmp_path / "pool"
    build_corpus(tiny(sites=("realworld.head", "hapt.waist", "hapt.waist")), out, workers=2, progress=False)
    assert_same_tree(out, reference)
    assert verify_corpus(out).ok
    shard = out / f"data/{CONFIGS[1]}/train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-1] + b"\0")
    (out / "data" / "stray.parquet").write_bytes(b"x")
    report = verify_corpus(out)
    assert not report.ok and len(report.problems) == 2
    assert any(CONFIGS[1] in p and "sha256" in p for p in report.problems)
    assert any("stray.parquet" in p and "not listed" in p for p in report.problems)
    shard.unlink()
    assert any("missing" in p for p in verify_corpus(out).problems)


def test_shards_split_by_rows_give_the_same_rows(reference, tmp_path):
    import datasets

    out = tmp_path / "split"
    build_corpus(tiny(rows_per_shard=3, rows_per_row_group=2), out, progress=False)
    assert sorted(p.name for p in (out / "data" / CONFIGS[0]).iterdir()) == [
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    a = datasets.load_dataset(str(out), CONFIGS[0], split="train").with_format("numpy")
    b = datasets.load_dataset(str(reference), CONFIGS[0], split="train").with_format("numpy")
    assert list(a["recording_id"]) == list(b["recording_id"])
    for i in range(4):
        np.testing.assert_array_equal(a[i]["acc_mps2"], b[i]["acc_mps2"])


def test_existing_folder_refused_then_force_and_resume(reference, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(Text2ImuError, match="--resume.*--force"):
        build_corpus(TINY, other, progress=False)
    with pytest.raises(Text2ImuError, match="no text2imu build"):
        build_corpus(TINY, other, resume=True, progress=False)
    with pytest.raises(Text2ImuError, match="refusing to replace it even with --force"):
        build_corpus(TINY, other, force=True, progress=False)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    out = tmp_path / "again"
    build_corpus(tiny(repetitions=1), out, progress=False)
    (out / ".gitattributes").write_text("*.parquet filter=lfs\n")
    build_corpus(TINY, out, force=True, progress=False)
    assert (out / ".gitattributes").is_file()
    (out / ".gitattributes").unlink()
    assert_same_tree(out, reference)
    again = build_corpus(TINY, out, resume=True, progress=False)
    assert again.units_run == 0 and again.n_recordings == 16
    with pytest.raises(Text2ImuError, match="another spec"):
        build_corpus(tiny(repetitions=1), out, resume=True, progress=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_unit_is_named_and_the_others_survive_for_resume(reference, tmp_path, workers):
    out = tmp_path / "failing"
    with pytest.raises(CorpusBuildError) as err:
        build_corpus(TINY, out, workers=workers, source=NanSource("jumping-02", 1), progress=False)
    msg = str(err.value)
    assert "1 of 4 units failed" in msg and "kinematic/jumping-02/r001" in msg and "MotionError" in msg
    assert sorted(p.name for p in out.iterdir()) == [STAGING]  # no corpus file written
    staged = sorted(p.name for p in (out / STAGING / "parts").iterdir())
    assert staged == ["jumping-02__r000.arrow", "walking-01__r000.arrow", "walking-01__r001.arrow"]
    failures = json.loads((out / STAGING / "failures.json").read_text())
    assert [f["unit_id"] for f in failures] == ["kinematic/jumping-02/r001"]
    result = build_corpus(TINY, out, workers=workers, resume=True, progress=False)
    assert result.units_run == 1
    assert_same_tree(out, reference)


def run(capsys, *args):
    status = main(list(args))
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def test_cli_build_and_verify(reference, tmp_path, capsys):
    out = tmp_path / "cli"
    status, stdout, _ = run(capsys, "build", "kinematic", "--prompts", "walking-01,jumping-02", "--repetitions", "2",
                            "--shapes", "female_short,male_tall", "--sites", "hapt.waist,realworld.head",
                            "--out", str(out), "--workers", "1", "--no-progress")
    assert status == 0 and "16 recordings, 4 configs" in stdout
    assert_same_tree(out, reference)
    status, stdout, _ = run(capsys, "verify", str(out))
    assert status == 0 and "OK, 5 files" in stdout
    (out / "README.md").write_text("changed")
    status, stdout, _ = run(capsys, "verify", str(out))
    assert status == 1 and "README.md: sha256 differs" in stdout
    status, _, err = run(capsys, "verify", str(tmp_path))
    assert status == 2 and "manifest.json" in err and len(err.strip().splitlines()) == 1
    status, _, err = run(capsys, "build", "kinematic", "--prompts", "walking-01", "--repetitions", "1",
                         "--out", str(out), "--no-progress")
    assert status == 2 and "--resume" in err


@pytest.mark.parametrize(("args", "expected"), [
    (("kinematc",), "Unknown generator 'kinematc'. Did you mean: kinematic?"),
    (("kinematic", "--sites", "realworld.wrist"), "Unknown site 'realworld.wrist'. Did you mean:"),
    (("kinematic", "--shapes", "female_shrt"), "Unknown body shape 'female_shrt'. Did you mean: female_short"),
    (("kinematic", "--prompts", "walking-99"), "Unknown prompt 'walking-99'"),
    (("kinematic", "--repetitions", "0"), "repetitions must be a positive integer"),
    (("kinematic", "--noise", "loud"), "Unknown noise preset 'loud'"),
    (("kinematic", "--backend", "dask"), "--backend dask needs --scheduler"),
    (("no/such/bundle",), "no such motions bundle folder"),
])
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "text2imu", "build", *args, "--out", str(out), "--no-progress"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert not out.exists()


def test_spec_checks_in_the_library():
    with pytest.raises(UnknownNameError, match="Did you mean: realworld.waist"):
        build_corpus(tiny(sites=("realworld.wais",)), "/nonexistent/never", progress=False)
    with pytest.raises(Text2ImuError, match="seed"):
        build_corpus(tiny(seed=-1), "/nonexistent/never", progress=False)
    assert not Path("/nonexistent/never").exists()
