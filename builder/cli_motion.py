"""``text2imu motion``: inspect and convert motion files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from .errors import Text2ImuError
from .formats import FORMATS, _load_readers, detect_format, read_motions
from .motion import Motion, describe
from .output import atomic_path

log = logging.getLogger(__name__)

CONVERT_TARGETS = {
    "humanml3d-joints": "HumanML3D new_joints layout: (T-1, 22, 3) float32 .npy at 20 fps, uniform skeleton, "
    "floor at 0, root at the origin, facing +z",
    "humanml3d-vecs": "HumanML3D new_joint_vecs layout: (T-1, 263) float32 .npy at 20 fps",
    "joints-npz": ".npz with joints (T, 22, 3) float32 metres, fps, prompt",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("motion", help="inspect and convert motion files")
    msub = p.add_subparsers(dest="motion_command", metavar="ACTION", parser_class=type(p))
    msub.required = True

    info = msub.add_parser("info", help="frames, fps, duration, ranges and validation verdict of a motion file")
    _add_read_options(info)
    info.set_defaults(func=cmd_info)

    conv = msub.add_parser("convert", help="convert a motion file to another layout")
    _add_read_options(conv)
    conv.add_argument("--to", required=True, choices=sorted(CONVERT_TARGETS), help="target layout")
    conv.add_argument("out", type=Path, help="output file (a folder when the input holds several motions)")
    conv.add_argument("--force", action="store_true", help="overwrite an existing output")
    conv.set_defaults(func=cmd_convert)

    fmts = msub.add_parser("formats", help="list the motion formats that can be read")
    fmts.set_defaults(func=cmd_formats)


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="motion file or folder")
    p.add_argument("--format", help="reader name (default: detected); see `text2imu motion formats`")
    p.add_argument("--fps", type=float, help="frame rate for formats that do not store one (default 20)")
    p.add_argument("--body-model", type=Path, help="SMPL-H/SMPL model file, for AMASS npz input")
    p.add_argument("--index", type=int, help="only the motion with this index (files with several)")


def _read(args: argparse.Namespace, *, validate: bool = True) -> list[Motion]:
    """Read the motions named on the command line; ``validate=False`` keeps invalid ones (for reporting)."""
    _load_readers()
    fmt = FORMATS[args.format] if args.format else detect_format(args.file)
    options: dict = {} if validate or "validate" not in fmt.options else {"validate": False}
    if args.fps is not None:
        options["fps"] = args.fps
    if args.body_model is not None:
        options["body_model_path"] = args.body_model
    motions = read_motions(args.file, fmt.name, **options)
    if not motions:
        raise Text2ImuError(f"{args.file}: holds no motion")
    if args.index is not None:
        if not 0 <= args.index < len(motions):
            raise Text2ImuError(f"{args.file}: --index {args.index} out of range (0..{len(motions) - 1})")
        return [motions[args.index]]
    return motions


def format_info(info: dict, label: str) -> str:
    """Human-readable block for :func:`text2imu.builder.motion.describe` output."""
    lines = [
        f"{label}",
        f"  frames      {info['frames']}",
        f"  fps         {info['fps']:g}",
        f"  duration    {info['duration_s']:.2f} s",
    ]
    if info.get("prompt"):
        lines.append(f"  prompt      {info['prompt']}")
    for ax, (lo, hi) in info.get("range_m", {}).items():
        lines.append(f"  {ax} range     {lo:+.3f} .. {hi:+.3f} m")
    if "root_path_m" in info:
        lines.append(f"  root path   {info['root_path_m']:.2f} m (horizontal)")
    if "peak_joint_speed_mps" in info:
        lines.append(f"  peak speed  {info['peak_joint_speed_mps']:.2f} m/s")
    verdict = "valid" if not info["problems"] else "INVALID: " + "; ".join(info["problems"])
    lines.append(f"  verdict     {verdict}")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    motions = _read(args, validate=False)
    bad = 0
    for i, m in enumerate(motions):
        info = describe(m)
        bad += bool(info["problems"])
        label = f"{args.file}" + (f" [{m.metadata.get('index', i)}]" if len(motions) > 1 else "")
        print(format_info(info, label))
    if len(motions) > 1:
        print(f"{len(motions)} motions, {bad} invalid")
    return 1 if bad else 0


def convert_motion(motion: Motion, to: str) -> np.ndarray | dict:
    """The array (or npz dict) of ``motion`` in layout ``to`` (one of :data:`CONVERT_TARGETS`)."""
    from . import humanml3d

    if to in ("humanml3d-joints", "humanml3d-vecs"):
        m20 = motion.validated().resampled(20.0)
        feats = humanml3d.joints_to_features(m20.joints_m)
        return feats if to == "humanml3d-vecs" else humanml3d.features_to_joints(feats)
    if to == "joints-npz":
        return {"joints": motion.joints_m, "fps": np.float64(motion.fps), "prompt": np.array(motion.prompt or "")}
    raise Text2ImuError(f"unknown target layout '{to}'")


def _write(path: Path, data: np.ndarray | dict) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            if isinstance(data, dict):
                np.savez(fh, **data)
            else:
                np.save(fh, data)


def cmd_convert(args: argparse.Namespace) -> int:
    suffix = ".npz" if args.to == "joints-npz" else ".npy"
    if args.out.exists() and not args.force:
        raise Text2ImuError(f"{args.out} exists; pass --force to overwrite")
    motions = _read(args)
    # Convert everything before writing anything, so a bad motion leaves no partial output.
    converted = [convert_motion(m.validated(f"{args.file} [{i}]"), args.to) for i, m in enumerate(motions)]
    if len(converted) == 1:
        _write(args.out, converted[0])
        log.info("wrote %s (%s)", args.out, args.to)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(converted):
            _write(args.out / f"{i:05d}{suffix}", data)
        log.info("wrote %d files to %s (%s)", len(converted), args.out, args.to)
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    _load_readers()
    for name, fmt in FORMATS.items():
        print(f"{name:18s} {fmt.description}  [{fmt.reference}]")
    return 0
