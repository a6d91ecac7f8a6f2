"""Make the bundled UCI HAPT evaluation set from the HAPT zips.

    python -m text2imu.benchmark.data.make_hapt_bundle --zips ../shared/data/uci-hapt \\
        --out benchmark/data/uci_hapt_waist_20hz.parquet

``--zips`` takes the folder holding ``hapt_users01-20.zip`` and ``hapt_users21-30.zip``, the zips themselves, or
an extracted folder with ``RawData/``. The same inputs give the same bytes; the sha256 is logged.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .hapt_bundle import BUNDLE_FILE, build_hapt_bundle

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m text2imu.benchmark.data.make_hapt_bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--zips",
        nargs="+",
        type=Path,
        required=True,
        help="folder with the HAPT zips, the zips, or an extracted folder",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).with_name(BUNDLE_FILE),
        help=f"output parquet (default: {BUNDLE_FILE} beside this script)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    zips = args.zips[0] if len(args.zips) == 1 else args.zips
    sha256 = build_hapt_bundle(zips, args.out)
    log.info("wrote %s (%d bytes) sha256 %s", args.out, args.out.stat().st_size, sha256)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
