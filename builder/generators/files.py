"""``files``: motions produced elsewhere, matched to the prompt set through a manifest.

The manifest is a CSV file with a header row, or a JSONL file of one object per line, with the columns

    prompt_id, repetition, path[, format, index]

``path`` is relative to the manifest's folder (or absolute) and names a file or folder of any registered motion
format (``text2imu motion formats``: MDM ``results.npy``, joints ``.npy``/``.npz`` or a folder of them, MoMask and
T2M-GPT outputs, BVH, AMASS ``.npz``). ``format`` names the reader (detected when empty); ``index`` picks one motion
of a file that holds several, in the reader's order (MDM's ``results.npy``: ``repetition * num_samples + sample``);
it may be omitted for a file that holds exactly one. Example (CSV)::

    prompt_id,repetition,path,format,index
    walking-01,0,mdm_out/results.npy,mdm-results,0
    walking-01,1,mdm_out/results.npy,mdm-results,80
    sitting-03,0,bvh/sitting-03_0.bvh,,

:meth:`FilesGenerator.check_coverage` checks the manifest against a prompt set before anything is read: prompt ids
the set does not know are refused (with "did you mean"), every prompt x repetition must be listed once, and every
named file must exist. Repetitions beyond the requested number are ignored. Seeds do not apply (the motions exist
already); the bundle records none.

The motions keep their own frame rate; formats without a stored rate use ``fps`` (default 20). The generator card of
the resulting bundle is the spec built from the ``generator_name``/``generator_version``/``license``/``reference``/
``weights_sha256`` options, so a submitter can describe the model that made the files.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import FormatError, Text2ImuError, UnknownNameError
from ..formats import FORMATS, detect_format, read_motions
from ..motion import DEFAULT_FPS, Motion
from ..prompts import Prompt, PromptSet
from . import GeneratorSpec

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("prompt_id", "repetition", "path", "format", "index")
REQUIRED_COLUMNS = ("prompt_id", "repetition", "path")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CACHE_FILES = 4  # files kept read (an MDM results.npy serves many manifest rows)

FILES_SPEC = GeneratorSpec(
    name="files",
    version="1.0.0",
    license="NOASSERTION",
    reference="motion files produced elsewhere, listed in a manifest (text2imu.builder.generators.files)",
    weights_sha256=None,
    fps=DEFAULT_FPS,
    needs_gpu=False,
    description="import motions made elsewhere (MDM results.npy, joints, BVH, AMASS ...) through a manifest",
)


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row: which file (and which motion in it) is (prompt_id, repetition).

    Attributes:
        prompt_id: the prompt's id.
        repetition: 0-based draw index.
        path: the motion file or folder (resolved against the manifest's folder).
        format: reader name, or None to detect it.
        index: which motion of the file, or None when it holds one.
        line: line number in the manifest (for messages).
    """

    prompt_id: str
    repetition: int
    path: Path
    format: str | None = None
    index: int | None = None
    line: int = 0


def _int_field(value: Any, name: str, where: str, *, optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise FormatError(f"{where}: '{name}' is empty")
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise FormatError(f"{where}: '{name}' must be an integer >= 0, got {value!r}")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: '{name}' must be an integer >= 0, got {value!r}") from None
    if number < 0:
        raise FormatError(f"{where}: '{name}' must be an integer >= 0, got {number}")
    return number


def _row(raw: dict[str, Any], where: str, base: Path, line: int) -> ManifestRow:
    missing = [c for c in REQUIRED_COLUMNS if c not in raw]
    if missing:
        raise FormatError(f"{where}: missing column(s) {', '.join(missing)}")
    extra = sorted(set(raw) - set(MANIFEST_COLUMNS))
    if extra:
        raise FormatError(f"{where}: unknown column(s) {', '.join(map(str, extra))} "
                          f"(allowed: {', '.join(MANIFEST_COLUMNS)})")
    pid, path = raw["prompt_id"], raw["path"]
    if not isinstance(pid, str) or not pid.strip():
        raise FormatError(f"{where}: 'prompt_id' must be a non-empty string")
    if not isinstance(path, str) or not path.strip():
        raise FormatError(f"{where}: 'path' must be a non-empty string")
    fmt = raw.get("format")
    fmt = fmt.strip() if isinstance(fmt, str) and fmt.strip() else None
    if raw.get("format") not in (None, "") and fmt is None:
        raise FormatError(f"{where}: 'format' must be a format name")
    if fmt is not None and fmt not in FORMATS:
        raise FormatError(f"{where}: {UnknownNameError('motion format', fmt, FORMATS)}")
    file = Path(path.strip()).expanduser()
    return ManifestRow(prompt_id=pid.strip(), repetition=_int_field(raw["repetition"], "repetition", where),
                       path=file if file.is_absolute() else base / file, format=fmt,
                       index=_int_field(raw.get("index"), "index", where, optional=True), line=line)


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a ``.csv`` (header row) or ``.jsonl`` manifest; FormatError naming the file and line otherwise."""
    from ..formats import _load_readers

    _load_readers()  # so that 'format' names can be checked
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such manifest file")
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err})") from err
    base = path.parent
    rows: list[ManifestRow] = []
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise FormatError(f"{path}: empty manifest (expected a header row: {', '.join(MANIFEST_COLUMNS)})")
        header = [h.strip() if h else h for h in reader.fieldnames]
        reader.fieldnames = header
        for record in reader:
            line = reader.line_num
            if None in record:
                raise FormatError(f"{path}: line {line} has more values than the header has columns")
            if all(v is None or not str(v).strip() for v in record.values()):
                continue
            raw = {k: v for k, v in record.items() if k}
            if any(v is None for v in raw.values()):
                raise FormatError(f"{path}: line {line} has fewer values than the header has columns")
            rows.append(_row(raw, f"{path}: line {line}", base, line))
    elif suffix in (".jsonl", ".ndjson"):
        for line, content in enumerate(text.splitlines(), 1):
            if not content.strip():
                continue
            try:
                raw = json.loads(content)
            except json.JSONDecodeError as err:
                raise FormatError(f"{path}: line {line} is not JSON ({err.msg})") from err
            if not isinstance(raw, dict):
                raise FormatError(f"{path}: line {line} must be a JSON object")
            rows.append(_row(raw, f"{path}: line {line}", base, line))
    else:
        raise FormatError(f"{path}: a manifest is a .csv or .jsonl file")
    if not rows:
        raise FormatError(f"{path}: the manifest lists no motions")
    return rows


class FilesGenerator:
    """The ``files`` generator: motions looked up in a manifest (see the module docstring).

    Args:
        manifest: the manifest file (.csv or .jsonl).
        fps: frame rate in Hz for formats that store none (default: 20, or the file's own).
        body_model: SMPL-H/SMPL model file or folder for AMASS files.
        generator_name, generator_version, license, reference, weights_sha256: the card of the model that made
            the files (defaults: "files", "1.0.0", "NOASSERTION", a description of the manifest, none).
    """

    spec = FILES_SPEC
    options = ("manifest", "fps", "body_model", "generator_name", "generator_version", "license", "reference",
               "weights_sha256")
    required_options = ("manifest",)
    uses_seeds = False

    def __init__(self, manifest: str | Path | None = None, *, fps: float | None = None,
                 body_model: str | Path | None = None, generator_name: str | None = None,
                 generator_version: str | None = None, license: str | None = None, reference: str | None = None,
                 weights_sha256: str | None = None):
        if manifest is None:
            raise Text2ImuError("generator 'files' needs a manifest (--manifest FILE.csv|FILE.jsonl)")
        if fps is not None and not fps > 0:
            raise Text2ImuError(f"--fps must be positive, got {fps}")
        if generator_name is not None and not NAME_PATTERN.match(generator_name):
            raise Text2ImuError(f"generator name {generator_name!r} must be lower case letters, digits and _ . -")
        if weights_sha256 is not None and not HEX64.match(weights_sha256):
            raise Text2ImuError("--weights-sha256 must be 64 lower-case hex digits")
        self.manifest_path = Path(manifest)
        self.rows = read_manifest(self.manifest_path)
        self.fps = fps
        self.body_model = body_model
        self.spec = replace(
            FILES_SPEC,
            name=generator_name or FILES_SPEC.name,
            version=generator_version or FILES_SPEC.version,
            license=license or FILES_SPEC.license,
            reference=reference or f"motion files listed in {self.manifest_path.name}",
            weights_sha256=weights_sha256,
            fps=fps or DEFAULT_FPS,
        )
        self._by_key: dict[tuple[str, int], ManifestRow] = {}
        for row in self.rows:
            key = (row.prompt_id, row.repetition)
            if key in self._by_key:
                raise FormatError(f"{self.manifest_path}: {row.prompt_id} repetition {row.repetition} is listed "
                                  f"twice (lines {self._by_key[key].line} and {row.line})")
            self._by_key[key] = row
        self._cache: OrderedDict[tuple[Path, str], list[Motion]] = OrderedDict()

    def record(self) -> dict[str, Any]:
        """How the motions were gathered, for the bundle card (file names and hashes, no absolute paths)."""
        from ..bundle import sha256_file

        return {"manifest": self.manifest_path.name, "manifest_sha256": sha256_file(self.manifest_path),
                "fps": self.fps, "body_model": Path(self.body_model).name if self.body_model else None}

    def check_coverage(self, prompt_set: PromptSet, repetitions: int) -> None:
        """Refuse unknown prompt ids, missing (prompt, repetition) rows and missing files, naming each."""
        known = {p.prompt_id for p in prompt_set}
        for row in self.rows:
            if row.prompt_id not in known:
                err = UnknownNameError(f"prompt (set {prompt_set.version})", row.prompt_id, known)
                raise FormatError(f"{self.manifest_path}: line {row.line}: {err}")
        missing = [(p.prompt_id, r) for p in prompt_set for r in range(repetitions)
                   if (p.prompt_id, r) not in self._by_key]
        if missing:
            shown = ", ".join(f"{p} rep {r}" for p, r in missing[:8])
            more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            raise FormatError(f"{self.manifest_path}: misses {len(missing)} of {len(known) * repetitions} "
                              f"motions: {shown}{more}")
        wanted = [self._by_key[(p.prompt_id, r)] for p in prompt_set for r in range(repetitions)]
        absent = sorted({str(row.path) for row in wanted if not row.path.exists()})
        if absent:
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            raise FormatError(f"{self.manifest_path}: {len(absent)} listed file(s) do not exist: "
                              f"{', '.join(absent[:5])}{more}")
        extra = len(self.rows) - len(wanted)
        if extra:
            log.info("%s: ignoring %d row(s) beyond %d repetition(s)", self.manifest_path, extra, repetitions)

    def _motions(self, row: ManifestRow) -> list[Motion]:
        fmt = FORMATS[row.format] if row.format else detect_format(row.path)
        key = (row.path, fmt.name)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        options: dict[str, Any] = {}
        if self.fps is not None and "fps" in fmt.options:
            options["fps"] = self.fps
        if self.body_model is not None and "body_model_path" in fmt.options:
            options["body_model_path"] = self.body_model
        motions = read_motions(row.path, fmt.name, **options)
        self._cache[key] = motions
        while len(self._cache) > CACHE_FILES:
            self._cache.popitem(last=False)
        return motions

    def generate(self, prompt: Prompt, repetition: int, seed: int | None = None) -> Motion:
        """The manifest's motion for (prompt, repetition); ``seed`` is ignored (the motion exists already)."""
        row = self._by_key.get((prompt.prompt_id, int(repetition)))
        if row is None:
            raise Text2ImuError(f"{self.manifest_path}: no row for {prompt.prompt_id} repetition {repetition}")
        where = f"{self.manifest_path}: line {row.line} ({row.path})"
        motions = self._motions(row)
        if row.index is None and len(motions) != 1:
            raise FormatError(f"{where}: holds {len(motions)} motions; give an 'index' column")
        index = row.index or 0
        if index >= len(motions):
            raise FormatError(f"{where}: index {index} is out of range (it holds {len(motions)} motions)")
        motion = motions[index]
        meta = dict(motion.metadata, prompt_id=prompt.prompt_id, repetition=int(repetition),
                    imported_from=str(row.path), imported_index=index)
        return replace(motion, prompt=prompt.text, metadata=meta)
