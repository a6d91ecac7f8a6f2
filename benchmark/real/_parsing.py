"""Shared helpers of the real-dataset readers: table parsing and gap handling (private)."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from text2imu.builder.errors import FormatError

log = logging.getLogger(__name__)


def read_number_table(data: bytes, source: str, n_columns: int | None = None) -> np.ndarray:
    """Whitespace-separated numbers without a header (``NaN`` allowed) -> (rows, columns) float64.

    ``source`` names the file in error messages. Raises FormatError when a row has a different number of fields
    from the others, a field is not a number, or the column count is not ``n_columns``.
    """
    if not data.strip():
        raise FormatError(f"{source}: the file is empty")
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=r"\s+", header=None, dtype=np.float64, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise FormatError(f"{source}: not a table of whitespace-separated numbers ({exc})") from None
    table = frame.to_numpy(dtype=np.float64)
    if n_columns is not None and table.shape[1] != n_columns:
        raise FormatError(f"{source}: expected {n_columns} columns per row, found {table.shape[1]}")
    return table


def open_zip(path: Path | str, source: str | None = None, data: bytes | None = None) -> zipfile.ZipFile:
    """A ZipFile for ``path`` (or for ``data``, the bytes of a zip inside another); FormatError naming it if bad."""
    name = source or str(path)
    try:
        return zipfile.ZipFile(io.BytesIO(data) if data is not None else path)
    except FileNotFoundError:
        raise FormatError(f"{name}: file not found") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FormatError(f"{name}: not a readable zip archive ({exc})") from None


def read_member(archive: zipfile.ZipFile, member: str, source: str) -> bytes:
    """The bytes of one zip member; FormatError naming ``source!member`` when it is damaged."""
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # bad CRC, truncated data
        raise FormatError(f"{source}!{member}: damaged zip member ({exc})") from None


def fill_short_gaps(values: np.ndarray, max_gap: int) -> list[tuple[int, np.ndarray]]:
    """Split (T, C) samples at long runs of invalid rows and interpolate the short ones.

    A row is invalid when any of its values is NaN or infinite. Runs of at most ``max_gap`` invalid rows between
    valid rows are filled by linear interpolation per column; longer runs split the samples into pieces; invalid
    rows at the start and end are dropped. Returns ``[(first_row, piece (n, C) float64), ...]`` in time order,
    empty when no row is valid.
    """
    values = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(values).all(axis=1)
    good = np.flatnonzero(valid)
    if good.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(good) - 1 > max_gap)
    starts = np.r_[good[0], good[breaks + 1]]
    ends = np.r_[good[breaks], good[-1]]  # inclusive
    pieces = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        piece = values[start : end + 1].copy()
        ok = valid[start : end + 1]
        if not ok.all():
            t_ok, t_bad = np.flatnonzero(ok), np.flatnonzero(~ok)
            for col in range(piece.shape[1]):
                piece[t_bad, col] = np.interp(t_bad, t_ok, piece[t_ok, col])
        pieces.append((start, piece))
    return pieces


def runs(labels: np.ndarray) -> list[tuple[int, int, object]]:
    """Maximal runs of equal values: ``[(start, stop, value), ...]`` with stop exclusive, in order."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    edges = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.r_[0, edges]
    stops = np.r_[edges, labels.size]
    return [(int(a), int(b), labels[a].item()) for a, b in zip(starts, stops, strict=True)]
