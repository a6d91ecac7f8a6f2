"""Write a calibrated revision of a corpus: the site's signals quantile-mapped onto a few real subjects' (IMUGPT).

:func:`calibrate_corpus` reads a corpus folder written by ``text2imu build`` (``manifest.json``, README.md card,
``data/<site>-<shape>/train-*.parquet``) and writes a new, complete corpus folder of the same layout:

1. Fit (:mod:`.calibration`): the synthetic windows of ``site`` (every shape pooled; read with
   :func:`~text2imu.benchmark.inputs.load_corpus_site`, i.e. ``datasets`` at 20 Hz, 2 s windows, 50 % overlap)
   against the real windows (:func:`~text2imu.benchmark.inputs.load_real`, 20 Hz) of the calibration subjects
   only, per class and channel, for the classes the corpus site and the real dataset share.
2. Apply: every row of the site's configs whose activity is a shared class gets its acc and gyro mapped. Rows
   stored at another rate than 20 Hz are first resampled to 20 Hz exactly as ``load_corpus_site`` does
   (polyphase, :func:`~text2imu.benchmark.real.recording.resample_signal`) and stored at 20 Hz (``rate_hz``,
   ``duration_s`` updated; ``orientation_wxyz`` resampled by normalised linear interpolation of the
   quaternions), because the map is fitted at 20 Hz and is nonlinear: mapping at the stored rate and then
   resampling would not give the fitted distributions.
3. Choices: a config is either wholly calibrated or byte-identical to the source. Rows of the site whose activity
   the real dataset lacks (e.g. jumping, running for UCI HAPT) are dropped (nothing to calibrate them against),
   and counted in the card; configs of other sites are copied unchanged.
4. Record: the revision name ``<source version or build-<fingerprint[:12]>>+calibrated-<dataset>-<site>-s<subjects>``,
   ``calibration.json`` (the fitted quantiles and the calibration set), a "Calibration" section in the card
   (:mod:`.calibration_card`), and a manifest whose files (sha256) and fingerprint are new; its ``spec`` stays the
   source's, with ``calibrated_from`` naming the source.

Everything is written in a temporary folder beside ``out_dir``, verified, and renamed at the end: a failure
leaves nothing at ``out_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from text2imu.builder.corpus import MANIFEST, README, verify_corpus
from text2imu.builder.corpus_parquet import SIGNAL_WIDTHS, ShardWriter, rows_table
from text2imu.builder.errors import FormatError, Text2ImuError
from text2imu.builder.output import atomic_path, sha256_file
from text2imu.builder.vocab import ACTIVITIES, check_site

from .calibration import QuantileCalibration, apply_quantile_calibration, fit_quantile_calibration
from .calibration_card import calibrated_card
from .inputs import choose_real_site, cli_name, load_corpus_site, load_real, real_dataset_name, resolve_corpus
from .protocol import subject_key
from .real.recording import resample_signal, resampling_ratio
from .windows import V1_WINDOWS

log = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.json"
RATE_HZ = V1_WINDOWS.rate_hz


@dataclass(frozen=True)
class CalibratedCorpus:
    """What :func:`calibrate_corpus` wrote: the folder, its revision name, the fitted map and the record kept in
    ``calibration.json`` (``record``) and ``manifest.json`` (``files``: {relative path: sha256})."""

    out_dir: Path
    revision: str
    calibration: QuantileCalibration
    record: dict
    files: dict


def parse_subjects(text: str) -> tuple[str, ...]:
    """``"1,5,9"`` -> ("1", "5", "9"): de-duplicated, numeric ids in numeric order; empty -> error."""
    names = {s.strip() for s in str(text).split(",") if s.strip()}
    if not names:
        raise Text2ImuError("--calibration-subjects needs at least one subject, e.g. 1,5,9")
    return tuple(sorted(names, key=subject_key))


def revision_name(manifest: dict, dataset: str, site: str, subjects: tuple[str, ...]) -> str:
    """``v0.1.0+calibrated-uci-hapt-hapt.waist-s1.5.9`` (``build-<fingerprint[:12]>`` when no version)."""
    base = (manifest.get("spec") or {}).get("version") or manifest.get("revision")
    if not base:
        base = f"build-{str(manifest.get('fingerprint', 'unknown'))[:12]}"
    return f"{base}+calibrated-{cli_name(dataset)}-{site}-s{'.'.join(subjects)}"


def _check_out(out: Path, source: Path, force: bool) -> None:
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise Text2ImuError(f"--out {out} must be outside the source corpus {source}")
    if out.exists() and not out.is_dir():
        raise Text2ImuError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise Text2ImuError(f"{out} exists and is not empty; pass --force to replace it")
        if not (out / MANIFEST).is_file():
            raise Text2ImuError(f"{out} holds no text2imu corpus (no {MANIFEST}); refusing to replace it even with "
                                "--force")


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise FormatError(f"{path}: missing; calibrate needs a corpus written by `text2imu build`")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("configs"), dict):
        raise FormatError(f"{path}: no 'configs' table of {{config: rows}}")
    return manifest


def _signal_rows(column, width: int) -> list[np.ndarray]:
    """A list<list<float32>> (or Array2D extension) Arrow column -> per row a (T_i, width) float32 array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    lengths = arr.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    flat = np.asarray(arr.flatten().flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    flat = flat.reshape(-1, width)
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []


def resample_orientation(quat_wxyz: np.ndarray, n_out: int, up: int, down: int) -> np.ndarray:
    """(T, 4) unit quaternions at rate r -> (n_out, 4) at rate r * up / down: sample i at input position
    i * down / up, normalised linear interpolation between neighbours (signs made continuous first), held at the
    last sample beyond the end."""
    q = np.asarray(quat_wxyz, dtype=np.float64).copy()
    for i in range(1, len(q)):  # q and -q are one rotation: keep neighbours in one hemisphere
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    pos = np.minimum(np.arange(n_out) * down / up, len(q) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(q) - 1)
    w = (pos - lo)[:, None]
    out = (1 - w) * q[lo] + w * q[hi]
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _calibrate_rows(table: pa.Table, cal: QuantileCalibration, keep: set[int]) -> tuple[list[dict], dict]:
    """Rows of one config (a table of corpus shards) -> calibrated row dicts at 20 Hz (shared classes only) and
    {activity: rows dropped}."""
    names = [c for c in table.column_names if c not in SIGNAL_WIDTHS]
    scalars = table.select(names).to_pylist()
    signals = {c: _signal_rows(table.column(c), w) for c, w in SIGNAL_WIDTHS.items()}
    rows, dropped = [], {}
    for i, row in enumerate(scalars):
        activity = int(row["activity"])
        if activity not in keep:
            dropped[ACTIVITIES[activity]] = dropped.get(ACTIVITIES[activity], 0) + 1
            continue
        signal = np.concatenate([signals["acc_mps2"][i], signals["gyro_radps"][i]], axis=1)
        quat = signals["orientation_wxyz"][i]
        rate = float(row["rate_hz"])
        if not np.isclose(rate, RATE_HZ):  # as load_corpus_site: the map was fitted on these 20 Hz values
            up, down = resampling_ratio(rate, RATE_HZ)
            signal = resample_signal(signal, up, down).astype(np.float32)
            quat = resample_orientation(quat, len(signal), up, down)
        mapped = apply_quantile_calibration(cal, signal, [ACTIVITIES[activity]] * len(signal))
        rows.append({**row, "rate_hz": RATE_HZ, "duration_s": (len(mapped) - 1) / RATE_HZ,
                     "acc_mps2": mapped[:, :3], "gyro_radps": mapped[:, 3:], "orientation_wxyz": quat})
    return rows, dropped


def _read_config(folder: Path, config: str) -> pa.Table:
    shards = sorted((folder / "data" / config).glob("train-*.parquet"))
    if not shards:
        raise FormatError(f"{folder / 'data' / config}: no train-*.parquet shard")
    return pa.concat_tables([pq.read_table(str(s)) for s in shards])


def _fit(folder: Path, site: str, dataset: str, data: Path | None, real_site: str | None,
         subjects: tuple[str, ...], n_quantiles: int) -> tuple[QuantileCalibration, dict]:
    """Load both sides, check the calibration set, fit; returns the map and the facts the card records."""
    syn, syn_info = load_corpus_site(folder, site)
    real_site = choose_real_site(dataset, site, real_site)
    real, real_info = load_real(dataset, data, real_site)
    known = sorted(set(real.groups.tolist()), key=lambda s: (len(s), s))
    unknown = [s for s in subjects if s not in known]
    if unknown:
        raise Text2ImuError(f"calibration subject(s) {', '.join(unknown)} not in {cli_name(dataset)} at "
                            f"{real_site} (its subjects: {', '.join(known)})")
    syn_counts, real_counts = syn.counts(), real.counts()
    shared = tuple(a for a in ACTIVITIES if a in syn_counts and a in real_counts)
    if not shared:
        raise Text2ImuError(f"corpus site {site} and {cli_name(dataset)} share no activity (corpus: "
                            f"{', '.join(syn_counts)}; real: {', '.join(real_counts)})")
    in_cal = np.isin(real.groups, subjects)
    cal_set = real.subset(in_cal)
    cal_counts = cal_set.counts()
    missing = [a for a in shared if a not in cal_counts]
    if missing:
        raise Text2ImuError(f"class(es) {', '.join(missing)} have no real window in calibration subject(s) "
                            f"{', '.join(subjects)}; add subjects that performed them")
    shared_idx = [ACTIVITIES.index(a) for a in shared]
    syn_used = syn.subset(np.isin(syn.y, shared_idx))
    cal_used = cal_set.subset(np.isin(cal_set.y, shared_idx))
    cal = fit_quantile_calibration(syn_used.x, syn_used.y, cal_used.x, cal_used.y, shared, subjects, n_quantiles)
    facts = {
        "dataset": dataset, "dataset_title": real_info.get("title"), "real_site": real_site, "site": site,
        "real_source": {k: real_info.get(k) for k in ("source", "path", "sha256") if real_info.get(k)},
        "classes": list(shared),
        "real_windows_per_class": {a: int(cal_counts[a]) for a in shared},
        "synthetic_windows_per_class": {a: int(syn_counts[a]) for a in shared},
        "uncalibrated_synthetic_windows_per_class": {a: n for a, n in syn_counts.items() if a not in shared},
        "site_configs": list(syn_info["configs"]),
    }
    return cal, facts


def calibrate_corpus(corpus: str | Path, out_dir: str | Path, *, site: str, calibration_subjects: tuple[str, ...],
                     dataset: str = "uci-hapt", data: Path | None = None, real_site: str | None = None,
                     n_quantiles: int = 101, force: bool = False, progress: bool = True) -> CalibratedCorpus:
    """Write the calibrated revision of ``corpus`` to ``out_dir`` (module docstring).

    Args:
        corpus: a corpus folder written by ``text2imu build`` (or a Hub dataset repo id).
        out_dir: the folder to write (refused when it exists and is not empty, unless ``force`` and it holds a
            corpus).
        site: the corpus site to calibrate, e.g. "hapt.waist".
        calibration_subjects: the real subjects to fit on (as the dataset names them, e.g. ("1", "5", "9")).
        dataset, data, real_site: the real dataset (CLI or registry name), its path (None: bundled UCI HAPT) and
            site (default as ``text2imu benchmark``).
        n_quantiles: quantiles per class and channel (>= 2).
        force: replace an existing corpus at ``out_dir``.
    Raises:
        Text2ImuError: bad input (named); nothing is written then.
    """
    site = check_site(site)
    dataset = real_dataset_name(dataset)
    subjects = tuple(str(s) for s in calibration_subjects)
    if not subjects:
        raise Text2ImuError("no calibration subject given")
    if int(n_quantiles) < 2:
        raise Text2ImuError(f"--n-quantiles must be at least 2, got {n_quantiles}")
    folder, _ = resolve_corpus(str(corpus))
    out = Path(out_dir)
    _check_out(out, folder, force)
    manifest = _read_manifest(folder)
    report = verify_corpus(folder)
    if not report.ok:
        raise Text2ImuError(f"source corpus {folder} fails verification: {report.problems[0]}")
    cal, facts = _fit(folder, site, dataset, data, real_site, subjects, int(n_quantiles))
    revision = revision_name(manifest, dataset, site, subjects)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.calibrating-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; give the corpus folder the usual permissions
    try:
        record, files = _write(folder, tmp, manifest, cal, facts, revision, progress)
        check = verify_corpus(tmp)
        if not check.ok:  # a bug, not bad input
            raise RuntimeError(f"calibrated corpus fails verification: {check.problems[0]}")
        _move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("%s: revision %s, %d classes calibrated on subjects %s", out, revision, len(cal.classes),
             ", ".join(subjects))
    return CalibratedCorpus(out, revision, cal, record, files)


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)


def _write(folder: Path, tmp: Path, manifest: dict, cal: QuantileCalibration, facts: dict, revision: str,
           progress: bool) -> tuple[dict, dict]:
    """Write shards, calibration.json, card and manifest into ``tmp``; returns (calibration record, files)."""
    spec = manifest.get("spec") or {}
    per_shard, per_group = int(spec.get("rows_per_shard", 10_000)), int(spec.get("rows_per_row_group", 100))
    keep = {ACTIVITIES.index(a) for a in cal.classes}
    site_configs = set(facts["site_configs"])
    files: dict[str, tuple[int, str]] = {}
    config_rows, config_bytes, dropped_rows, rates = {}, {}, {}, set()
    for config in tqdm(sorted(manifest["configs"]), desc="configs", unit="config", disable=not progress):
        if config not in site_configs:
            for src in sorted((folder / "data" / config).glob("*.parquet")):
                rel = f"data/{config}/{src.name}"
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, tmp / rel)
                files[rel] = ((tmp / rel).stat().st_size, sha256_file(tmp / rel))
            config_rows[config] = int(manifest["configs"][config])
            continue
        table = _read_config(folder, config)
        rates.update(float(r) for r in table.column("rate_hz").to_pylist())
        rows, dropped = _calibrate_rows(table, cal, keep)
        if not rows:
            raise Text2ImuError(f"config {config}: no recording of a calibrated class ({', '.join(cal.classes)})")
        for a, n in dropped.items():
            dropped_rows[a] = dropped_rows.get(a, 0) + n
        writer = ShardWriter(tmp / "data" / config, len(rows), per_shard, per_group)
        writer.add(rows_table(rows))
        for shard in writer.close():
            files[f"data/{config}/{shard.name}"] = (shard.stat().st_size, sha256_file(shard))
        config_rows[config], config_bytes[config] = len(rows), writer.nbytes
    record = {
        "revision": revision,
        "method": "per-class per-channel quantile mapping (probability integral transform)",
        "rate_hz": RATE_HZ,
        "stored_rates_hz": sorted(rates),
        "window": {"window_s": V1_WINDOWS.window_s, "overlap": V1_WINDOWS.overlap},
        **facts,
        "dropped_rows_per_class": dict(sorted(dropped_rows.items())),
        "source_corpus": {"fingerprint": manifest.get("fingerprint"), "version": spec.get("version"),
                          "manifest_sha256": sha256_file(folder / MANIFEST)},
        "calibration": cal.to_dict(),
    }
    _write_text(tmp / CALIBRATION_FILE, json.dumps(record, indent=2) + "\n")
    card = calibrated_card((folder / README).read_text("utf-8"), record, cal, config_rows, config_bytes,
                           files, sha256_file(tmp / CALIBRATION_FILE))
    _write_text(tmp / README, card)
    listed = {**files, **{name: (os.path.getsize(tmp / name), sha256_file(tmp / name))
                          for name in (README, CALIBRATION_FILE)}}
    fingerprint = hashlib.sha256(json.dumps({"source": manifest.get("fingerprint"), "calibration": record},
                                            sort_keys=True).encode("utf-8")).hexdigest()
    new_manifest = {
        **manifest,
        "fingerprint": fingerprint,
        "revision": revision,
        "calibrated_from": record["source_corpus"],
        "recordings": sum(config_rows.values()),
        "configs": dict(sorted(config_rows.items())),
        "files": {p: {"bytes": b, "sha256": h} for p, (b, h) in sorted(listed.items())},
    }
    _write_text(tmp / MANIFEST, json.dumps(new_manifest, indent=2, sort_keys=True) + "\n")
    return record, {p: h for p, (_, h) in listed.items()}


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as t:
        t.write_text(text, encoding="utf-8")
