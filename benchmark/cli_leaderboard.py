"""``text2imu leaderboard``: regenerate leaderboard.md from the results files, or check that it is current.

    text2imu leaderboard                 # writes leaderboard.md from benchmark/results/**.json
    text2imu leaderboard --check         # exit 1 with a message when leaderboard.md is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from .leaderboard import DEFAULT_PAGE, DEFAULT_RESULTS_DIR

    p = sub.add_parser(
        "leaderboard",
        help="regenerate leaderboard.md from the results JSON files (--check: fail when it is stale)",
        description="Reads every results file (benchmark, reference, gap) under --results, refuses files of an "
        "unknown schema version, and renders the page from cards/leaderboard.md. With --check, writes nothing "
        "and exits 1 when the page differs from a fresh rendering.",
    )
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS_DIR,
                   help=f"results folder (default {DEFAULT_RESULTS_DIR})")
    p.add_argument("--out", type=Path, default=DEFAULT_PAGE, help=f"the page (default {DEFAULT_PAGE})")
    p.add_argument("--check", action="store_true", help="only check that the page is current (exit 1 if not)")
    p.set_defaults(func=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from .leaderboard import check_leaderboard, write_leaderboard

    if args.check:
        problem = check_leaderboard(args.results, args.out)
        if problem:
            print(f"text2imu leaderboard --check: {problem}", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    path = write_leaderboard(args.results, args.out)
    print(f"wrote {path}")
    return 0
