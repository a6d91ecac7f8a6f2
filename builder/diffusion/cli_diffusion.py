"""``text2imu diffusion export|train|finetune|sample|info``: the in-package text-to-motion diffusion model."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import Text2ImuError

log = logging.getLogger(__name__)


def _add_training_args(p: argparse.ArgumentParser, *, finetune: bool) -> None:
    p.add_argument("--data", required=True, metavar="HUMANML3D_DIR", help="HumanML3D folder (official layout)")
    p.add_argument("--out", required=True, metavar="CKPT_DIR", help="checkpoint folder to write")
    p.add_argument("--split", default="train", help="split file to train on (default: train)")
    p.add_argument("--steps", type=int, required=True, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=64, help="clips per step (default: 64, MDM's)")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default: 1e-4, MDM's)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: 0)")
    p.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this (default: off)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--min-frames", type=int, default=40, help="shortest clip kept, frames (default: 40, MDM's)")
    p.add_argument("--log-every", type=int, default=50, help="steps per loss-log entry (default: 50)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--license", default=None,
                   help="license of the weights for the config (default: 'other', or the checkpoint's)")
    defaults = {"simple": 1.0, "pos": 0.0, "vel": 0.0, "foot": 0.0, "acc": 0.0}
    for name, value in defaults.items():
        p.add_argument(f"--lambda-{name}", type=float, default=value, metavar="X",
                       help=f"weight of L_{name} (default: {value:g})")
    if not finetune:
        p.add_argument("--size", default="small", help="model size: tiny, small or mdm (default: small)")
        for flag, field, kind in (("--layers", "n_layers", int), ("--width", "latent_dim", int),
                                  ("--heads", "n_heads", int), ("--ff", "ff_dim", int),
                                  ("--diffusion-steps", "diffusion_steps", int), ("--max-frames", "max_frames", int),
                                  ("--dropout", "dropout", float), ("--cond-mask-prob", "cond_mask_prob", float)):
            p.add_argument(flag, dest=field, type=kind, default=None, help=f"override the size's {field}")


def register(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("diffusion", help="the in-package MDM-style text-to-motion diffusion model")
    cmds = top.add_subparsers(dest="diffusion_command", metavar="ACTION")
    cmds.required = True

    p = cmds.add_parser("export", help="write a HumanML3D-layout training set from a generator and a prompt set")
    p.add_argument("--out", required=True, metavar="HUMANML3D_DIR")
    p.add_argument("--generator", default="kinematic", help="registered generator (default: kinematic)")
    p.add_argument("--prompt-set", default="v1", help="prompt set (default: v1)")
    p.add_argument("--repetitions", type=int, default=10, help="motions per prompt (default: 10)")
    p.add_argument("--val-repetitions", type=int, default=1, help="of those, for val (default: 1)")
    p.add_argument("--test-repetitions", type=int, default=1, help="of those, for test (default: 1)")
    p.set_defaults(func=cmd_export)

    p = cmds.add_parser("train", help="train a new model on a HumanML3D folder")
    _add_training_args(p, finetune=False)
    p.set_defaults(func=cmd_train)

    p = cmds.add_parser("finetune", help="fine-tune a checkpoint (e.g. with --lambda-acc)")
    p.add_argument("--from", dest="init", required=True, metavar="CKPT", help="checkpoint folder to start from")
    _add_training_args(p, finetune=True)
    p.set_defaults(func=cmd_finetune)

    p = cmds.add_parser("sample", help="sample motions from a checkpoint")
    p.add_argument("--ckpt", required=True, metavar="CKPT", help="checkpoint folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", help="a caption (repeatable)")
    src.add_argument("--captions", metavar="FILE", help="text file, one caption per line")
    src.add_argument("--prompt-set", help="a prompt set, e.g. v1 (files named by prompt_id)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for <name>_rep<r>.npz and samples.json")
    p.add_argument("--repetitions", type=int, default=1, help="motions per caption (default: 1)")
    p.add_argument("--length-s", type=float, default=None,
                   help="motion length in s (default: from the caption's words, else 6 s)")
    p.add_argument("--guidance", type=float, default=2.5, help="classifier-free guidance scale (default: 2.5)")
    p.add_argument("--sample-steps", type=int, default=None, help="respaced sampling steps (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--batch-size", type=int, default=32, help="motions sampled together (default: 32)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.set_defaults(func=cmd_sample)

    p = cmds.add_parser("info", help="print a checkpoint's config and training history summary")
    p.add_argument("ckpt", metavar="CKPT")
    p.set_defaults(func=cmd_info)


def _train_config(args):
    from .train import LossWeights, TrainConfig

    lambdas = LossWeights(args.lambda_simple, args.lambda_pos, args.lambda_vel, args.lambda_foot, args.lambda_acc)
    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                       grad_clip=args.grad_clip, lambdas=lambdas, seed=args.seed, log_every=args.log_every,
                       device=args.device)


def _check_data(path: str) -> None:
    from ..humanml3d_folder import HumanML3DFolder

    folder = HumanML3DFolder(path)
    folder.mean(), folder.std()  # noqa: B018 - read now so a broken folder fails before any work


def cmd_export(args) -> int:
    from .export import export_generator_folder

    out = export_generator_folder(args.out, generator=args.generator, prompt_set=args.prompt_set,
                                  repetitions=args.repetitions, val_repetitions=args.val_repetitions,
                                  test_repetitions=args.test_repetitions)
    print(out)
    return 0


def cmd_train(args) -> int:
    from .model import config_for_size
    from .train import run_training

    cfg = _train_config(args)
    model_cfg = config_for_size(args.size, n_layers=args.n_layers, latent_dim=args.latent_dim, n_heads=args.n_heads,
                                ff_dim=args.ff_dim, diffusion_steps=args.diffusion_steps,
                                max_frames=args.max_frames, dropout=args.dropout,
                                cond_mask_prob=args.cond_mask_prob)
    _check_data(args.data)
    out = run_training(args.data, args.out, cfg, model_config=model_cfg, split=args.split,
                       min_frames=args.min_frames, license=args.license)
    _print_summary(out)
    return 0


def cmd_finetune(args) -> int:
    from .checkpoint import checkpoint_dir, load_checkpoint
    from .train import run_training

    cfg = _train_config(args)
    if Path(args.out).resolve() == checkpoint_dir(args.init).resolve():
        raise Text2ImuError(f"--out {args.out} is the --from checkpoint; write the fine-tuned model elsewhere")
    init = load_checkpoint(args.init, device=args.device)
    _check_data(args.data)
    out = run_training(args.data, args.out, cfg, init=init, split=args.split, min_frames=args.min_frames,
                       license=args.license)
    _print_summary(out)
    return 0


def _print_summary(path: Path) -> None:
    from .checkpoint import read_config

    meta = read_config(path)
    last = meta["history"][-1]
    losses = " ".join(f"{k}={v:.5g}" for k, v in last["final_losses"].items())
    print(f"{path}\t{last['stage']} {last['steps']} steps\tsha256 {meta['weights_sha256']}\t{losses}")


def _read_captions(path: str) -> list[str]:
    from ..errors import FormatError

    p = Path(path)
    try:
        lines = [" ".join(line.split()) for line in p.read_text("utf-8").splitlines()]
    except UnicodeDecodeError as exc:
        raise FormatError(f"{p}: not UTF-8 text ({exc})") from None
    captions = [line for line in lines if line]
    if not captions:
        raise FormatError(f"{p}: no captions (expected one per line)")
    return captions


def cmd_sample(args) -> int:
    import numpy as np

    from ..generators import derive_seed
    from ..output import atomic_path
    from .checkpoint import load_checkpoint
    from .generator import FPS, motion_frames
    from .sample import sample_motions

    if args.repetitions < 1 or args.batch_size < 1:
        raise Text2ImuError("--repetitions and --batch-size must be >= 1")
    if args.prompt_set:
        from ..prompts import load_prompt_set

        named = [(p.prompt_id, p.text) for p in load_prompt_set(args.prompt_set).prompts]
    else:
        texts = args.text if args.text else _read_captions(args.captions)
        named = [(f"sample{i:03d}", t) for i, t in enumerate(texts)]
    if any(not t.strip() for _, t in named):
        raise Text2ImuError("a caption is empty")
    ckpt = load_checkpoint(args.ckpt, device=args.device)
    if args.sample_steps is not None and not 1 <= args.sample_steps <= ckpt.config.diffusion_steps:
        raise Text2ImuError(f"--sample-steps must be 1..{ckpt.config.diffusion_steps}")
    jobs = [(name, text, r) for r in range(args.repetitions) for name, text in named]
    lengths = [motion_frames(text, ckpt.config.max_frames, args.length_s) for _, text, _ in jobs]
    seeds = [derive_seed("diffusion-sample", args.seed, name, r) for name, _, r in jobs]
    motions = sample_motions(ckpt, [t for _, t, _ in jobs], lengths, seeds, guidance=args.guidance,
                             sample_steps=args.sample_steps, batch_size=args.batch_size, device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for (name, text, r), joints, seed in zip(jobs, motions, seeds, strict=True):
        file = f"{name}_rep{r:02d}.npz"
        with atomic_path(out / file) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, joints=joints, fps=np.float64(FPS), prompt=np.str_(text))
        index.append({"file": file, "name": name, "text": text, "repetition": r, "seed": seed,
                      "frames": int(len(joints))})
    manifest = {"checkpoint": str(ckpt.path), "checkpoint_sha256": ckpt.sha256, "guidance": args.guidance,
                "sample_steps": args.sample_steps or ckpt.config.diffusion_steps, "seed": args.seed,
                "fps": FPS, "samples": index}
    with atomic_path(out / "samples.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{len(index)} motions -> {out}")
    return 0


def cmd_info(args) -> int:
    from .checkpoint import checkpoint_dir, read_config

    meta = read_config(args.ckpt)
    print(f"checkpoint\t{checkpoint_dir(args.ckpt)}")
    print(f"weights_sha256\t{meta['weights_sha256']}")
    print(f"license\t{meta.get('license')}")
    for k, v in meta["model"].items():
        print(f"model.{k}\t{v}")
    for i, h in enumerate(meta.get("history", [])):
        lambdas = ",".join(f"{k}={v:g}" for k, v in h["lambdas"].items() if v)
        print(f"history.{i}\t{h['stage']} steps={h['steps']} lambdas[{lambdas}] final_total={h['final_losses']['total']:.5g}")
    return 0
