"""A HumanML3D folder in the official layout (FORMATS.md 4.1-4.6): reader and writer.

Layout under ``root``::

    new_joints/<id>.npy       (T, 22, 3) float32 metres, 20 fps (recover_from_ric of the features)
    new_joint_vecs/<id>.npy   (T, 263) features (float32, or float64 in some copies: cast on load)
    texts/<id>.txt            one caption per line: caption#tokens#start#end
    Mean.npy  Std.npy         (263,) float32
    train.txt val.txt test.txt train_val.txt all.txt    one id per line

Both names are also importable from :mod:`text2imu.builder.humanml3d`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FormatError, Text2ImuError, UnknownNameError
from .humanml3d import FPS, N_FEATURES, feature_mean_std, features_to_joints, joints_to_features
from .motion import Motion
from .skeleton import N_JOINTS

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "train_val", "all")
"""Split files of the official layout, ``<root>/<split>.txt``."""


@dataclass(frozen=True)
class Caption:
    """One line of ``texts/<id>.txt``.

    Attributes:
        caption: the sentence (lower case in the official data).
        tokens: ``word/POS`` pairs, e.g. ``("a/DET", "man/NOUN", "kick/VERB")``.
        start_s: segment start in seconds; 0.0 (also for ``nan``) when the caption covers the whole clip.
        end_s: segment end in seconds; 0.0 (also for ``nan``) when the caption covers the whole clip.
    """

    caption: str
    tokens: tuple[str, ...] = ()
    start_s: float = 0.0
    end_s: float = 0.0

    @property
    def whole_clip(self) -> bool:
        """True when the caption covers the whole clip (``0.0#0.0``)."""
        return self.start_s == 0.0 and self.end_s == 0.0

    def to_line(self) -> str:
        """The ``caption#tokens#start#end`` line (no newline)."""
        for what, text in (("caption", self.caption), ("tokens", " ".join(self.tokens))):
            if "#" in text or "\n" in text or "\r" in text:
                raise Text2ImuError(f"{what} {text!r} may not contain '#' or a line break")
        return f"{self.caption}#{' '.join(self.tokens)}#{float(self.start_s)}#{float(self.end_s)}"


def parse_caption_line(line: str, source: str = "<caption>") -> Caption:
    """Parse ``caption#tokens#start#end``; ``nan`` times become 0.0. :class:`FormatError` names ``source``."""
    fields = line.rstrip("\r\n").rsplit("#", 3)
    if len(fields) != 4:
        raise FormatError(
            f"{source}: expected 4 '#'-separated fields (caption#tokens#start#end), got {line!r}"
        )
    caption, tokens, start, end = fields
    times = []
    for name, text in (("start", start), ("end", end)):
        try:
            value = float(text)
        except ValueError:
            raise FormatError(f"{source}: {name} time {text!r} is not a number") from None
        times.append(0.0 if math.isnan(value) else value)
    return Caption(caption.strip(), tuple(tokens.split()), times[0], times[1])


@dataclass(frozen=True)
class HumanML3DItem:
    """One clip to write with :func:`write_humanml3d_folder`.

    Give exactly one of ``joints_m`` (raw positions: (T, 22, 3) metres at 20 fps, or a :class:`Motion`,
    processed with :func:`joints_to_features`) and ``features`` ((T, 263), written as they are).

    Attributes:
        id: file stem, e.g. ``"000123"`` (no path separators).
        captions: at least one caption.
        joints_m: raw joint positions, or None.
        features: 263-dim features, or None.
        split: ``"train"``, ``"val"`` or ``"test"``.
    """

    id: str
    captions: Sequence[Caption]
    joints_m: np.ndarray | Motion | None = None
    features: np.ndarray | None = None
    split: str = "train"


class HumanML3DFolder:
    """Reader of a HumanML3D folder in the official layout (see the module docstring).

    Every method raises :class:`FormatError` naming the file when something is missing or malformed.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FormatError(f"{self.root}: HumanML3D folder not found")

    def __repr__(self) -> str:
        return f"HumanML3DFolder({str(self.root)!r})"

    def split(self, name: str) -> list[str]:
        """Ids listed in ``<root>/<name>.txt`` (``name`` one of :data:`SPLITS`), in file order."""
        if name not in SPLITS:
            raise UnknownNameError("HumanML3D split", name, SPLITS)
        path = self.root / f"{name}.txt"
        if not path.is_file():
            raise FormatError(f"{path}: split file missing (expected one id per line)")
        ids = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
        for i, id_ in enumerate(ids):
            if any(c in id_ for c in "/\\ \t") or id_.endswith(".npy"):
                raise FormatError(f"{path}: line {i + 1} {id_!r} is not a bare id")
        return ids

    def _file(self, folder: str, id_: str, suffix: str, what: str) -> Path:
        directory = self.root / folder
        if not directory.is_dir():
            raise FormatError(f"{directory}: folder missing from the HumanML3D layout (needed for {what})")
        path = directory / f"{id_}{suffix}"
        if not path.is_file():
            raise FormatError(f"{path}: {what} file missing for id {id_!r}")
        return path

    def captions(self, id_: str) -> list[Caption]:
        """The captions of ``texts/<id>.txt`` (at least one)."""
        path = self._file("texts", id_, ".txt", "caption")
        try:
            lines = path.read_text("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise FormatError(f"{path}: not UTF-8 text ({exc})") from None
        caps = [parse_caption_line(line, f"{path}:{i + 1}") for i, line in enumerate(lines) if line.strip()]
        if not caps:
            raise FormatError(f"{path}: no caption lines")
        return caps

    def joints(self, id_: str) -> np.ndarray:
        """``new_joints/<id>.npy`` as float32 (T, 22, 3), metres."""
        return _load_array(self._file("new_joints", id_, ".npy", "motion"), (N_JOINTS, 3))

    def motion(self, id_: str) -> Motion:
        """``new_joints/<id>.npy`` as a 20 fps :class:`Motion`, its prompt the first caption."""
        joints = self.joints(id_)
        prompt = self.captions(id_)[0].caption
        return Motion(joints, fps=FPS, prompt=prompt, metadata={"dataset": "humanml3d", "id": id_})

    def features(self, id_: str) -> np.ndarray:
        """``new_joint_vecs/<id>.npy`` as float32 (T, 263)."""
        return _load_array(self._file("new_joint_vecs", id_, ".npy", "feature"), (N_FEATURES,))

    def mean(self) -> np.ndarray:
        """``Mean.npy``: (263,) float32."""
        return _load_array(self.root / "Mean.npy", (), exact=(N_FEATURES,))

    def std(self) -> np.ndarray:
        """``Std.npy``: (263,) float32."""
        return _load_array(self.root / "Std.npy", (), exact=(N_FEATURES,))


def _load_array(path: Path, tail: tuple[int, ...], exact: tuple[int, ...] | None = None) -> np.ndarray:
    """Load ``path`` as float32; shape (T, *tail) with T >= 1 (or exactly ``exact``); finite values."""
    if not path.is_file():
        raise FormatError(f"{path}: file missing")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise FormatError(f"{path}: expected a numeric array, got {getattr(arr, 'dtype', type(arr))}")
    want = "(" + ", ".join(map(str, exact)) + ",)" if exact else "(T, " + ", ".join(map(str, tail)) + ")"
    ok = (
        arr.shape == exact
        if exact
        else (arr.ndim == 1 + len(tail) and arr.shape[1:] == tail and len(arr) > 0)
    )
    if not ok:
        raise FormatError(f"{path}: shape {tuple(arr.shape)}, expected {want}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise FormatError(
            f"{path}: {int(bad.sum())} NaN or infinite value(s), first at index {tuple(map(int, first))}"
        )
    return arr.astype(np.float32, copy=False)


def write_humanml3d_folder(
    root: str | Path, items: Iterable[HumanML3DItem], *, compat_facing_bug: bool = True
) -> Path:
    """Write ``items`` as a HumanML3D folder in the official layout and return its path.

    For each item: ``new_joint_vecs/<id>.npy`` (float32 features, computed from ``joints_m`` by
    :func:`joints_to_features` with ``compat_facing_bug``, or the given ``features``), ``new_joints/<id>.npy``
    (``features_to_joints`` of them, as HumanML3D stores it) and ``texts/<id>.txt``. Then the five split files
    (``train_val`` = train + val, ``all`` = every id in item order) and ``Mean.npy``/``Std.npy`` over all
    items (:func:`feature_mean_std`). Existing files of the same names are overwritten.
    """
    root = Path(root)
    for sub in ("new_joints", "new_joint_vecs", "texts"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    order: list[str] = []
    seen: set[str] = set()
    all_features = []
    for item in items:
        id_ = item.id
        if not id_ or any(c in id_ for c in "/\\ \t\n#") or id_ in seen:
            raise Text2ImuError(f"item id {id_!r} is empty, repeated or not a plain file name")
        if item.split not in splits:
            raise UnknownNameError("HumanML3D split for an item", item.split, splits)
        if (item.joints_m is None) == (item.features is None):
            raise Text2ImuError(f"item {id_!r}: give exactly one of joints_m and features")
        if not item.captions:
            raise Text2ImuError(f"item {id_!r}: at least one caption is needed")
        if item.features is not None:
            feats = np.asarray(item.features, dtype=np.float32)
        else:
            feats = joints_to_features(item.joints_m, compat_facing_bug=compat_facing_bug)
        joints = features_to_joints(feats)  # checks the shape and values of given features
        np.save(root / "new_joint_vecs" / f"{id_}.npy", feats)
        np.save(root / "new_joints" / f"{id_}.npy", joints)
        lines = [c.to_line() for c in item.captions]
        (root / "texts" / f"{id_}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        splits[item.split].append(id_)
        order.append(id_)
        seen.add(id_)
        all_features.append(feats)
    if not all_features:
        raise Text2ImuError("no items to write")
    splits["train_val"] = splits["train"] + splits["val"]
    splits["all"] = order
    for name in SPLITS:
        (root / f"{name}.txt").write_text("".join(f"{i}\n" for i in splits[name]), encoding="utf-8")
    mean, std = feature_mean_std(all_features)
    np.save(root / "Mean.npy", mean)
    np.save(root / "Std.npy", std)
    log.info("wrote %d HumanML3D items to %s", len(all_features), root)
    return root
