"""The bundled UCI HAPT evaluation set: its parquet layout, how it is built, and its loader.

One row per labelled segment of the six activities HAPT shares with the eight (postural transitions and unlabelled
stretches left out), waist smartphone, resampled 50 -> 20 Hz (:func:`~text2imu.benchmark.real.resample_recording`).
Columns: ``subject`` int8 (user 1-30), ``session`` string (``"expXX"``), ``activity`` string, ``segment`` int16
(the segment's index among its experiment's labels.txt rows in time order), ``rate_hz`` float32 (20),
``acc_mps2`` and ``gyro_radps`` list<fixed_size_list<float32, 3>> ((T, 3) per row).

Values are rounded to a power-of-two grid before storage, so the file stays small (about 3.4 MB instead of
5.4 MB): acc to multiples of 2^-10 m/s^2 (error <= 0.00049 m/s^2; the phone's own step is 1/720 g = 0.0136
m/s^2) and gyro to multiples of 2^-16 rad/s (error <= 7.7e-6 rad/s; its step is 0.000305 rad/s). The parquet is
written with zstd level 19 and byte-stream-split floats, in one row group, so the same inputs give the same bytes
(with the same pyarrow version).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from text2imu.benchmark.real import Recording, Recordings, read_uci_hapt, resample_recording
from text2imu.builder.errors import FormatError
from text2imu.builder.output import sha256_file

BUNDLE_FILE = "uci_hapt_waist_20hz.parquet"
RATE_HZ = 20.0
ACC_STEP_MPS2 = 2.0**-10
GYRO_STEP_RADPS = 2.0**-16
ZSTD_LEVEL = 19
_XYZ = pa.list_(pa.list_(pa.float32(), 3))
SCHEMA = pa.schema(
    [
        ("subject", pa.int8()),
        ("session", pa.string()),
        ("activity", pa.string()),
        ("segment", pa.int16()),
        ("rate_hz", pa.float32()),
        ("acc_mps2", _XYZ),
        ("gyro_radps", _XYZ),
    ],
    metadata={
        "dataset": "uci_hapt",
        "site": "hapt.waist",
        "license": "CC BY 4.0",
        "citation": "Reyes-Ortiz, Oneto, Samà, Parra, Anguita. Transition-Aware Human Activity Recognition Using "
        "Smartphones. Neurocomputing 171 (2016) 754-767. doi:10.1016/j.neucom.2015.07.085",
        "acc_step_mps2": repr(ACC_STEP_MPS2),
        "gyro_step_radps": repr(GYRO_STEP_RADPS),
    },
)


def quantize(values: np.ndarray, step: float) -> np.ndarray:
    """(T, 3) values rounded to the nearest multiple of ``step`` (a power of two), as float32 (exact)."""
    return (np.round(np.asarray(values, dtype=np.float64) / step) * step).astype(np.float32)


def _xyz_column(arrays: Sequence[np.ndarray]) -> pa.Array:
    offsets = np.r_[0, np.cumsum([a.shape[0] for a in arrays])].astype(np.int32)
    flat = np.concatenate([a.reshape(-1) for a in arrays]).astype(np.float32)
    points = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), 3)
    return pa.ListArray.from_arrays(pa.array(offsets), points).cast(_XYZ)


def bundle_table(recordings: Sequence[Recording]) -> pa.Table:
    """The bundle's table of HAPT recordings: resampled to 20 Hz and quantized here, kept in the given order."""
    recs = [resample_recording(r, RATE_HZ) for r in recordings]
    if any(r.gyro_radps is None for r in recs):
        raise FormatError("UCI HAPT bundle: every recording needs gyro_radps")
    columns = {
        "subject": pa.array([r.subject for r in recs], pa.int8()),
        "session": pa.array([r.session for r in recs], pa.string()),
        "activity": pa.array([r.activity for r in recs], pa.string()),
        "segment": pa.array([r.segment for r in recs], pa.int16()),
        "rate_hz": pa.array([r.rate_hz for r in recs], pa.float32()),
        "acc_mps2": _xyz_column([quantize(r.acc_mps2, ACC_STEP_MPS2) for r in recs]),
        "gyro_radps": _xyz_column([quantize(r.gyro_radps, GYRO_STEP_RADPS) for r in recs]),
    }
    return pa.table(columns, schema=SCHEMA)


def write_bundle(table: pa.Table, out: Path | str) -> str:
    """Write the table as the bundle's parquet (atomically); returns its sha256 (hex)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name, suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            use_dictionary=["session", "activity"],
            use_byte_stream_split=True,
            row_group_size=max(table.num_rows, 1),
            write_statistics=True,
        )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return sha256_of(out)


sha256_of = sha256_file


def build_hapt_bundle(zips: Path | str | Sequence[Path | str], out: Path | str) -> str:
    """Read UCI HAPT (:func:`read_uci_hapt`: zips, their folder or an extracted folder), write the bundle to
    ``out``; returns its sha256."""
    return write_bundle(bundle_table(read_uci_hapt(zips)), out)


def recordings_from_table(table: pa.Table, source: str = BUNDLE_FILE) -> Recordings:
    """The bundle's rows as :class:`Recording` objects (dataset ``uci_hapt``, site ``hapt.waist``, 20 Hz)."""
    missing = [name for name in SCHEMA.names if name not in table.column_names]
    if missing:
        raise FormatError(f"{source}: missing column(s) {', '.join(missing)}")
    columns = {name: table.column(name).combine_chunks() for name in SCHEMA.names}
    signals = {}
    for name in ("acc_mps2", "gyro_radps"):
        lists = columns[name]
        offsets = lists.offsets.to_numpy()
        flat = lists.values.flatten().to_numpy(zero_copy_only=False).reshape(-1, 3)
        signals[name] = [flat[offsets[i] : offsets[i + 1]] for i in range(len(lists))]
    meta = zip(
        *(columns[n].to_pylist() for n in ("subject", "session", "activity", "segment", "rate_hz")),
        strict=True,
    )
    return Recordings(
        Recording(
            dataset="uci_hapt",
            subject=subject,
            session=session,
            activity=activity,
            site="hapt.waist",
            rate_hz=rate_hz,
            acc_mps2=acc,
            gyro_radps=gyro,
            segment=segment,
        )
        for (subject, session, activity, segment, rate_hz), acc, gyro in zip(
            meta, signals["acc_mps2"], signals["gyro_radps"], strict=True
        )
    )


def bundle_path() -> Path:
    """Where the installed bundle lives (a real file: package data of text2imu.benchmark.data)."""
    return Path(str(resources.files(__package__).joinpath(BUNDLE_FILE)))


def load_bundled_hapt() -> Recordings:
    """The bundled UCI HAPT evaluation set: 856 recordings of 30 subjects, six activities, acc and gyro at 20 Hz.

    License CC BY 4.0; cite Reyes-Ortiz et al., Neurocomputing 171 (2016) 754-767. See benchmark/data/README.md.
    """
    resource = resources.files(__package__).joinpath(BUNDLE_FILE)
    if not resource.is_file():
        raise FormatError(
            f"{BUNDLE_FILE} is not installed with text2imu.benchmark.data; rebuild it with "
            "python -m text2imu.benchmark.data.make_hapt_bundle"
        )
    with resource.open("rb") as handle:
        table = pq.read_table(handle)
    return recordings_from_table(table, str(resource))
