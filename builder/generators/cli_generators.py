"""``text2imu generators``: list the built-in and plugin generators."""

from __future__ import annotations

import argparse
import json

from . import available_generators, plugin_errors

COLUMNS = ("name", "version", "license", "fps", "gpu", "reference")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generators", help="list the text-to-motion generators (built-ins and plugins)")
    p.add_argument("--json", action="store_true", help="print one JSON object per generator instead of a table")
    p.set_defaults(func=cmd_generators)


def generator_rows() -> list[dict[str, str]]:
    """One row per registered generator: name, version, license, fps, gpu, reference, source, weights."""
    rows = []
    for name, entry in available_generators().items():
        spec = entry.spec
        rows.append({
            "name": name,
            "version": spec.version,
            "license": spec.license,
            "fps": f"{spec.fps:g}",
            "gpu": "yes" if spec.needs_gpu else "no",
            "reference": spec.reference,
            "source": entry.source,
            "weights_sha256": spec.weights_sha256 or "",
            "description": spec.description,
        })
    return rows


def format_table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns of :data:`COLUMNS`, with a header line."""
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_generators(args: argparse.Namespace) -> int:
    rows = generator_rows()
    if args.json:
        for r in rows:
            print(json.dumps(r, sort_keys=True))
    else:
        print(format_table(rows))
    for name, err in sorted(plugin_errors().items()):
        print(f"skipped plugin {name}: {err}")
    return 0
