"""Release specs: ``builder/releases/<version>.toml``, their loader and checks, and the corpora they name.

A release spec names every input of a release, so that ``text2imu release build VERSION`` rebuilds it bit for
bit (DESIGN.md section 5)::

    version = "v0.1.0"                       # the tag; a shipped spec's file is <version>.toml
    generators = ["kinematic"]               # one dataset repository <org>/<generator> each
    prompt_set = "v1"                        # shipped prompt set, or a .toml path (relative to this file)
    repetitions = 10                         # motions per prompt
    shapes = ["all"]                         # body shapes, or "all" (Table I's eight)
    sites = ["realworld", "hapt.waist"]      # sites or groups (realworld, hapt, pamap2, usc_had, all)
    method = "central"                       # derivative method: central or spline
    noise = "ideal"                          # noise preset
    seed = "v0.1.0"                          # base seed (non-negative integer or string)

    # optional
    body_model = "anny"
    prompts = ["walking-01", "jumping-02"]   # a subset of the prompt set (default: all)
    rate_hz = 20.0                           # output rate (default: the motion's)
    refine = false
    rows_per_shard = 10000

    [bundles]                                # motions made elsewhere: generator -> motions bundle folder
    mdm = "../../bundles/mdm"                # (relative paths: relative to this file's folder)

Every problem is a :class:`~text2imu.builder.errors.FormatError` that names the file: TOML syntax, unknown or
missing keys (with "did you mean"), wrong types, and unknown generators, sites, shapes, prompts, methods or noise
presets (the corpus checks of :func:`~text2imu.builder.corpus_spec.normalize_spec`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .corpus_spec import CorpusSpec, normalize_spec
from .errors import FormatError, Text2ImuError, UnknownNameError, unknown_name_message

RELEASES_FOLDER = "releases"  # inside the text2imu.builder package (builder/releases/)
DEFAULT_ORG = "text2imu"
VERSION_PATTERN = re.compile(r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$")
ORG_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
GENERATOR_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_REQUIRED = ("version", "generators", "prompt_set", "repetitions", "shapes", "sites", "method", "noise", "seed")
_OPTIONAL = ("body_model", "prompts", "rate_hz", "refine", "rows_per_shard", "bundles", "description")


@dataclass(frozen=True)
class ReleaseSpec:
    """One release, as its spec file says (see the module docstring for the keys).

    Attributes:
        version: the release tag, e.g. "v0.1.0".
        source: the spec file it was read from (for messages).
        generators: generator names, one dataset repository each, in file order.
        bundles: {generator: absolute motions bundle folder} for generators whose motions come from a bundle.
        prompt_set, prompt_ids, repetitions, shapes, sites, body_model, method, noise, seed, rate_hz, refine,
        rows_per_shard: the corpus fields (:class:`~text2imu.builder.corpus_spec.CorpusSpec`), shared by every
        generator of the release.
        description: free text (not part of the data).
    """

    version: str
    source: str
    generators: tuple[str, ...]
    prompt_set: str
    repetitions: int
    shapes: tuple[str, ...]
    sites: tuple[str, ...]
    method: str
    noise: str
    seed: int | str
    body_model: str = "anny"
    prompt_ids: tuple[str, ...] | None = None
    rate_hz: float | None = None
    refine: bool = False
    rows_per_shard: int = 10_000
    bundles: tuple[tuple[str, str], ...] = ()
    description: str = ""

    def corpus_spec(self, generator: str, org: str = DEFAULT_ORG) -> CorpusSpec:
        """The checked, canonical corpus spec of ``generator`` in this release, published as ``<org>/<generator>``.

        Raises FormatError naming the spec file for an unknown generator, site, shape, prompt, method, preset.
        """
        if generator not in self.generators:
            raise UnknownNameError(f"generator of release {self.version}", generator, self.generators)
        check_org(org)
        spec = CorpusSpec(
            generator=generator,
            bundle=dict(self.bundles).get(generator),
            prompt_set=self.prompt_set,
            prompt_ids=self.prompt_ids,
            repetitions=self.repetitions,
            shapes=self.shapes,
            sites=self.sites,
            body_model=self.body_model,
            method=self.method,
            noise=self.noise,
            seed=self.seed,
            rate_hz=self.rate_hz,
            refine=self.refine,
            rows_per_shard=self.rows_per_shard,
            repo_id=f"{org}/{generator}",
            version=self.version,
        )
        try:
            return normalize_spec(spec)
        except Text2ImuError as err:
            raise FormatError(f"{self.source}: generator '{generator}': {err}") from err

    def corpus_specs(self, org: str = DEFAULT_ORG) -> dict[str, CorpusSpec]:
        """{generator: checked corpus spec}, in the spec's generator order."""
        return {g: self.corpus_spec(g, org) for g in self.generators}


def check_org(org: str) -> str:
    """``org`` if it is a usable Hub namespace (letters, digits, ``-._``), else Text2ImuError."""
    if not isinstance(org, str) or not ORG_PATTERN.match(org) or ".." in org or "--" in org:
        raise Text2ImuError(f"'{org}' is not a usable Hugging Face organisation name (letters, digits, '-', '_', '.')")
    return org


def shipped_releases() -> tuple[str, ...]:
    """Versions of the release specs shipped in ``builder/releases/`` (sorted)."""
    folder = resources.files("text2imu.builder").joinpath(RELEASES_FOLDER)
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml")))


def looks_like_spec_path(text: str) -> bool:
    """True when ``text`` names a spec file rather than a shipped version."""
    return text.endswith(".toml") or "/" in text or "\\" in text


def load_release(name_or_path: str | Path, *, check: bool = True) -> ReleaseSpec:
    """A release spec: a shipped version ("v0.1.0", from ``builder/releases/``) or a path to a spec ``.toml``.

    Args:
        name_or_path: version or file path.
        check: also check the corpus of every generator (names, prompt set, bundles; see module docstring).
    Raises:
        UnknownNameError for an unknown shipped version; FormatError naming the file for every problem in it.
    """
    text_arg = str(name_or_path)
    if isinstance(name_or_path, Path) or looks_like_spec_path(text_arg):
        path = Path(name_or_path)
        if not path.is_file():
            raise FormatError(f"{path}: no such release spec file")
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise FormatError(f"{path}: unreadable ({err})") from err
        release = parse_release(text, str(path), base_dir=path.resolve().parent)
    else:
        known = shipped_releases()
        if text_arg not in known:
            raise UnknownNameError("release", text_arg, known)
        res = resources.files("text2imu.builder").joinpath(RELEASES_FOLDER, f"{text_arg}.toml")
        source = f"builder/{RELEASES_FOLDER}/{text_arg}.toml"
        with resources.as_file(res) as real:
            base = Path(real).resolve().parent
        release = parse_release(res.read_text("utf-8"), source, base_dir=base)
        if release.version != text_arg:
            raise FormatError(f"{source}: version = '{release.version}', but the file is named {text_arg}.toml")
    if check:
        release.corpus_specs()
    return release


def _names(raw: Any, key: str, source: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise FormatError(f"{source}: '{key}' must be a list of names (strings), got {raw!r}")
    if not raw and not allow_empty:
        raise FormatError(f"{source}: '{key}' is empty")
    return tuple(x.strip() for x in raw)


def _positive_int(raw: Any, key: str, source: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise FormatError(f"{source}: '{key}' must be a positive integer, got {raw!r}")
    return raw


def parse_release(text: str, source: str, base_dir: Path | None = None) -> ReleaseSpec:
    """Parse and type-check the TOML text of a release spec (``source`` names it in messages; relative bundle and
    prompt-set paths are resolved against ``base_dir``). Names are checked later, by
    :meth:`ReleaseSpec.corpus_spec`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FormatError(f"{source}: not valid TOML ({err})") from err
    known = (*_REQUIRED, *_OPTIONAL)
    for key in raw:
        if key not in known:
            raise FormatError(f"{source}: {unknown_name_message('key', key, known)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise FormatError(f"{source}: missing key(s): {', '.join(missing)}")
    version = raw["version"]
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise FormatError(f"{source}: version must look like v1.2.3 (optionally v1.2.3-rc.1), got {version!r}")
    generators = _names(raw["generators"], "generators", source)
    for g in generators:
        if not GENERATOR_NAME_PATTERN.match(g):
            raise FormatError(f"{source}: '{g}' is not a usable generator/repository name")
    if len(set(generators)) != len(generators):
        raise FormatError(f"{source}: a generator is listed twice in 'generators'")
    base = base_dir or Path.cwd()

    def resolve(p: str) -> str:
        return str((base / p).resolve())

    bundles_raw = raw.get("bundles", {})
    if not isinstance(bundles_raw, dict) or not all(isinstance(v, str) and v for v in bundles_raw.values()):
        raise FormatError(f"{source}: [bundles] must map generator names to bundle folders (strings)")
    for g in bundles_raw:
        if g not in generators:
            raise FormatError(f"{source}: [bundles] names '{g}', which is not in 'generators'")
    prompt_set = raw["prompt_set"]
    if not isinstance(prompt_set, str) or not prompt_set:
        raise FormatError(f"{source}: 'prompt_set' must be a prompt set name or a .toml path")
    if prompt_set.endswith(".toml"):
        prompt_set = resolve(prompt_set)
    for key in ("method", "noise", "body_model", "description"):
        if key in raw and not isinstance(raw[key], str):
            raise FormatError(f"{source}: '{key}' must be a string, got {raw[key]!r}")
    seed = raw["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int | str) or seed == "" or (isinstance(seed, int) and seed < 0):
        raise FormatError(f"{source}: 'seed' must be a non-negative integer or a non-empty string, got {seed!r}")
    rate_hz = raw.get("rate_hz")
    if rate_hz is not None and (isinstance(rate_hz, bool) or not isinstance(rate_hz, int | float) or rate_hz <= 0):
        raise FormatError(f"{source}: 'rate_hz' must be a positive number, got {rate_hz!r}")
    refine = raw.get("refine", False)
    if not isinstance(refine, bool):
        raise FormatError(f"{source}: 'refine' must be true or false, got {refine!r}")
    return ReleaseSpec(
        version=version,
        source=source,
        generators=generators,
        prompt_set=prompt_set,
        repetitions=_positive_int(raw["repetitions"], "repetitions", source),
        shapes=_names(raw["shapes"], "shapes", source),
        sites=_names(raw["sites"], "sites", source),
        method=raw["method"],
        noise=raw["noise"],
        seed=seed,
        body_model=raw.get("body_model", "anny"),
        prompt_ids=_names(raw["prompts"], "prompts", source) if "prompts" in raw else None,
        rate_hz=None if rate_hz is None else float(rate_hz),
        refine=refine,
        rows_per_shard=_positive_int(raw.get("rows_per_shard", 10_000), "rows_per_shard", source),
        bundles=tuple((g, resolve(bundles_raw[g])) for g in generators if g in bundles_raw),
        description=raw.get("description", ""),
    )
