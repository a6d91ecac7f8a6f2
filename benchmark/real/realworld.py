"""RealWorld HAR reader (Sztyler & Stuckenschmidt, PerCom 2016): the per-proband zips, quirks included.

Layout (FORMATS.md section 1): ``probandN/data/{acc,gyr}_<activity>_csv.zip`` (also accepted without ``data/``,
and with the proband folders one level down, e.g. under ``realworld2016_dataset/``). Each zip holds one CSV per
position, ``acc_<activity>[_<k>]_<position>.csv`` / ``Gyroscope_<activity>[_<k>]_<position>.csv`` with header
``id,attr_time,attr_x,attr_y,attr_z`` (epoch milliseconds; m/s^2 with gravity, rad/s), plus a ``readMe``.
Quirks handled: repeated recordings (``_2`` members: session 2), zips of zips (one inner zip per session;
session 1 unindexed in gyr names and inner CSV names), missing positions inside a zip (skipped, logged),
SQLite, magnetometer and other sensor zips (ignored), macOS ``._`` members (ignored).

Time base: every CSV has its own irregular phone timestamps. Each (session, position) is put on a regular 50 Hz
grid of multiples of 20 ms of the shared wall clock (so positions line up), over the time span that acc and gyro
share, by linear interpolation; grid points inside a timestamp gap longer than ``max_gap_s`` in either sensor are
left out and split the recording into pieces (``segment`` 0, 1, ...). Nothing is trimmed at the ends.
No unit conversion: the CSVs are already in m/s^2 and rad/s. Session = the recording number, as text ("1", "2").
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from text2imu.builder.errors import FormatError, UnknownNameError

from ._parsing import open_zip, read_member
from .label_maps import label_map
from .recording import ACTIVITIES, Recording, Recordings

log = logging.getLogger(__name__)

DATASET = "realworld"
RATE_HZ = 50.0
POSITIONS = ("chest", "forearm", "head", "shin", "thigh", "upperarm", "waist")
SITES = tuple(f"realworld.{p}" for p in POSITIONS)
CSV_PREFIX = {"acc": "acc", "gyr": "Gyroscope"}  # outer zip prefix -> inner CSV prefix
COLUMNS = ("attr_time", "attr_x", "attr_y", "attr_z")
_PROBAND_RE = re.compile(r"^proband(\d+)$")
_CSV_RE = re.compile(r"^([A-Za-z]+)_([a-z]+)(?:_(\d+))?_([a-z]+)\.csv$")
_INNER_ZIP_RE = re.compile(r"^([a-z]+)_([a-z]+)(?:_(\d+))?_csv\.zip$")


@dataclass(frozen=True)
class _Series:
    """One CSV: sorted unique times (ms since the epoch) and (n, 3) float64 values."""

    where: str
    time_ms: np.ndarray
    xyz: np.ndarray


def find_probands(root: Path | str) -> dict[int, Path]:
    """proband number -> folder, for ``root/probandN``, ``root/*/probandN`` or ``root`` itself being one."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"{root}: no such folder (RealWorld HAR: expected probandN/data/*_csv.zip)")
    candidates = (
        [root] if _PROBAND_RE.match(root.name) else [*root.glob("proband*"), *root.glob("*/proband*")]
    )
    found: dict[int, Path] = {}
    for folder in candidates:
        match = _PROBAND_RE.match(folder.name)
        if match and folder.is_dir():
            number = int(match.group(1))
            if number in found:
                raise FormatError(f"{root}: proband{number} appears twice ({found[number]}, {folder})")
            found[number] = folder
    if not found:
        raise FormatError(f"{root}: no probandN folders (RealWorld HAR: expected probandN/data/*_csv.zip)")
    return dict(sorted(found.items()))


def _data_dir(proband: Path) -> Path:
    data = proband / "data"
    return data if data.is_dir() else proband


def _parse_csv(data: bytes, where: str) -> _Series | None:
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except pd.errors.EmptyDataError:
        log.warning("%s: empty CSV, skipped", where)
        return None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{where}: not a readable CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise FormatError(
            f"{where}: missing column(s) {', '.join(missing)} (header: {', '.join(frame.columns)})"
        )
    try:
        values = frame.loc[:, list(COLUMNS)].apply(pd.to_numeric).to_numpy(dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"{where}: non-numeric values ({exc})") from None
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        log.warning("%s: %d rows with missing values dropped", where, int((~finite).sum()))
        values = values[finite]
    if values.shape[0] < 2:
        log.warning("%s: fewer than two samples, skipped", where)
        return None
    time_ms = np.round(values[:, 0]).astype(np.int64)
    order = np.argsort(time_ms, kind="stable")
    time_ms, xyz = time_ms[order], values[order, 1:]
    keep = np.r_[True, np.diff(time_ms) > 0]  # duplicate timestamps: keep the first
    return _Series(where, time_ms[keep], xyz[keep])


def _session(csv_index: str | None, zip_index: str | None, where: str) -> int:
    if csv_index and zip_index and int(csv_index) != int(zip_index):
        raise FormatError(f"{where}: recording number {csv_index} inside a zip for recording {zip_index}")
    return int(csv_index or zip_index or 1)


def _add_csvs(archive, where: str, sensor: str, activity: str, zip_index: str | None, out: dict) -> None:
    for member in archive.namelist():
        base = member.rsplit("/", 1)[-1]
        if not base or base == "readMe" or base.startswith("._"):
            continue
        if base.endswith(".zip"):
            match = _INNER_ZIP_RE.match(base)
            if zip_index is not None or not match or match.group(1) != sensor or match.group(2) != activity:
                raise FormatError(f"{where}!{member}: unexpected inner zip in a {sensor}_{activity} archive")
            inner_where = f"{where}!{member}"
            inner = open_zip(inner_where, source=inner_where, data=read_member(archive, member, where))
            with inner:
                _add_csvs(inner, inner_where, sensor, activity, match.group(3) or "1", out)
            continue
        match = _CSV_RE.match(base)
        if not base.endswith(".csv"):
            log.debug("%s!%s: not a CSV, ignored", where, member)
            continue
        if not match or match.group(1) != CSV_PREFIX[sensor] or match.group(2) != activity:
            raise FormatError(
                f"{where}!{member}: expected {CSV_PREFIX[sensor]}_{activity}[_<k>]_<position>.csv in this zip"
            )
        position = match.group(4)
        if position not in POSITIONS:
            log.warning("%s!%s: unknown position %r, ignored", where, member, position)
            continue
        key = (_session(match.group(3), zip_index, f"{where}!{member}"), position)
        if key in out:
            raise FormatError(f"{where}!{member}: a second CSV for recording {key[0]} at {position}")
        series = _parse_csv(read_member(archive, member, where), f"{where}!{member}")
        if series is not None:
            out[key] = series


def read_sensor_zip(path: Path, sensor: str, activity: str) -> dict[tuple[int, str], _Series]:
    """(session, position) -> series of one outer ``{sensor}_{activity}_csv.zip`` (nested zips included)."""
    out: dict[tuple[int, str], _Series] = {}
    with open_zip(path) as archive:
        _add_csvs(archive, str(path), sensor, activity, None, out)
    return out


def _gap_mask(series: _Series, grid_ms: np.ndarray, max_gap_ms: float) -> np.ndarray:
    """True where a grid time lies on a sample or between two samples at most ``max_gap_ms`` apart."""
    t = series.time_ms
    idx = np.clip(np.searchsorted(t, grid_ms, side="right"), 1, t.size - 1)
    on_sample = grid_ms == t[idx - 1]
    return on_sample | (t[idx] - t[idx - 1] <= max_gap_ms)


def _interp(series: _Series, grid_ms: np.ndarray) -> np.ndarray:
    t0 = grid_ms[0]
    t = (series.time_ms - t0).astype(np.float64)
    g = (grid_ms - t0).astype(np.float64)
    return np.stack([np.interp(g, t, series.xyz[:, c]) for c in range(3)], axis=1)


def align(acc: _Series, gyro: _Series | None, max_gap_s: float) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Acc (and gyro) on the common 50 Hz grid: pieces [(acc (n, 3), gyro (n, 3) or None)] split at gaps."""
    step_ms = 1000.0 / RATE_HZ
    start = max(acc.time_ms[0], gyro.time_ms[0]) if gyro is not None else acc.time_ms[0]
    stop = min(acc.time_ms[-1], gyro.time_ms[-1]) if gyro is not None else acc.time_ms[-1]
    first = math.ceil(start / step_ms)
    grid_ms = (np.arange(first, math.floor(stop / step_ms) + 1) * step_ms).round().astype(np.int64)
    if grid_ms.size < 2:
        return []
    ok = _gap_mask(acc, grid_ms, max_gap_s * 1000.0)
    if gyro is not None:
        ok &= _gap_mask(gyro, grid_ms, max_gap_s * 1000.0)
    pieces = []
    edges = np.flatnonzero(np.diff(np.r_[False, ok, False].astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a < 2:
            continue
        g = grid_ms[a:b]
        pieces.append((_interp(acc, g), None if gyro is None else _interp(gyro, g)))
    return pieces


def _check_sites(sites: Sequence[str] | None) -> tuple[str, ...]:
    if sites is None:
        return POSITIONS
    for site in sites:
        if site not in SITES:
            raise UnknownNameError("RealWorld site", site, SITES)
    return tuple(s.split(".", 1)[1] for s in sites)


def read_realworld(
    root: Path | str,
    *,
    activities: Sequence[str] = ACTIVITIES,
    sites: Sequence[str] | None = None,
    max_gap_s: float = 0.5,
) -> Recordings:
    """Read RealWorld HAR acc and gyro, one :class:`Recording` per (proband, activity, session, position, piece).

    Args:
        root: the folder holding ``probandN/`` (or the ``realworld2016_dataset/`` level above it).
        activities: activity tokens to read (default all eight); the acc and gyr zips of each must exist.
        sites: ``realworld.<position>`` names (default all seven).
        max_gap_s: longest timestamp gap bridged by interpolation; longer ones split a recording.

    Returns:
        :class:`Recordings` at 50 Hz, acc (T, 3) m/s^2, gyro (T, 3) rad/s (None where the position's gyroscope
        CSV is missing), ordered by proband, activity, session, position, piece. ``dropped`` is empty (the
        eight activities are ours).

    Raises:
        FormatError: naming the file, for a missing or unreadable zip, a CSV without the expected columns, a
        member name that does not fit its zip. Missing positions inside a zip are logged, not errors.
    """
    labels = label_map(DATASET)
    for activity in activities:
        if labels.activity(activity) is None:
            raise UnknownNameError("RealWorld activity", activity, labels.names)
    positions = _check_sites(sites)
    probands = find_probands(root)
    missing = [
        _data_dir(folder) / f"{sensor}_{activity}_csv.zip"
        for folder in probands.values()
        for activity in activities
        for sensor in CSV_PREFIX
        if not (_data_dir(folder) / f"{sensor}_{activity}_csv.zip").is_file()
    ]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FormatError(f"RealWorld zip missing: {', '.join(map(str, missing[:3]))}{more}")
    recordings: list[Recording] = []
    for number, folder in probands.items():
        for activity in activities:
            acc_all = read_sensor_zip(_data_dir(folder) / f"acc_{activity}_csv.zip", "acc", activity)
            gyr_all = read_sensor_zip(_data_dir(folder) / f"gyr_{activity}_csv.zip", "gyr", activity)
            sessions = sorted({s for s, _ in acc_all} | {s for s, _ in gyr_all})
            for session in sessions:
                for position in positions:
                    recordings.extend(
                        _recordings_at(
                            number, activity, session, position, acc_all, gyr_all, max_gap_s, labels
                        )
                    )
    log.info("RealWorld: %d recordings from %d probands", len(recordings), len(probands))
    return Recordings(recordings, {})


def _recordings_at(
    number, activity, session, position, acc_all, gyr_all, max_gap_s, labels
) -> list[Recording]:
    acc, gyro = acc_all.get((session, position)), gyr_all.get((session, position))
    where = f"proband{number} {activity} recording {session} {position}"
    if acc is None:
        if gyro is not None or any(s == session for s, _ in acc_all):
            log.warning("RealWorld %s: no accelerometer CSV, skipped", where)
        return []
    if gyro is None:
        log.warning("RealWorld %s: no gyroscope CSV, gyro_radps is None", where)
    pieces = align(acc, gyro, max_gap_s)
    if not pieces:
        log.warning("RealWorld %s: acc and gyro share no time span, skipped", where)
    return [
        Recording(
            dataset=DATASET,
            subject=number,
            session=str(session),
            activity=labels.activity(activity),
            site=f"realworld.{position}",
            rate_hz=RATE_HZ,
            acc_mps2=acc_xyz,
            gyro_radps=gyro_xyz,
            segment=k,
        )
        for k, (acc_xyz, gyro_xyz) in enumerate(pieces)
    ]
