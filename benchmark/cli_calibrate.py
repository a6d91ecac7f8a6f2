"""``text2imu calibrate``: write a calibrated revision of a corpus (IMUGPT's calibration with a little real data).

    text2imu calibrate CORPUS --real uci-hapt [--data PATH] --site hapt.waist --calibration-subjects 1,5,9 \\
        --out DIR [--n-quantiles 101] [--real-site SITE] [--force]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="calibrate a corpus site on a few real subjects (per-class quantile mapping) into a new revision",
        description="Fit a per-class, per-channel quantile map (probability integral transform) from the corpus "
        "site's synthetic windows onto the real windows of the calibration subjects only (20 Hz, 2 s windows), "
        "for the activities both share, and write a new corpus folder: the site's configs mapped (stored at "
        "20 Hz; rows of activities the real dataset lacks dropped), other configs copied unchanged, "
        "calibration.json with the fitted quantiles, the card's Calibration section, a new manifest.",
    )
    p.add_argument("corpus", help="corpus folder written by `text2imu build` (or a Hub dataset repo id)")
    p.add_argument("--real", required=True, help="real dataset: uci-hapt, realworld, pamap2 or usc-had")
    p.add_argument("--data", type=Path, help="real dataset path in its official layout (default for uci-hapt: "
                   "the bundled HAPT waist set)")
    p.add_argument("--site", required=True, help="corpus site to calibrate, e.g. hapt.waist")
    p.add_argument("--real-site", help="site of the real data (default: --site if the dataset has it, else its "
                   "only site)")
    p.add_argument("--calibration-subjects", required=True,
                   help="comma-separated real subjects to fit on, e.g. 1,5,9 (keep them out of any test set)")
    p.add_argument("--n-quantiles", type=int, default=101, help="quantiles per class and channel (default 101)")
    p.add_argument("--out", type=Path, required=True, help="folder of the calibrated corpus (must not exist)")
    p.add_argument("--force", action="store_true", help="replace an existing corpus at --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate_corpus import calibrate_corpus, parse_subjects

    result = calibrate_corpus(
        args.corpus, args.out, site=args.site, calibration_subjects=parse_subjects(args.calibration_subjects),
        dataset=args.real, data=args.data, real_site=args.real_site, n_quantiles=args.n_quantiles,
        force=args.force, progress=not args.no_progress,
    )
    rec = result.record
    print(f"{result.out_dir}: revision {result.revision}")
    print(f"calibrated {', '.join(result.calibration.classes)} of {rec['site']} on {rec['dataset']} subjects "
          f"{', '.join(result.calibration.calibration_subjects)} "
          f"(real windows per class: {', '.join(f'{a} {n}' for a, n in rec['real_windows_per_class'].items())})")
    if rec["dropped_rows_per_class"]:
        print("dropped rows (no real class): "
              + ", ".join(f"{a} {n}" for a, n in rec["dropped_rows_per_class"].items()))
    return 0
