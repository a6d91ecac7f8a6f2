"""``text2imu run``: the main job on the embedded defaults.

kinematic generator (prompt set v1) -> Anny in the eight Table I shapes -> virtual IMUs at hapt.waist and the
seven RealWorld sites -> a corpus folder; the realism check of the waist signals against UCI HAPT; protocol v1
(DeepConvLSTM trained on the synthetic hapt.waist data only) tested on the bundled UCI HAPT waist set; a
summary table with where every output is. Fewer seeds than protocol v1's ten by default, to stay within
minutes on two cores; the output says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("runs/main")
DEFAULT_SEEDS = 3
PROTOCOL_SEEDS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: build the kinematic corpus, check realism, benchmark hapt.waist on bundled UCI HAPT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--repetitions", type=int, default=10, help="motions per prompt (default 10, as release v0.1.0)")
    p.add_argument("--shapes", default="all", help="body shapes, comma-separated, or all (default)")
    p.add_argument("--sites", default="realworld,hapt.waist", help="corpus sites (default realworld,hapt.waist)")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                   help=f"benchmark seeds (default {DEFAULT_SEEDS}; protocol v1 uses {PROTOCOL_SEEDS})")
    p.add_argument("--epochs", type=int, help="maximum training epochs (default: protocol v1's)")
    p.add_argument("--workers", type=int, default=2, help="build processes (default 2)")
    p.add_argument("--no-realism", action="store_true", help="skip the realism check")
    p.add_argument("--no-gap", action="store_true", help="skip the domain gap (catch22, t-SNE, AUC, Frechet)")
    p.add_argument("--gap-cap", type=int, default=500, help="gap: at most this many windows per activity per side")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from text2imu.benchmark.cli_benchmark import short_openmp_spin

    short_openmp_spin()  # before torch is imported (see its docstring)
    from text2imu.benchmark.protocol import PROTOCOL_V1
    from text2imu.benchmark.results import write_results
    from text2imu.benchmark.run import benchmark_corpus
    from text2imu.builder.corpus import build_corpus
    from text2imu.builder.corpus_spec import CorpusSpec
    from text2imu.builder.errors import Text2ImuError

    if args.seeds < 1 or args.repetitions < 1:
        raise Text2ImuError("--seeds and --repetitions must be at least 1")
    out: Path = args.out
    corpus_dir = out / "corpus" / "kinematic"
    progress = not args.no_progress
    t0 = time.perf_counter()

    # 1. The corpus (resumed when an earlier run with the same options left it; rebuilt otherwise).
    spec = CorpusSpec(
        generator="kinematic",
        repetitions=args.repetitions,
        shapes=tuple(s.strip() for s in args.shapes.split(",") if s.strip()),
        sites=tuple(s.strip() for s in args.sites.split(",") if s.strip()),
    )
    result = _build(build_corpus, spec, corpus_dir, args.workers, progress)
    t1 = time.perf_counter()

    # 2. Realism of the waist signals against the real HAPT ranges.
    realism_path = None
    if not args.no_realism:
        realism_path = out / "realism.md"
        _realism(realism_path, spec, progress)
    t2 = time.perf_counter()

    # 3. Protocol v1 at hapt.waist against the bundled UCI HAPT set.
    protocol = PROTOCOL_V1
    if args.epochs is not None:
        protocol = dataclasses.replace(protocol, train=dataclasses.replace(protocol.train, epochs=args.epochs))
    results = benchmark_corpus(
        str(corpus_dir), "hapt.waist", "uci_hapt", seeds=range(args.seeds), protocol=protocol, progress=progress
    )
    results_path = out / "results" / "kinematic_hapt.waist_uci-hapt.json"
    write_results(results_path, results)
    t3 = time.perf_counter()

    # 4. The domain gap at hapt.waist: catch22 features, t-SNE figures, real-vs-synthetic AUC, Frechet distance.
    gap = None
    if not args.no_gap:
        from text2imu.benchmark.gap import GapConfig, gap_report

        gap = gap_report(str(corpus_dir), "uci_hapt", "hapt.waist", out / "gap",
                         config=GapConfig(cap_per_class=args.gap_cap), progress=progress)
    t4 = time.perf_counter()

    print(summary_table(result, results, gap, realism_path, results_path, corpus_dir, out, args.seeds,
                        {"build_s": t1 - t0, "realism_s": t2 - t1, "benchmark_s": t3 - t2, "gap_s": t4 - t3,
                         "total_s": t4 - t0}))
    return 0


def _build(build_corpus, spec, corpus_dir: Path, workers: int, progress: bool):
    """Build the corpus, resuming (or reusing) an earlier run's build of the same spec; another spec's build in
    that folder is replaced."""
    from text2imu.builder.errors import Text2ImuError

    try:
        return build_corpus(spec, corpus_dir, workers=workers, resume=True, progress=progress)
    except Text2ImuError as err:
        log.info("rebuilding %s (%s)", corpus_dir, err)
        return build_corpus(spec, corpus_dir, workers=workers, force=True, progress=progress)


def _realism(path: Path, spec, progress: bool) -> None:
    from text2imu.benchmark.cli_realism import realism_table
    from text2imu.builder.bodies.shapes import shape_names
    from text2imu.builder.output import atomic_path

    text = realism_table(spec.generator, list(shape_names()), 1, ["ideal", "uci_hapt"], progress=progress)

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def summary_table(build, results: dict, gap: dict | None, realism_path, results_path: Path, corpus_dir: Path,
                  out: Path, seeds: int, timings: dict) -> str:
    """The main job's closing summary (markdown-like text)."""
    s = results["summary"]
    ref = results["reference"]

    def fmt(d: dict) -> str:
        return f"{100 * d['mean']:.1f} % +- {100 * d['std']:.1f}" if d["mean"] is not None else "n/a"

    size_mb = sum(p.stat().st_size for p in corpus_dir.rglob("*") if p.is_file()) / 1e6
    lines = [
        "",
        f"text2imu main job: kinematic -> anny ({len(build.spec.shapes)} shapes) -> virtual IMUs at "
        f"{len(build.spec.sites)} sites -> DeepConvLSTM (hapt.waist) -> UCI HAPT (waist)",
        "",
        "| what | value |",
        "|---|---|",
        f"| corpus | {corpus_dir} ({build.n_recordings} recordings, {size_mb:.0f} MB) |",
        f"| classes shared with HAPT | {', '.join(results['classes'])} |",
        f"| balanced accuracy (mean +- std over {seeds} seeds) | {fmt(s['balanced_accuracy'])} |",
        f"| macro-F1 | {fmt(s['macro_f1'])} |",
        f"| chance (balanced accuracy) | {100 * ref['chance']['balanced_accuracy']:.1f} % |",
        f"| results JSON | {results_path} |",
    ]
    if gap is not None:
        auc = gap["gap"]["auc"]
        lines += [
            f"| domain gap: real-vs-synthetic AUC (0.5 = indistinguishable) | {auc['mean']:.3f} +- {auc['std']:.3f} |",
            f"| domain gap: Frechet distance (standardised catch22) | {gap['gap']['frechet']['value']:.2f} |",
            f"| t-SNE figures | {out / 'gap' / 'tsne_all.png'}, {out / 'gap' / 'tsne_high_dynamic.png'} |",
        ]
    if realism_path is not None:
        lines.append(f"| realism table (waist vs HAPT) | {realism_path} |")
    lines.append(
        f"| time | build {timings['build_s']:.0f} s, realism {timings['realism_s']:.0f} s, "
        f"benchmark {timings['benchmark_s']:.0f} s, gap {timings['gap_s']:.0f} s, total {timings['total_s']:.0f} s |"
    )
    if seeds < PROTOCOL_SEEDS:
        lines += ["", f"Note: {seeds} seeds here; protocol v1 reports {PROTOCOL_SEEDS} "
                      f"(`text2imu benchmark {corpus_dir} --real uci-hapt --site hapt.waist --seeds 10 --out ...`)."]
    return "\n".join(lines)
