"""Caption categories: the paper's method reproduced exactly, the examples mode, the labelled set, the command."""

from __future__ import annotations

import re

import numpy as np
import pytest

from text2imu.benchmark.categories import (
    CATEGORIES,
    HIGH_DYNAMIC,
    OTHER,
    THRESHOLD,
    categorise,
    category_examples,
    dynamic_group,
    evaluate,
    read_labelled,
)
from text2imu.builder.errors import UnknownNameError
from text2imu.cli import main

LINE = re.compile(r"^(Dancing|Jumping|Lying|Running|Sitting|Stair climbing|Standing|Walking|Other)\t-?\d\.\d{4}\t(.+)$")

pytest_plugins = ["fixtures.diffusion_data"]  # minilm, h3d_dir, tiny_ckpt, tiny_ckpt_acc (session-wide)


class AxisEncoder:
    """Made-up encoder: each category name is a basis vector; a caption 'CAT=0.45' has cosine 0.45 with CAT."""

    def encode(self, texts):
        out = []
        for text in texts:
            v = np.zeros(16)
            if text in CATEGORIES:
                v[CATEGORIES.index(text)] = 1.0
            else:
                name, value = text.split("=")
                c = float(value)
                v[CATEGORIES.index(name)] = c
                v[15] = np.sqrt(1 - c * c)
            out.append(v)
        return np.array(out, dtype=np.float32)


def test_threshold_is_strict_and_best_category_wins():
    got = categorise(["Walking=0.45", "Walking=0.46", "Lying=0.9", "Stair climbing=0.2"], encoder=AxisEncoder())
    assert [c.category for c in got] == [OTHER, "Walking", "Lying", OTHER]
    assert [round(c.score, 4) for c in got] == [0.45, 0.46, 0.9, 0.2]
    assert THRESHOLD == 0.45


def test_paper_mode_reproduces_the_method_exactly(minilm):
    from sentence_transformers.util import cos_sim

    from text2imu.builder.diffusion.text_encoder import load_sentence_model

    captions = ["a person walks forward slowly.", "a man jumps up and down.", "a person is lying on the floor.",
                "someone climbs up a flight of stairs.", "a person waves with the left hand."]
    model = load_sentence_model()
    sims = cos_sim(model.encode(captions), model.encode(list(CATEGORIES))).numpy()  # no normalisation asked
    want = [CATEGORIES[i] if s[i] > 0.45 else OTHER for s, i in zip(sims, sims.argmax(1), strict=True)]
    got = categorise(captions)
    assert [c.category for c in got] == want
    assert np.allclose([c.score for c in got], sims.max(1), atol=1e-5)
    # the paper's method sends plain lying captions to Other: "lying" scores low against the word "Lying"
    assert got[2].category == OTHER and got[2].score < THRESHOLD


def test_examples_mode(minilm):
    got = categorise(["a person is lying on the floor.", "a person waves with the left hand."], mode="examples")
    assert [c.category for c in got] == ["Lying", OTHER]
    ex = category_examples()
    assert set(ex.examples) == set(CATEGORIES) and ex.other and 0 < ex.threshold < 1


def test_unknown_mode():
    with pytest.raises(UnknownNameError, match="Did you mean: paper"):
        categorise(["x"], mode="papr", encoder=AxisEncoder())


def test_dynamic_groups():
    assert HIGH_DYNAMIC == {"Running", "Jumping", "Dancing"}
    assert [dynamic_group(c) for c in ("Running", "Walking", OTHER)] == ["high", "low", "other"]
    with pytest.raises(UnknownNameError):
        dynamic_group("Swimming")


def test_bundled_labelled_set_covers_every_category():
    pairs = read_labelled()
    labels = [label for label, _ in pairs]
    assert len(pairs) >= 100 and labels.count(OTHER) >= 30
    assert all(labels.count(c) >= 10 for c in CATEGORIES)
    assert len({c for _, c in pairs}) == len(pairs)  # no duplicate captions
    examples = {s for v in category_examples().examples.values() for s in v} | set(category_examples().other)
    assert not examples & {c.rstrip(".") for _, c in pairs}  # the evaluation set is not the description set


def test_evaluate_counts(minilm):
    pairs = [("Walking", "a person walks forward."), ("Lying", "a person is lying on the floor."),
             (OTHER, "a person claps.")]
    r = evaluate(pairs, "paper")
    predicted = [c.category for c in categorise([c for _, c in pairs])]
    assert r["correct"] == sum(p == t for p, (t, _) in zip(predicted, pairs, strict=True))
    assert r["accuracy"] == pytest.approx(r["correct"] / 3)
    assert sum(sum(row.values()) for row in r["confusion"].values()) == 3
    assert r["per_category"]["Lying"]["n"] == 1


def test_categorise_command_prints_one_line_per_caption(minilm, tmp_path, capsys):
    f = tmp_path / "caps.txt"
    f.write_text("a person walks forward.\n\na person is lying on the floor.\n"
                 "a man jumps up and down.#a/DET man/NOUN jump/VERB up/ADV and/CCONJ down/ADV#0.0#0.0\n")
    for mode in ([], ["--mode", "paper"], ["--mode", "examples"]):
        assert main(["categorise", str(f), *mode]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 3 and all(LINE.match(line) for line in lines), lines
        assert [LINE.match(line).group(2) for line in lines] == [
            "a person walks forward.", "a person is lying on the floor.", "a man jumps up and down."]
    assert main(["categorise", str(f)]) == 0
    paper = capsys.readouterr().out.splitlines()
    assert paper[1].startswith("Other\t")


def test_categorise_evaluate_command(minilm, tmp_path, capsys):
    f = tmp_path / "lab.tsv"
    f.write_text("# comment\nWalking\ta person walks forward.\nOther\ta person claps.\n")
    assert main(["categorise", str(f), "--evaluate"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("mode\tthreshold\tn\taccuracy") and [r.split("\t")[0] for r in out[1:]] == ["paper", "examples"]
    assert main(["categorise", str(f), "--evaluate", "--mode", "paper"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("content, args, message", [
    (None, [], "No such file"),
    ("\n\n", [], "no captions"),
    ("Walking a person walks.\n", ["--evaluate"], "expected 'category<TAB>caption'"),
    ("Walkin\ta person walks.\n", ["--evaluate"], "Did you mean: Walking"),
    (b"\xff\xfe", [], "not UTF-8"),
])
def test_categorise_bad_input(tmp_path, capsys, content, args, message):
    f = tmp_path / "caps.txt"
    if isinstance(content, bytes):
        f.write_bytes(content)
    elif content is not None:
        f.write_text(content)
    assert main(["categorise", str(f), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and captured.err.count("text2imu: error") == 1
