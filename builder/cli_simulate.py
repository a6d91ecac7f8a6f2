"""``text2imu simulate`` (motion file -> IMU .npz) and ``text2imu plot`` (IMU .npz -> PNG)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .errors import Text2ImuError
from .formats import read_motions
from .imu import METHODS
from .placement import DEFAULT_PLACEMENT, check_placement

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate IMU signals at skin sites of a body performing a motion",
        description="Fit a motion to a body, skin its sites and simulate acc + gyro; write one .npz "
        "(keys <site>/acc_mps2, <site>/gyro_radps, <site>/orientation_wxyz, sites, rate_hz, meta_json).",
    )
    p.add_argument("motion", type=Path, help="motion file (any format `text2imu motion formats` lists)")
    p.add_argument("--format", help="motion reader name (default: detected)")
    p.add_argument(
        "--fps", type=float, help="frame rate for motion formats that do not store one (default 20)"
    )
    p.add_argument("--index", type=int, default=0, help="which motion of a file holding several (default 0)")
    p.add_argument("--body", default="anny", help="body model (default anny)")
    p.add_argument("--shape", default="female_average", help="Table I body shape (default female_average)")
    p.add_argument("--asset", type=Path, help="a compiled body asset .npz to use instead of --body/--shape")
    p.add_argument("--sites", default="realworld.waist", help="comma-separated site names")
    p.add_argument("--placement", default=DEFAULT_PLACEMENT,
                   help="where the sensors sit: skin (the sites' skin vertices, default) or joint (rigidly at the "
                   "sites' skeleton joints, IMUSim-style)")
    p.add_argument("--method", default="central", choices=METHODS, help="derivative method (default central)")
    p.add_argument("--noise", default="ideal", help="noise preset (default ideal: none)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--rate-hz", type=float, help="output rate in Hz (default: the motion's)")
    p.add_argument("--refine", action="store_true", help="refine the fit on joint error (slower)")
    p.add_argument("--out", type=Path, required=True, help="output .npz")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(func=cmd_simulate)

    q = sub.add_parser("plot", help="plot an IMU .npz written by `text2imu simulate` as a PNG")
    q.add_argument("imu", type=Path, help="IMU .npz")
    q.add_argument("--sites", help="comma-separated subset of the file's sites (default: all)")
    q.add_argument("--out", type=Path, required=True, help="output .png")
    q.add_argument("--force", action="store_true", help="overwrite an existing output")
    q.set_defaults(func=cmd_plot)


def _sites(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise Text2ImuError("--sites names no site")
    return names


def _check_out(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise Text2ImuError(f"{path} exists; pass --force to overwrite it")


def cmd_simulate(args: argparse.Namespace) -> int:
    from .bodies.asset import BodyAsset
    from .simulate import simulate_motion, write_imu_npz

    _check_out(args.out, args.force)
    sites = _sites(args.sites)
    check_placement(args.placement)
    options = {} if args.fps is None else {"fps": args.fps}
    motions = read_motions(args.motion, args.format, **options)
    if not 0 <= args.index < len(motions):
        raise Text2ImuError(
            f"{args.motion}: --index {args.index} out of range (it holds {len(motions)} motions)"
        )
    motion = motions[args.index].validated(str(args.motion))
    asset = BodyAsset.load(args.asset) if args.asset else None
    signals = simulate_motion(
        motion,
        args.body,
        args.shape,
        sites,
        method=args.method,
        noise=args.noise,
        seed=args.seed,
        rate_hz=args.rate_hz,
        refine=args.refine,
        asset=asset,
        placement=args.placement,
    )
    from .. import __version__

    first = next(iter(signals.values()))
    meta = {
        "body_model": asset.body_model if asset else args.body,
        "shape": asset.shape if asset else args.shape,
        "placement": args.placement,
        "method": args.method,
        "noise": args.noise,
        "seed": args.seed,
        "refine": args.refine,
        "motion": str(args.motion),
        "motion_index": args.index,
        "motion_fps": motion.fps,
        "motion_frames": motion.n_frames,
        "prompt": motion.prompt,
        "text2imu_version": __version__,
    }
    write_imu_npz(args.out, signals, meta)
    print(f"wrote {args.out}: {len(signals)} site(s), {first.n_samples} samples at {first.rate_hz:g} Hz")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .simulate import plot_imu, read_imu_npz

    _check_out(args.out, args.force)
    signals, meta = read_imu_npz(args.imu)
    if args.sites:
        wanted = _sites(args.sites)
        from .errors import UnknownNameError

        for name in wanted:
            if name not in signals:
                raise UnknownNameError("site", name, signals)
        signals = {name: signals[name] for name in wanted}
    title = (
        f"{args.imu.name}: {meta.get('body_model', '?')}/{meta.get('shape', '?')}, {meta.get('method', '?')}"
    )
    plot_imu(signals, args.out, title=title)
    print(f"wrote {args.out}")
    return 0
