"""``text2imu submit``: validate a motions bundle, build its corpus, run protocol v1 and the gap, add its rows.

    text2imu submit BUNDLE [--sites hapt.waist] [--real uci-hapt] [--seeds 10] [--work runs/submissions]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from .leaderboard import DEFAULT_PAGE, DEFAULT_RESULTS_DIR

    p = sub.add_parser(
        "submit",
        help="submit a generator: validate its motions bundle, build the corpus, benchmark it, update the leaderboard",
        description="Checks the bundle first (size limits before reading anything; schema; every prompt x "
        "repetition of the prompt set; finite float32 (T, 22, 3) arrays; plausible bone lengths and speeds; no "
        "submitted code runs) and refuses it with every reason, writing nothing. Then builds the corpus, runs "
        "protocol v1 and the gap per site, writes results JSON into --results and regenerates --leaderboard.",
    )
    p.add_argument("bundle", type=Path, help="motions bundle folder (`text2imu generate ... --out BUNDLE`)")
    p.add_argument("--prompts", default="v1", help="prompt set the bundle must cover (default v1)")
    p.add_argument("--prompt-file", type=Path, help="a prompt set TOML file instead of --prompts")
    p.add_argument("--sites", default="hapt.waist", help="corpus sites, comma-separated (default hapt.waist)")
    p.add_argument("--shapes", default="all", help="body shapes, comma-separated, or all (default)")
    p.add_argument("--real", default="uci-hapt", help="real dataset (default uci-hapt, the bundled set)")
    p.add_argument("--data", type=Path, help="real dataset path (default for uci-hapt: the bundled set)")
    p.add_argument("--seeds", type=int, default=10, help="protocol seeds (default 10, as protocol v1)")
    p.add_argument("--epochs", type=int, help="maximum training epochs (default: the protocol's)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--workers", type=int, default=1, help="corpus build processes (default 1)")
    p.add_argument("--gap-cap", type=int, default=500, help="gap: most windows per activity per side (500)")
    p.add_argument("--work", type=Path, default=Path("runs/submissions"),
                   help="where the corpus and gap figures go (default runs/submissions/<bundle name>)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS_DIR, help=f"results folder ({DEFAULT_RESULTS_DIR})")
    p.add_argument("--leaderboard", type=Path, default=DEFAULT_PAGE, help=f"leaderboard page ({DEFAULT_PAGE})")
    p.add_argument("--force", action="store_true", help="replace existing results of this submission")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_submit)


def cmd_submit(args: argparse.Namespace) -> int:
    from text2imu.builder.errors import Text2ImuError

    from .cli_benchmark import short_openmp_spin
    from .gap import GapConfig
    from .submit import SubmitConfig, submit_bundle

    short_openmp_spin()
    names = lambda text: tuple(s.strip() for s in text.split(",") if s.strip())  # noqa: E731
    if args.prompt_file is not None and not args.prompt_file.is_file():
        raise Text2ImuError(f"--prompt-file {args.prompt_file}: no such file")
    config = SubmitConfig(
        prompt_set=str(args.prompt_file) if args.prompt_file else args.prompts, sites=names(args.sites),
        shapes=names(args.shapes), real=args.real, data=args.data, seeds=args.seeds, epochs=args.epochs,
        workers=args.workers, threads=args.threads, gap=GapConfig(cap_per_class=args.gap_cap),
    )
    import datasets

    datasets.disable_progress_bars()
    out = submit_bundle(args.bundle, args.work / args.bundle.resolve().name, config, args.results, args.leaderboard,
                        force=args.force, progress=not args.no_progress)
    for site, (mean, std) in out["scores"].items():
        auc, fd = out["gap"][site]
        print(f"{site}: balanced accuracy {100 * mean:.1f} % +- {100 * std:.1f} ({args.seeds} seeds); gap AUC "
              f"{auc:.3f}, Frechet {fd:.2f}")
    print(f"corpus {out['corpus']} ({out['version']}); wrote {', '.join(out['results'] + out['gaps'])}; "
          f"regenerated {out['leaderboard']}")
    return 0
