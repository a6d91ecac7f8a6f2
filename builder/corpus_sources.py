"""Where a corpus gets its motions: a registered generator run in-process, or a motions bundle folder.

A source is a small picklable object (it travels to pool and Dask workers) with

- ``identity() -> dict``: JSON facts that name it (kind, generator name, version, weights hash, license, ...);
- ``generator_spec() -> GeneratorSpec``: the generator's metadata for rows and the card;
- ``motion(prompt, repetition, seed) -> Motion``: the motion of one (prompt, repetition).

Workers build the heavy part (the generator instance, the opened bundle) once per process and keep it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import FormatError, Text2ImuError
from .generators import GeneratorSpec, available_generators, get_generator
from .motion import Motion
from .prompts import Prompt


@runtime_checkable
class MotionSource(Protocol):
    def identity(self) -> dict: ...

    def generator_spec(self) -> GeneratorSpec: ...

    def motion(self, prompt: Prompt, repetition: int, seed: int) -> Motion: ...


@cache
def _generator(name: str):
    return get_generator(name)


@dataclass(frozen=True)
class GeneratorSource:
    """Motions drawn in-process from the registered generator ``name`` (seeded per prompt and repetition)."""

    name: str

    def generator_spec(self) -> GeneratorSpec:
        return available_generators()[self.name].spec

    def identity(self) -> dict:
        s = self.generator_spec()
        return {"kind": "generator", "name": s.name, "version": s.version, "license": s.license,
                "weights_sha256": s.weights_sha256, "reference": s.reference}

    def motion(self, prompt: Prompt, repetition: int, seed: int) -> Motion:
        return _generator(self.name).generate(prompt, repetition, seed)


def _bundle_module():
    try:
        from . import bundle
    except ImportError as err:  # pragma: no cover - depends on the installed version
        raise Text2ImuError(f"motion bundles are not supported by this version of text2imu ({err})") from err
    return bundle


@cache
def _open_bundle(path: str, check: bool = False):
    """The bundle at ``path`` (cached per process). ``check``: first validate every file and motion deeply
    (hashes, shapes, finiteness, plausibility) and raise FormatError naming the first problem."""
    mod = _bundle_module()
    if not Path(path).is_dir():
        raise FormatError(f"{path}: no such motions bundle folder")
    if check:
        problems = mod.validate_bundle(path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise FormatError(f"{path}: not a usable motions bundle: {problems[0]}{more}")
    return mod.read_bundle(path, check_hashes=check)


@dataclass(frozen=True)
class BundleSource:
    """Motions read from a motions bundle folder (:mod:`text2imu.builder.bundle`); ``seed`` is not used.

    The bundle is validated deeply once (:func:`validate_bundle`) in the process that plans the build; workers
    open it without re-hashing.
    """

    path: str

    def _bundle(self):
        return _open_bundle(self.path)

    def generator_spec(self) -> GeneratorSpec:
        spec = self._bundle().spec
        if not isinstance(spec, GeneratorSpec):
            raise FormatError(f"{self.path}: the bundle names no generator spec")
        return spec

    def identity(self) -> dict:
        b, s = self._bundle(), self.generator_spec()
        from .bundle import BUNDLE_FILE, sha256_file

        return {"kind": "bundle", "name": s.name, "version": s.version, "license": s.license,
                "weights_sha256": s.weights_sha256, "reference": s.reference,
                "prompt_set_version": b.prompt_set_version, "prompt_set_sha256": b.prompt_set_sha256,
                "repetitions": int(b.repetitions), "bundle_sha256": sha256_file(Path(self.path) / BUNDLE_FILE)}

    def motion(self, prompt: Prompt, repetition: int, seed: int) -> Motion:
        return self._bundle().motion(prompt.prompt_id, repetition)


def bundle_prompt_set(path: str):
    """The prompt set a bundle was made from (validates the bundle deeply the first time)."""
    return _open_bundle(str(path), True).prompt_set


def looks_like_path(text: str) -> bool:
    """True when ``text`` names a file system path rather than a registry name."""
    return os.sep in text or "/" in text or text.startswith(".") or Path(text).exists()


def bundle_facts(path: str | Path) -> dict:
    """{generator, prompt_set, repetitions} of the bundle at ``path`` (FormatError when it is not a usable one)."""
    b = _open_bundle(str(path), True)
    return {"generator": b.spec.name, "prompt_set": b.prompt_set_version, "repetitions": int(b.repetitions)}


def source_for(spec) -> MotionSource:
    """The source of a normalised :class:`~text2imu.builder.corpus_spec.CorpusSpec`, checked against it.

    A bundle must hold the spec's generator and at least ``spec.repetitions`` repetitions per prompt (its prompt
    set is the spec's, see :func:`~text2imu.builder.corpus_spec.prompt_set_of`).
    """
    if spec.bundle is None:
        return GeneratorSource(spec.generator)
    b = _open_bundle(str(spec.bundle), True)
    if b.spec.name != spec.generator:
        raise Text2ImuError(f"{spec.bundle}: the bundle holds generator '{b.spec.name}', not '{spec.generator}'")
    if spec.repetitions > b.repetitions:
        raise Text2ImuError(
            f"{spec.bundle}: holds {b.repetitions} repetitions per prompt, {spec.repetitions} asked for")
    return BundleSource(str(spec.bundle))
