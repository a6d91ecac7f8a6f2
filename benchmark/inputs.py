"""The benchmark's inputs: a corpus read the way users read it (``datasets.load_dataset``), and real recordings.

Corpus: a Hugging Face dataset repo folder written by ``text2imu build`` (or a Hub repo id, fetched with
``snapshot_download(revision=...)`` since offline ``load_dataset(repo, revision=...)`` ignores the revision),
configs ``<site>-<shape>``; every config of the requested site is loaded with
``datasets.load_dataset(folder, config, split="train")`` and pooled over shapes. Rows at another rate than the
protocol's are resampled (polyphase, as the real data).

Real data: ``REAL_DATASETS[name].read(path)`` resampled to 20 Hz, or the bundled UCI HAPT waist set when no path
is given for ``uci_hapt``; only recordings of one site with gyro data are kept.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from text2imu.builder.errors import FormatError, Text2ImuError, UnknownNameError
from text2imu.builder.output import sha256_file
from text2imu.builder.vocab import ACTIVITIES

from .real import REAL_DATASETS, Recordings, resample_recordings
from .real.recording import resample_signal, resampling_ratio
from .windows import V1_WINDOWS, WindowSet, WindowSpec, window_recordings, window_signals

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("recording_id", "prompt_id", "activity", "site", "rate_hz", "acc_mps2", "gyro_radps")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def cli_name(name: str) -> str:
    """A registry name as the command line writes it: ``uci_hapt`` -> ``uci-hapt``."""
    return name.replace("_", "-")


def real_dataset_name(name: str) -> str:
    """The registry name of a real dataset given as ``uci-hapt`` or ``uci_hapt``; unknown -> did you mean."""
    key = name.strip().lower().replace("-", "_")
    if key not in REAL_DATASETS:
        raise UnknownNameError("real dataset", name, [cli_name(n) for n in REAL_DATASETS])
    return key


_sha256 = sha256_file


def resolve_corpus(corpus: str, revision: str | None = None) -> tuple[Path, dict]:
    """(local folder, provenance dict(source, path, revision)) of a corpus folder or Hub dataset repo id.

    A folder that exists is used as is (``revision`` is recorded as given; a Hub snapshot folder
    ``.../snapshots/<commit>`` records that commit when none is given). Otherwise a name ``owner/name`` is
    fetched with ``huggingface_hub.snapshot_download(repo_type="dataset", revision=revision)``.
    """
    path = Path(corpus).expanduser()
    if path.is_dir():
        if not (path / "README.md").is_file() and not (path / "data").is_dir():
            raise FormatError(f"{path}: not a corpus folder (no README.md with configs and no data/ folder)")
        if revision is None and path.parent.name == "snapshots":
            revision = path.name
        return path, {"source": "folder", "path": str(path.resolve()), "revision": revision}
    if path.exists():
        raise FormatError(f"{path}: a corpus is a folder (a Hugging Face dataset repo), not a file")
    if not _REPO_ID.match(corpus):
        raise Text2ImuError(f"corpus folder {corpus} not found")
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(corpus, repo_type="dataset", revision=revision))
    except Exception as err:  # offline, unknown repo or revision: all user-facing
        raise Text2ImuError(
            f"corpus {corpus}: no such folder, and the Hub dataset repo could not be fetched "
            f"(revision {revision or 'main'}): {type(err).__name__}: {err}".splitlines()[0]
        ) from None
    return local, {"source": "hub", "repo_id": corpus, "path": str(local), "revision": local.name}


def corpus_calibration(folder: Path) -> dict | None:
    """The ``calibration.json`` record of a corpus written by ``text2imu calibrate`` (None when the corpus has
    none); FormatError naming the file when it is not a JSON object."""
    path = Path(folder) / "calibration.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    if not isinstance(record, dict):
        raise FormatError(f"{path}: expected a JSON object, got {type(record).__name__}")
    return record


def corpus_configs(folder: Path) -> list[str]:
    """The corpus's config names, as ``datasets.get_dataset_config_names`` sees them."""
    import datasets

    try:
        return list(datasets.get_dataset_config_names(str(folder)))
    except Exception as err:
        raise FormatError(f"{folder}: cannot read the corpus configs ({type(err).__name__}: {err})") from None


def site_configs(folder: Path, site: str) -> list[str]:
    """The ``<site>-<shape>`` configs of ``site``; an error naming the corpus's sites when there are none."""
    configs = corpus_configs(folder)
    sites = sorted({c.split("-", 1)[0] for c in configs if "-" in c})
    chosen = sorted(c for c in configs if c.startswith(f"{site}-"))
    if not chosen:
        close = difflib.get_close_matches(site, sites, n=3, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise Text2ImuError(
            f"corpus {folder} has no configs of site '{site}' (its sites: {', '.join(sites) or 'none'}).{hint}"
        )
    return chosen


def card_provenance(folder: Path) -> dict:
    """sha256 of README.md and the YAML keys of its front matter except the bulky ``configs``/``dataset_info``."""
    card = folder / "README.md"
    if not card.is_file():
        return {"card_sha256": None}
    text = card.read_text(encoding="utf-8", errors="replace")
    info: dict = {"card_sha256": _sha256(card)}
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if match:
        import yaml

        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as err:
            raise FormatError(f"{card}: unreadable YAML front matter ({err})".splitlines()[0]) from None
        if isinstance(meta, dict):
            info["card"] = {k: v for k, v in meta.items() if k not in ("configs", "dataset_info")}
    return info


def manifest_provenance(folder: Path) -> dict:
    """What ``manifest.json`` (written by ``text2imu build`` beside the card) says: format, build fingerprint,
    release version, motion source; empty when the corpus has none."""
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    import json

    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(f"{path}: not JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise FormatError(f"{path}: expected a JSON object")
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    return {
        "manifest": {
            "sha256": _sha256(path),
            "format_version": manifest.get("format_version"),
            "fingerprint": manifest.get("fingerprint"),
            "version": spec.get("version"),
            "source": manifest.get("source"),
        }
    }


def _as_rows(column, n_cols: int, name: str, config: str) -> list[np.ndarray]:
    rows = []
    for i, value in enumerate(column):
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != n_cols or not np.isfinite(arr).all():
            raise FormatError(f"corpus config {config}: row {i} {name} is not a finite (T, {n_cols}) array")
        rows.append(arr)
    return rows


def load_corpus_site(folder: Path, site: str, spec: WindowSpec = V1_WINDOWS) -> tuple[WindowSet, dict]:
    """Windows of every recording of ``site`` (all its shapes pooled), grouped by prompt id, and their provenance.

    Returns:
        (WindowSet with groups = prompt_id, info dict(configs, files {relpath: sha256}, shapes, generators,
        n_recordings, n_recordings_without_window, windows_per_class, load_s, card provenance)).
    """
    import datasets

    start = time.perf_counter()
    configs = site_configs(folder, site)
    signals, activities, groups = [], [], []
    shapes, generators = set(), set()
    for config in configs:
        ds = datasets.load_dataset(str(folder), config, split="train")
        missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
        if missing:
            raise FormatError(f"{folder}: config {config} lacks column(s) {', '.join(missing)}")
        feature = ds.features["activity"]
        names = feature.names if hasattr(feature, "names") else None
        sites_seen = set(ds.unique("site"))
        if sites_seen - {site}:
            raise FormatError(f"{folder}: config {config} holds rows of site(s) {sorted(sites_seen - {site})}")
        ds = ds.with_format("numpy")
        acc = _as_rows(ds["acc_mps2"], 3, "acc_mps2", config)
        gyro = _as_rows(ds["gyro_radps"], 3, "gyro_radps", config)
        for a, g, act, rate, prompt in zip(acc, gyro, ds["activity"], ds["rate_hz"], ds["prompt_id"], strict=True):
            signal = np.concatenate([a, g], axis=1)
            if not np.isclose(float(rate), spec.rate_hz):
                up, down = resampling_ratio(float(rate), spec.rate_hz)
                signal = resample_signal(signal, up, down).astype(np.float32)
            activity = names[int(act)] if names is not None else str(act)
            if activity not in ACTIVITIES:
                raise FormatError(f"{folder}: config {config} has activity {activity!r}, not one of the eight")
            signals.append(signal)
            activities.append(activity)
            groups.append(str(prompt))
        if "body_shape" in ds.column_names:
            shapes.update(map(str, ds.unique("body_shape")))
        if "generator" in ds.column_names:
            generators.update(map(str, ds.unique("generator")))
    windows = window_signals(signals, activities, groups, spec)
    files = {}
    for config in configs:
        for f in sorted((folder / "data" / config).glob("*.parquet")):
            files[str(f.relative_to(folder))] = _sha256(f)
    info = {
        "site": site,
        "configs": configs,
        "shapes": sorted(shapes),
        "generators": sorted(generators),
        "n_recordings": len(signals),
        "n_recordings_without_window": int(len(signals) - len(np.unique(windows.source))),
        "n_windows": len(windows),
        "windows_per_class": windows.counts(),
        "files_sha256": files,
        "load_s": time.perf_counter() - start,
        **card_provenance(folder),
        **manifest_provenance(folder),
    }
    return windows, info


def choose_real_site(dataset: str, site: str | None, real_site: str | None) -> str:
    """The real site: ``real_site`` if given, else ``site`` if the dataset has it, else its only site."""
    sites = REAL_DATASETS[dataset].sites
    if real_site is not None:
        if real_site not in sites:
            raise UnknownNameError(f"{cli_name(dataset)} site", real_site, sites)
        return real_site
    if site in sites:
        return site
    if len(sites) == 1:
        return sites[0]
    raise Text2ImuError(
        f"{cli_name(dataset)} has sites {', '.join(sites)}; name the one to test on with --real-site"
    )


def check_real_data(dataset: str, data: Path | None) -> None:
    """Fail early when the real data cannot be read: no path for a dataset that is not bundled, or a missing path."""
    entry = REAL_DATASETS[dataset]
    if data is None and dataset != "uci_hapt":
        raise Text2ImuError(f"--data PATH is needed for {cli_name(dataset)} ({entry.layout}); see {entry.url}")
    if data is not None and not Path(data).expanduser().exists():
        raise Text2ImuError(f"real data path {data} not found ({cli_name(dataset)} expects {entry.layout})")


def load_real(
    dataset: str, data: Path | None, real_site: str, spec: WindowSpec = V1_WINDOWS
) -> tuple[WindowSet, dict]:
    """Windows of a real dataset at one site (acc + gyro at ``spec.rate_hz``), grouped by subject, and provenance.

    ``data`` None means the bundled UCI HAPT set (only for ``uci_hapt``).
    """
    start = time.perf_counter()
    check_real_data(dataset, data)
    entry = REAL_DATASETS[dataset]
    if data is None:
        from .data import load_bundled_hapt
        from .data.hapt_bundle import bundle_path

        recs = load_bundled_hapt()
        source = {"source": "bundled", "path": bundle_path().name, "sha256": _sha256(bundle_path())}
    else:
        data = Path(data).expanduser()
        options = {"sites": [real_site]} if dataset in ("realworld", "pamap2") else {}
        recs = entry.read(data, **options)
        source = {"source": "path", "path": str(data.resolve())}
    recs = resample_recordings(recs, spec.rate_hz)
    at_site = [r for r in recs if r.site == real_site]
    kept = Recordings([r for r in at_site if r.gyro_radps is not None])
    if len(kept) < len(at_site):
        log.warning("%d %s recordings at %s have no gyro data and are left out", len(at_site) - len(kept), dataset, real_site)
    if not kept:
        raise Text2ImuError(f"{cli_name(dataset)}: no recording at site {real_site} with acc and gyro data")
    windows = window_recordings(kept, spec)
    info = {
        "dataset": dataset,
        "title": entry.title,
        "license": entry.license,
        "citation": entry.citation,
        "site": real_site,
        **source,
        "n_recordings": len(kept),
        "n_recordings_without_gyro": len(at_site) - len(kept),
        "subjects": sorted({r.subject for r in kept}),
        "dropped_samples": dict(getattr(recs, "dropped", {})),
        "n_windows": len(windows),
        "windows_per_class": windows.counts(),
        "load_s": time.perf_counter() - start,
    }
    return windows, info
