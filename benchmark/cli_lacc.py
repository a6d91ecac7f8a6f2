"""``text2imu lacc`` (per-category L_acc of two checkpoints) and ``text2imu categorise`` (caption categories)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lacc", help="per-sample L_acc of two diffusion checkpoints, by caption category")
    p.add_argument("--data", required=True, metavar="HUMANML3D_DIR", help="HumanML3D folder (official layout)")
    p.add_argument("--before", required=True, metavar="CKPT", help="checkpoint before fine-tuning")
    p.add_argument("--after", required=True, metavar="CKPT", help="checkpoint after fine-tuning")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the CSV, JSON, table and figure")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shared t and noise (default: 0)")
    p.add_argument("--mode", default="paper", choices=("paper", "examples"),
                   help="caption categorisation (default: paper)")
    p.add_argument("--captions", default="all", choices=("all", "first"),
                   help="samples per clip: every caption or the first (default: all)")
    p.add_argument("--max-samples", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--min-frames", type=int, default=40, help="shortest clip kept, frames (default: 40)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per forward pass (default: 64)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.set_defaults(func=cmd_lacc)

    p = sub.add_parser("categorise", help="caption -> activity category (all-MiniLM-L6-v2, threshold 0.45)")
    p.add_argument("captions_file", metavar="CAPTIONS_FILE",
                   help="one caption per line (HumanML3D caption#tokens#start#end lines too); with --evaluate, "
                        "category<TAB>caption lines")
    p.add_argument("--mode", default=None, choices=("paper", "examples"),
                   help="paper: bare category names, threshold 0.45 (default); examples: example sentences")
    p.add_argument("--evaluate", action="store_true",
                   help="CAPTIONS_FILE is labelled; print the accuracy of the mode (both modes if none given)")
    p.add_argument("--json", action="store_true", help="with --evaluate: print the full results as JSON")
    p.set_defaults(func=cmd_categorise)


def cmd_lacc(args) -> int:
    from text2imu import __version__
    from text2imu.builder.diffusion.checkpoint import load_checkpoint
    from text2imu.builder.diffusion.data import load_clips
    from text2imu.builder.errors import Text2ImuError
    from text2imu.builder.humanml3d_folder import HumanML3DFolder

    from .categories import THRESHOLD, category_examples
    from .lacc import compare_lacc, format_table, summarise, write_results

    if args.batch_size < 1 or (args.max_samples is not None and args.max_samples < 1):
        raise Text2ImuError("--batch-size and --max-samples must be >= 1")
    before = load_checkpoint(args.before, device=args.device)
    after = load_checkpoint(args.after, device=args.device)
    folder = HumanML3DFolder(args.data)
    clips = load_clips(folder, args.split, min_frames=args.min_frames)
    samples = compare_lacc(before, after, clips, seed=args.seed, captions=args.captions, mode=args.mode,
                           max_samples=args.max_samples, batch_size=args.batch_size, device=args.device)
    summary = summarise(samples)
    meta = {
        "package_version": __version__,
        "data": str(folder.root.resolve()), "split": args.split, "seed": args.seed, "captions": args.captions,
        "min_frames": args.min_frames, "n_samples": len(samples),
        "before": {"path": str(before.path), "sha256": before.sha256},
        "after": {"path": str(after.path), "sha256": after.sha256},
        "categorise_mode": args.mode,
        "categorise_threshold": THRESHOLD if args.mode == "paper" else category_examples().threshold,
        "diffusion_steps": before.config.diffusion_steps,
    }
    paths = write_results(args.out, samples, summary, meta)
    print(format_table(summary))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def cmd_categorise(args) -> int:
    from .categories import MODES, categorise, evaluate, read_captions, read_labelled

    if args.evaluate:
        pairs = read_labelled(args.captions_file)
        results = [evaluate(pairs, m) for m in ([args.mode] if args.mode else MODES)]
        if args.json:
            print(json.dumps(results, indent=1))
            return 0
        names = list(results[0]["per_category"])
        print("mode\tthreshold\tn\taccuracy\t" + "\t".join(f"recall {n}" for n in names))
        for r in results:
            recalls = "\t".join(f"{r['per_category'][n]['recall']:.3f}" for n in names)
            print(f"{r['mode']}\t{r['threshold']:g}\t{r['n']}\t{r['accuracy']:.4f}\t{recalls}")
        return 0
    for c in categorise(read_captions(args.captions_file), args.mode or "paper"):
        print(f"{c.category}\t{c.score:.4f}\t{c.caption}")
    return 0
