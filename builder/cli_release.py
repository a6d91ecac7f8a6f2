"""``text2imu release build|verify|publish VERSION``: the corpora of a release spec (``builder/releases/``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .release_spec import DEFAULT_ORG

_VERSION_HELP = "a shipped release (builder/releases/<VERSION>.toml, e.g. v0.1.0) or a path to a release spec .toml"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("version", metavar="VERSION", help=_VERSION_HELP)
    p.add_argument("--root", type=Path, default=Path("releases"),
                   help="folder holding built releases, <root>/<version>/<org>/<generator> (default ./releases)")
    p.add_argument("--org", default=DEFAULT_ORG,
                   help=f"Hub organisation the corpora are for: <org>/<generator> (default {DEFAULT_ORG})")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("release", help="build, verify and publish the corpora of a release spec",
                       description="A release spec (builder/releases/<version>.toml) names generators, prompt set, "
                       "repetitions, shapes, sites, simulation method, noise preset and seed; its corpora are "
                       "built into <root>/<version>/<org>/<generator> and published to the Hub repository "
                       "<org>/<generator> with the tag <version>.")
    rsub = p.add_subparsers(dest="release_command", metavar="ACTION")
    rsub.required = True

    b = rsub.add_parser("build", help="build every corpus of a release (deterministic, resumable)")
    _common(b)
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (default: the CPU count; 1 runs in this process)")
    b.add_argument("--backend", default="local", choices=("local", "dask"), help="where units run (default local)")
    b.add_argument("--scheduler", help="Dask scheduler address for --backend dask")
    mode = b.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an unfinished build")
    mode.add_argument("--force", action="store_true", help="replace what an earlier build wrote")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_build)

    v = rsub.add_parser("verify", help="re-hash a built release against its manifests and its spec",
                        description="Exit status 0 when every folder is the intact build of the spec, 1 when a file "
                        "is missing, changed or unlisted, a folder is not built or was built from another spec, 2 "
                        "for a bad spec.")
    _common(v)
    v.set_defaults(func=cmd_verify)

    u = rsub.add_parser("publish", help="upload a built release to the Hub and tag it (never moves a tag)",
                        description="Verifies every folder, refuses when a repository already has the tag, then "
                        "for each generator: create the dataset repository <org>/<generator> (if needed), upload "
                        "the folder, tag the upload commit <version>. Uses your Hub token (`hf auth login` or "
                        "HF_TOKEN).")
    _common(u)
    u.set_defaults(func=cmd_publish)


def _load(args: argparse.Namespace):
    from .release_spec import check_org, load_release

    check_org(args.org)
    return load_release(args.version)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def cmd_build(args: argparse.Namespace) -> int:
    from .corpus_backends import check_backend
    from .release import build_release

    release = _load(args)
    check_backend(args.backend, args.workers, args.scheduler)
    result = build_release(release, root=args.root, org=args.org, workers=args.workers, backend=args.backend,
                           scheduler=args.scheduler, resume=args.resume, force=args.force,
                           progress=not args.no_progress)
    sizes = {r.spec.generator: sum(p.stat().st_size for p in Path(r.out_dir).rglob("*") if p.is_file())
             for r in result.results}
    for r in result.results:
        print(f"{r.out_dir}: {r.n_recordings} recordings, {len(r.spec.config_names())} configs, "
              f"{len(r.files) + 1} files, {_mb(sizes[r.spec.generator])}; ran {r.units_run} of {r.n_units} units "
              f"in {r.seconds:.1f} s")
    done = "built in" if any(r.units_run for r in result.results) else "already built; verified in"
    print(f"release {release.version}: {result.n_recordings} recordings, {_mb(sum(sizes.values()))}, "
          f"{done} {result.seconds:.1f} s")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .release import verify_release

    release = _load(args)
    report = verify_release(release, root=args.root, org=args.org)
    for f in report.folders:
        for problem in f.problems:
            print(f"{f.folder}: {problem}")
        if f.ok:
            print(f"{f.folder}: OK, {f.n_files} files ({_mb(f.n_bytes)}, {f.n_recordings} recordings) match "
                  "manifest.json and the spec")
    if report.ok:
        print(f"release {release.version}: OK")
        return 0
    print(f"release {release.version}: {len(report.problems)} problem(s)")
    return 1


def cmd_publish(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi

    from .release import publish_release

    release = _load(args)
    for p in publish_release(release, api=HfApi(), org=args.org, root=args.root):
        print(f"published {p.repo_id}: {p.n_files} files, commit {p.commit}, tag {p.tag}")
    return 0
