"""USC-HAD reader (Zhang & Sawchuk 2012): ``SubjectN/a<m>t<n>.mat`` files (FORMATS.md section 3).

Each file is a MATLAB (v5-v7.2) file whose ``sensor_readings`` is an (N, 6) matrix at 100 Hz: acc x, y, z in g
(gravity included) then gyro x, y, z in deg/s, from one MotionNode IMU at the front right hip (site
``usc_had.hip``). Converted on reading: acc x 9.80665 -> m/s^2, gyro x pi/180 -> rad/s.

The activity (m, 1-12) and trial (n, 1-5) come from the file name, as FORMATS.md recommends (one file is known to
carry ``activity_number`` 0, and some spell it ``activity_numbr``); the fields are only cross-checked (a
disagreement is logged). Elevator up/down have no counterpart among the eight activities: dropped and counted
(samples at 100 Hz). Subject = N of the folder name, session = ``"t<n>"``, segment = piece index (0 unless
missing samples longer than ``max_gap_s`` split the recording).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from text2imu.builder.errors import FormatError

from ._parsing import fill_short_gaps
from .label_maps import label_map
from .recording import G_MPS2, RAD_PER_DEG, Recording, Recordings

log = logging.getLogger(__name__)

DATASET = "usc_had"
SITE = "usc_had.hip"
RATE_HZ = 100.0
READINGS_FIELD = "sensor_readings"
_SUBJECT_RE = re.compile(r"^Subject(\d+)$", re.IGNORECASE)
_FILE_RE = re.compile(r"^a(\d+)t(\d+)\.mat$")


def find_subjects(root: Path | str) -> dict[int, Path]:
    """subject number -> folder, for ``root/SubjectN``, ``root/*/SubjectN`` or ``root`` itself being one."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"{root}: no such folder (USC-HAD: expected SubjectN/a<m>t<n>.mat)")
    candidates = [root] if _SUBJECT_RE.match(root.name) else [*root.glob("*"), *root.glob("*/*")]
    found: dict[int, Path] = {}
    for folder in candidates:
        match = _SUBJECT_RE.match(folder.name)
        if match and folder.is_dir():
            number = int(match.group(1))
            if number in found:
                raise FormatError(f"{root}: Subject{number} appears twice ({found[number]}, {folder})")
            found[number] = folder
    if not found:
        raise FormatError(f"{root}: no SubjectN folders (USC-HAD: expected SubjectN/a<m>t<n>.mat)")
    return dict(sorted(found.items()))


def _field_int(mat: dict, *keys: str) -> int | None:
    """The integer in the first present field of ``keys`` (char array or number), or None if absent/unparsable."""
    for key in keys:
        if key in mat:
            flat = np.asarray(mat[key]).ravel()
            if flat.size == 0:
                return None
            try:
                return int(float(str(flat[0]).strip()))
            except ValueError:
                return None
    return None


def read_usc_had_file(path: Path | str) -> tuple[np.ndarray, dict]:
    """(readings (N, 6) float64 in the file's units: g and deg/s, the other fields) of one ``.mat`` file."""
    path = Path(path)
    try:
        mat = loadmat(path)
    except NotImplementedError:
        raise FormatError(
            f"{path}: MATLAB v7.3 (HDF5) file; USC-HAD files are v5-v7.2, re-save with -v7"
        ) from None
    except Exception as exc:  # scipy raises MatReadError, ValueError, IndexError, ... for damaged files
        raise FormatError(f"{path}: not a readable MATLAB .mat file ({exc})") from None
    fields = {k: v for k, v in mat.items() if not k.startswith("__")}
    if READINGS_FIELD not in fields:
        raise FormatError(
            f"{path}: no '{READINGS_FIELD}' field (found: {', '.join(sorted(fields)) or 'none'}); "
            "USC-HAD files hold an (N, 6) matrix of acc (g) and gyro (deg/s)"
        )
    readings = np.asarray(fields[READINGS_FIELD])
    if readings.ndim != 2 or readings.shape[1] != 6 or readings.shape[0] < 1:
        raise FormatError(f"{path}: '{READINGS_FIELD}' must be an (N, 6) matrix, got shape {readings.shape}")
    if not np.issubdtype(readings.dtype, np.number):
        raise FormatError(f"{path}: '{READINGS_FIELD}' is not numeric (dtype {readings.dtype})")
    return readings.astype(np.float64), fields


def read_usc_had(root: Path | str, *, max_gap_s: float = 0.5) -> Recordings:
    """Read USC-HAD from its extracted folder (``USC-HAD/`` or the folder above it).

    Returns:
        :class:`Recordings` at 100 Hz, site ``usc_had.hip``, acc (T, 3) m/s^2 and gyro (T, 3) rad/s, ordered by
        subject, activity number, trial; ``dropped`` counts the samples of the elevator activities.

    Raises:
        FormatError: naming the file, for an unreadable .mat, one without ``sensor_readings`` or with a matrix
        that is not (N, 6), or a subject folder without a<m>t<n>.mat files.
    """
    labels = label_map(DATASET)
    dropped: dict[str, int] = {}
    recordings: list[Recording] = []
    for subject, folder in find_subjects(root).items():
        files = sorted(
            (
                (int(m.group(1)), int(m.group(2)), p)
                for p in folder.iterdir()
                if (m := _FILE_RE.match(p.name))
            ),
        )
        if not files:
            raise FormatError(f"{folder}: no a<m>t<n>.mat files")
        for number, trial, path in files:
            readings, fields = read_usc_had_file(path)
            field_number = _field_int(fields, "activity_number", "activity_numbr")
            if field_number is not None and field_number != number:
                log.warning(
                    "%s: activity_number %s disagrees with the file name; using %d",
                    path,
                    field_number,
                    number,
                )
            field_subject = _field_int(fields, "subject")
            if field_subject is not None and field_subject != subject:
                log.warning(
                    "%s: subject %s disagrees with the folder name; using %d", path, field_subject, subject
                )
            activity = labels.activity(number)
            if activity is None:
                name = labels.name(number)
                dropped[name] = dropped.get(name, 0) + readings.shape[0]
                continue
            pieces = fill_short_gaps(readings, round(max_gap_s * RATE_HZ))
            if len(pieces) != 1 or pieces[0][1].shape[0] != readings.shape[0]:
                log.warning("%s: missing values split or trimmed the recording", path)
            for k, (_, values) in enumerate(pieces):
                recordings.append(
                    Recording(
                        dataset=DATASET,
                        subject=subject,
                        session=f"t{trial}",
                        activity=activity,
                        site=SITE,
                        rate_hz=RATE_HZ,
                        acc_mps2=values[:, :3] * G_MPS2,
                        gyro_radps=values[:, 3:] * RAD_PER_DEG,
                        segment=k,
                    )
                )
    log.info("USC-HAD: %d recordings; dropped samples: %s", len(recordings), dropped)
    return Recordings(recordings, dropped)
