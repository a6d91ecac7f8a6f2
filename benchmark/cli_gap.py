"""``text2imu gap``: the domain gap of a corpus site against a real dataset (catch22, t-SNE, AUC, Fréchet).

    text2imu gap CORPUS --real uci-hapt --site hapt.waist --out gap/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from text2imu.builder.errors import Text2ImuError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gap",
        help="real-vs-synthetic domain gap: catch22 features, t-SNE figures, separability AUC, Frechet distance",
        description="catch22 features of each acc axis per 2 s window (20 Hz, 50 %% overlap), real and synthetic, "
        "on the activities both share (at most --cap windows per activity per side, seeded); writes gap.json "
        "(cross-validated AUC of a logistic regression separating real from synthetic windows, folds grouped "
        "by recording: 0.5 = indistinguishable; Frechet distance of the standardised features), tsne_all.png "
        "and tsne_high_dynamic.png into --out.",
    )
    p.add_argument("corpus", help="corpus folder written by `text2imu build` (or a Hub dataset repo id)")
    p.add_argument("--real", required=True, help="real dataset: uci-hapt, realworld, pamap2 or usc-had")
    p.add_argument("--site", required=True, help="corpus site, e.g. hapt.waist")
    p.add_argument("--out", type=Path, required=True, help="output folder (gap.json and two PNGs)")
    p.add_argument("--data", type=Path, help="real dataset path (default for uci-hapt: the bundled set)")
    p.add_argument("--real-site", help="site of the real data (default: --site if the dataset has it)")
    p.add_argument("--revision", help="corpus revision (Hub tag or commit)")
    p.add_argument("--cap", type=int, default=500, help="most windows per activity per side (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of subsampling, folds and t-SNE (default 0)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds for the AUC (default 5)")
    p.add_argument("--force", action="store_true", help="overwrite an existing gap.json in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_gap)


def cmd_gap(args: argparse.Namespace) -> int:
    from text2imu.builder.vocab import check_site

    from .gap import GapConfig, gap_report

    check_site(args.site)
    if args.out.exists() and not args.out.is_dir():
        raise Text2ImuError(f"--out {args.out} is a file; give a folder")
    if (args.out / "gap.json").exists() and not args.force:
        raise Text2ImuError(f"{args.out / 'gap.json'} exists; pass --force to overwrite it")
    config = GapConfig(cap_per_class=args.cap, seed=args.seed, folds=args.folds)
    import datasets

    datasets.disable_progress_bars()
    res = gap_report(args.corpus, args.real, args.site, args.out, data=args.data, real_site=args.real_site,
                     revision=args.revision, config=config, progress=not args.no_progress)
    auc, fd = res["gap"]["auc"], res["gap"]["frechet"]
    n = res["gap"]["n_windows"]
    print(f"gap {res['task']['generator']} {args.site} vs {res['task']['real_dataset']} "
          f"({', '.join(res['classes'])}; {n['real']} real, {n['synthetic']} synthetic windows): "
          f"AUC {auc['mean']:.3f} +- {auc['std']:.3f} ({auc['n_folds']} folds), Frechet {fd['value']:.2f}; "
          f"wrote {args.out / 'gap.json'}, tsne_all.png, tsne_high_dynamic.png")
    return 0
