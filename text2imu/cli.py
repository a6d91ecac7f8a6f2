"""The ``text2imu`` command line: one program, subcommands registered by the area modules.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, which adds its subcommands and sets
``func`` (called with the parsed namespace; returns an exit status or None). User errors
(:class:`~text2imu.builder.errors.Text2ImuError`, a missing file) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import re
import sys
from collections.abc import Sequence

from . import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "text2imu.builder.cli_motion",
    "text2imu.main_job",
    "text2imu.builder.bodies.cli_bodies",
    "text2imu.builder.cli_simulate",
    "text2imu.builder.generators.cli_generators",
    "text2imu.builder.generators.cli_generate",
    "text2imu.builder.cli_build",
    "text2imu.builder.cli_release",
    "text2imu.benchmark.cli_benchmark",
    "text2imu.builder.diffusion.cli_diffusion",
    "text2imu.benchmark.cli_lacc",
    "text2imu.benchmark.cli_realism",
    "text2imu.benchmark.cli_gap",
    "text2imu.benchmark.cli_leaderboard",
    "text2imu.benchmark.cli_submit",
    "text2imu.benchmark.cli_calibrate",
    "text2imu.benchmark.cli_modes",
)

log = logging.getLogger("text2imu")


class Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for invalid choices (subcommands included)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
            close = difflib.get_close_matches(m.group(1), choices, n=3, cutoff=0.5)
            if close:
                message += f". Did you mean: {', '.join(close)}?"
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="text2imu",
        description="Activity descriptions -> motions -> body surface -> virtual IMUs, benchmarked on real sensors.",
    )
    parser.add_argument("--version", action="version", version=f"text2imu {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .builder.errors import Text2ImuError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for noisy in ("urllib3", "filelock", "fsspec", "datasets", "huggingface_hub", "matplotlib", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        status = args.func(args)
    except Text2ImuError as err:
        print(f"text2imu: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        print(f"text2imu: error: {err.strerror or err}: {err.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("text2imu: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
