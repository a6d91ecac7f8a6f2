"""leaderboard.md: rendering from results files, reference rows, the cannot-run list, --check, bad results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from text2imu.benchmark.leaderboard import (
    DEFAULT_PAGE,
    DEFAULT_RESULTS_DIR,
    check_leaderboard,
    render_leaderboard,
)
from text2imu.cli import main

CLASSES = ["sitting", "walking"]


def results_doc(generator: str | None, bacc: list[float], kind: str = "benchmark", revision: str = "v0.1.0",
                hub: bool = False) -> dict:
    seeds = list(range(len(bacc)))
    mean = sum(bacc) / len(bacc)
    std = (sum((b - mean) ** 2 for b in bacc) / (len(bacc) - 1)) ** 0.5 if len(bacc) > 1 else 0.0
    doc = {
        "schema_version": 1,
        "kind": kind,
        "task": {"generator": generator, "corpus_revision": revision if kind == "benchmark" else None,
                 "real_dataset": "uci_hapt", "site": "hapt.waist" if kind == "benchmark" else None,
                 "real_site": "hapt.waist"},
        "protocol": {"version": "v1"},
        "classes": CLASSES,
        "seeds": seeds,
        "scores_per_seed": [{"seed": s, "balanced_accuracy": b, "macro_f1": b - 0.05, "accuracy": b,
                             "per_class_recall": {c: b for c in CLASSES},
                             "confusion_matrix": [[1, 0], [0, 1]]} for s, b in zip(seeds, bacc, strict=True)],
        "summary": {"balanced_accuracy": {"mean": mean, "std": std, "n": len(bacc)},
                    "macro_f1": {"mean": mean - 0.05, "std": std, "n": len(bacc)}},
        "reference": {"chance": {"balanced_accuracy": 0.5}, "majority": {"balanced_accuracy": 0.5}},
        "corpus": ({"source": "hub", "repo_id": f"text2imu/{generator}", "revision": revision} if hub else
                   {"source": "folder", "card_sha256": "ab" * 32}) if kind == "benchmark" else None,
        "real": {}, "timings": {}, "environment": {}, "versions": {},
        "created_utc": "2025-03-04T05:06:07Z",
    }
    if kind == "reference":
        doc["folds"] = {"scheme": "grouped 5-fold by subject"}
    return doc


def gap_doc(generator: str, auc: float, revision: str = "v0.1.0") -> dict:
    return {"schema_version": 1, "kind": "gap",
            "task": {"generator": generator, "corpus_revision": revision, "real_dataset": "uci_hapt",
                     "site": "hapt.waist", "real_site": "hapt.waist"},
            "config": {}, "classes": CLASSES, "gap": {"auc": {"mean": auc, "std": 0.01}, "frechet": {"value": 12.5}},
            "created_utc": "2025-03-04T05:06:07Z"}


def write(folder: Path, name: str, doc: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(doc))
    return folder / name


@pytest.fixture
def results(tmp_path) -> Path:
    d = tmp_path / "results"
    write(d, "low.json", results_doc("lowgen", [0.40, 0.44]))
    write(d / "sub", "high.json", results_doc("highgen", [0.70, 0.74], hub=True))
    write(d, "mid.json", results_doc("midgen", [0.55, 0.61]))
    write(d, "mid.gap.json", gap_doc("midgen", 0.83))
    write(d, "ref.json", results_doc(None, [0.9, 0.92], kind="reference"))
    return d


def table_rows(page: str, section: str) -> list[str]:
    body = page.split(f"## {section}")[1].split("\n## ")[0]
    return [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| generator")
            and not line.startswith("| real dataset")]


def test_rows_sorted_by_balanced_accuracy_with_gap_and_links(results, tmp_path):
    page = render_leaderboard(results, tmp_path / "leaderboard.md")
    rows = table_rows(page, "Results")
    assert [r.split(" | ")[0] for r in rows] == ["| highgen", "| midgen", "| lowgen"]
    mid = rows[1]
    assert "58.0 ± 4.2" in mid and "0.830 ± 0.010" in mid and "12.50" in mid and "2025-03-04" in mid
    assert "[results](results/mid.json)" in mid and "[gap](results/mid.gap.json)" in mid
    assert "–" in rows[2].split(" | ")[6]  # no gap file for lowgen
    high = rows[0]
    assert "(https://huggingface.co/datasets/text2imu/highgen/tree/v0.1.0)" in high
    assert "[card](https://huggingface.co/datasets/text2imu/highgen/blob/v0.1.0/README.md)" in high


def test_reference_rows_and_cannot_run_list(results, tmp_path):
    page = render_leaderboard(results, tmp_path / "leaderboard.md")
    ref = table_rows(page, "Reference rows")
    assert len(ref) == 1 and "| 50.0 | 50.0 | 91.0 ± 1.4 | grouped 5-fold by subject |" in ref[0]
    cannot = page.split("## Generators that cannot run here")[1]
    for name in ("MDM", "MDM + L_acc", "MoMask", "ReMoDiffuse", "T2M-GPT"):
        assert f"| {name} |" in cannot
    assert "text2imu generate momask" in cannot and "text2imu submit bundles/momask" in cannot
    assert "| MDM + L_acc | 57.2 | 0.049 |" in cannot


def test_check_fresh_then_stale(results, tmp_path, capsys):
    page = tmp_path / "leaderboard.md"
    args = ["leaderboard", "--results", str(results), "--out", str(page)]
    assert main([*args, "--check"]) == 1  # not written yet
    assert "does not exist" in capsys.readouterr().err
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    write(results, "new.json", results_doc("newgen", [0.5, 0.52]))
    capsys.readouterr()
    assert main([*args, "--check"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stale" in err[0] and "text2imu leaderboard" in err[0]
    assert "newgen" not in page.read_text()  # --check writes nothing


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({**results_doc("g", [0.5]), "schema_version": 99}, "schema_version 99 is not supported"),
        ({**gap_doc("g", 0.6), "schema_version": 3}, "gap results schema_version 3 is not supported"),
        ({**results_doc("g", [0.5]), "kind": "mystery"}, "kind 'mystery'"),
    ],
)
def test_unknown_results_refused_with_reason(results, tmp_path, capsys, doc, needle):
    write(results, "bad.json", doc)
    page = tmp_path / "leaderboard.md"
    assert main(["leaderboard", "--results", str(results), "--out", str(page)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "bad.json" in err[0]
    assert not page.exists()


def test_duplicate_rows_refused(results, tmp_path):
    from text2imu.builder.errors import FormatError

    write(results, "mid-again.json", results_doc("midgen", [0.1, 0.2]))
    with pytest.raises(FormatError, match="same benchmark row"):
        render_leaderboard(results, tmp_path / "leaderboard.md")


def test_committed_leaderboard_is_current():
    problem = check_leaderboard(DEFAULT_RESULTS_DIR, DEFAULT_PAGE)
    assert problem is None, problem
