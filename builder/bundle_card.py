"""The generator card (README.md) of a motions bundle, rendered from ``text2imu/cards/motions_bundle.md``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any

from .bundle import BundleEntry

CARD_TEMPLATE = "motions_bundle.md"


def render_readme(doc: Mapping[str, Any], entries: tuple[BundleEntry, ...]) -> str:
    """The generator card (README.md) of a bundle, from ``text2imu/cards/motions_bundle.md``."""
    spec, pset = doc["generator"], doc["prompt_set"]
    options = doc.get("options") or {}

    def show(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)

    made = "\n".join(f"- {k}: `{show(options[k])}`" for k in sorted(options)) or "- (none)"
    frames = sum(e.n_frames for e in entries)
    seconds = sum(e.n_frames / e.fps for e in entries)
    template = resources.files("text2imu.cards").joinpath(CARD_TEMPLATE).read_text("utf-8")
    return Template(template).substitute(
        name=spec["name"], version=spec["version"], license=spec["license"], reference=spec["reference"],
        weights_sha256=spec["weights_sha256"] or "none (no weights)", fps=f"{spec['fps']:g}",
        needs_gpu="yes" if spec["needs_gpu"] else "no", description=spec["description"] or "-",
        prompt_set_version=pset["version"], prompt_set_sha256=pset["sha256"], n_prompts=len(pset["prompts"]),
        repetitions=doc["repetitions"], n_motions=len(entries), total_frames=frames,
        total_minutes=f"{seconds / 60:.1f}", created_by=doc["created_by"], options=made,
        manifest_sha256=doc["manifest_sha256"], format_version=doc["format_version"],
    )
