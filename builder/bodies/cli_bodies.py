"""``text2imu bodies``: the Table I shapes each body model reached, the skin sites, and pictures of both."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import FormatError
from .asset import BodyAsset, asset_path
from .shapes import body_shape, body_shapes
from .sites import sites

log = logging.getLogger(__name__)

BODY_MODELS = ("anny", "smpl")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bodies", help="body shapes reached per body model, skin sites, body pictures")
    bsub = p.add_subparsers(dest="bodies_command", metavar="ACTION", parser_class=type(p))
    bsub.required = True

    lst = bsub.add_parser(
        "list", help="Table I shapes: target and reached height and weight per compiled asset"
    )
    lst.add_argument("--body", choices=BODY_MODELS, help="only this body model (default: all with assets)")
    lst.set_defaults(func=cmd_list)

    st = bsub.add_parser("sites", help="the named skin sites, their placement and vertex ids")
    st.set_defaults(func=cmd_sites)

    draw = bsub.add_parser("draw", help="draw a compiled body with its sites marked (PNG)")
    draw.add_argument("--body", default="anny", choices=BODY_MODELS, help="body model (default anny)")
    draw.add_argument("--shape", required=True, help="Table I shape, e.g. female_average")
    draw.add_argument("--out", type=Path, required=True, help="PNG file to write")
    draw.set_defaults(func=cmd_draw)


def shape_rows(body_models: tuple[str, ...] = BODY_MODELS) -> list[dict]:
    """One row per (body model, shape) with a compiled asset: targets and what the fit reached."""
    rows = []
    for model in body_models:
        for shape in body_shapes():
            path = asset_path(model, shape.name)
            if not path.is_file():
                continue
            a = BodyAsset.load(path)
            rows.append(
                {
                    "body_model": model,
                    "shape": shape.name,
                    "target_height_cm": shape.height_cm,
                    "height_cm": a.height_m * 100,
                    "target_weight_kg": shape.weight_kg,
                    "weight_kg": a.weight_kg,
                    "density_kg_m3": a.density_kg_m3,
                }
            )
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    models = (args.body,) if args.body else BODY_MODELS
    rows = shape_rows(models)
    if not rows:
        raise FormatError(
            f"no compiled body assets for {', '.join(models)} under {asset_path('x', 'y').parent.parent}"
        )
    print(
        f"{'body':6s} {'shape':16s} {'height cm':>10s} {'(target)':>9s} {'weight kg':>10s} {'(target)':>9s}"
    )
    for r in rows:
        print(
            f"{r['body_model']:6s} {r['shape']:16s} {r['height_cm']:10.2f} {r['target_height_cm']:9.1f} "
            f"{r['weight_kg']:10.2f} {r['target_weight_kg']:9.1f}"
        )
    densities = sorted({r["density_kg_m3"] for r in rows})
    print(f"mass = closed-mesh volume x density ({', '.join(f'{d:g}' for d in densities)} kg/m^3)")
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    for s in sites():
        ids = ", ".join(f"{m} {v}" for m, v in sorted(s.vertex_ids.items())) or "no vertex ids"
        print(f"{s.name:20s} {s.side:6s} {s.segment:14s} {s.spot}  [{ids}]")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    from .draw import draw_body_sites

    body_shape(args.shape)  # "did you mean" before anything heavy
    draw_body_sites(args.body, args.shape, args.out)
    return 0
