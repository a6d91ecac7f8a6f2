"""UCI HAPT reader: the raw-signal layout (``RawData/``), from zip archives as distributed or extracted folders.

Layout (``../shared/data/README.md``): ``HAPT/RawData/acc_expXX_userYY.txt`` (accelerometer, units of g) and
``gyro_expXX_userYY.txt`` (rad/s), three space-separated numbers per row at 50 Hz, and ``RawData/labels.txt``
with rows ``exp user activity start end`` (inclusive, 0-based sample indices). The shared copy splits the
dataset into two zips (users 1-20 and 21-30), each with its own labels.txt; UCI's own extracted folder has one
labels.txt for all experiments. Both work.

Output: one :class:`Recording` per labelled segment of a mapped activity (label_maps.toml ``[uci_hapt]``),
site ``hapt.waist``, 50 Hz, acc converted to m/s^2 (x 9.80665), gyro kept in rad/s; subject = user,
session = ``"expXX"``, segment = index of the segment among the experiment's labelled segments in time order
(transitions included, so it points back to labels.txt). Transitions and unlabelled samples are dropped and
counted in ``Recordings.dropped``.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2imu.builder.errors import FormatError

from ._parsing import open_zip, read_member, read_number_table
from .label_maps import label_map
from .recording import G_MPS2, Recording, Recordings

log = logging.getLogger(__name__)

DATASET = "uci_hapt"
SITE = "hapt.waist"
RATE_HZ = 50.0
_SIGNAL_RE = re.compile(r"(?:^|/)RawData/(acc|gyro)_exp(\d+)_user(\d+)\.txt$")
_LABELS_RE = re.compile(r"(?:^|/)RawData/labels\.txt$")
_LAYOUT = "expected RawData/acc_expXX_userYY.txt, RawData/gyro_expXX_userYY.txt and RawData/labels.txt"


@dataclass
class _Source:
    """One archive or extracted folder: its name for messages and a reader of its RawData members."""

    name: str
    members: list[str]
    archive: zipfile.ZipFile | None = None
    root: Path | None = None

    def read(self, member: str) -> bytes:
        if self.archive is not None:
            return read_member(self.archive, member, self.name)
        return (self.root / member).read_bytes()

    def where(self, member: str) -> str:
        return f"{self.name}!{member}" if self.archive is not None else str(self.root / member)


def _folder_source(raw_dir: Path) -> _Source:
    root = raw_dir.parent
    members = sorted(p.relative_to(root).as_posix() for p in raw_dir.iterdir() if p.is_file())
    return _Source(str(root), members, root=root)


def _zip_source(path: Path) -> _Source:
    archive = open_zip(path)
    return _Source(str(path), sorted(archive.namelist()), archive=archive)


def _sources(paths: Path | str | Sequence[Path | str]) -> list[_Source]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise FormatError(
            "UCI HAPT: no path given (pass the folder with the zips, a zip, or an extracted folder)"
        )
    sources: list[_Source] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            sources.append(_zip_source(path))
            continue
        if not path.is_dir():
            raise FormatError(f"{path}: no such file or folder (UCI HAPT: {_LAYOUT})")
        raw_dirs = [
            d for pattern in ("RawData", "*/RawData", "*/*/RawData") for d in sorted(path.glob(pattern))
        ]
        if path.name == "RawData":
            raw_dirs = [path]
        if raw_dirs:
            sources.extend(_folder_source(d) for d in raw_dirs if d.is_dir())
            continue
        zips = sorted(p for p in path.glob("*.zip") if not p.name.startswith("._"))
        if not zips:
            raise FormatError(f"{path}: holds neither a RawData/ folder nor .zip archives ({_LAYOUT})")
        sources.extend(_zip_source(z) for z in zips)
    return sources


def _read_signal(source: _Source, member: str) -> np.ndarray:
    return read_number_table(source.read(member), source.where(member), n_columns=3)


def _read_labels(source: _Source, member: str) -> np.ndarray:
    table = read_number_table(source.read(member), source.where(member), n_columns=5)
    if not np.all(np.isfinite(table)) or not np.all(table == np.round(table)):
        raise FormatError(
            f"{source.where(member)}: label rows must be five integers 'exp user activity start end'"
        )
    return table.astype(np.int64)


def _index_source(source: _Source) -> tuple[dict[int, tuple[int, str, str]], str]:
    """exp -> (user, acc member, gyro member), and the labels.txt member."""
    found: dict[tuple[str, int], tuple[int, str]] = {}
    labels = [m for m in source.members if _LABELS_RE.search(m)]
    for member in source.members:
        match = _SIGNAL_RE.search(member)
        if match:
            kind, exp, user = match.group(1), int(match.group(2)), int(match.group(3))
            found[(kind, exp)] = (user, member)
    if not found and not labels:
        raise FormatError(f"{source.name}: no RawData/ folder in this UCI HAPT source ({_LAYOUT})")
    if not labels:
        raise FormatError(f"{source.name}: RawData/labels.txt is missing")
    if len(labels) > 1:
        raise FormatError(f"{source.name}: more than one RawData/labels.txt ({', '.join(labels)})")
    experiments = {}
    for exp in sorted({exp for _, exp in found}):
        if ("acc", exp) not in found or ("gyro", exp) not in found:
            have_kind = "acc" if ("acc", exp) in found else "gyro"
            user, member = found[(have_kind, exp)]
            other = member.replace(f"/{have_kind}_exp", f"/{'gyro' if have_kind == 'acc' else 'acc'}_exp")
            raise FormatError(f"{source.where(other)} is missing (it pairs with {member})")
        user_acc, acc_member = found[("acc", exp)]
        user_gyro, gyro_member = found[("gyro", exp)]
        if user_acc != user_gyro:
            raise FormatError(f"{source.name}: {acc_member} and {gyro_member} name different users")
        experiments[exp] = (user_acc, acc_member, gyro_member)
    return experiments, labels[0]


def _check_segments(where: str, exp: int, rows: np.ndarray, n_samples: int) -> None:
    starts, ends = rows[:, 3], rows[:, 4]
    bad = (starts < 0) | (ends < starts) | (ends >= n_samples)
    if bad.any():
        row = rows[np.flatnonzero(bad)[0]]
        raise FormatError(
            f"{where}: segment {' '.join(map(str, row))} is outside experiment {exp}'s {n_samples} samples"
        )
    if np.any(starts[1:] <= ends[:-1]):
        raise FormatError(f"{where}: experiment {exp} has overlapping labelled segments")


def _experiment_recordings(
    source: _Source, exp: int, members: tuple[str, str, str], rows: np.ndarray, user: int, dropped: dict
) -> list[Recording]:
    """The recordings of one experiment; ``members`` = (acc, gyro, labels.txt); adds to ``dropped``."""
    acc_member, gyro_member, labels_member = members
    labels = label_map(DATASET)
    acc_g = _read_signal(source, acc_member)
    gyro_radps = _read_signal(source, gyro_member)
    if acc_g.shape[0] != gyro_radps.shape[0]:
        raise FormatError(
            f"{source.where(acc_member)} has {acc_g.shape[0]} rows but {gyro_member} has {gyro_radps.shape[0]}"
        )
    if not (np.isfinite(acc_g).all() and np.isfinite(gyro_radps).all()):
        raise FormatError(f"{source.where(acc_member)} or {gyro_member}: NaN or infinite values")
    n_samples = acc_g.shape[0]
    rows = rows[np.argsort(rows[:, 3], kind="stable")]
    _check_segments(source.where(labels_member), exp, rows, n_samples)
    recordings = []
    labelled = 0
    for segment, (_, row_user, label, start, end) in enumerate(rows.tolist()):
        if row_user != user:
            raise FormatError(
                f"{source.where(labels_member)}: user {row_user} for experiment {exp}, but its files say {user}"
            )
        labelled += end - start + 1
        activity = labels.activity(label)
        if activity is None:
            key = labels.name(label)
            dropped[key] = dropped.get(key, 0) + end - start + 1
            continue
        recordings.append(
            Recording(
                dataset=DATASET,
                subject=user,
                session=f"exp{exp:02d}",
                activity=activity,
                site=SITE,
                rate_hz=RATE_HZ,
                acc_mps2=acc_g[start : end + 1] * G_MPS2,
                gyro_radps=gyro_radps[start : end + 1],
                segment=segment,
            )
        )
    dropped["unlabelled"] = dropped.get("unlabelled", 0) + n_samples - labelled
    return recordings


def _source_recordings(source: _Source, seen: dict[int, str], dropped: dict[str, int]) -> list[Recording]:
    experiments, labels_member = _index_source(source)
    table = _read_labels(source, labels_member)
    for exp in table[:, 0].tolist():
        if exp not in experiments:
            raise FormatError(
                f"{source.where(labels_member)}: labels for experiment {exp}, but no "
                f"RawData/acc_exp{exp:02d}_userYY.txt in {source.name}"
            )
    recordings = []
    for exp, (user, acc_member, gyro_member) in experiments.items():
        if exp in seen:
            raise FormatError(f"UCI HAPT experiment {exp} is in both {seen[exp]} and {source.name}")
        seen[exp] = source.name
        rows = table[table[:, 0] == exp]
        if rows.size == 0:
            log.warning("%s: experiment %d has no labelled segments", source.name, exp)
        members = (acc_member, gyro_member, labels_member)
        recordings.extend(_experiment_recordings(source, exp, members, rows, user, dropped))
    return recordings


def read_uci_hapt(paths: Path | str | Sequence[Path | str]) -> Recordings:
    """Read UCI HAPT from its zips (one or both), a folder holding them, or an extracted folder.

    Args:
        paths: a ``.zip``, a folder with ``.zip`` archives (all are read), a folder containing ``RawData/``
            (directly or up to two levels down, e.g. ``HAPT/RawData``), or a list of these.

    Returns:
        :class:`Recordings` of (T, 3) acc in m/s^2 and gyro in rad/s at 50 Hz, ordered by experiment then time;
        ``dropped`` counts transition and unlabelled samples (at 50 Hz).

    Raises:
        FormatError: naming the file, for a source without ``RawData/`` or ``labels.txt``, an acc file without
        its gyro file, a row that is not three numbers, a label row outside its experiment, or an experiment
        present in two sources.
    """
    sources = _sources(paths)
    recordings: list[Recording] = []
    dropped: dict[str, int] = {}
    seen: dict[int, str] = {}
    for source in sources:
        try:
            recordings.extend(_source_recordings(source, seen, dropped))
        finally:
            if source.archive is not None:
                source.archive.close()
    recordings.sort(key=lambda r: (int(r.session[3:]), r.segment))
    counts = _summary(recordings)
    log.info(
        "UCI HAPT: %d recordings from %d experiments (%s); dropped samples: %s",
        len(recordings),
        len(seen),
        counts,
        dropped,
    )
    return Recordings(recordings, dropped)


def _summary(recordings: Iterable[Recording]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in recordings:
        counts[rec.activity] = counts.get(rec.activity, 0) + rec.n_samples
    return dict(sorted(counts.items()))
