"""Caption -> activity category with all-MiniLM-L6-v2 (Häusler et al.; DESIGN.md section 7).

Two modes:

- ``paper`` (the default, the paper's method reproduced exactly): embed the caption and the bare category names
  :data:`CATEGORIES` ("Dancing", ..., "Stair climbing", ..., "Walking"); the caption's category is the name with
  the highest cosine similarity if that similarity is > :data:`THRESHOLD` (0.45), else ``Other``. Single words
  are poor anchors: many plain captions score below 0.45 (a lying caption scores ~0.3 against "Lying") and go
  to Other.
- ``examples``: each category is described by several example sentences (``data/category_examples.toml``); a
  category's score is the highest cosine similarity with one of its sentences; the caption goes to the best
  category if that score is > the file's threshold and not below the best score among the file's ``other``
  sentences (actions of no category), else to Other.

The score reported with each caption is the best category's similarity (also when the caption went to Other).
High-dynamic categories (:data:`HIGH_DYNAMIC`): Running, Jumping, Dancing; the other five are low-dynamic; Other
is in neither group.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from text2imu.builder.errors import FormatError, Text2ImuError, UnknownNameError

CATEGORIES: tuple[str, ...] = (
    "Dancing", "Jumping", "Lying", "Running", "Sitting", "Stair climbing", "Standing", "Walking",
)
"""The paper's category names, embedded as they are in mode ``paper``."""
OTHER = "Other"
THRESHOLD = 0.45
"""The paper's cosine-similarity threshold (a category needs a score strictly above it)."""
HIGH_DYNAMIC: frozenset[str] = frozenset({"Running", "Jumping", "Dancing"})
MODES: tuple[str, ...] = ("paper", "examples")
EXAMPLES_FILE = "category_examples.toml"
LABELLED_FILE = "captions_labelled.tsv"


def dynamic_group(category: str) -> str:
    """``high`` (Running, Jumping, Dancing), ``low`` (the other five categories) or ``other`` (Other)."""
    if category == OTHER:
        return "other"
    if category not in CATEGORIES:
        raise UnknownNameError("category", category, (*CATEGORIES, OTHER))
    return "high" if category in HIGH_DYNAMIC else "low"


@dataclass(frozen=True)
class CategoryExamples:
    """The example sentences of mode ``examples``.

    Attributes:
        threshold: a category needs a score strictly above this.
        examples: {category: example sentences}, for every category of :data:`CATEGORIES`.
        other: sentences of actions that belong to no category.
    """

    threshold: float
    examples: dict[str, tuple[str, ...]]
    other: tuple[str, ...]


@cache
def category_examples() -> CategoryExamples:
    """The bundled ``data/category_examples.toml``."""
    path = resources.files("text2imu.benchmark").joinpath("data", EXAMPLES_FILE)
    raw = tomllib.loads(path.read_text("utf-8"))
    cats = raw.get("categories", {})
    if set(cats) != set(CATEGORIES) or any(not v for v in cats.values()):
        raise FormatError(f"{EXAMPLES_FILE}: needs non-empty example lists for exactly {list(CATEGORIES)}")
    return CategoryExamples(float(raw["threshold"]), {c: tuple(cats[c]) for c in CATEGORIES},
                            tuple(raw.get("other", {}).get("examples", ())))


@dataclass(frozen=True)
class Categorised:
    """One caption's category and the best category's cosine similarity."""

    caption: str
    category: str
    score: float


def _encoder(encoder):
    if encoder is not None:
        return encoder
    from text2imu.builder.diffusion.text_encoder import default_encoder

    return default_encoder()


def category_scores(captions: Sequence[str], mode: str = "paper", encoder=None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of captions against the categories.

    Returns ``(scores, other)``: (N, 8) float64 scores in the order of :data:`CATEGORIES`, and (N,) the best
    score against the ``other`` sentences (-inf in mode ``paper``).
    """
    if mode not in MODES:
        raise UnknownNameError("categorise mode", mode, MODES)
    enc = _encoder(encoder)
    emb = enc.encode(list(captions)).astype(np.float64)
    if mode == "paper":
        return emb @ enc.encode(list(CATEGORIES)).astype(np.float64).T, np.full(len(emb), -np.inf)
    ex = category_examples()
    scores = np.stack([(emb @ enc.encode(list(ex.examples[c])).astype(np.float64).T).max(axis=1)
                       for c in CATEGORIES], axis=1)
    other = (emb @ enc.encode(list(ex.other)).astype(np.float64).T).max(axis=1) if ex.other else \
        np.full(len(emb), -np.inf)
    return scores, other


def categorise(captions: Sequence[str], mode: str = "paper", encoder=None) -> list[Categorised]:
    """Each caption's category (module docstring); ``encoder`` defaults to the process-wide MiniLM encoder."""
    captions = list(captions)
    if not captions:
        return []
    scores, other = category_scores(captions, mode, encoder)
    threshold = THRESHOLD if mode == "paper" else category_examples().threshold
    best = scores.argmax(axis=1)
    out = []
    for i, caption in enumerate(captions):
        score = float(scores[i, best[i]])
        keep = score > threshold and score >= other[i]
        out.append(Categorised(caption, CATEGORIES[best[i]] if keep else OTHER, score))
    return out


def read_captions(path: str | Path) -> list[str]:
    """Captions of a text file: one per line (blank lines skipped); a HumanML3D ``caption#tokens#start#end``
    line gives its caption field."""
    from text2imu.builder.humanml3d_folder import parse_caption_line

    p = Path(path)
    try:
        lines = p.read_text("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"{p}: not UTF-8 text ({exc})") from None
    captions = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        text = parse_caption_line(line, f"{p}:{i + 1}").caption if line.count("#") >= 3 else line
        captions.append(" ".join(text.split()))
    if not captions:
        raise FormatError(f"{p}: no captions (expected one per line)")
    return captions


def read_labelled(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(category, caption) pairs of a ``category<TAB>caption`` file (``#`` comments); default the bundled set."""
    if path is None:
        text = resources.files("text2imu.benchmark").joinpath("data", LABELLED_FILE).read_text("utf-8")
        where = LABELLED_FILE
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{where}: not UTF-8 text ({exc})") from None
    pairs = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            raise FormatError(f"{where}:{i + 1}: expected 'category<TAB>caption', got {line!r}")
        if parts[0] not in (*CATEGORIES, OTHER):
            raise FormatError(f"{where}:{i + 1}: {UnknownNameError('category', parts[0], (*CATEGORIES, OTHER))}")
        pairs.append((parts[0], parts[1].strip()))
    if not pairs:
        raise FormatError(f"{where}: no labelled captions")
    return pairs


def evaluate(pairs: Sequence[tuple[str, str]], mode: str = "paper", encoder=None) -> dict:
    """Accuracy of a mode on (label, caption) pairs: overall, per true label (recall) and the confusion counts."""
    if not pairs:
        raise Text2ImuError("no labelled captions to evaluate")
    labels = [label for label, _ in pairs]
    predicted = [c.category for c in categorise([c for _, c in pairs], mode, encoder)]
    names = (*CATEGORIES, OTHER)
    per = {}
    for name in names:
        idx = [i for i, lab in enumerate(labels) if lab == name]
        if idx:
            per[name] = {"n": len(idx), "recall": sum(predicted[i] == name for i in idx) / len(idx)}
    confusion = {t: {p: sum(1 for lab, pr in zip(labels, predicted, strict=True) if lab == t and pr == p)
                     for p in names} for t in names}
    correct = sum(p == t for p, t in zip(predicted, labels, strict=True))
    return {"mode": mode, "n": len(pairs), "correct": correct, "accuracy": correct / len(pairs),
            "threshold": THRESHOLD if mode == "paper" else category_examples().threshold,
            "per_category": per, "confusion": confusion}
