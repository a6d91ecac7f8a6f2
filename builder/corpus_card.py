"""The dataset card (README.md) of a corpus: YAML front matter, provenance, rendered from ``cards/dataset_card.md``.

The template is a :class:`string.Template` (``${name}`` fields). The YAML carries ``license`` (the most
restrictive of the inputs' licenses, ``data/licenses.toml``), ``configs`` (``default`` with the glob
``data/*/train-*.parquet``, and one per ``<site>-<shape>`` with ``data/<config>/train-*.parquet``) and
``dataset_info`` (features and the ``train`` split's ``num_examples`` per config). The provenance lists the
package version and git commit, generator name/version/weights hash/license, prompt-set version and hash, body
model and version, the height and weight each shape reached, the sites, simulation method, noise preset, rate,
seeds and every shard's size and SHA-256. Nothing in it depends on the clock, so one spec gives one card.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

import yaml

from .corpus_parquet import features_yaml
from .corpus_spec import SPLIT, CorpusSpec
from .placement import PLACEMENT_WORDS
from .vocab import ACTIVITIES

PACKAGE_LICENSE = "Apache-2.0"  # this package's code and its prompt sets
CARD_TEMPLATE = "dataset_card.md"
# Per sensor placement: where the card says the sensors sit, and their frame.
SENSOR_SITES = {"skin": "{n} skin sites",
                "joint": "the skeleton joints of {n} sites (joint placement, IMUSim-style)"}
SENSOR_FRAME_TEXT = {
    "skin": "Sensor frame at a skin site: z along the outward surface normal, x along the limb (parent -> child "
            "joint)\nprojected on the tangent plane, y = z × x.",
    "joint": "Joint placement: each sensor sits at its site's skeleton joint (`joint` in text2imu's data/sites.toml)"
             "\nand turns rigidly with the site's segment; its axes are the site's skin frame (z along the outward "
             "surface\nnormal, x along the limb, y = z × x) in the body's rest pose, carried by the segment.",
}


@cache
def _licenses() -> dict:
    return tomllib.loads(resources.files("text2imu.builder").joinpath("data", "licenses.toml").read_text("utf-8"))


def license_rank(spdx: str) -> tuple[int, str]:
    """(rank, hub id) of an SPDX id; unknown ids rank as the most restrictive, hub id "other"."""
    for row in _licenses()["license"]:
        if row["spdx"].lower() == str(spdx).lower():
            return int(row["rank"]), str(row["hub"])
    return max(int(r["rank"]) for r in _licenses()["license"]), "other"


def body_model_license(body_model: str) -> str:
    return _licenses()["body_models"].get(body_model, "LicenseRef-unknown")


def corpus_license(inputs: Mapping[str, str]) -> tuple[str, str, str]:
    """The most restrictive of {input: SPDX id} -> (SPDX id, hub id, the input it comes from).

    Ties keep the first input in mapping order.
    """
    best = None
    for what, spdx in inputs.items():
        rank, hub = license_rank(spdx)
        if best is None or rank > best[0]:
            best = (rank, spdx, hub, what)
    if best is None:
        raise ValueError("no license inputs")
    return best[1], best[2], best[3]


def package_commit(root: Path | None = None) -> str:
    """The git commit of the source tree this package runs from (+ " (with uncommitted changes)"), or "unknown"."""
    root = root or Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=20, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states besides the spec.

    Attributes:
        source: the motion source's identity (corpus_sources), with name, version, license, weights_sha256.
        prompt_set_version, prompt_set_sha256, n_prompts: the prompt set and how many of its prompts were used.
        bodies: {shape: BodyAsset} of the spec's shapes.
        config_rows: {config: rows}.
        config_bytes: {config: Arrow (in-memory) bytes of its rows}.
        files: {relative path: (bytes, sha256)} of the shards.
        package_version, commit: text2imu's version and git commit.
    """

    source: dict
    prompt_set_version: str
    prompt_set_sha256: str
    n_prompts: int
    bodies: dict
    config_rows: dict
    config_bytes: dict
    files: dict
    package_version: str
    commit: str


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def front_matter(spec: CorpusSpec, facts: CardFacts, license_ids: tuple[str, str, str]) -> dict:
    """The YAML front matter as a dict (key order kept)."""
    spdx, hub, _ = license_ids
    total = sum(facts.config_rows.values())
    sizes = {c: sum(b for p, (b, _) in facts.files.items() if p.startswith(f"data/{c}/")) for c in facts.config_rows}
    meta: dict = {"license": hub}
    if hub == "other":
        meta["license_name"] = spdx.lower()
    meta["pretty_name"] = f"text2imu {spec.generator} synthetic IMU"
    meta["tags"] = ["imu", "accelerometer", "gyroscope", "human-activity-recognition", "synthetic", "text2imu"]
    meta["size_categories"] = [_size_category(total)]
    meta["configs"] = [{"config_name": "default", "data_files": [{"split": SPLIT, "path": "data/*/train-*.parquet"}]}]
    meta["configs"] += [{"config_name": c, "data_files": [{"split": SPLIT, "path": f"data/{c}/train-*.parquet"}]}
                        for c in facts.config_rows]
    arrow = dict(facts.config_bytes)
    meta["dataset_info"] = [
        {"config_name": name, "features": features_yaml(),
         "splits": [{"name": SPLIT, "num_bytes": int(nbytes), "num_examples": int(rows)}],
         "download_size": int(size), "dataset_size": int(nbytes)}
        for name, rows, nbytes, size in [("default", total, sum(arrow.values()), sum(sizes.values()))]
        + [(c, facts.config_rows[c], arrow[c], sizes[c]) for c in facts.config_rows]
    ]
    return meta


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(spec: CorpusSpec, facts: CardFacts) -> str:
    """README.md text of a corpus (front matter + the template filled in)."""
    from .bodies.sites import site as site_info

    src = facts.source
    inputs = {f"generator {src['name']}": src.get("license") or "LicenseRef-unknown",
              f"body model {spec.body_model}": body_model_license(spec.body_model),
              f"prompt set {facts.prompt_set_version} and text2imu": PACKAGE_LICENSE}
    license_ids = corpus_license(inputs)
    yaml_text = yaml.safe_dump(front_matter(spec, facts, license_ids), sort_keys=False, allow_unicode=True,
                               width=1000, default_flow_style=False)
    first_body = next(iter(facts.bodies.values()))
    provenance = [
        ("package", f"text2imu {facts.package_version}, commit {facts.commit}"),
        ("corpus version", spec.version or "(not a release)"),
        ("generator", f"{src['name']} {src.get('version')}; reference: {src.get('reference')}"),
        ("generator license", src.get("license")),
        ("generator weights sha256", src.get("weights_sha256") or "none (no weights)"),
        ("motions", "read from a motions bundle" + (f" (sha256 {src['bundle_sha256']})" if src.get("bundle_sha256")
                    else "") if src.get("kind") == "bundle" else "generated in-process"),
        ("prompt set", f"{facts.prompt_set_version} ({facts.n_prompts} prompts used), sha256 {facts.prompt_set_sha256}"),
        ("repetitions per prompt", spec.repetitions),
        ("body model", f"{spec.body_model} {first_body.body_model_version}"),
        ("shapes", ", ".join(spec.shapes)),
        ("sites", ", ".join(spec.sites)),
        ("sensor placement", PLACEMENT_WORDS[spec.placement]),
        ("simulation method", spec.method),
        ("noise preset", spec.noise),
        ("output rate", "the motion's frame rate" if spec.rate_hz is None else f"{spec.rate_hz:g} Hz"),
        ("fit refinement", "on" if spec.refine else "off"),
        ("base seed", repr(spec.seed)),
    ]
    shapes_rows = [(name, f"{b.target_height_m * 100:.1f}", f"{b.target_weight_kg:.1f}", f"{b.height_m * 100:.2f}",
                    f"{b.weight_kg:.2f}") for name, b in facts.bodies.items()]
    sites_rows = [(s, site_info(s).body_part, site_info(s).side, site_info(s).spot) for s in spec.sites]
    files_rows = [(f"`{p}`", b, f"`{h}`") for p, (b, h) in sorted(facts.files.items())]
    seeds = (f"Base seed `{spec.seed!r}`. With `derive_seed` of `text2imu.builder.generators` (SHA-256 of the "
             "canonical JSON of its parts): the motion of (prompt, repetition) is drawn with "
             "`derive_seed(base, generator, prompt_id, repetition)` (generators run in-process); the recording at "
             "(shape, site) seeds its sensor noise with `derive_seed(base, generator, prompt_id, repetition, shape, "
             "site)`, which is its `seed` column.")
    spdx, hub, origin = license_ids
    values = {
        "front_matter": yaml_text,
        "title": f"text2imu / {spec.generator}" + (f" {spec.version}" if spec.version else ""),
        "generator": spec.generator,
        "body_model": spec.body_model,
        "n_shapes": len(spec.shapes),
        "n_sites": len(spec.sites),
        "sensor_sites": SENSOR_SITES[spec.placement].format(n=len(spec.sites)),
        "sensor_frame_text": SENSOR_FRAME_TEXT[spec.placement],
        "n_recordings": sum(facts.config_rows.values()),
        "n_configs": len(facts.config_rows),
        "repo_id": spec.hub_repo_id,
        "example_config": next(iter(facts.config_rows)),
        "revision_arg": f', revision="{spec.version}"' if spec.version else "",
        "activities": ", ".join(f"{i} {a}" for i, a in enumerate(ACTIVITIES)),
        "configs_table": _table(("config", "rows"), list(facts.config_rows.items())),
        "provenance_table": "\n".join(f"| {k} | {v} |" for k, v in provenance),
        "seeds_text": seeds,
        "shapes_table": _table(("shape", "target height cm", "target weight kg", "reached height cm",
                                "reached weight kg"), shapes_rows),
        "sites_table": _table(("site", "body part", "side", "spot"), sites_rows),
        "files_table": _table(("file", "bytes", "sha256"), files_rows),
        "license_text": (f"`{spdx}` (Hub id `{hub}`): the most restrictive of the inputs' licenses, here from the "
                         f"{origin}. Inputs: " + "; ".join(f"{k}: {v}" for k, v in inputs.items()) + "."),
    }
    template = resources.files("text2imu.cards").joinpath(CARD_TEMPLATE).read_text("utf-8")
    return Template(template).substitute(values)
