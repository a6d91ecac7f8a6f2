"""Build one corpus: a Hugging Face dataset repository folder of synthetic IMU recordings; verify one.

:func:`build_corpus` turns a :class:`~text2imu.builder.corpus_spec.CorpusSpec` into ``OUT/``::

    README.md                                    card: YAML (license, configs, dataset_info) + provenance
    manifest.json                                spec, source, rows per config, size and sha256 of every file
    data/<site>-<shape>/train-00000-of-00001.parquet

Steps: check the spec (unknown names fail before anything is written); run the units (one per prompt and
repetition, :mod:`.corpus_units`) on a backend (:mod:`.corpus_backends`), writing each unit's rows as a staging
part in ``OUT/.text2imu-build/parts/`` (written under a temporary name, then moved in); assemble the parts in
sorted order into parquet shards (:mod:`.corpus_parquet`), written in staging and moved into ``data/`` when
complete; render the card (:mod:`.corpus_card`); write the manifest last; delete the staging folder.

Determinism: units are pure functions of (spec, unit), parts are assembled in (prompt_id, repetition) order
whatever order they finished in, and the shards carry no timestamps, so one spec gives the same bytes with any
number of workers, on any backend, resumed or not.

Robustness: a build that stops (killed, a unit failed) leaves ``OUT/.text2imu-build`` with the finished parts;
``resume=True`` runs only the missing units. A failing unit is reported by its id (all failures go to
``.text2imu-build/failures.json``) and no corpus files are written until every unit succeeded. An existing,
non-empty ``OUT`` is refused unless ``resume`` or ``force`` is given; ``force`` replaces only a folder holding a
text2imu build, and deletes only what a build writes (``data/``, README.md, manifest.json, the staging folder).
Two builds must not write into one folder at the same time (there is no lock).

Memory: units run in workers and come back one at a time to be staged; shards are assembled a few configs at a
time, one row group each, so peak memory does not grow with the number of prompts or repetitions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .corpus_backends import check_backend, connect_dask, run_units
from .corpus_card import CardFacts, package_commit, render_card
from .corpus_parquet import ShardWriter, read_part_rows
from .corpus_spec import CorpusSpec, normalize_spec, prompt_set_of, prompts_of
from .corpus_units import Job, plan_units, run_unit
from .errors import FormatError, Text2ImuError
from .output import (
    atomic_path,
    sha256_file,  # noqa: F401  (re-exported)
)

log = logging.getLogger(__name__)

STAGING = ".text2imu-build"
MANIFEST = "manifest.json"
README = "README.md"
MANIFEST_FORMAT = 1
CONFIGS_PER_PASS = 8  # configs assembled per pass over the staged parts (memory: one row group each)
_OURS = (STAGING, MANIFEST, README, "data")


class CorpusBuildError(Text2ImuError):
    """Some units of a build failed; the message names them, the finished ones stay staged for ``--resume``."""


@dataclass(frozen=True)
class BuildResult:
    """What a build did. ``files``: {relative path: sha256} of every corpus file; ``seconds`` the whole build,
    ``units_s`` running the units, ``assemble_s`` writing shards, card and manifest."""

    out_dir: Path
    spec: CorpusSpec
    n_recordings: int
    n_units: int
    units_run: int
    files: dict
    seconds: float
    units_s: float = 0.0
    assemble_s: float = 0.0


def build_fingerprint(spec: CorpusSpec, source_identity: dict) -> str:
    """SHA-256 of the canonical spec, the source identity and text2imu's version: a build resumes only a staged
    build of the same fingerprint."""
    from .. import __version__

    text = json.dumps({"spec": spec.to_dict(), "source": source_identity, "text2imu": __version__},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: unreadable ({err})") from err


def _prepare(out: Path, fingerprint: str, resume: bool, force: bool) -> str:
    """Check ``out`` against the resume/force rules; returns "fresh", "resume" or "complete".

    A missing or empty folder is fresh. ``force`` replaces only a folder that holds a text2imu build (a
    ``manifest.json`` or a staging folder), deleting only what a build writes. ``resume`` needs a staged build
    of the same fingerprint (or a finished one: "complete").
    """
    if resume and force:
        raise Text2ImuError("pass --resume or --force, not both")
    if out.exists() and not out.is_dir():
        raise Text2ImuError(f"{out} exists and is not a folder")
    staging = out / STAGING
    if staging.is_dir() and not (staging / "build.json").is_file():
        shutil.rmtree(staging)  # killed before its first file: nothing staged yet
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if not entries:
        return "fresh"
    ours = staging.is_dir() or (out / MANIFEST).is_file()
    if force:
        if not ours:
            raise Text2ImuError(f"{out} is not empty and holds no text2imu build; refusing to replace it even with "
                                "--force")
        for name in _OURS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        others = [p.name for p in out.iterdir()]
        if others:
            log.warning("%s: --force keeps entries that a build does not write: %s", out, ", ".join(others))
        return "fresh"
    if not resume:
        raise Text2ImuError(f"{out} exists and is not empty; pass --resume to continue a build there or --force "
                            "to replace it")
    if staging.is_dir():
        if _read_json(staging / "build.json").get("fingerprint") != fingerprint:
            raise Text2ImuError(f"{out}: the unfinished build there has another spec, source or text2imu version; "
                                "pass --force to replace it")
        return "resume"
    if (out / MANIFEST).is_file():
        if _read_json(out / MANIFEST).get("fingerprint") != fingerprint:
            raise Text2ImuError(f"{out} holds a corpus of another spec, source or text2imu version; pass --force "
                                "to replace it")
        return "complete"
    raise Text2ImuError(f"{out} holds no text2imu build to resume (no {STAGING}/ or {MANIFEST})")


def build_corpus(spec: CorpusSpec, out_dir: str | Path, *, workers: int = 1, backend: str = "local",
                 scheduler=None, resume: bool = False, force: bool = False, source=None,
                 progress: bool = True) -> BuildResult:
    """Build the corpus of ``spec`` into ``out_dir`` (module docstring).

    Args:
        spec: the corpus; normalised here (unknown names raise before anything is written).
        out_dir: the dataset repository folder to write.
        workers: local pool size (1: in this process).
        backend: "local" or "dask".
        scheduler: Dask scheduler address (or a ``distributed.Client``) for backend "dask".
        resume: continue the unfinished build in ``out_dir`` (same spec), or accept a finished one.
        force: delete what a build writes in ``out_dir`` first.
        source: a motion source to use instead of the spec's (:mod:`.corpus_sources`; tests, custom inputs).
        progress: show tqdm progress bars.
    Returns:
        BuildResult. Raises CorpusBuildError when units failed (the others stay staged), Text2ImuError for bad
        input or a refused output folder.
    """
    from .. import __version__
    from .corpus_sources import source_for
    from .corpus_units import body_asset

    started_s = time.perf_counter()
    check_backend(backend, workers, scheduler)
    spec = normalize_spec(spec)
    source = source if source is not None else source_for(spec)
    identity = source.identity()
    prompts = prompts_of(spec)
    bodies = {shape: body_asset(spec.body_model, shape) for shape in spec.shapes}
    for body in bodies.values():
        for s in spec.sites:
            body.site_index(s)
    units = plan_units(spec, prompts)
    fingerprint = build_fingerprint(spec, identity)
    out = Path(out_dir)
    if backend == "dask" and isinstance(scheduler, str):  # connect first: unreachable -> nothing written
        client = connect_dask(scheduler)
        try:
            return build_corpus(spec, out, backend="dask", scheduler=client, resume=resume, force=force,
                                source=source, progress=progress)
        finally:
            client.close()
    mode = _prepare(out, fingerprint, resume, force)
    if mode == "complete":
        report = verify_corpus(out)
        if not report.ok:
            raise Text2ImuError(f"{out} is a finished build that fails verification ({report.problems[0]}); "
                                "pass --force to rebuild it")
        log.info("%s: already complete (%d files verified)", out, report.n_files)
        manifest = _read_json(out / MANIFEST)
        return BuildResult(out, spec, int(manifest["recordings"]), len(units), 0,
                           {p: v["sha256"] for p, v in manifest["files"].items()}, time.perf_counter() - started_s)

    staging, parts = out / STAGING, out / STAGING / "parts"
    if mode == "fresh":
        _write_text(staging / "build.json", json.dumps({"fingerprint": fingerprint, "spec": spec.to_dict(),
                                                        "source": identity}, indent=2, sort_keys=True) + "\n")
    parts.mkdir(parents=True, exist_ok=True)
    for stray in parts.iterdir():  # temporary files of a build that was killed mid-write
        if stray.name.startswith(".") or stray.suffix != ".arrow":
            stray.unlink()
    done = {p.name for p in parts.glob("*.arrow")}
    todo = [u for u in units if u.part_name not in done]
    log.info("%s: %d units (%d recordings each), %d already staged, %d to run", out, len(units),
             len(spec.shapes) * len(spec.sites), len(units) - len(todo), len(todo))
    units_started_s = time.perf_counter()
    _stage_units(Job(spec=spec, source=source), todo, len(units), staging, backend, workers, scheduler, progress)
    units_s = time.perf_counter() - units_started_s
    assemble_started_s = time.perf_counter()
    files, config_bytes = _assemble(spec, units, out, progress)
    config_rows = {c: len(units) for c in spec.config_names()}
    pset = prompt_set_of(spec)
    facts = CardFacts(source=identity, prompt_set_version=pset.version, prompt_set_sha256=pset.sha256,
                      n_prompts=len(prompts), bodies=bodies, config_rows=config_rows, config_bytes=config_bytes, files=files,
                      package_version=__version__, commit=package_commit())
    _write_text(out / README, render_card(spec, facts))
    listed = {**files, README: (os.path.getsize(out / README), sha256_file(out / README))}
    manifest = {
        "format_version": MANIFEST_FORMAT,
        "fingerprint": fingerprint,
        "spec": spec.to_dict(),
        "source": identity,
        "recordings": sum(config_rows.values()),
        "configs": config_rows,
        "files": {p: {"bytes": b, "sha256": h} for p, (b, h) in sorted(listed.items())},
    }
    _write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(staging)
    seconds = time.perf_counter() - started_s
    assemble_s = time.perf_counter() - assemble_started_s
    log.info("%s: %d recordings in %d configs, %.1f s (units %.1f s, shards and card %.1f s)", out,
             manifest["recordings"], len(config_rows), seconds, units_s, assemble_s)
    return BuildResult(out, spec, manifest["recordings"], len(units), len(todo),
                       {p: v["sha256"] for p, v in manifest["files"].items()}, seconds, units_s, assemble_s)


def _stage_units(job: Job, todo: list, n_units: int, staging: Path, backend: str, workers: int, scheduler,
                 progress: bool) -> None:
    """Run ``todo`` on the backend and stage each finished unit's part; raise CorpusBuildError naming the failed
    units (after all others ran) or when the backend itself broke (finished units stay staged)."""
    parts = staging / "parts"
    failures = []
    finished = 0
    results = run_units(run_unit, job, todo, backend=backend, workers=workers, scheduler=scheduler)
    try:
        for result in tqdm(results, total=len(todo), desc="units", unit="unit", disable=not progress):
            finished += 1
            if result.error is not None:
                log.error("unit %s failed: %s", result.unit_id, result.error)
                failures.append({"unit_id": result.unit_id, "error": result.error, "detail": result.detail})
                continue
            with atomic_path(parts / result.part_name) as tmp:
                tmp.write_bytes(result.ipc)
    except Text2ImuError:
        raise
    except Exception as err:  # a worker process died, the cluster went away, ...
        raise CorpusBuildError(f"the {backend} backend failed after {finished} of {len(todo)} units "
                               f"({type(err).__name__}: {err}); finished units are staged, rerun with --resume") from err
    failures_path = staging / "failures.json"
    if failures:
        failures.sort(key=lambda f: f["unit_id"])
        _write_text(failures_path, json.dumps(failures, indent=2) + "\n")
        first = failures[0]
        raise CorpusBuildError(
            f"{len(failures)} of {n_units} units failed, first {first['unit_id']}: {first['error']} "
            f"(all in {failures_path}); the {n_units - len(failures)} others are staged, rerun with --resume")
    if failures_path.exists():
        failures_path.unlink()


def _assemble(spec: CorpusSpec, units: list, out: Path, progress: bool) -> tuple[dict, dict]:
    """Staged parts -> shards in staging, moved into ``data/`` when all are written.

    A pass over the parts per :data:`CONFIGS_PER_PASS` configs: each part gives those configs' rows, in unit
    order (a part stores one record batch per row, so only those rows are read). Memory holds at most one row
    group per config of the pass, whatever the corpus size.
    Returns ({path: (bytes, sha256)}, {config: Arrow bytes of its rows}).
    """
    configs = spec.config_names()
    shard_dir, parts = out / STAGING / "shards", out / STAGING / "parts"
    if shard_dir.exists():
        shutil.rmtree(shard_dir)
    shards: dict[str, list[Path]] = {}
    nbytes: dict[str, int] = {}
    passes = [range(i, min(i + CONFIGS_PER_PASS, len(configs))) for i in range(0, len(configs), CONFIGS_PER_PASS)]
    bar = tqdm(total=len(passes) * len(units), desc="shards", unit="part", disable=not progress)
    for group in passes:
        writers = [ShardWriter(shard_dir / configs[k], len(units), spec.rows_per_shard, spec.rows_per_row_group)
                   for k in group]
        for unit in units:
            for writer, row in zip(writers, read_part_rows(parts / unit.part_name, group, len(configs)),
                                   strict=True):
                writer.add(row)
            bar.update()
        for k, writer in zip(group, writers, strict=True):
            shards[configs[k]] = writer.close()
            nbytes[configs[k]] = writer.nbytes
    bar.close()
    files: dict[str, tuple[int, str]] = {}
    keep = set()
    for config in configs:
        (out / "data" / config).mkdir(parents=True, exist_ok=True)
        for shard in shards[config]:
            rel = f"data/{config}/{shard.name}"
            files[rel] = (shard.stat().st_size, sha256_file(shard))
            os.replace(shard, out / rel)
            keep.add(out / rel)
    for old in (out / "data").rglob("*"):  # shards of an older assembly that this one does not write
        if old.is_file() and old not in keep:
            old.unlink()
    return files, nbytes


@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify_corpus`: ``ok`` when every listed file matches and nothing is unlisted."""

    out_dir: Path
    n_files: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_corpus(out_dir: str | Path) -> VerifyReport:
    """Re-hash every file the manifest lists; report missing, changed and unlisted files.

    Raises FormatError when ``out_dir`` has no readable manifest (it is not a built corpus).
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise FormatError(f"{out}: no such corpus folder")
    path = out / MANIFEST
    if not path.is_file():
        raise FormatError(f"{path}: missing; not a corpus built by text2imu (or an unfinished build)")
    manifest = _read_json(path)
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) and "sha256" in v for v in files.values()):
        raise FormatError(f"{path}: no 'files' table of {{path: {{bytes, sha256}}}}")
    problems = []
    for rel, entry in sorted(files.items()):
        p = out / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif p.stat().st_size != entry.get("bytes", p.stat().st_size) or sha256_file(p) != entry["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    present = [p for p in (out / "data").rglob("*") if p.is_file()] if (out / "data").is_dir() else []
    for p in sorted(present):
        rel = p.relative_to(out).as_posix()
        if rel not in files:
            problems.append(f"{rel}: not listed in the manifest")
    if (out / STAGING).exists():
        problems.append(f"{STAGING}/: an unfinished build is staged here")
    return VerifyReport(out, len(files), tuple(problems))
