"""Corpus pieces: spec normalisation, row schema and Hugging Face features, shard splitting, licenses, seeds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest
from fixtures.corpus import TINY, tiny

from text2imu.builder.bodies.shapes import shape_names
from text2imu.builder.corpus_card import corpus_license, license_rank
from text2imu.builder.corpus_parquet import (
    COLUMNS,
    ShardWriter,
    arrow_schema,
    features_dict,
    features_yaml,
    read_part,
    rows_table,
    table_to_ipc,
)
from text2imu.builder.corpus_spec import CorpusSpec, normalize_spec
from text2imu.builder.corpus_units import Job, Unit, plan_units, recording_seed, run_unit
from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.builder.generators import derive_seed
from text2imu.builder.prompts import load_prompt_set
from text2imu.builder.vocab import ACTIVITIES, SITE_NAMES


def expected_features():
    import datasets

    return datasets.Features({
        **{c: datasets.Value("string") for c in ("recording_id", "prompt_id", "prompt")},
        "activity": datasets.ClassLabel(names=list(ACTIVITIES)),
        "repetition": datasets.Value("int32"),
        "seed": datasets.Value("int64"),
        **{c: datasets.Value("string") for c in ("generator", "body_model", "body_shape", "site")},
        "rate_hz": datasets.Value("float64"),
        "duration_s": datasets.Value("float64"),
        "acc_mps2": datasets.Array2D((None, 3), "float32"),
        "gyro_radps": datasets.Array2D((None, 3), "float32"),
        "orientation_wxyz": datasets.Array2D((None, 4), "float32"),
    })


def test_features_in_shards_and_yaml_are_what_datasets_reads(tmp_path):
    import datasets

    writer = ShardWriter(tmp_path, 2, 10, 10)
    writer.add(rows_table(_rows(2)))
    [shard] = writer.close()
    assert pq.read_schema(shard).metadata[b"huggingface"] == arrow_schema().metadata[b"huggingface"]
    assert datasets.Features.from_arrow_schema(pq.read_schema(shard)) == expected_features()
    ds = datasets.Dataset.from_parquet(str(shard), cache_dir=str(tmp_path / "cache"))
    assert ds.features == expected_features()
    np.testing.assert_array_equal(ds.with_format("numpy")[1]["gyro_radps"],
                                  _rows(2)[1]["gyro_radps"].astype(np.float32))
    assert datasets.Features._from_yaml_list(features_yaml()) == expected_features()
    assert list(features_dict()) == list(COLUMNS) == list(expected_features())


def test_normalize_spec_is_canonical_and_checks_names():
    a = normalize_spec(tiny(sites=("realworld.head", "hapt.waist"), shapes=("male_tall", "female_short"),
                            prompt_ids=("walking-01", "jumping-02", "walking-01")))
    b = normalize_spec(tiny(sites=("hapt.waist", "realworld.head"), shapes=("female_short", "male_tall")))
    assert a == b and a.fingerprint() == b.fingerprint()
    assert a.sites == ("realworld.head", "hapt.waist") and a.prompt_ids == ("jumping-02", "walking-01")
    full = normalize_spec(CorpusSpec(generator="kinematic", sites=("realworld", "hapt.waist"), shapes=("all",)))
    assert full.shapes == shape_names() and len(full.shapes) == 8
    assert full.sites == tuple(s for s in SITE_NAMES if s.startswith("realworld.")) + ("hapt.waist",)
    assert len(full.config_names()) == 64 and full.config_names() == tuple(sorted(full.config_names()))
    assert CorpusSpec.from_dict(full.to_dict()) == full
    with pytest.raises(UnknownNameError, match="Did you mean: realworld"):
        normalize_spec(tiny(sites=("realwrld",)))
    with pytest.raises(UnknownNameError, match="generator 'kinematc'"):
        normalize_spec(tiny(generator="kinematc"))
    for bad in ({"repetitions": 0}, {"seed": -3}, {"seed": ""}, {"rate_hz": 0.0}, {"rows_per_shard": 0},
                {"prompt_ids": ()}):
        with pytest.raises(Text2ImuError):
            normalize_spec(tiny(**bad))
    with pytest.raises(UnknownNameError, match="simulation method"):
        normalize_spec(tiny(method="euler"))


def test_units_seeds_and_row_order():
    spec = normalize_spec(TINY)
    units = plan_units(spec, load_prompt_set("v1").prompts[:0] + tuple(
        load_prompt_set("v1").get(p) for p in ("walking-01", "jumping-02")))
    assert [u.unit_id for u in units] == ["kinematic/jumping-02/r000", "kinematic/jumping-02/r001",
                                          "kinematic/walking-01/r000", "kinematic/walking-01/r001"]
    u = units[1]
    assert recording_seed(spec, u, "male_tall", "hapt.waist") == derive_seed(
        0, "kinematic", "jumping-02", 1, "male_tall", "hapt.waist")
    result = run_unit(Job(spec, _source()), u)
    assert result.error is None and result.n_rows == 4
    table = read_part_bytes(result.ipc)
    assert table.column("recording_id").to_pylist() == [
        f"kinematic/jumping-02/r001/{c.split('-')[1]}/{c.split('-')[0]}" for c in spec.config_names()]
    assert len(set(table.column("seed").to_pylist())) == 4


def _source():
    from text2imu.builder.corpus_sources import GeneratorSource

    return GeneratorSource("kinematic")


def read_part_bytes(data: bytes):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.arrow"
        p.write_bytes(data)
        return read_part(p)


def test_noise_preset_changes_signals_per_recording_seed():
    from text2imu.builder.noise import noise_presets

    noisy = next((n for n, p in noise_presets().items() if not p.is_ideal), None)
    if noisy is None:
        pytest.skip("no noisy preset shipped")
    spec = normalize_spec(tiny(noise=noisy))
    unit = Unit("kinematic", load_prompt_set("v1").get("walking-01"), 0)
    a = read_part_bytes(run_unit(Job(spec, _source()), unit).ipc)
    b = read_part_bytes(run_unit(Job(normalize_spec(TINY), _source()), unit).ipc)
    again = read_part_bytes(run_unit(Job(spec, _source()), unit).ipc)
    assert a.equals(again)
    acc_a = np.asarray(a.column("acc_mps2")[0].as_py())
    acc_b = np.asarray(b.column("acc_mps2")[0].as_py())
    assert acc_a.shape == acc_b.shape and not np.array_equal(acc_a, acc_b)


def _rows(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"recording_id": f"r{i}", "prompt_id": "p", "prompt": "t", "activity": 7, "repetition": i, "seed": i,
             "generator": "g", "body_model": "anny", "body_shape": "s", "site": "x", "rate_hz": 20.0,
             "duration_s": 1.0, "acc_mps2": rng.normal(size=(5 + i, 3)), "gyro_radps": rng.normal(size=(5 + i, 3)),
             "orientation_wxyz": rng.normal(size=(5 + i, 4))} for i in range(n)]


def test_shard_writer_splits_rows_into_shards_and_row_groups(tmp_path):
    table = rows_table(_rows(7))
    assert read_part_bytes(table_to_ipc(table)).equals(table)
    writer = ShardWriter(tmp_path, 7, rows_per_shard=3, rows_per_row_group=2)
    for i in range(7):
        writer.add(table.slice(i, 1))
    files = writer.close()
    assert [f.name for f in files] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    groups = [[pq.ParquetFile(f).metadata.row_group(g).num_rows for g in range(pq.ParquetFile(f).num_row_groups)]
              for f in files]
    assert groups == [[2, 1], [2, 1], [1]]
    back = [r for f in files for r in pq.read_table(f).column("recording_id").to_pylist()]
    assert back == [f"r{i}" for i in range(7)]
    acc = pq.read_table(files[2]).column("acc_mps2")[0].as_py()
    np.testing.assert_array_equal(np.asarray(acc, np.float32), _rows(7)[6]["acc_mps2"].astype(np.float32))
    short = ShardWriter(tmp_path / "short", 3, 10, 10)
    short.add(table.slice(0, 2))
    with pytest.raises(Text2ImuError, match="wrote 2 rows, expected 3"):
        short.close()


def test_most_restrictive_license():
    assert corpus_license({"gen": "MIT", "body": "Apache-2.0", "set": "CC0-1.0"})[:2] == ("Apache-2.0", "apache-2.0")
    assert corpus_license({"gen": "CC-BY-NC-4.0", "body": "Apache-2.0"}) == ("CC-BY-NC-4.0", "cc-by-nc-4.0", "gen")
    assert corpus_license({"gen": "Apache-2.0", "body": "LicenseRef-SMPL"})[1] == "other"
    assert license_rank("Made-Up-1.0")[1] == "other"
    assert license_rank("mit") == license_rank("MIT")


def test_spec_round_trip_keeps_release_fields():
    spec = replace(TINY, seed="v0.1.0", version="v0.1.0", repo_id="me/kin")
    assert CorpusSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(Text2ImuError, match="unknown corpus spec field"):
        CorpusSpec.from_dict({**spec.to_dict(), "colour": "red"})
