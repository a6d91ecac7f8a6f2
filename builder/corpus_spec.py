"""What one corpus is: :class:`CorpusSpec`, its checks and canonical form, and the names derived from it.

A spec says which motions (a registered generator, or a motions bundle folder), which prompts and how many
repetitions, which body model and shapes, which skin sites, and how to simulate (sensor placement, derivative
method, noise preset, output rate, seed). Two specs that mean the same corpus normalise to the same canonical
spec (sites in the order of ``data/sites.toml``, shapes in Table I order, prompt ids sorted), so their builds are
byte-identical.

Seeds (DESIGN.md section 3): with ``seed`` the release name or base seed,

- the motion of (prompt, repetition) from an in-process generator is drawn with
  ``derive_seed(seed, generator, prompt_id, repetition)``;
- the recording at (shape, site) takes ``derive_seed(seed, generator, prompt_id, repetition, shape, site)``: it
  seeds that recording's sensor noise and is the row's ``seed`` column.

Config names are ``<site>-<shape>``, e.g. ``realworld.waist-female_short``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from functools import cache

from .errors import Text2ImuError, UnknownNameError
from .placement import DEFAULT_PLACEMENT, check_placement
from .vocab import SITE_NAMES

DEFAULT_SITES: tuple[str, ...] = tuple(s for s in SITE_NAMES if s.startswith("realworld.")) + ("hapt.waist",)
DEFAULT_SHAPES_WORD = "all"
SPLIT = "train"


@dataclass(frozen=True)
class CorpusSpec:
    """One corpus.

    Attributes:
        generator: registered generator name (e.g. "kinematic"); for a bundle, the bundle's generator name.
        bundle: path of a motions bundle folder to read the motions from instead of running the generator.
        prompt_set: shipped prompt-set name ("v1") or a path to a prompt-set ``.toml``.
        prompt_ids: the prompts to use (ids of the set), or None for all of them.
        repetitions: motions drawn per prompt (>= 1).
        shapes: body shape names (Table I or compiled assets of ``body_model``).
        sites: skin site names (``realworld.waist``, ``hapt.waist``, ...).
        body_model: "anny" (default) or "smpl".
        method: derivative method, "central" or "spline".
        noise: noise preset name ("ideal": none).
        seed: release name or base seed (non-negative int or non-empty str) every seed derives from.
        rate_hz: output rate in Hz, or None for the motion's frame rate.
        refine: refine the body fit (slower).
        placement: where the sensors sit, "skin" (the sites' skin vertices, default) or "joint" (rigidly at the
            sites' skeleton joints, IMUSim-style; :mod:`text2imu.builder.placement`).
        rows_per_shard: most rows in one parquet shard of a config.
        rows_per_row_group: rows per parquet row group.
        repo_id: Hub repository named in the card (default ``text2imu/<generator>``).
        version: release version named in the card (e.g. "v0.1.0"), or None.
    """

    generator: str
    bundle: str | None = None
    prompt_set: str = "v1"
    prompt_ids: tuple[str, ...] | None = None
    repetitions: int = 10
    shapes: tuple[str, ...] = ()
    sites: tuple[str, ...] = DEFAULT_SITES
    body_model: str = "anny"
    method: str = "central"
    noise: str = "ideal"
    seed: int | str = 0
    rate_hz: float | None = None
    refine: bool = False
    placement: str = DEFAULT_PLACEMENT
    rows_per_shard: int = 10_000
    rows_per_row_group: int = 100
    repo_id: str | None = None
    version: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (tuples as lists), except ``placement`` when it is the default "skin":
        specs, fingerprints and manifests of skin corpora stay what they were before the field existed (an absent
        ``placement`` reads as "skin"), and a joint corpus differs from its skin twin in both."""
        out = json.loads(json.dumps(asdict(self)))
        if out.get("placement") == DEFAULT_PLACEMENT:
            del out["placement"]
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> CorpusSpec:
        """Inverse of :meth:`to_dict` (unknown keys raise Text2ImuError)."""
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise Text2ImuError(f"unknown corpus spec field(s): {', '.join(unknown)}")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        return cls(**fixed)

    def fingerprint(self) -> str:
        """SHA-256 hex of the canonical JSON of :meth:`to_dict` (two builds resume each other only if equal)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    @property
    def hub_repo_id(self) -> str:
        return self.repo_id or f"text2imu/{self.generator}"

    def config_names(self) -> tuple[str, ...]:
        """Config names ``<site>-<shape>``, sorted (the row order of every unit and the shard folders)."""
        return tuple(sorted(config_name(site, shape) for site in self.sites for shape in self.shapes))


def config_name(site: str, shape: str) -> str:
    """``realworld.waist`` + ``female_short`` -> ``realworld.waist-female_short``."""
    return f"{site}-{shape}"


def site_groups() -> dict[str, tuple[str, ...]]:
    """{dataset prefix: its sites}, e.g. "realworld" -> the seven RealWorld sites; "all" -> every site."""
    groups: dict[str, list[str]] = {}
    for s in SITE_NAMES:
        groups.setdefault(s.split(".", 1)[0], []).append(s)
    return {"all": SITE_NAMES, **{k: tuple(v) for k, v in groups.items()}}


def expand_sites(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Site names and group words ("realworld", "all") -> site names in ``sites.toml`` order, without repeats."""
    groups = site_groups()
    chosen: set[str] = set()
    for name in names:
        if name in groups:
            chosen.update(groups[name])
        elif name in SITE_NAMES:
            chosen.add(name)
        else:
            raise UnknownNameError("site", name, (*SITE_NAMES, *groups))
    if not chosen:
        raise Text2ImuError("no site given")
    return tuple(s for s in SITE_NAMES if s in chosen)


def expand_shapes(names: tuple[str, ...] | list[str], body_model: str) -> tuple[str, ...]:
    """Shape names or "all" (the Table I eight) -> names in Table I order (other compiled shapes after, sorted)."""
    from .bodies.shapes import shape_names
    from .simulate import known_shapes

    known = known_shapes(body_model)
    table = shape_names()
    chosen: set[str] = set()
    for name in names or (DEFAULT_SHAPES_WORD,):
        if name == DEFAULT_SHAPES_WORD:
            chosen.update(table)
        elif name in known:
            chosen.add(name)
        else:
            raise UnknownNameError("body shape", name, (*known, DEFAULT_SHAPES_WORD))
    return tuple(s for s in table if s in chosen) + tuple(sorted(chosen - set(table)))


@cache
def _prompt_set(name: str):
    from .prompts import load_prompt_file, load_prompt_set

    if name.endswith(".toml"):
        return load_prompt_file(name)
    return load_prompt_set(name)


def prompt_set_of(spec: CorpusSpec):
    """The spec's :class:`~text2imu.builder.prompts.PromptSet`: the shipped set or .toml file it names, or for a
    bundle the prompt set stored in the bundle."""
    if spec.bundle is not None:
        from .corpus_sources import bundle_prompt_set

        return bundle_prompt_set(spec.bundle)
    return _prompt_set(spec.prompt_set)


def prompts_of(spec: CorpusSpec):
    """The spec's prompts, in prompt-id order."""
    pset = prompt_set_of(spec)
    if spec.prompt_ids is None:
        return pset.prompts
    return tuple(pset.get(pid) for pid in spec.prompt_ids)


def normalize_spec(spec: CorpusSpec) -> CorpusSpec:
    """Check every field and return the canonical spec (raises Text2ImuError / UnknownNameError).

    Checks: generator registered (unless a bundle gives the motions), prompt set and ids known, repetitions,
    shard sizes >= 1, body model, shapes and sites known, method, noise preset and placement known, seed usable,
    rate > 0.
    """
    from .imu import METHODS
    from .noise import get_noise_preset
    from .simulate import BODY_MODELS

    if not isinstance(spec.generator, str) or not spec.generator:
        raise Text2ImuError("a corpus needs a generator name or a motions bundle")
    if spec.bundle is None:
        from .generators import available_generators

        available_generators()[spec.generator]  # UnknownNameError with "did you mean"
    for field in ("repetitions", "rows_per_shard", "rows_per_row_group"):
        value = getattr(spec, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise Text2ImuError(f"{field.replace('_', '-')} must be a positive integer, got {value!r}")
    if spec.body_model not in BODY_MODELS:
        raise UnknownNameError("body model", str(spec.body_model), BODY_MODELS)
    if spec.method not in METHODS:
        raise UnknownNameError("simulation method", str(spec.method), METHODS)
    get_noise_preset(spec.noise)
    check_placement(spec.placement)
    seed = spec.seed
    if isinstance(seed, bool) or not isinstance(seed, int | str) or seed == "" or (isinstance(seed, int) and seed < 0):
        raise Text2ImuError(f"seed must be a non-negative integer or a non-empty string, got {seed!r}")
    if spec.rate_hz is not None and not (isinstance(spec.rate_hz, int | float) and spec.rate_hz > 0):
        raise Text2ImuError(f"rate-hz must be positive, got {spec.rate_hz!r}")
    pset = prompt_set_of(spec)
    if spec.bundle is not None and spec.prompt_set != pset.version:
        raise Text2ImuError(f"{spec.bundle}: the bundle was made from prompt set '{pset.version}', "
                            f"not '{spec.prompt_set}'")
    ids = None
    if spec.prompt_ids is not None:
        if not spec.prompt_ids:
            raise Text2ImuError("the prompt list is empty")
        ids = tuple(sorted({pset.get(pid).prompt_id for pid in spec.prompt_ids}))
    return replace(
        spec,
        prompt_ids=ids,
        shapes=expand_shapes(spec.shapes, spec.body_model),
        sites=expand_sites(spec.sites),
        rate_hz=None if spec.rate_hz is None else float(spec.rate_hz),
        refine=bool(spec.refine),
        bundle=None if spec.bundle is None else str(spec.bundle),
    )
