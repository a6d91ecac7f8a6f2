"""The row schema of a corpus and its deterministic parquet files.

A row is one recording (DESIGN.md section 5). Column -> Hugging Face feature (Arrow storage type):

========================  ====================================  ==========================
recording_id              Value string                          ``<generator>/<prompt_id>/r<rep:03d>/<shape>/<site>``
prompt_id, prompt         Value string
activity                  ClassLabel of vocab.ACTIVITIES        int64
repetition                Value int32
seed                      Value int64                           the recording's seed (corpus_spec docstring)
generator, body_model     Value string
body_shape, site          Value string
rate_hz, duration_s       Value float64                         duration = (samples - 1) / rate_hz
acc_mps2, gyro_radps      Array2D((None, 3), float32)           list<list<float32>>, (T, 3) per row
orientation_wxyz          Array2D((None, 4), float32)           sensor -> world unit quaternion, scalar first
========================  ====================================  ==========================

Parquet shards are written with pyarrow only, so that the same rows give the same bytes: fixed column order,
zstd level 3, dictionary encoding of the string columns, a fixed number of rows per row group, no timestamps;
the Hugging Face features are embedded in the schema metadata under the ``huggingface`` key (as ``datasets``
writes them), so ``datasets`` reads Array2D and ClassLabel back. Staging parts (one per unit) are Arrow IPC
files with one record batch per row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import FormatError
from .vocab import ACTIVITIES

STRING_COLUMNS = ("recording_id", "prompt_id", "prompt", "generator", "body_model", "body_shape", "site")
SIGNAL_WIDTHS = {"acc_mps2": 3, "gyro_radps": 3, "orientation_wxyz": 4}
COLUMNS: tuple[str, ...] = (
    "recording_id", "prompt_id", "prompt", "activity", "repetition", "seed", "generator", "body_model",
    "body_shape", "site", "rate_hz", "duration_s", "acc_mps2", "gyro_radps", "orientation_wxyz",
)
_SCALAR_TYPES = {"activity": pa.int64(), "repetition": pa.int32(), "seed": pa.int64(),
                 "rate_hz": pa.float64(), "duration_s": pa.float64()}
_VALUE_DTYPES = {"repetition": "int32", "seed": "int64", "rate_hz": "float64", "duration_s": "float64"}
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": list(STRING_COLUMNS),
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "write_page_index": False,
}
SIGNAL_TYPE = pa.list_(pa.list_(pa.float32()))
ARRAY2D_EXTENSION = "datasets.features.features.Array2DExtensionType"  # the name ``datasets`` registers


def features_dict() -> dict:
    """The Hugging Face features of a row, in ``datasets.Features.to_dict()`` form (column order kept)."""
    out: dict[str, dict] = {}
    for name in COLUMNS:
        if name in STRING_COLUMNS:
            out[name] = {"dtype": "string", "_type": "Value"}
        elif name == "activity":
            out[name] = {"names": list(ACTIVITIES), "_type": "ClassLabel"}
        elif name in SIGNAL_WIDTHS:
            out[name] = {"shape": [None, SIGNAL_WIDTHS[name]], "dtype": "float32", "_type": "Array2D"}
        else:
            out[name] = {"dtype": _VALUE_DTYPES[name], "_type": "Value"}
    return out


def features_yaml() -> list[dict]:
    """The features in the card's ``dataset_info`` form (what ``datasets`` reads from README YAML)."""
    rows = []
    for name, feat in features_dict().items():
        if feat["_type"] == "Value":
            dtype: object = feat["dtype"]
        elif feat["_type"] == "ClassLabel":
            dtype = {"class_label": {"names": {str(i): n for i, n in enumerate(feat["names"])}}}
        else:
            dtype = {"array2_d": {"shape": list(feat["shape"]), "dtype": feat["dtype"]}}
        rows.append({"name": name, "dtype": dtype})
    return rows


def storage_schema() -> pa.Schema:
    """Plain Arrow schema of the rows (no metadata): the staging parts' schema."""
    fields = []
    for name in COLUMNS:
        if name in STRING_COLUMNS:
            fields.append(pa.field(name, pa.string()))
        elif name in SIGNAL_WIDTHS:
            fields.append(pa.field(name, SIGNAL_TYPE))
        else:
            fields.append(pa.field(name, _SCALAR_TYPES[name]))
    return pa.schema(fields)


def arrow_schema() -> pa.Schema:
    """Schema of the shards: the storage schema with the features under the ``huggingface`` metadata key, and
    the signal fields tagged as ``datasets``' Array2D extension type (``ARROW:extension:name`` / ``metadata``),
    so that a reader with ``datasets`` imported gets Array2D columns even without the card."""
    fields = []
    for f in storage_schema():
        if f.name in SIGNAL_WIDTHS:
            ext = json.dumps([[None, SIGNAL_WIDTHS[f.name]], "float32"])
            f = f.with_metadata({b"ARROW:extension:name": ARRAY2D_EXTENSION.encode(),
                                 b"ARROW:extension:metadata": ext.encode()})
        fields.append(f)
    meta = json.dumps({"info": {"features": features_dict()}}, separators=(",", ":"))
    return pa.schema(fields, metadata={"huggingface": meta})


def signal_array(arrays: Sequence[np.ndarray], width: int) -> pa.Array:
    """(T_i, width) float arrays -> one list<list<float32>> Arrow array (row i holds T_i samples)."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    flat = (np.concatenate([np.asarray(a, dtype=np.float32).reshape(-1) for a in arrays])
            if arrays else np.zeros(0, np.float32))
    inner_offsets = np.arange(0, lengths.sum() * width + 1, width, dtype=np.int32)
    outer_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    inner = pa.ListArray.from_arrays(pa.array(inner_offsets), pa.array(flat, type=pa.float32()))
    return pa.ListArray.from_arrays(pa.array(outer_offsets), inner)


def rows_table(rows: Sequence[dict]) -> pa.Table:
    """Rows (dicts with every column; signals as (T, k) arrays) -> a table in the storage schema."""
    schema = storage_schema()
    columns = []
    for f in schema:
        if f.name in SIGNAL_WIDTHS:
            columns.append(signal_array([r[f.name] for r in rows], SIGNAL_WIDTHS[f.name]))
        else:
            columns.append(pa.array([r[f.name] for r in rows], type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def table_to_ipc(table: pa.Table) -> bytes:
    """A table -> Arrow IPC file bytes, one record batch per row, uncompressed: staging parts, whose rows are
    read back one by one straight from a memory map (lz4 saved 5 % of the bytes and doubled the read time)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table, max_chunksize=1)
    return sink.getvalue().to_pybytes()


def _open_part(src, path) -> pa.ipc.RecordBatchFileReader:
    try:
        reader = pa.ipc.open_file(src)
    except (OSError, pa.ArrowInvalid) as err:
        raise FormatError(f"{path}: unreadable staging part ({err})") from err
    if reader.schema.names != list(COLUMNS):
        raise FormatError(f"{path}: staging part has columns {reader.schema.names}, expected {list(COLUMNS)}")
    return reader


def read_part(path: str | Path) -> pa.Table:
    """Read a whole staging part written from :func:`table_to_ipc` bytes (FormatError naming the file otherwise)."""
    try:
        with pa.memory_map(str(path), "r") as src:
            return _open_part(src, path).read_all()
    except OSError as err:
        raise FormatError(f"{path}: unreadable staging part ({err})") from err


def read_part_rows(path: str | Path, indices: Sequence[int], n_rows: int) -> list[pa.Table]:
    """Rows ``indices`` of a staging part that must hold ``n_rows`` rows, as one-row tables (only those rows are
    read, into memory of their own: no memory map outlives the call)."""
    try:
        with pa.OSFile(str(path), "r") as src:
            reader = _open_part(src, path)
            if reader.num_record_batches != n_rows:
                raise FormatError(f"{path}: staging part holds {reader.num_record_batches} rows, expected {n_rows}")
            batches = [reader.get_batch(i) for i in indices]
    except (OSError, pa.ArrowInvalid) as err:
        raise FormatError(f"{path}: unreadable staging part ({err})") from err
    if any(b.num_rows != 1 for b in batches):
        raise FormatError(f"{path}: a staging part batch holds other than one row")
    return [pa.Table.from_batches([b]) for b in batches]


class ShardWriter:
    """Writes one config's rows into numbered shards ``train-XXXXX-of-YYYYY.parquet`` in a folder.

    Rows arrive in final order; every ``rows_per_row_group`` rows become one row group, every ``rows_per_shard``
    rows one shard. ``n_rows`` (known in advance) fixes the shard count. Files are written under ``folder`` (a
    staging place) and listed in :attr:`files` once closed.
    """

    def __init__(self, folder: Path, n_rows: int, rows_per_shard: int, rows_per_row_group: int):
        self.folder, self.n_rows = Path(folder), int(n_rows)
        self.rows_per_shard, self.rows_per_row_group = int(rows_per_shard), int(rows_per_row_group)
        self.n_shards = max(1, -(-self.n_rows // self.rows_per_shard))
        self.files: list[Path] = []
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._shard_rows = 0
        self._written = 0
        self.nbytes = 0  # Arrow (in-memory) size of the rows written, as ``datasets`` counts num_bytes
        self._writer: pq.ParquetWriter | None = None
        self.folder.mkdir(parents=True, exist_ok=True)

    def shard_name(self, index: int) -> str:
        return f"{SPLIT_PREFIX}-{index:05d}-of-{self.n_shards:05d}.parquet"

    def add(self, table: pa.Table) -> None:
        """Append rows (a table in the storage schema)."""
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self._group_target():
            self._flush(self._group_target())

    def _group_target(self) -> int:
        return min(self.rows_per_row_group, self.rows_per_shard - self._shard_rows)

    def _flush(self, n: int) -> None:
        merged = pa.concat_tables(self._pending).combine_chunks()
        head, rest = merged.slice(0, n), merged.slice(n)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        if self._writer is None:
            path = self.folder / self.shard_name(len(self.files))
            self.files.append(path)
            self._writer = pq.ParquetWriter(str(path), arrow_schema(), **PARQUET_OPTIONS)
        self._writer.write_table(head, row_group_size=n)
        self.nbytes += head.nbytes
        self._shard_rows += n
        self._written += n
        if self._shard_rows >= self.rows_per_shard:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._shard_rows = 0

    def close(self) -> list[Path]:
        """Write what is pending and close; the row count must equal ``n_rows``."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._close_shard()
        if self._written != self.n_rows:
            raise FormatError(f"{self.folder}: wrote {self._written} rows, expected {self.n_rows}")
        return self.files


SPLIT_PREFIX = "train"
