"""PAMAP2 reader (Reiss & Stricker 2012): ``Protocol/subjectNNN.dat`` (and optionally ``Optional/``).

Format (FORMATS.md section 2): whitespace-separated, no header, 54 columns per row at 100 Hz: timestamp (s),
activityID, heart rate, then three 17-column IMU blocks (hand, chest, ankle): temperature, acc +-16 g (m/s^2),
acc +-6 g (m/s^2), gyro (rad/s), magnetometer, orientation (invalid). ``NaN`` marks missing values.

Choices: the +-16 g accelerometer is used (the readme recommends it: the +-6 g one saturates in running and
jumping and is not precisely calibrated against it); its values are already m/s^2 and the gyroscope rad/s, so
nothing is converted. Heart rate (NaN in most rows, ~9 Hz) is ignored. A row is invalid at a site when any of its
six acc/gyro values is NaN (dropped wireless packets); runs of at most ``max_gap_s`` of invalid rows are filled by
linear interpolation, longer ones split the recording, invalid rows at the ends are dropped. Recordings are also
split where the timestamp goes back or jumps by more than ``max_gap_s`` (aborted and resumed sessions).
Activity 0 ("other", to be discarded per the readme) and the activities without a counterpart among the eight
are dropped and counted in ``Recordings.dropped`` (rows at 100 Hz). Subject = the number in the file name
(101-109), session = ``"protocol"`` or ``"optional"``, segment = the piece's index among the pieces of the same
activity at the same site in that file, in time order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from text2imu.builder.errors import FormatError, UnknownNameError

from ._parsing import fill_short_gaps, read_number_table, runs
from .label_maps import label_map
from .recording import Recording, Recordings

log = logging.getLogger(__name__)

DATASET = "pamap2"
RATE_HZ = 100.0
N_COLUMNS = 54
BLOCK_START = {"hand": 3, "chest": 20, "ankle": 37}  # 0-based first column (temperature) of each IMU block
ACC16_OFFSET, GYRO_OFFSET = 1, 7  # within a block: acc +-16 g at 1-3, gyro at 7-9
SITES = tuple(f"pamap2.{p}" for p in BLOCK_START)
SESSIONS = {"protocol": "Protocol", "optional": "Optional"}
_FILE_RE = re.compile(r"^subject(\d+)\.dat$")


def find_pamap2_files(
    root: Path | str, sessions: Sequence[str] = ("protocol",)
) -> list[tuple[str, int, Path]]:
    """[(session, subject, path)] of ``<Session>/subjectNNN.dat`` under ``root`` (up to two folders down).

    ``root`` may also be one ``.dat`` file (its session is taken from its folder name, else ``"protocol"``).
    """
    root = Path(root)
    for session in sessions:
        if session not in SESSIONS:
            raise UnknownNameError("PAMAP2 session", session, SESSIONS)
    if root.is_file():
        match = _FILE_RE.match(root.name)
        if not match:
            raise FormatError(f"{root}: not a PAMAP2 subjectNNN.dat file")
        session = root.parent.name.lower() if root.parent.name.lower() in SESSIONS else "protocol"
        return [(session, int(match.group(1)), root)]
    if not root.is_dir():
        raise FormatError(f"{root}: no such file or folder (PAMAP2: expected Protocol/subjectNNN.dat)")
    found = []
    for session in sessions:
        folder_name = SESSIONS[session]
        for folder in [root / folder_name, *root.glob(f"*/{folder_name}"), *root.glob(f"*/*/{folder_name}")]:
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                match = _FILE_RE.match(path.name)
                if match and path.is_file():
                    found.append((session, int(match.group(1)), path))
    if not found:
        raise FormatError(f"{root}: no {' or '.join(SESSIONS[s] for s in sessions)}/subjectNNN.dat files")
    seen: dict[tuple[str, int], Path] = {}
    for session, subject, path in found:
        if (session, subject) in seen:
            raise FormatError(
                f"PAMAP2 subject{subject}.dat ({session}) found twice: {seen[session, subject]}, {path}"
            )
        seen[session, subject] = path
    return sorted(found, key=lambda item: (item[1], list(SESSIONS).index(item[0])))


def read_pamap2_file(
    path: Path | str,
    subject: int,
    session: str = "protocol",
    *,
    sites: Sequence[str] | None = None,
    max_gap_s: float = 0.5,
    dropped: dict[str, int] | None = None,
) -> list[Recording]:
    """Recordings of one ``subjectNNN.dat`` (see the module docstring); adds dropped rows to ``dropped``."""
    path = Path(path)
    labels = label_map(DATASET)
    site_names = SITES if sites is None else tuple(sites)
    for site in site_names:
        if site not in SITES:
            raise UnknownNameError("PAMAP2 site", site, SITES)
    table = read_number_table(path.read_bytes(), str(path), n_columns=N_COLUMNS)
    time_s, activity_ids = table[:, 0], table[:, 1]
    if not np.isfinite(activity_ids).all() or not np.all(activity_ids == np.round(activity_ids)):
        raise FormatError(f"{path}: the activityID column (2nd) must hold integers in every row")
    if not np.isfinite(time_s).all():
        raise FormatError(f"{path}: the timestamp column (1st) has missing values")
    # A new run starts where the activity changes or the clock goes back or jumps.
    dt = np.diff(time_s)
    breaks = np.r_[False, (dt <= 0) | (dt > max_gap_s)]
    run_ids = np.cumsum(breaks | np.r_[False, activity_ids[1:] != activity_ids[:-1]])
    max_gap = round(max_gap_s * RATE_HZ)
    dropped = {} if dropped is None else dropped
    counter: dict[tuple[str, str], int] = {}
    recordings = []
    for start, stop, _ in runs(run_ids):
        label = int(activity_ids[start])
        activity = labels.activity(label)
        if activity is None:
            name = labels.name(label)
            if not labels.is_known(label):
                log.warning("%s: activityID %d is not a PAMAP2 activity; its rows are dropped", path, label)
            dropped[name] = dropped.get(name, 0) + stop - start
            continue
        for site in site_names:
            first = BLOCK_START[site.split(".", 1)[1]]
            cols = [first + ACC16_OFFSET + k for k in range(3)] + [first + GYRO_OFFSET + k for k in range(3)]
            pieces = fill_short_gaps(table[start:stop, cols], max_gap)
            if len(pieces) > 1 or (pieces and pieces[0][1].shape[0] < stop - start):
                log.info(
                    "%s: %s %s rows %d-%d: missing IMU rows split or trimmed the recording",
                    path,
                    activity,
                    site,
                    start,
                    stop - 1,
                )
            for _, values in pieces:
                if values.shape[0] < 2:
                    continue
                key = (activity, site)
                recordings.append(
                    Recording(
                        dataset=DATASET,
                        subject=subject,
                        session=session,
                        activity=activity,
                        site=site,
                        rate_hz=RATE_HZ,
                        acc_mps2=values[:, :3],
                        gyro_radps=values[:, 3:],
                        segment=counter.get(key, 0),
                    )
                )
                counter[key] = counter.get(key, 0) + 1
    return recordings


def read_pamap2(
    root: Path | str,
    *,
    sessions: Sequence[str] = ("protocol",),
    sites: Sequence[str] | None = None,
    max_gap_s: float = 0.5,
) -> Recordings:
    """Read PAMAP2 from its extracted folder (``PAMAP2_Dataset/`` or the folder above it) or one ``.dat`` file.

    Args:
        root: folder holding ``Protocol/`` (and ``Optional/``), up to two levels down, or one ``subjectNNN.dat``.
        sessions: ``"protocol"`` (default, the 12 protocol activities) and/or ``"optional"``.
        sites: ``pamap2.hand``, ``pamap2.chest``, ``pamap2.ankle`` (default all three).
        max_gap_s: longest run of missing IMU rows filled by interpolation; longer ones split recordings.

    Returns:
        :class:`Recordings` at 100 Hz: acc (T, 3) m/s^2 from the +-16 g sensor, gyro (T, 3) rad/s; ``dropped``
        counts rows (at 100 Hz, per file row) of activity 0 and of unmapped activities.

    Raises:
        FormatError: naming the file, for a row count of columns other than 54, a non-numeric field, or missing
        activity ids or timestamps.
    """
    dropped: dict[str, int] = {}
    recordings: list[Recording] = []
    for session, subject, path in find_pamap2_files(root, sessions):
        recordings.extend(
            read_pamap2_file(path, subject, session, sites=sites, max_gap_s=max_gap_s, dropped=dropped)
        )
    log.info("PAMAP2: %d recordings; dropped rows: %s", len(recordings), dropped)
    return Recordings(recordings, dropped)
