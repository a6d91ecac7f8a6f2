"""Text-to-motion generators: their metadata, the registry, third-party plugins and seeds.

A generator is declared by a :class:`GeneratorSpec` (name, version, license, reference, weights hash, frame rate,
GPU need) and implements the :class:`Generator` protocol: ``generate(prompt, repetition, seed) -> Motion``.

Built-ins are registered here (``kinematic``, the embedded default). Third-party generators are plugins: a
distribution declares an entry point in the group ``text2imu.generators``, e.g. in its pyproject::

    [project.entry-points."text2imu.generators"]
    mygen = "mygen_pkg.text2imu_plugin:MyGenerator"

The object it names is a Generator class (instantiated with no arguments when used), a Generator instance, or a
zero-argument factory; it must carry a ``spec`` whose ``name`` equals the entry-point name (classes and instances
expose it without being built; a bare factory is called once at discovery). Plugins are discovered lazily, the
first time the registry is consulted through :func:`get_generator` or :func:`available_generators`; a plugin
that fails to load is logged with its name and skipped (see :func:`plugin_errors`), never fatal. A plugin cannot
replace a built-in of the same name.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import Text2ImuError
from ..motion import Motion
from ..prompts import Prompt
from ..registry import Registry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "text2imu.generators"
SEED_DOMAIN = "text2imu-seed-v1"


@dataclass(frozen=True)
class GeneratorSpec:
    """What a generator is, for cards, leaderboards and provenance.

    Attributes:
        name: registry name (lower case, e.g. "kinematic", "mdm").
        version: the generator's version (of its code and weights).
        license: SPDX identifier of its code/weights license (the corpus takes the most restrictive one).
        reference: where it comes from (paper, repository or package path).
        weights_sha256: hex digest of its weights file, or None when it has no weights.
        fps: frame rate in Hz of the motions it produces.
        needs_gpu: True when it cannot run in reasonable time on a CPU.
        description: one line for listings.
    """

    name: str
    version: str
    license: str
    reference: str
    weights_sha256: str | None = None
    fps: float = 20.0
    needs_gpu: bool = False
    description: str = ""


@runtime_checkable
class Generator(Protocol):
    """A text-to-motion generator.

    ``generate`` turns one prompt into one motion. It must be a pure function of (prompt, repetition, seed):
    the same arguments give the same joints bit for bit on the same platform. ``seed`` is a non-negative
    integer below 2**63 (from :func:`derive_seed`); ``repetition`` counts the motions drawn for one prompt.
    """

    spec: GeneratorSpec

    def generate(self, prompt: Prompt, repetition: int, seed: int) -> Motion: ...


@dataclass(frozen=True)
class GeneratorEntry:
    """A registry entry: the spec, how to build the generator, and where it came from.

    Attributes:
        spec: the generator's spec.
        factory: zero-argument callable returning a :class:`Generator`.
        source: "builtin" or "plugin <distribution> (<entry point value>)".
    """

    spec: GeneratorSpec
    factory: Callable[[], Generator]
    source: str = "builtin"


GENERATORS: Registry[GeneratorEntry] = Registry("generator")
_plugin_errors: dict[str, str] = {}
_plugins_loaded = False


def register_generator(spec: GeneratorSpec, factory: Callable[[], Generator], *, source: str = "builtin",
                       registry: Registry[GeneratorEntry] | None = None) -> GeneratorEntry:
    """Add a generator to ``registry`` (default :data:`GENERATORS`); a name may be registered once."""
    if not isinstance(spec, GeneratorSpec):
        raise Text2ImuError(f"generator spec must be a GeneratorSpec, got {type(spec).__name__}")
    reg = GENERATORS if registry is None else registry
    return reg.register(spec.name, GeneratorEntry(spec=spec, factory=factory, source=source))


def _entry_from_plugin(name: str, obj: Any, source: str) -> GeneratorEntry:
    """Turn a loaded entry-point object into a registry entry (raises Text2ImuError when it is not usable)."""
    if isinstance(obj, type) or hasattr(obj, "spec"):
        target = obj  # a class (built on use) or an instance (used as is)
        factory: Callable[[], Generator] = obj if isinstance(obj, type) else (lambda: target)
    elif callable(obj):
        target = obj()  # a bare factory: build once to read its spec
        factory = lambda: target  # noqa: E731
    else:
        raise Text2ImuError(f"{obj!r} is neither a generator class, instance nor factory")
    spec = getattr(target, "spec", None)
    if not isinstance(spec, GeneratorSpec):
        raise Text2ImuError(f"has no GeneratorSpec 'spec' attribute (got {type(spec).__name__})")
    if spec.name != name:
        raise Text2ImuError(f"entry point name '{name}' differs from its spec name '{spec.name}'")
    if not callable(getattr(target, "generate", None)):
        raise Text2ImuError("has no generate() method")
    return GeneratorEntry(spec=spec, factory=factory, source=source)


def discover_plugins(registry: Registry[GeneratorEntry] | None = None) -> dict[str, str]:
    """Register the generators of the ``text2imu.generators`` entry points into ``registry``.

    Returns {plugin name: error message} for the plugins that were skipped (each is also logged as a warning).
    """
    reg = GENERATORS if registry is None else registry
    errors: dict[str, str] = {}
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as err:  # a broken installation must not stop the program
        log.warning("cannot list %s entry points: %s", ENTRY_POINT_GROUP, err)
        return {"*": str(err)}
    for ep in sorted(eps, key=lambda e: e.name):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        source = f"plugin {dist} ({ep.value})"
        if ep.name in reg:
            errors[ep.name] = f"a generator named '{ep.name}' is already registered ({reg[ep.name].source})"
        else:
            try:
                entry = _entry_from_plugin(ep.name, ep.load(), source)
                reg.register(ep.name, entry)
                log.debug("registered generator plugin %s from %s", ep.name, source)
                continue
            except Exception as err:  # any failure inside third-party code skips that plugin only
                errors[ep.name] = f"{type(err).__name__}: {err}"
        log.warning("skipping generator plugin '%s' from %s: %s", ep.name, source, errors[ep.name])
    return errors


def _ensure_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        _plugin_errors.update(discover_plugins(GENERATORS))


def available_generators() -> Registry[GeneratorEntry]:
    """The registry of built-in and plugin generators (plugins discovered on first use)."""
    _ensure_plugins()
    return GENERATORS


def plugin_errors() -> dict[str, str]:
    """{plugin name: why it was skipped} for the plugins that failed to load."""
    _ensure_plugins()
    return dict(_plugin_errors)


def get_generator(name: str) -> Generator:
    """A ready generator by name; ``Unknown generator 'kinematc'. Did you mean: kinematic?`` otherwise."""
    entry = available_generators()[name]
    gen = entry.factory()
    if not callable(getattr(gen, "generate", None)):
        raise Text2ImuError(f"generator '{name}' ({entry.source}) has no generate() method")
    return gen


def derive_seed(*parts: str | int | None) -> int:
    """A stable seed in [0, 2**63) from ``parts``, e.g. (release, generator, prompt_id, repetition, shape, site).

    The parts (str, int or None; not bool or float) are written as the canonical JSON array
    ``json.dumps([SEED_DOMAIN, *parts], separators=(",", ":"), ensure_ascii=True)``; the seed is the first 8 bytes
    of its SHA-256 digest read as a big-endian integer, with the top bit cleared. The same parts give the same
    seed on every platform and Python version; ``("a", 1)`` and ``("a", "1")`` differ.
    """
    for p in parts:
        if p is not None and (isinstance(p, bool) or not isinstance(p, str | int)):
            raise Text2ImuError(f"seed parts must be str, int or None, got {type(p).__name__} {p!r}")
    text = json.dumps([SEED_DOMAIN, *parts], separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(text.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def _register_builtins() -> None:
    from .external_mdm import MDM_SPEC, MdmGenerator
    from .external_momask import MOMASK_SPEC, MomaskGenerator
    from .external_remodiffuse import REMODIFFUSE_SPEC, RemodiffuseGenerator
    from .external_t2m_gpt import T2M_GPT_SPEC, T2mGptGenerator
    from .files import FILES_SPEC, FilesGenerator
    from .kinematic import KINEMATIC_SPEC, KinematicGenerator

    register_generator(KINEMATIC_SPEC, KinematicGenerator)
    register_generator(FILES_SPEC, FilesGenerator)
    register_generator(MDM_SPEC, MdmGenerator)
    register_generator(MOMASK_SPEC, MomaskGenerator)
    register_generator(T2M_GPT_SPEC, T2mGptGenerator)
    register_generator(REMODIFFUSE_SPEC, RemodiffuseGenerator)
    from ..diffusion.generator import DIFFUSION_SPEC, DiffusionGenerator  # checkpoint from its env variable

    register_generator(DIFFUSION_SPEC, DiffusionGenerator)


_register_builtins()

__all__ = [
    "ENTRY_POINT_GROUP",
    "GENERATORS",
    "Generator",
    "GeneratorEntry",
    "GeneratorSpec",
    "available_generators",
    "derive_seed",
    "discover_plugins",
    "get_generator",
    "plugin_errors",
    "register_generator",
]
