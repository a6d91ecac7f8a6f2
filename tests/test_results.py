"""Results files (schema v1): round trip, validation, unknown schema versions refused, atomic writes."""

import json
import os

import numpy as np
import pytest

from text2imu.benchmark.metrics import chance_scores, scores, summarise_seeds
from text2imu.benchmark.protocol import Protocol
from text2imu.benchmark.results import (
    SCHEMA_VERSION,
    default_file_name,
    read_results,
    validate_results,
    versions,
    write_results,
)
from text2imu.builder.errors import FormatError

CLASSES = ["lying", "sitting", "walking"]


def make_results(n_seeds=3):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    per_seed = []
    for seed in range(n_seeds):
        pred = np.where(rng.random(50) < 0.7, y, rng.integers(0, 3, 50))
        per_seed.append({"seed": seed, **scores(y, pred, CLASSES), "timings": {"total_s": 1.5}})
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "benchmark",
        "task": {"generator": "kinematic", "corpus_revision": "v0.1.0", "real_dataset": "uci_hapt",
                 "site": "hapt.waist", "real_site": "hapt.waist"},
        "protocol": Protocol().to_dict(),
        "classes": CLASSES,
        "seeds": list(range(n_seeds)),
        "scores_per_seed": per_seed,
        "summary": summarise_seeds(per_seed, CLASSES),
        "reference": chance_scores(y, CLASSES),
        "corpus": {"path": "/x", "revision": "v0.1.0"},
        "real": {"dataset": "uci_hapt"},
        "timings": {"total_s": 4.5},
        "environment": {"torch_threads": 2},
        "versions": {"text2imu": "0.1.0"},
        "created_utc": "2025-01-01T00:00:00Z",
    }


def test_round_trip(tmp_path):
    results = make_results()
    path = write_results(tmp_path / "r.json", results)
    back = read_results(path)
    assert back == json.loads(json.dumps(results))
    assert back["protocol"]["version"] == "v1" and back["protocol"]["window_samples"] == 40
    assert back["summary"]["balanced_accuracy"]["n"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not mkstemp's 0600


def test_unknown_schema_version_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**make_results(), "schema_version": 2}))
    with pytest.raises(FormatError, match=r"future.json: results schema_version 2 is not supported .*version 1"):
        read_results(path)
    path.write_text(json.dumps({"scores": []}))
    with pytest.raises(FormatError, match="schema_version None"):
        read_results(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("versions"), "missing key"),
        (lambda r: r.update(kind="leaderboard"), "kind"),
        (lambda r: r["scores_per_seed"][1].update(seed=7), "seed 7"),
        (lambda r: r["scores_per_seed"][0]["confusion_matrix"].pop(), "3 x 3"),
        (lambda r: r["scores_per_seed"][0]["per_class_recall"].pop("lying"), "per_class_recall"),
        (lambda r: r["scores_per_seed"][0].update(balanced_accuracy=1.5), r"\[0, 1\]"),
        (lambda r: r["seeds"].append(9), "one entry per seed"),
        (lambda r: r.update(kind="reference"), "folds.scheme"),
    ],
)
def test_invalid_results_are_refused(change, message, tmp_path):
    results = make_results()
    change(results)
    with pytest.raises(FormatError, match=message):
        validate_results(results, "r.json")
    with pytest.raises(FormatError):
        write_results(tmp_path / "bad.json", results)
    assert not list(tmp_path.iterdir())  # nothing written


def test_nan_becomes_null_and_numpy_values_become_numbers(tmp_path):
    results = make_results()
    results["timings"]["odd_s"] = float("nan")
    results["timings"]["np_s"] = np.float32(2.5)
    back = read_results(write_results(tmp_path / "r.json", results))
    assert back["timings"]["odd_s"] is None and back["timings"]["np_s"] == 2.5


def test_not_json_is_a_format_error(tmp_path):
    (tmp_path / "r.json").write_text("{")
    with pytest.raises(FormatError, match="not JSON"):
        read_results(tmp_path / "r.json")


def test_default_file_name_and_versions():
    assert default_file_name(make_results()["task"]) == "kinematic__v0.1.0__uci_hapt__hapt.waist.json"
    v = versions()
    assert {"text2imu", "git_commit", "torch", "numpy", "datasets", "python"} <= set(v)
