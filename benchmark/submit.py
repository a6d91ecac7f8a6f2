"""Submitting a generator: a motions bundle in, a corpus, protocol v1 results, the gap and a leaderboard row out.

:func:`submit_bundle` runs, in this order, and stops at the first refusal with nothing built or written:

1. size limits, before any file is read: every file under the bundle is a regular file (no links), a motion file
   is at most ``max_file_bytes`` (default: a float32 (2000, 22, 3) array plus a 4 KiB header), bundle.json and
   manifest.jsonl at most 64 MiB each, everything together at most 1 GiB;
2. :func:`text2imu.builder.bundle.validate_bundle` against the prompt set (default v1): schema, every prompt x
   repetition present once, hashes, float32 (T, 22, 3) arrays read without pickle, finite values, plausible bone
   lengths and speeds. Nothing a submitter hands in is executed or unpickled;
3. the results files it would write must not exist yet (``force`` replaces them);
4. the corpus is built from the bundle (``<work_dir>/corpus/<generator>``, corpus version
   ``submission-<first 12 hex of the sha256 of manifest.jsonl>``), protocol v1 runs per site against the real
   dataset, the gap (:func:`text2imu.benchmark.gap.gap_report`) per site; results go to ``results_dir`` as
   ``<generator>__<version>__<dataset>__<site>.json`` and ``.gap.json``, and the leaderboard is regenerated.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from text2imu.builder.errors import Text2ImuError

from .gap import GapConfig
from .leaderboard import DEFAULT_PAGE, DEFAULT_RESULTS_DIR

log = logging.getLogger(__name__)

NPY_HEADER_ALLOWANCE = 4096


def default_max_file_bytes() -> int:
    """Largest motion file accepted: MAX_FRAMES x 22 x 3 float32 values plus a header allowance."""
    from text2imu.builder.bundle import MAX_FRAMES
    from text2imu.builder.skeleton import N_JOINTS

    return MAX_FRAMES * N_JOINTS * 3 * 4 + NPY_HEADER_ALLOWANCE


class SubmissionRefused(Text2ImuError):
    """A submission that is refused; the message lists the reasons."""


@dataclass(frozen=True)
class SubmitConfig:
    """How a submission is benchmarked.

    Attributes:
        prompt_set: the prompt set the bundle must cover: a shipped name ("v1") or a prompt-set ``.toml`` path.
        sites: corpus sites, each benchmarked; shapes: body shapes ("all": the eight of Table I).
        real: real dataset (``uci-hapt``, ...); data: its path (None: the bundled UCI HAPT set).
        seeds: protocol seeds 0..N-1 (protocol v1: 10); epochs: maximum epochs (None: the protocol's).
        workers: build processes; threads: torch threads per seed.
        gap: the gap settings. max_file_bytes: largest motion file (None: :func:`default_max_file_bytes`).
        max_total_bytes: largest bundle (None: the bundle format's 1 GiB).
    """

    prompt_set: str = "v1"
    sites: tuple[str, ...] = ("hapt.waist",)
    shapes: tuple[str, ...] = ("all",)
    real: str = "uci-hapt"
    data: Path | None = None
    seeds: int = 10
    epochs: int | None = None
    workers: int = 1
    threads: int = 2
    gap: GapConfig = field(default_factory=GapConfig)
    max_file_bytes: int | None = None
    max_total_bytes: int | None = None


def _prompt_set(name: str):
    from text2imu.builder.prompts import load_prompt_file, load_prompt_set

    return load_prompt_file(name) if str(name).endswith(".toml") else load_prompt_set(name)


def size_problems(bundle: Path, max_file_bytes: int, max_total_bytes: int) -> list[str]:
    """Problems found from file sizes and types alone (nothing is opened)."""
    from text2imu.builder.bundle import BUNDLE_FILE, MANIFEST_FILE, MAX_JSON_BYTES

    if not bundle.is_dir():
        return [f"{bundle} is not a folder"]
    problems, total = [], 0
    for path in sorted(bundle.rglob("*")):
        rel = path.relative_to(bundle).as_posix()
        if path.is_symlink():
            problems.append(f"{rel}: a link (a bundle holds regular files only)")
            continue
        if path.is_dir():
            continue
        if not path.is_file():
            problems.append(f"{rel}: not a regular file")
            continue
        size = path.stat().st_size
        total += size
        limit = MAX_JSON_BYTES if rel in (BUNDLE_FILE, MANIFEST_FILE) else max_file_bytes
        if size > limit:
            problems.append(f"{rel}: {size} bytes, over the per-file limit of {limit} bytes")
    if total > max_total_bytes:
        problems.append(f"the bundle holds {total} bytes, over the limit of {max_total_bytes} bytes")
    return problems


def check_submission(bundle: str | Path, config: SubmitConfig = SubmitConfig()) -> list[str]:
    """Every reason to refuse the bundle (empty: acceptable). Sizes first; contents only when sizes pass."""
    from text2imu.builder.bundle import MAX_BUNDLE_BYTES, validate_bundle

    bundle = Path(bundle)
    problems = size_problems(bundle, config.max_file_bytes or default_max_file_bytes(),
                             config.max_total_bytes or MAX_BUNDLE_BYTES)
    if problems:
        return problems
    return validate_bundle(bundle, _prompt_set(config.prompt_set))


def refusal_message(bundle: Path, problems: list[str], shown: int = 5) -> str:
    """One line: the bundle, how many problems, the first few."""
    more = f"; ... and {len(problems) - shown} more (`text2imu bundle validate` lists them)" if len(problems) > shown else ""
    return f"{bundle}: submission refused, {len(problems)} problem(s): {'; '.join(problems[:shown])}{more}"


def submission_version(bundle: Path) -> str:
    """``submission-<12 hex>`` from the sha256 of the bundle's manifest.jsonl."""
    from text2imu.builder.bundle import MANIFEST_FILE, sha256_file

    return f"submission-{sha256_file(bundle / MANIFEST_FILE)[:12]}"


def _protocol(config: SubmitConfig):
    from .protocol import PROTOCOL_V1

    train = dataclasses.replace(PROTOCOL_V1.train, threads=config.threads)
    if config.epochs is not None:
        train = dataclasses.replace(train, epochs=config.epochs)
    return dataclasses.replace(PROTOCOL_V1, train=train)


def submit_bundle(bundle: str | Path, work_dir: str | Path, config: SubmitConfig = SubmitConfig(),
                  results_dir: str | Path = DEFAULT_RESULTS_DIR, leaderboard: str | Path = DEFAULT_PAGE,
                  force: bool = False, progress: bool = True) -> dict:
    """Validate, build, benchmark, gap, write results and regenerate the leaderboard (module docstring).

    Returns dict(corpus, version, results [paths], gaps [paths], leaderboard, scores {site: (bacc mean, std)},
    gap {site: (auc mean, frechet)}). Raises SubmissionRefused (nothing written) for a bad bundle.
    """
    from text2imu.builder.bundle import read_bundle
    from text2imu.builder.corpus import build_corpus
    from text2imu.builder.corpus_spec import CorpusSpec
    from text2imu.builder.vocab import check_site

    from .gap import gap_report, write_gap
    from .inputs import check_real_data, real_dataset_name
    from .leaderboard import write_leaderboard
    from .results import default_file_name, write_results
    from .run import benchmark_corpus

    bundle = Path(bundle)
    for site in config.sites:
        check_site(site)
    dataset = real_dataset_name(config.real)
    check_real_data(dataset, config.data)
    if config.seeds < 1:
        raise Text2ImuError(f"seeds must be at least 1, got {config.seeds}")
    problems = check_submission(bundle, config)
    if problems:
        raise SubmissionRefused(refusal_message(bundle, problems))
    b = read_bundle(bundle)
    version = submission_version(bundle)
    results_dir = Path(results_dir)
    targets = {}
    for site in config.sites:
        name = default_file_name({"generator": b.spec.name, "corpus_revision": version, "real_dataset": dataset,
                                  "site": site})
        targets[site] = (results_dir / name, results_dir / name.replace(".json", ".gap.json"))
    existing = [str(p) for pair in targets.values() for p in pair if p.exists()]
    if existing and not force:
        raise Text2ImuError(f"results exist for this submission ({', '.join(existing)}); pass --force to replace them")

    spec = CorpusSpec(generator=b.spec.name, bundle=str(bundle.resolve()), prompt_set=b.prompt_set_version,
                      repetitions=b.repetitions, shapes=tuple(config.shapes), sites=tuple(config.sites),
                      seed=version, version=version)
    corpus_dir = Path(work_dir) / "corpus" / b.spec.name
    log.info("submission %s (%s %s): building %s", bundle, b.spec.name, b.spec.version, corpus_dir)
    build_corpus(spec, corpus_dir, workers=config.workers, force=corpus_dir.exists(), progress=progress)
    out = {"corpus": str(corpus_dir), "version": version, "results": [], "gaps": [], "scores": {}, "gap": {}}
    protocol = _protocol(config)
    for site, (res_path, gap_path) in targets.items():
        res = benchmark_corpus(str(corpus_dir), site, dataset, config.data, seeds=range(config.seeds),
                               protocol=protocol, jobs=1, progress=progress)
        write_results(res_path, res)
        gap = gap_report(str(corpus_dir), dataset, site, Path(work_dir) / "gap" / site, data=config.data,
                         config=config.gap, progress=progress)
        write_gap(gap_path, gap)
        out["results"].append(str(res_path))
        out["gaps"].append(str(gap_path))
        bacc = res["summary"]["balanced_accuracy"]
        out["scores"][site] = (bacc["mean"], bacc["std"])
        out["gap"][site] = (gap["gap"]["auc"]["mean"], gap["gap"]["frechet"]["value"])
    out["leaderboard"] = str(write_leaderboard(results_dir, Path(leaderboard)))
    return out
