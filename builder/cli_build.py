"""``text2imu build`` (a corpus: Hugging Face dataset repository folder) and ``text2imu verify`` (re-hash one)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .errors import Text2ImuError
from .imu import METHODS
from .placement import DEFAULT_PLACEMENT


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build a synthetic IMU corpus (Hugging Face dataset folder) from a generator or a motions bundle",
        description="Draw motions for every prompt and repetition (a registered generator, run here) or read "
        "them (a motions bundle folder), simulate IMUs on every body shape at every site, and write a dataset "
        "repository folder: one config per <site>-<shape> and 'default', parquet shards, README.md card, "
        "manifest.json with every file's sha256. The same options give the same bytes.",
    )
    p.add_argument("source", metavar="GENERATOR_OR_BUNDLE",
                   help="a generator name (`text2imu generators` lists them) or a motions bundle folder")
    p.add_argument("--out", type=Path, required=True, help="output folder (the dataset repository)")
    p.add_argument("--sites", default="realworld,hapt.waist",
                   help="comma-separated sites or groups (realworld, hapt, pamap2, usc_had, all); "
                   "default realworld,hapt.waist")
    p.add_argument("--shapes", default="all", help="comma-separated body shapes, or all (default: the eight)")
    p.add_argument("--repetitions", type=int, help="motions per prompt (default 10; a bundle: all it holds)")
    p.add_argument("--prompt-set", help="prompt set name or .toml file (default v1; a bundle: its own)")
    p.add_argument("--prompts", help="comma-separated prompt ids to use (default: the whole set)")
    p.add_argument("--body", default="anny", help="body model (default anny)")
    p.add_argument("--method", default="central", choices=METHODS, help="derivative method (default central)")
    p.add_argument("--noise", default="ideal", help="noise preset (default ideal: none)")
    p.add_argument("--seed", default="0", help="base seed: a non-negative integer or a release name (default 0)")
    p.add_argument("--rate-hz", type=float, help="output rate in Hz (default: the motion's frame rate)")
    p.add_argument("--refine", action="store_true", help="refine the body fit (slower)")
    p.add_argument("--placement", default=DEFAULT_PLACEMENT,
                   help="where the sensors sit: skin (the sites' skin vertices, default) or joint (rigidly at the "
                   "sites' skeleton joints, IMUSim-style); recorded in the card and manifest")
    p.add_argument("--rows-per-shard", type=int, default=10_000, help="most rows per parquet shard (10000)")
    p.add_argument("--repo-id", help="Hub repository named in the card (default text2imu/<generator>)")
    p.add_argument("--corpus-version", help="release version named in the card, e.g. v0.1.0")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (default: the CPU count; 1 runs in this process)")
    p.add_argument("--backend", default="local", choices=("local", "dask"), help="where units run (default local)")
    p.add_argument("--scheduler", help="Dask scheduler address for --backend dask, e.g. tcp://10.0.0.5:8786")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the unfinished build in --out")
    mode.add_argument("--force", action="store_true", help="replace what a build wrote in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_build)

    v = sub.add_parser("verify", help="re-hash a built corpus against its manifest.json",
                       description="Exit status 0 when every file matches manifest.json, 1 when a file is "
                       "missing, changed or unlisted, 2 when the folder is not a built corpus.")
    v.add_argument("corpus", type=Path, help="corpus folder (written by `text2imu build`)")
    v.set_defaults(func=cmd_verify)


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise Text2ImuError(f"{option} names nothing")
    return names


def _seed(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def spec_from_args(args: argparse.Namespace):
    """The CorpusSpec the options describe (a bundle's generator, prompt set and repetitions by default)."""
    from .corpus_sources import bundle_facts, looks_like_path
    from .corpus_spec import CorpusSpec

    bundle = None
    generator, prompt_set, repetitions = args.source, "v1", 10
    if looks_like_path(args.source):
        facts = bundle_facts(args.source)
        bundle, generator = str(Path(args.source).resolve()), facts["generator"]  # absolute: workers may run elsewhere
        prompt_set, repetitions = facts["prompt_set"], facts["repetitions"]
    return CorpusSpec(
        generator=generator,
        bundle=bundle,
        prompt_set=args.prompt_set or prompt_set,
        prompt_ids=_names(args.prompts, "--prompts") if args.prompts else None,
        repetitions=args.repetitions if args.repetitions is not None else repetitions,
        shapes=_names(args.shapes, "--shapes"),
        sites=_names(args.sites, "--sites"),
        body_model=args.body,
        method=args.method,
        noise=args.noise,
        seed=_seed(args.seed),
        rate_hz=args.rate_hz,
        refine=args.refine,
        placement=args.placement,
        rows_per_shard=args.rows_per_shard,
        repo_id=args.repo_id,
        version=args.corpus_version,
    )


def cmd_build(args: argparse.Namespace) -> int:
    from .corpus import build_corpus

    result = build_corpus(spec_from_args(args), args.out, workers=args.workers, backend=args.backend,
                          scheduler=args.scheduler, resume=args.resume, force=args.force,
                          progress=not args.no_progress)
    rate = result.n_recordings / result.seconds if result.units_run and result.seconds > 0 else float("nan")
    print(f"wrote {args.out}: {result.n_recordings} recordings, {len(result.spec.config_names())} configs, "
          f"{len(result.files)} files; ran {result.units_run} of {result.n_units} units in {result.seconds:.1f} s"
          + (f" ({rate:.0f} recordings/s)" if result.units_run == result.n_units else ""))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .corpus import verify_corpus

    report = verify_corpus(args.corpus)
    for problem in report.problems:
        print(f"{args.corpus}: {problem}")
    if report.ok:
        print(f"{args.corpus}: OK, {report.n_files} files match manifest.json")
        return 0
    print(f"{args.corpus}: {len(report.problems)} problem(s)")
    return 1
