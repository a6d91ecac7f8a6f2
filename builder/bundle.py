"""Motions bundles: the folder of generated motions that corpora are built from and submissions hand in.

A bundle holds one motion per (prompt, repetition) of a prompt set (docs/bundle.md is the reference)::

    <bundle>/
      bundle.json                      format, generator spec, prompt set (version, sha256, prompts), repetitions,
                                       fps, options (how it was made), created_by, sha256 of manifest.jsonl
      manifest.jsonl                   one JSON object per motion, sorted by (prompt_id, repetition):
                                       prompt_id, repetition, path, n_frames, fps, sha256, seed
      motions/<prompt_id>/<repetition>.npy   float32 (T, 22, 3) joint positions, metres, y-up (HumanML3D order)
      README.md                        the generator card, rendered from text2imu/cards/motions_bundle.md

Determinism: no timestamps or absolute paths; JSON with sorted keys; ``.npy`` files in format version 1.0. The
same generator, prompts, repetitions and seeds give byte-identical bundles.

Writing (:func:`write_bundle`) goes to a temporary folder beside the target that is moved into place only when
everything is written and checked, so a failure never leaves a half-written bundle. Reading (:func:`read_bundle`)
checks structure and, by default, every file's sha256. :func:`validate_bundle` lists every problem of a bundle
(coverage of the prompt set, files, hashes, shapes, finiteness, plausibility, size limits) without raising; it never
unpickles anything or runs any code from the bundle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FormatError, MotionError, Text2ImuError, UnknownNameError
from .generators import GeneratorSpec
from .motion import Motion
from .output import sha256_file  # noqa: F401  (re-exported)
from .prompts import PromptSet
from .skeleton import N_JOINTS

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "text2imu-motions"
BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
MANIFEST_FILE = "manifest.jsonl"
README_FILE = "README.md"
MOTIONS_DIR = "motions"
MAX_FRAMES = 2000  # per motion: 100 s at 20 fps, ten times the longest HumanML3D clip
MAX_BUNDLE_BYTES = 1 << 30  # 1 GiB of motion files in all (80 prompts x 10 repetitions x 200 frames ~ 42 MB)
MAX_JSON_BYTES = 64 << 20  # bundle.json and manifest.jsonl, each
MANIFEST_FIELDS = ("prompt_id", "repetition", "path", "n_frames", "fps", "sha256", "seed")


@dataclass(frozen=True)
class BundleEntry:
    """One line of ``manifest.jsonl``.

    Attributes:
        prompt_id: the prompt's id in the bundle's prompt set.
        repetition: 0-based draw index for the prompt.
        path: file path relative to the bundle, always ``motions/<prompt_id>/<repetition>.npy``.
        n_frames: number of frames T of the (T, 22, 3) array.
        fps: frame rate in Hz.
        sha256: hex digest of the file's bytes.
        seed: the seed the generator was given, or None when unknown (imported motions).
    """

    prompt_id: str
    repetition: int
    path: str
    n_frames: int
    fps: float
    sha256: str
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in MANIFEST_FIELDS}


@dataclass(frozen=True)
class Bundle:
    """A bundle read by :func:`read_bundle` (or returned by :func:`write_bundle`).

    Iterating yields ``(prompt_id, repetition, Motion)`` in manifest order, the same items :func:`write_bundle`
    takes, so ``write_bundle(out, b.spec, b.prompt_set, b)`` copies a bundle.

    Attributes:
        path: the bundle folder.
        spec: the generator's spec as recorded (weights hash, license, ...).
        prompt_set_version: e.g. "v1".
        prompt_set_sha256: hash of the prompt set (:attr:`PromptSet.sha256`).
        repetitions: motions per prompt.
        entries: the manifest, sorted by (prompt_id, repetition).
        prompt_set: the prompts themselves (texts and activities), as stored in bundle.json.
        fps: the generator's nominal frame rate in Hz (each entry carries its own).
        options: how the bundle was made (generator options, base seed, command), as recorded.
        created_by: "text2imu <version>".
    """

    path: Path
    spec: GeneratorSpec
    prompt_set_version: str
    prompt_set_sha256: str
    repetitions: int
    entries: tuple[BundleEntry, ...]
    prompt_set: PromptSet
    fps: float
    options: Mapping[str, Any] = field(default_factory=dict)
    created_by: str = ""
    _index: Mapping[tuple[str, int], BundleEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(e.prompt_id, e.repetition): e for e in self.entries})

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[tuple[str, int, Motion]]:
        for e in self.entries:
            yield e.prompt_id, e.repetition, self.motion(e.prompt_id, e.repetition)

    def entry(self, prompt_id: str, repetition: int) -> BundleEntry:
        """The manifest entry of one motion (UnknownNameError when the bundle has none)."""
        try:
            return self._index[(prompt_id, int(repetition))]
        except KeyError:
            raise UnknownNameError(
                f"motion of {self.path}", f"{prompt_id}/{repetition}",
                (f"{e.prompt_id}/{e.repetition}" for e in self.entries)) from None

    def motion(self, prompt_id: str, repetition: int) -> Motion:
        """Load one motion: (T, 22, 3) float32 metres at the entry's fps, with its prompt text and provenance."""
        e = self.entry(prompt_id, repetition)
        file = self.path / e.path
        joints = load_motion_array(file)
        if joints.shape[0] != e.n_frames:
            raise FormatError(f"{file}: holds {joints.shape[0]} frames, the manifest says {e.n_frames}")
        meta = {"prompt_id": e.prompt_id, "repetition": e.repetition, "seed": e.seed,
                "generator": self.spec.name, "generator_version": self.spec.version, "source": str(file)}
        return Motion(joints, fps=e.fps, prompt=self.prompt_set.get(prompt_id).text, metadata=meta)


# ---------------------------------------------------------------------------------------------------------------
# Bytes


def motion_path(prompt_id: str, repetition: int) -> str:
    """The canonical relative path of a motion file: ``motions/<prompt_id>/<repetition>.npy``."""
    return f"{MOTIONS_DIR}/{prompt_id}/{int(repetition)}.npy"


def npy_bytes(joints_m: np.ndarray) -> bytes:
    """(T, 22, 3) positions -> the bytes of a float32 ``.npy`` file (format version 1.0, C order)."""
    buf = io.BytesIO()
    arr = np.ascontiguousarray(joints_m, dtype=np.float32)
    np.lib.format.write_array(buf, arr, version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def json_bytes(doc: Any) -> bytes:
    """Canonical pretty JSON (sorted keys, two-space indent, UTF-8, final newline)."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def manifest_bytes(entries: Iterable[BundleEntry]) -> bytes:
    """``manifest.jsonl``: one compact JSON object per entry with sorted keys, in the given order."""
    lines = [json.dumps(e.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False) for e in entries]
    return ("\n".join(lines) + "\n").encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_motion_array(file: Path) -> np.ndarray:
    """A bundle's ``.npy`` -> (T, 22, 3) float32, read without pickle; FormatError naming the file otherwise."""
    try:
        arr = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise FormatError(f"{file}: cannot read as a float32 .npy array ({err})") from err
    if arr.dtype != np.float32 or arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise FormatError(f"{file}: holds {arr.dtype} {tuple(arr.shape)}; a bundle motion is float32 (T, 22, 3)")
    return arr


def spec_to_json(spec: GeneratorSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def prompt_set_to_json(prompt_set: PromptSet) -> dict[str, Any]:
    return {
        "version": prompt_set.version,
        "sha256": prompt_set.sha256,
        "description": prompt_set.description,
        "prompts": [{"prompt_id": p.prompt_id, "activity": p.activity, "text": p.text} for p in prompt_set],
    }


# ---------------------------------------------------------------------------------------------------------------
# Writing


def _unpack(item: Any) -> tuple[str, int, Any, int | None]:
    if not isinstance(item, tuple | list) or len(item) not in (3, 4):
        raise Text2ImuError(f"bundle items are (prompt_id, repetition, Motion[, seed]) tuples, got {item!r:.80}")
    pid, rep, motion = item[0], item[1], item[2]
    seed = item[3] if len(item) == 4 else None
    if isinstance(rep, bool) or not isinstance(rep, int | np.integer) or rep < 0:
        raise Text2ImuError(f"{pid}: repetition must be an integer >= 0, got {rep!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise Text2ImuError(f"{pid} repetition {rep}: seed must be an integer or None, got {seed!r}")
    return str(pid), int(rep), motion, None if seed is None else int(seed)


def _check_motion(pid: str, rep: int, motion: Any) -> None:
    where = f"{pid} repetition {rep}"
    if not isinstance(motion, Motion):
        shape = getattr(motion, "shape", None)
        what = f"{type(motion).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")
        raise MotionError(f"{where}: got a {what}; expected a Motion with joints (T, {N_JOINTS}, 3)")
    if motion.n_frames > MAX_FRAMES:
        raise MotionError(f"{where}: {motion.n_frames} frames; a bundle motion has at most {MAX_FRAMES}")
    problems = motion.problems()
    if problems:
        raise MotionError(f"{where}: invalid motion: " + "; ".join(problems))


def missing_summary(missing: list[tuple[str, int]], limit: int = 8) -> str:
    """``walking-01 rep 0, walking-02 rep 1 and 3 more`` for a list of (prompt_id, repetition)."""
    shown = ", ".join(f"{p} rep {r}" for p, r in missing[:limit])
    return shown + (f" and {len(missing) - limit} more" if len(missing) > limit else "")


def check_bundle_target(out: Path, force: bool) -> None:
    """Refuse an existing ``out`` unless ``force``; with ``force`` only an empty folder or a bundle is replaced."""
    if not out.exists():
        return
    if not force:
        raise Text2ImuError(f"{out} exists; pass --force to replace it")
    if not out.is_dir() or (any(out.iterdir()) and not (out / BUNDLE_FILE).is_file()):
        raise Text2ImuError(f"{out} exists and is not a motions bundle; refusing to replace it even with --force")


def write_bundle(out_dir: str | Path, spec: GeneratorSpec, prompt_set: PromptSet,
                 items: Iterable[tuple], *, force: bool = False, repetitions: int | None = None,
                 options: Mapping[str, Any] | None = None) -> Bundle:
    """Write a bundle of one motion per (prompt, repetition); nothing is left behind when anything fails.

    Args:
        out_dir: the bundle folder to create. An existing folder is refused unless ``force``, and even then only
            when it is empty or a bundle (it holds ``bundle.json``).
        spec: the generator's spec (recorded in bundle.json and the card).
        prompt_set: the prompts; every prompt must get ``repetitions`` motions.
        items: iterable of ``(prompt_id, repetition, Motion)`` or ``(prompt_id, repetition, Motion, seed)``,
            in any order; consumed once, written as they come (a generator may be slow).
        force: replace an existing bundle.
        repetitions: motions per prompt; default: the largest repetition seen + 1.
        options: JSON-serialisable record of how the bundle was made (shown in the card).

    Every motion must be a valid :class:`Motion` (:meth:`Motion.problems` empty) of at most :data:`MAX_FRAMES`
    frames, and the motion files together at most :data:`MAX_BUNDLE_BYTES`. Raises Text2ImuError (MotionError
    for bad motions) naming the prompt and repetition.
    """
    out = Path(out_dir)
    if not isinstance(spec, GeneratorSpec):
        raise Text2ImuError(f"spec must be a GeneratorSpec, got {type(spec).__name__}")
    if repetitions is not None and (isinstance(repetitions, bool) or int(repetitions) < 1):
        raise Text2ImuError(f"repetitions must be at least 1, got {repetitions}")
    options = dict(options or {})
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise Text2ImuError(f"bundle options must be JSON-serialisable: {err}") from err
    check_bundle_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    known = {p.prompt_id for p in prompt_set}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the bundle gets the usual folder mode
        entries: dict[tuple[str, int], BundleEntry] = {}
        total_bytes = 0
        for item in items:
            pid, rep, motion, seed = _unpack(item)
            if pid not in known:
                raise UnknownNameError(f"prompt (set {prompt_set.version})", pid, known)
            if repetitions is not None and rep >= repetitions:
                raise Text2ImuError(f"{pid}: repetition {rep} is out of range 0..{repetitions - 1}")
            if (pid, rep) in entries:
                raise Text2ImuError(f"{pid} repetition {rep} is given twice")
            _check_motion(pid, rep, motion)
            data = npy_bytes(motion.joints_m)
            total_bytes += len(data)
            if total_bytes > MAX_BUNDLE_BYTES:
                raise Text2ImuError(f"the motions exceed the bundle size limit of {MAX_BUNDLE_BYTES} bytes")
            rel = motion_path(pid, rep)
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
            entries[(pid, rep)] = BundleEntry(pid, rep, rel, motion.n_frames, float(motion.fps),
                                              sha256_bytes(data), seed)
        if not entries:
            raise Text2ImuError("no motions to write")
        n_reps = repetitions if repetitions is not None else 1 + max(r for _, r in entries)
        missing = [(p.prompt_id, r) for p in prompt_set for r in range(n_reps) if (p.prompt_id, r) not in entries]
        if missing:
            raise Text2ImuError(f"{len(missing)} of {len(known) * n_reps} motions are missing: "
                                f"{missing_summary(missing)}")
        ordered = tuple(entries[k] for k in sorted(entries))
        manifest = manifest_bytes(ordered)
        from .. import __version__

        doc = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "generator": spec_to_json(spec),
            "prompt_set": prompt_set_to_json(prompt_set),
            "repetitions": n_reps,
            "fps": float(spec.fps),
            "n_motions": len(ordered),
            "options": options,
            "created_by": f"text2imu {__version__}",
            "manifest_sha256": sha256_bytes(manifest),
        }
        (tmp / MANIFEST_FILE).write_bytes(manifest)
        (tmp / BUNDLE_FILE).write_bytes(json_bytes(doc))
        from .bundle_card import render_readme

        (tmp / README_FILE).write_text(render_readme(doc, ordered), encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s: %d motions (%d prompts x %d repetitions)", out, len(ordered), len(known), n_reps)
    return Bundle(path=out, spec=spec, prompt_set_version=prompt_set.version, prompt_set_sha256=prompt_set.sha256,
                  repetitions=n_reps, entries=ordered, prompt_set=prompt_set, fps=float(spec.fps),
                  options=options, created_by=doc["created_by"])


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished temporary folder onto ``out`` (an existing bundle is moved aside, then deleted)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rmdir(old)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Reading and validation (the checks live in bundle_check.py)


def read_bundle(path: str | Path, *, check_hashes: bool = True) -> Bundle:
    """Read a bundle's bundle.json and manifest, checking structure, coverage, files and (by default) hashes.

    Raises FormatError naming the bundle and its first problem (and how many more there are). Motions are loaded
    lazily by :meth:`Bundle.motion` / iteration. Use :func:`validate_bundle` for a full list of problems.
    """
    from .bundle_check import inspect_bundle

    path = Path(path)
    parsed, problems = inspect_bundle(path, check_hashes=check_hashes, deep=False)
    if problems:
        more = f" (and {len(problems) - 1} more; `text2imu bundle validate` lists them)" if len(problems) > 1 else ""
        raise FormatError(f"{path}: not a valid motions bundle: {problems[0]}{more}")
    return Bundle(path=path, spec=parsed["spec"], prompt_set_version=parsed["prompt_set"].version,
                  prompt_set_sha256=parsed["prompt_set"].sha256, repetitions=parsed["repetitions"],
                  entries=parsed["entries"], prompt_set=parsed["prompt_set"], fps=parsed["fps"],
                  options=parsed["options"], created_by=parsed["created_by"])


def validate_bundle(path: str | Path, prompt_set: PromptSet | None = None) -> list[str]:
    """Every problem of the bundle at ``path`` as a sentence; empty when it is a valid submission.

    Checks: bundle.json and manifest.jsonl parse and agree (format version, manifest hash); the bundle's prompt
    set equals ``prompt_set`` (when given; same sha256); every prompt x repetition is present once and nothing
    else; each file exists where the manifest says, is a regular file, has the manifest's sha256, is a float32
    (T, 22, 3) ``.npy`` (read without pickle) with 3 <= T <= MAX_FRAMES frames and finite values, and passes
    :meth:`Motion.problems` (bone lengths, speeds); no unlisted files; README.md present; all motion files
    together at most MAX_BUNDLE_BYTES.
    """
    from .bundle_check import inspect_bundle

    _, problems = inspect_bundle(Path(path), check_hashes=True, deep=True, prompt_set=prompt_set)
    return problems
