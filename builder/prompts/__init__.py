"""Prompt sets: versioned activity prompts as data files, their loader and their hash.

A prompt set lives in this package as ``<version>.toml`` (``v1.toml`` is the official set of protocol v1)::

    version = "v1"
    description = "..."            # optional

    [[prompts]]
    prompt_id = "walking-01"       # stable id: datasets and results refer to it
    activity = "walking"           # one of ACTIVITIES
    text = "A person walks forward at a normal pace for about eight seconds."

Hash (:attr:`PromptSet.sha256`): the SHA-256 hex digest of the UTF-8 bytes of the canonical JSON serialisation

    json.dumps({"version": version, "prompts": [{"activity": a, "prompt_id": i, "text": t}, ...]},
               sort_keys=True, separators=(",", ":"), ensure_ascii=False)

with the prompts sorted by ``prompt_id`` (code-point order) and every text stripped and Unicode-NFC normalised.
It depends only on the prompts, never on the file's layout, comments, quoting, line endings or platform, so two
copies of a set hash alike wherever they are loaded; any change to an id, activity or text changes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import FormatError, UnknownNameError
from ..vocab import ACTIVITIES  # the RealWorld eight (re-exported here)

DEFAULT_PROMPT_SET = "v1"
_FIELDS = ("prompt_id", "activity", "text")
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Prompt:
    """One activity prompt.

    Attributes:
        prompt_id: stable id, e.g. "walking-03" (lower case letters, digits, ``_ . -``).
        activity: one of :data:`~text2imu.builder.vocab.ACTIVITIES`.
        text: the sentence given to a text-to-motion generator.
    """

    prompt_id: str
    activity: str
    text: str


@dataclass(frozen=True)
class PromptSet:
    """A versioned set of prompts.

    Attributes:
        version: the set's name, e.g. "v1".
        prompts: the prompts sorted by ``prompt_id``.
        sha256: hex digest of the canonical serialisation (module docstring).
        description: free text from the file.
    """

    version: str
    prompts: tuple[Prompt, ...]
    sha256: str
    description: str = ""

    def __len__(self) -> int:
        return len(self.prompts)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.prompts)

    def get(self, prompt_id: str) -> Prompt:
        """The prompt with this id (UnknownNameError with suggestions otherwise)."""
        for p in self.prompts:
            if p.prompt_id == prompt_id:
                return p
        raise UnknownNameError("prompt", prompt_id, (p.prompt_id for p in self.prompts))

    def by_activity(self, activity: str) -> tuple[Prompt, ...]:
        """The prompts of one activity, in id order."""
        if activity not in ACTIVITIES:
            raise UnknownNameError("activity", activity, ACTIVITIES)
        return tuple(p for p in self.prompts if p.activity == activity)


def canonical_bytes(version: str, prompts: tuple[Prompt, ...] | list[Prompt]) -> bytes:
    """The canonical serialisation that :func:`prompt_set_sha256` hashes (see the module docstring)."""
    items = [
        {"activity": p.activity, "prompt_id": p.prompt_id, "text": unicodedata.normalize("NFC", p.text.strip())}
        for p in sorted(prompts, key=lambda p: p.prompt_id)
    ]
    doc = {"version": version, "prompts": items}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def prompt_set_sha256(version: str, prompts: tuple[Prompt, ...] | list[Prompt]) -> str:
    """SHA-256 hex digest of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(version, prompts)).hexdigest()


def available_prompt_sets() -> tuple[str, ...]:
    """Names of the prompt sets shipped in this package, e.g. ("v1",)."""
    return tuple(
        sorted(f.name[: -len(".toml")] for f in resources.files(__package__).iterdir() if f.name.endswith(".toml"))
    )


@cache
def load_prompt_set(name: str = DEFAULT_PROMPT_SET) -> PromptSet:
    """Load a shipped prompt set by name ("v1"); UnknownNameError with "did you mean" for other names."""
    known = available_prompt_sets()
    if name not in known:
        raise UnknownNameError("prompt set", name, known)
    res = resources.files(__package__).joinpath(f"{name}.toml")
    pset = parse_prompt_set(res.read_text("utf-8"), source=f"text2imu/builder/prompts/{name}.toml")
    if pset.version != name:
        raise FormatError(
            f"text2imu/builder/prompts/{name}.toml: version is '{pset.version}', expected '{name}'")
    return pset


def load_prompt_file(path: str | Path) -> PromptSet:
    """Load a prompt set from a TOML file in the layout of the module docstring (user-supplied sets)."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err})") from err
    return parse_prompt_set(text, source=str(path))


def parse_prompt_set(text: str, source: str) -> PromptSet:
    """Parse and check the TOML text of a prompt set; every problem raises FormatError naming ``source``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FormatError(f"{source}: not valid TOML ({err})") from err
    if not raw:
        raise FormatError(f"{source}: is empty (expected a 'version' and [[prompts]] tables)")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise FormatError(f"{source}: missing top-level 'version' (a string such as \"v1\")")
    unknown_top = sorted(set(raw) - {"version", "description", "prompts"})
    if unknown_top:
        raise FormatError(f"{source}: unknown top-level key(s) {', '.join(unknown_top)}")
    entries = raw.get("prompts")
    if not entries:
        raise FormatError(f"{source}: holds no prompts (expected [[prompts]] tables)")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise FormatError(f"{source}: 'prompts' must be an array of tables ([[prompts]])")
    prompts = [_parse_prompt(entry, i, source) for i, entry in enumerate(entries)]
    seen: dict[str, int] = {}
    for i, p in enumerate(prompts):
        if p.prompt_id in seen:
            raise FormatError(
                f"{source}: duplicate prompt_id '{p.prompt_id}' (prompts {seen[p.prompt_id]} and {i})")
        seen[p.prompt_id] = i
    ordered = tuple(sorted(prompts, key=lambda p: p.prompt_id))
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise FormatError(f"{source}: 'description' must be a string")
    return PromptSet(version=version, prompts=ordered, sha256=prompt_set_sha256(version, ordered),
                     description=description)


def _parse_prompt(entry: Mapping[str, Any], index: int, source: str) -> Prompt:
    where = f"{source}: prompt {index}"
    if "prompt_id" in entry:
        where += f" ('{entry['prompt_id']}')"
    missing = [f for f in _FIELDS if f not in entry]
    if missing:
        raise FormatError(f"{where}: missing field(s) {', '.join(missing)}")
    extra = sorted(set(entry) - set(_FIELDS))
    if extra:
        raise FormatError(f"{where}: unknown field(s) {', '.join(extra)} (allowed: {', '.join(_FIELDS)})")
    for f in _FIELDS:
        if not isinstance(entry[f], str) or not entry[f].strip():
            raise FormatError(f"{where}: '{f}' must be a non-empty string")
    pid, activity = entry["prompt_id"], entry["activity"]
    if not _ID_PATTERN.match(pid):
        raise FormatError(f"{where}: prompt_id must be lower case letters, digits and _ . - (got '{pid}')")
    if activity not in ACTIVITIES:
        hint = UnknownNameError("activity", activity, ACTIVITIES)
        raise FormatError(f"{where}: {hint}")
    return Prompt(prompt_id=pid, activity=activity, text=unicodedata.normalize("NFC", entry["text"].strip()))
