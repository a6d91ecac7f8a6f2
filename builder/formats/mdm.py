"""Outputs of text-to-motion generators: MDM ``results.npy``, MoMask joint folders, T2M-GPT ``_pred.npy`` folders.

Three registered formats (../shared/FORMATS.md section 5):

* ``mdm-results``: MDM ``sample/generate.py``'s ``results.npy`` (5.1), a pickled dict saved with ``np.save``.
  ``motion`` is (N*R, 22, 3, T) float32 metres with the frame axis last (24 SMPL joints for action models: the
  first 22 are kept; 21-joint KIT output is refused), ``text`` a list of N*R prompts (a list of lists in DiP
  mode, joined with "#" as MDM's ``results.txt`` does), ``lengths`` the valid frame counts, ``num_samples`` and
  ``num_repetitions`` ints. Ordering is repetition-major: sample i, repetition r is at ``r * num_samples + i``.
  Each motion is cut to its length. 20 fps (HumanML3D). Positions are kept as MDM wrote them (root at x = z = 0
  and facing +z at frame 0; the floor is not re-levelled).
* ``momask``: MoMask ``gen_t2m.py`` output (5.4): ``joints/<k>/sample{k}_repeat{r}_len{L}.npy`` (L, 22, 3) metres
  at 20 fps, and ``..._ik.npy`` twins after foot IK (option ``foot_ik`` picks which). The prompts are not in
  the files: pass ``text_path`` (the ``--text_path`` file, lines ``text#length``) or ``text_prompt``.
* ``t2m-gpt``: T2M-GPT ``GPT_eval_multi.py`` output (5.3): ``<id>_pred.npy`` (1, T, 22, 3) metres at 20 fps,
  beside ``<id>_gt.npy`` (option ``which``). A single demo ``motion.npy`` is read by the ``joints`` format.

Security: ``results.npy`` can only be read with pickle, and unpickling a file runs code chosen by whoever wrote
it. :func:`read_mdm_results` checks the ``.npy`` header (a 0-d object array) before loading, then the type of what
it got, but only read results files you produced or trust.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError
from ..motion import DEFAULT_FPS, Motion
from ..skeleton import N_JOINTS
from . import MotionFormat, register_format
from .joints import (
    MDM_RESULTS_FILE,
    MOMASK_FILE,
    T2M_GPT_FILE,
    joints_from_array,
    make_motion,
    npy_header,
    path_kind,
)

log = logging.getLogger(__name__)

KIT_JOINTS = 21
SMPL_JOINTS = 24


# ---------------------------------------------------------------------------------------------------------------
# MDM results.npy


def load_results_dict(path: Path) -> dict[str, Any]:
    """Load MDM's ``results.npy`` and return its dict.

    This UNPICKLES the file (``allow_pickle=True``), which can run arbitrary code: call it only on files you
    trust. The header is checked first (it must declare a 0-d object array), then the loaded value must be a dict.
    FormatError naming the file otherwise.
    """
    shape, dtype = npy_header(path)
    if not dtype.hasobject:
        raise FormatError(
            f"{path}: a numeric array of shape {shape}, not MDM's pickled results dict (read it with format 'joints')"
        )
    if shape != ():
        raise FormatError(f"{path}: an object array of shape {shape}; MDM's results.npy holds a single dict")
    try:
        loaded = np.load(path, allow_pickle=True)
    except (ValueError, OSError, EOFError, ImportError, AttributeError) as err:
        raise FormatError(f"{path}: cannot unpickle ({type(err).__name__}: {err})") from err
    value = loaded.item() if isinstance(loaded, np.ndarray) and loaded.shape == () else loaded
    if not isinstance(value, dict):
        raise FormatError(f"{path}: holds a {type(value).__name__}, not MDM's results dict")
    return value


def mdm_motion_array(motion: Any, source: Path) -> np.ndarray:
    """MDM's ``motion`` entry -> (B, T, 22, 3) float32.

    Accepts (B, J, 3, T) (MDM's layout, frames last) and (B, T, J, 3), with J = 22 (HumanML3D) or 24 (SMPL joints
    of action models: the first 22 are HumanML3D's joints in the same order). J = 21 (KIT-ML) is refused.
    """
    arr = np.asarray(motion)
    if not np.issubdtype(arr.dtype, np.number):
        raise FormatError(f"{source}: 'motion' must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise FormatError(f"{source}: 'motion' has shape {arr.shape}; expected (samples, 22, 3, frames)")
    if arr.shape[1] in (N_JOINTS, SMPL_JOINTS, KIT_JOINTS) and arr.shape[2] == 3:
        arr = arr.transpose(0, 3, 1, 2)
    elif not (arr.shape[2] in (N_JOINTS, SMPL_JOINTS, KIT_JOINTS) and arr.shape[3] == 3):
        raise FormatError(f"{source}: 'motion' has shape {arr.shape}; expected (samples, 22, 3, frames)")
    n_joints = arr.shape[2]
    if n_joints == KIT_JOINTS:
        raise FormatError(
            f"{source}: 'motion' has 21 joints (KIT-ML skeleton); only 22-joint HumanML3D is read"
        )
    return arr[:, :, :N_JOINTS].astype(np.float32)


def _prompt_text(entry: Any) -> str | None:
    if isinstance(entry, bytes):
        entry = entry.decode("utf-8")
    if isinstance(entry, str):
        return entry.strip() or None
    if isinstance(entry, (list, tuple, np.ndarray)):  # DiP: one text per segment
        parts = [_prompt_text(e) for e in entry]
        return "#".join(p for p in parts if p) or None
    return None


def _count(results: dict[str, Any], key: str, source: Path) -> int | None:
    if key not in results:
        return None
    try:
        value = int(np.asarray(results[key]).reshape(()))
    except (TypeError, ValueError) as err:
        raise FormatError(f"{source}: '{key}' must be an integer, got {results[key]!r}") from err
    if value < 1:
        raise FormatError(f"{source}: '{key}' must be at least 1, got {value}")
    return value


def read_mdm_results(path: Path, *, fps: float = DEFAULT_FPS, validate: bool = True) -> list[Motion]:
    """MDM ``results.npy`` (or the folder holding it) -> one Motion per sample and repetition.

    UNPICKLES the file (see :func:`load_results_dict`): read only files you trust.
    Returned in file order (repetition-major). Each Motion is cut to its ``lengths`` entry; its prompt is its
    ``text`` entry; metadata holds ``sample``, ``repetition``, ``index`` and ``source``.

    Args:
        path: ``results.npy`` or the MDM output folder.
        fps: frame rate in Hz (20 for HumanML3D models).
        validate: check each motion (:meth:`Motion.validated`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / MDM_RESULTS_FILE
        if not path.is_file():
            raise FormatError(f"{path.parent}: no {MDM_RESULTS_FILE} in this folder")
    results = load_results_dict(path)
    if "motion" not in results:
        raise FormatError(f"{path}: no 'motion' key (found: {', '.join(map(str, results)) or 'none'})")
    motions = mdm_motion_array(results["motion"], path)
    n_total, n_frames = motions.shape[:2]

    if "lengths" in results:
        lengths = np.asarray(results["lengths"]).reshape(-1)
        if not np.issubdtype(lengths.dtype, np.number) or lengths.shape != (n_total,):
            raise FormatError(
                f"{path}: 'lengths' must be {n_total} integers, got {lengths.shape} {lengths.dtype}"
            )
        lengths = lengths.astype(np.int64)
        bad = np.nonzero((lengths < 1) | (lengths > n_frames))[0]
        if bad.size:
            raise FormatError(f"{path}: lengths[{bad[0]}] = {lengths[bad[0]]} is outside 1..{n_frames}")
    else:
        log.warning("%s: no 'lengths'; using all %d frames of every sample", path, n_frames)
        lengths = np.full(n_total, n_frames, dtype=np.int64)

    texts = results.get("text")
    if texts is None:
        texts = [None] * n_total
    elif isinstance(texts, (str, bytes)) or len(texts) != n_total:
        raise FormatError(f"{path}: 'text' must be a list of {n_total} prompts")

    n_samples = _count(results, "num_samples", path)
    n_reps = _count(results, "num_repetitions", path)
    if n_samples is None and n_reps is None:
        n_samples, n_reps = n_total, 1
    elif n_samples is None:
        n_samples = n_total // n_reps
    elif n_reps is None:
        n_reps = n_total // n_samples
    if n_samples * n_reps != n_total:
        raise FormatError(
            f"{path}: 'motion' holds {n_total} samples but num_samples x num_repetitions = {n_samples} x {n_reps}"
        )

    out = []
    for index in range(n_total):
        rep, sample = divmod(index, n_samples)
        meta = {
            "format": "mdm-results",
            "source": str(path),
            "index": index,
            "sample": sample,
            "repetition": rep,
        }
        source = f"{path} [sample {sample}, repetition {rep}]"
        joints = motions[index, : lengths[index]]
        out.append(
            make_motion(
                joints, fps, source, prompt=_prompt_text(texts[index]), metadata=meta, validate=validate
            )
        )
    log.info("read %d motions (%d samples x %d repetitions) from %s", n_total, n_samples, n_reps, path)
    return out


# ---------------------------------------------------------------------------------------------------------------
# MoMask and T2M-GPT folders


def _load_numeric(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise FormatError(f"{path}: cannot read as a numeric array ({err})") from err


def read_momask_prompts(text_path: Path) -> list[str]:
    """MoMask's ``--text_path`` file (lines ``text#length`` or ``text#NA``) -> the prompt of each line, in order."""
    text_path = Path(text_path)
    try:
        lines = text_path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise FormatError(f"{text_path}: cannot read the prompt file ({err})") from err
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "#" not in line:
            raise FormatError(f"{text_path}: line {number} is not 'text#length'")
        prompts.append(line.rsplit("#", 1)[0].strip())
    return prompts


def read_momask(
    path: Path,
    *,
    foot_ik: bool = False,
    text_path: str | Path | None = None,
    text_prompt: str | None = None,
    fps: float = DEFAULT_FPS,
    validate: bool = True,
) -> list[Motion]:
    """MoMask ``gen_t2m.py`` joints (``sample{k}_repeat{r}_len{L}[_ik].npy`` below ``path``) -> Motions.

    Sorted by prompt index k, then repeat r. Metadata: ``sample`` (k), ``repetition`` (r), ``foot_ik``, ``file``.

    Args:
        path: the ``generation/<ext>`` folder, its ``joints`` folder, or one file.
        foot_ik: read the ``_ik`` files (after MoMask's foot-skating clean-up) instead of the plain ones.
        text_path: MoMask's prompt file; line k gives the prompt of sample k.
        text_prompt: the single ``--text_prompt`` used for every sample (not with ``text_path``).
        fps: frame rate in Hz (MoMask writes 20).
        validate: check each motion.
    """
    path = Path(path)
    if text_path is not None and text_prompt is not None:
        raise FormatError("momask: give text_path or text_prompt, not both")
    prompts = read_momask_prompts(Path(text_path)) if text_path is not None else None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.npy") if p.is_file())
    found = []
    for file in files:
        m = MOMASK_FILE.match(file.name)
        if m and bool(m.group(4)) == foot_ik:
            found.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), file))
    if not found:
        kind = "_ik " if foot_ik else ""
        raise FormatError(f"{path}: no MoMask sample{{k}}_repeat{{r}}_len{{L}}{kind}.npy files")
    out = []
    for k, r, length, file in sorted(found):
        joints = joints_from_array(_load_numeric(file), file)
        if joints.shape[0] != length:
            log.warning("%s: name says %d frames, file holds %d", file, length, joints.shape[0])
        if prompts is not None and k >= len(prompts):
            raise FormatError(f"{text_path}: has {len(prompts)} prompts, but {file.name} is sample {k}")
        prompt = prompts[k] if prompts is not None else text_prompt
        rel = file.relative_to(path).as_posix() if path.is_dir() else file.name
        meta = {
            "format": "momask",
            "source": str(file),
            "file": rel,
            "sample": k,
            "repetition": r,
            "foot_ik": foot_ik,
        }
        out.append(make_motion(joints, fps, file, prompt=prompt, metadata=meta, validate=validate))
    return out


def read_t2m_gpt(
    path: Path, *, which: str = "pred", fps: float = DEFAULT_FPS, validate: bool = True
) -> list[Motion]:
    """T2M-GPT ``<id>_pred.npy`` files (1, T, 22, 3) below ``path`` -> Motions, sorted by id.

    Args:
        path: the evaluation output folder (or one file).
        which: "pred" (generated) or "gt" (the ground-truth twins).
        fps: frame rate in Hz (20).
        validate: check each motion.
    Metadata: ``id`` (the HumanML3D id), ``kind`` (pred or gt), ``file``. No prompt is stored in these files.
    """
    if which not in ("pred", "gt"):
        raise FormatError(f"t2m-gpt: which must be 'pred' or 'gt', got {which!r}")
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob(f"*_{which}.npy") if p.is_file())
    out = []
    for file in files:
        m = T2M_GPT_FILE.match(file.name)
        if not m or m.group(2) != which:
            continue
        joints = joints_from_array(_load_numeric(file), file)
        rel = file.relative_to(path).as_posix() if path.is_dir() else file.name
        meta = {"format": "t2m-gpt", "source": str(file), "file": rel, "id": m.group(1), "kind": which}
        out.append(make_motion(joints, fps, file, metadata=meta, validate=validate))
    if not out:
        raise FormatError(f"{path}: no T2M-GPT <id>_{which}.npy files")
    return out


register_format(
    MotionFormat(
        name="mdm-results",
        description="MDM sample/generate.py results.npy (pickled dict; read only trusted files)",
        reference="GuyTevet/motion-diffusion-model sample/generate.py; ../shared/FORMATS.md 5.1",
        reader=read_mdm_results,
        sniff=lambda p: path_kind(p) == "mdm-results",
        options=("fps", "validate"),
    )
)
register_format(
    MotionFormat(
        name="momask",
        description="MoMask gen_t2m.py joints/<k>/sample{k}_repeat{r}_len{L}[_ik].npy",
        reference="EricGuo5513/momask-codes gen_t2m.py; ../shared/FORMATS.md 5.4",
        reader=read_momask,
        sniff=lambda p: path_kind(p) == "momask",
        options=("foot_ik", "text_path", "text_prompt", "fps", "validate"),
    )
)
register_format(
    MotionFormat(
        name="t2m-gpt",
        description="T2M-GPT evaluation output <id>_pred.npy (1, T, 22, 3)",
        reference="Mael-zys/T2M-GPT utils/eval_trans.py; ../shared/FORMATS.md 5.3",
        reader=read_t2m_gpt,
        sniff=lambda p: path_kind(p) == "t2m-gpt",
        options=("which", "fps", "validate"),
    )
)
