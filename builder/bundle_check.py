"""The checks behind :func:`~text2imu.builder.bundle.read_bundle` and :func:`~text2imu.builder.bundle.validate_bundle`.

:func:`inspect_bundle` parses a bundle folder and collects every problem it finds as a sentence instead of raising,
so that a submitter sees all of them at once. Nothing in a bundle is executed or unpickled: JSON is parsed with
:mod:`json`, arrays are read with ``allow_pickle=False`` after their ``.npy`` header has been checked.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    MANIFEST_FIELDS,
    MANIFEST_FILE,
    MAX_BUNDLE_BYTES,
    MAX_FRAMES,
    MAX_JSON_BYTES,
    README_FILE,
    BundleEntry,
    missing_summary,
    motion_path,
    sha256_bytes,
    sha256_file,
)
from .errors import FormatError
from .formats.joints import npy_header
from .generators import GeneratorSpec
from .motion import MIN_FRAMES, motion_problems
from .prompts import _ID_PATTERN as PROMPT_ID_PATTERN
from .prompts import Prompt, PromptSet, prompt_set_sha256
from .skeleton import N_JOINTS
from .vocab import ACTIVITIES

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_LISTED = 20  # unexpected files listed one by one before summarising


def _finite_positive(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_json_file(file: Path, problems: list[str]) -> bytes | None:
    if file.is_symlink() or not file.is_file():
        problems.append(f"{file.name} is missing")
        return None
    size = file.stat().st_size
    if size > MAX_JSON_BYTES:
        problems.append(f"{file.name} is {size} bytes (limit {MAX_JSON_BYTES})")
        return None
    return file.read_bytes()


def parse_spec(raw: Any, problems: list[str]) -> GeneratorSpec | None:
    """bundle.json ``generator`` -> GeneratorSpec (problems appended; None when unusable)."""
    if not isinstance(raw, dict):
        problems.append("bundle.json: 'generator' must be an object")
        return None
    fields = set(GeneratorSpec.__dataclass_fields__)
    bad = len(problems)
    extra = sorted(set(raw) - fields)
    if extra:
        problems.append(f"bundle.json: unknown generator field(s) {', '.join(extra)}")
    for key in ("name", "version", "license", "reference"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"bundle.json: generator '{key}' must be a non-empty string")
    weights = raw.get("weights_sha256")
    if weights is not None and not (isinstance(weights, str) and HEX64.match(weights)):
        problems.append("bundle.json: generator 'weights_sha256' must be 64 lower-case hex digits or null")
    if not _finite_positive(raw.get("fps", 20.0)):
        problems.append("bundle.json: generator 'fps' must be a positive number")
    if not isinstance(raw.get("needs_gpu", False), bool) or not isinstance(raw.get("description", ""), str):
        problems.append("bundle.json: generator 'needs_gpu' must be true/false and 'description' a string")
    if len(problems) > bad:
        return None
    return GeneratorSpec(**{k: raw[k] for k in fields if k in raw})


def parse_prompt_set_doc(raw: Any, problems: list[str]) -> PromptSet | None:
    """bundle.json ``prompt_set`` -> PromptSet, its sha256 recomputed and compared (problems appended)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("prompts"), list) or not raw["prompts"]:
        problems.append("bundle.json: 'prompt_set' must be an object with a non-empty 'prompts' list")
        return None
    version, sha = raw.get("version"), raw.get("sha256")
    if not isinstance(version, str) or not version or not isinstance(sha, str):
        problems.append("bundle.json: 'prompt_set' needs a 'version' and a 'sha256' string")
        return None
    prompts, seen = [], set()
    for i, p in enumerate(raw["prompts"]):
        ok = (isinstance(p, dict) and set(p) == {"prompt_id", "activity", "text"}
              and all(isinstance(p[k], str) and p[k].strip() for k in p))
        if not ok:
            problems.append(f"bundle.json: prompt {i} must have exactly prompt_id, activity and text strings")
            return None
        if not PROMPT_ID_PATTERN.match(p["prompt_id"]) or p["prompt_id"] in seen:
            problems.append(f"bundle.json: prompt {i} has an invalid or repeated prompt_id {p['prompt_id']!r}")
            return None
        if p["activity"] not in ACTIVITIES:
            problems.append(f"bundle.json: prompt {p['prompt_id']} has unknown activity {p['activity']!r}")
            return None
        seen.add(p["prompt_id"])
        prompts.append(Prompt(p["prompt_id"], p["activity"], p["text"]))
    ordered = tuple(sorted(prompts, key=lambda p: p.prompt_id))
    actual = prompt_set_sha256(version, ordered)
    if actual != sha:
        problems.append(f"bundle.json: prompt set sha256 {sha} does not match its prompts ({actual})")
        return None
    description = raw.get("description", "")
    return PromptSet(version=version, prompts=ordered, sha256=actual,
                     description=description if isinstance(description, str) else "")


def parse_manifest_line(line: str, number: int, prompts: set[str], repetitions: int,
                        problems: list[str]) -> BundleEntry | None:
    where = f"manifest.jsonl line {number}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        problems.append(f"{where}: not JSON ({err.msg})")
        return None
    if not isinstance(raw, dict) or set(raw) != set(MANIFEST_FIELDS):
        keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        problems.append(f"{where}: must have exactly the fields {', '.join(MANIFEST_FIELDS)} (got {keys})")
        return None
    pid, rep = raw["prompt_id"], raw["repetition"]
    before = len(problems)
    if not isinstance(pid, str) or pid not in prompts:
        problems.append(f"{where}: prompt_id {pid!r} is not in the bundle's prompt set")
    if not _is_int(rep) or not 0 <= rep < repetitions:
        problems.append(f"{where}: repetition {rep!r} is not in 0..{repetitions - 1}")
    if len(problems) == before and raw["path"] != motion_path(pid, rep):
        problems.append(f"{where}: path {raw['path']!r} must be {motion_path(pid, rep)!r}")
    if not _is_int(raw["n_frames"]) or not MIN_FRAMES <= raw["n_frames"] <= MAX_FRAMES:
        problems.append(f"{where}: n_frames {raw['n_frames']!r} is not in {MIN_FRAMES}..{MAX_FRAMES}")
    if not _finite_positive(raw["fps"]):
        problems.append(f"{where}: fps {raw['fps']!r} is not a positive number")
    if not isinstance(raw["sha256"], str) or not HEX64.match(raw["sha256"]):
        problems.append(f"{where}: sha256 must be 64 lower-case hex digits")
    if raw["seed"] is not None and not _is_int(raw["seed"]):
        problems.append(f"{where}: seed must be an integer or null")
    if len(problems) > before:
        return None
    return BundleEntry(pid, rep, raw["path"], raw["n_frames"], float(raw["fps"]), raw["sha256"], raw["seed"])


def check_motion_file(file: Path, entry: BundleEntry, problems: list[str]) -> None:
    """Header (float32 (T, 22, 3), T as in the manifest), then values (finite, Motion.problems())."""
    name = entry.path
    try:
        shape, dtype = npy_header(file)
    except FormatError:
        problems.append(f"{name}: not a .npy file")
        return
    if dtype != np.float32 or len(shape) != 3 or shape[1:] != (N_JOINTS, 3):
        problems.append(f"{name}: holds {dtype} {shape}; expected float32 (T, {N_JOINTS}, 3)")
        return
    if shape[0] != entry.n_frames:
        problems.append(f"{name}: holds {shape[0]} frames, the manifest says {entry.n_frames}")
        return
    try:
        joints = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        problems.append(f"{name}: cannot be read ({err})")
        return
    for p in motion_problems(joints, entry.fps):
        problems.append(f"{name} ({entry.prompt_id} repetition {entry.repetition}): {p}")


def inspect_bundle(path: Path, *, check_hashes: bool, deep: bool,
                   prompt_set: PromptSet | None = None) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse the bundle at ``path``; return (parsed fields or None, problems).

    ``deep`` adds the per-file content checks of :func:`check_motion_file`, the README and unlisted-file checks;
    ``check_hashes`` compares every file's sha256 with the manifest; ``prompt_set`` must then equal the bundle's.
    """
    problems: list[str] = []
    if not path.is_dir():
        return None, [f"{path} is not a folder"]
    data = _read_json_file(path / BUNDLE_FILE, problems)
    if data is None:
        return None, problems
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, [f"bundle.json: not UTF-8 JSON ({err})"]
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        return None, [f"bundle.json: 'format' must be {BUNDLE_FORMAT!r}"]
    if doc.get("format_version") != BUNDLE_FORMAT_VERSION:
        return None, [f"bundle.json: format_version {doc.get('format_version')!r} is not supported "
                      f"(this text2imu reads {BUNDLE_FORMAT_VERSION})"]
    spec = parse_spec(doc.get("generator"), problems)
    pset = parse_prompt_set_doc(doc.get("prompt_set"), problems)
    repetitions, fps = doc.get("repetitions"), doc.get("fps")
    if not _is_int(repetitions) or repetitions < 1:
        problems.append(f"bundle.json: repetitions must be an integer >= 1, got {repetitions!r}")
    if not _finite_positive(fps):
        problems.append(f"bundle.json: fps must be a positive number, got {fps!r}")
    if not isinstance(doc.get("options", {}), dict) or not isinstance(doc.get("created_by", ""), str):
        problems.append("bundle.json: 'options' must be an object and 'created_by' a string")
    if problems or spec is None or pset is None:
        return None, problems
    if prompt_set is not None and pset.sha256 != prompt_set.sha256:
        problems.append(f"the bundle's prompt set {pset.version} (sha256 {pset.sha256[:12]}...) is not the "
                        f"expected {prompt_set.version} (sha256 {prompt_set.sha256[:12]}...)")

    manifest = _read_json_file(path / MANIFEST_FILE, problems)
    if manifest is None:
        return None, problems
    if sha256_bytes(manifest) != doc.get("manifest_sha256"):
        problems.append("manifest.jsonl does not match the manifest_sha256 in bundle.json")
    try:
        lines = manifest.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None, [*problems, "manifest.jsonl is not UTF-8"]
    ids = {p.prompt_id for p in pset}
    entries: dict[tuple[str, int], BundleEntry] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        e = parse_manifest_line(line, number, ids, repetitions, problems)
        if e is not None:
            if (e.prompt_id, e.repetition) in entries:
                problems.append(f"manifest.jsonl line {number}: {e.prompt_id} repetition {e.repetition} repeats")
            entries[(e.prompt_id, e.repetition)] = e
    if doc.get("n_motions") != len(entries):
        problems.append(f"bundle.json: n_motions {doc.get('n_motions')!r} but the manifest lists {len(entries)}")
    missing = [(p.prompt_id, r) for p in pset for r in range(repetitions) if (p.prompt_id, r) not in entries]
    if missing:
        problems.append(f"{len(missing)} of {len(ids) * repetitions} motions are missing from the manifest: "
                        f"{missing_summary(missing)}")

    total = 0
    root = path.resolve()
    for e in entries.values():
        file = path / e.path
        if file.is_symlink() or not file.is_file() or not file.resolve().is_relative_to(root):
            problems.append(f"{e.path}: missing (or not a regular file)")
            continue
        total += file.stat().st_size
        if check_hashes and sha256_file(file) != e.sha256:
            problems.append(f"{e.path}: sha256 does not match the manifest")
            continue
        if deep:
            check_motion_file(file, e, problems)
    if total > MAX_BUNDLE_BYTES:
        problems.append(f"the motion files total {total} bytes; the limit is {MAX_BUNDLE_BYTES}")
    if deep:
        if not (path / README_FILE).is_file():
            problems.append("README.md (the generator card) is missing")
        allowed = {BUNDLE_FILE, MANIFEST_FILE, README_FILE, *(e.path for e in entries.values())}
        extra = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                       if not p.is_dir() and p.relative_to(path).as_posix() not in allowed)
        for name in extra[:MAX_LISTED]:
            problems.append(f"{name}: not listed in the manifest")
        if len(extra) > MAX_LISTED:
            problems.append(f"... and {len(extra) - MAX_LISTED} more unlisted files")
    parsed = {"spec": spec, "prompt_set": pset, "repetitions": repetitions, "fps": float(fps),
              "entries": tuple(entries[k] for k in sorted(entries)), "options": doc.get("options", {}),
              "created_by": doc.get("created_by", "")}
    return parsed, problems
