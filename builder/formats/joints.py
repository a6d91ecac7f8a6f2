"""Joint-position files: one ``.npy`` (T, 22, 3), one ``.npz`` with a ``joints`` key, or a folder of them.

Layouts read (all in HumanML3D conventions, ../shared/FORMATS.md section 4.2: metres, y-up, SMPL joint order):

* ``.npy`` holding (T, 22, 3) positions, e.g. HumanML3D ``new_joints/<id>.npy`` or any generator's output.
  A leading batch axis of one, (1, T, 22, 3), is accepted: T2M-GPT's demo ``motion.npy`` (FORMATS 5.3).
* ``.npy`` holding (T, 263) HumanML3D features (``new_joint_vecs``), converted through
  :func:`text2imu.builder.humanml3d.features_to_joints` when that module provides it.
* ``.npz`` with ``joints`` (T, 22, 3) and optionally ``fps`` (scalar, Hz) and ``prompt`` (str).
* A folder: every ``.npy`` / ``.npz`` below it (recursively), sorted by relative path, one Motion per file.

The files are read with ``allow_pickle=False``: an object array is refused, never unpickled.

This module also owns :func:`path_kind`, the one place that decides which registered format a path belongs to,
so that the sniffers of the formats in this package stay mutually exclusive.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, MotionError
from ..motion import DEFAULT_FPS, Motion
from ..skeleton import N_JOINTS
from . import MotionFormat, register_format

log = logging.getLogger(__name__)

NAME = "joints"
MOTION_SUFFIXES = (".npy", ".npz")
HUMANML3D_FEATURE_DIM = 263

# Generator output names (FORMATS 5.3, 5.4), used to tell their folders from plain joints folders.
MOMASK_FILE = re.compile(r"^sample(\d+)_repeat(\d+)_len(\d+)(_ik)?\.npy$")
T2M_GPT_FILE = re.compile(r"^(.+)_(pred|gt)\.npy$")
MDM_RESULTS_FILE = "results.npy"


# ---------------------------------------------------------------------------------------------------------------
# Cheap inspection of files and folders (used by every sniffer of this package)


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, read from its header only (no data, no unpickling).

    Raises FormatError naming the file when it is not a ``.npy`` file.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # version 3.0 (utf-8 field names) has no public reader
                shape, _, dtype = np.lib.format._read_array_header(f, version)
    except (ValueError, EOFError) as err:
        raise FormatError(f"{path}: not a NumPy .npy file ({err})") from err
    return tuple(shape), np.dtype(dtype)


def npz_members(path: Path) -> list[str]:
    """Array names stored in a ``.npz`` file (from the zip directory only); FormatError if it is not a zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[: -len(".npy")] if n.endswith(".npy") else n for n in zf.namelist()]
    except (zipfile.BadZipFile, EOFError) as err:
        raise FormatError(f"{path}: not a NumPy .npz file ({err})") from err


def _is_joints_npz(path: Path) -> bool:
    try:
        return "joints" in npz_members(path)
    except FormatError:
        return False


def _is_bvh_file(path: Path) -> bool:
    if path.suffix.lower() == ".bvh":
        return True
    with open(path, "rb") as f:
        head = f.read(64).lstrip()
    return head[:9].upper() == b"HIERARCHY"


def _files_below(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix()
    )


def path_kind(path: Path) -> str | None:
    """Which format reads ``path``: "mdm-results", "momask", "t2m-gpt", "joints", "bvh", "humanml3d" or None.

    Files: ``.bvh`` (or text starting with HIERARCHY) -> bvh; ``.npy`` with an object dtype -> mdm-results (a
    pickled dict), with a numeric dtype -> joints; ``.npz`` with a ``joints`` member -> joints. Anything else
    (e.g. an AMASS ``.npz``) -> None.
    Folders, first rule that holds: a ``results.npy`` directly inside -> mdm-results; a ``new_joints`` folder
    directly inside -> "humanml3d" (a dataset root, left to :mod:`text2imu.builder.humanml3d_folder`); a MoMask
    ``sample{k}_repeat{r}_len{L}.npy`` below -> momask; a T2M-GPT ``<id>_pred.npy`` below -> t2m-gpt; any
    ``.npy``, or ``.npz`` files that all hold ``joints`` -> joints; any ``.bvh`` -> bvh; else None.
    """
    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npy":
            try:
                _, dtype = npy_header(path)
            except FormatError:
                return None
            return "mdm-results" if dtype.hasobject else NAME
        if suffix == ".npz":
            return NAME if _is_joints_npz(path) else None
        return "bvh" if _is_bvh_file(path) else None
    if not path.is_dir():
        return None
    if (path / MDM_RESULTS_FILE).is_file():
        return "mdm-results"
    if (path / "new_joints").is_dir():
        return (
            "humanml3d"  # a HumanML3D root (new_joints/, new_joint_vecs/, texts/): not a plain joints folder
        )
    files = _files_below(path)
    names = [p.name for p in files]
    if any(MOMASK_FILE.match(n) for n in names):
        return "momask"
    if any(T2M_GPT_FILE.match(n) and n.endswith("_pred.npy") for n in names):
        return "t2m-gpt"
    npy = [p for p in files if p.suffix.lower() == ".npy"]
    npz = [p for p in files if p.suffix.lower() == ".npz"]
    if npy or (npz and all(_is_joints_npz(p) for p in npz)):
        return NAME
    if any(p.suffix.lower() == ".bvh" for p in files):
        return "bvh"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Arrays -> (T, 22, 3)


def features_to_joints_lazy(features: np.ndarray, source: Path) -> np.ndarray:
    """(T, 263) HumanML3D features -> (T, 22, 3) metres, through :mod:`text2imu.builder.humanml3d` (lazy import)."""
    try:
        from ..humanml3d import features_to_joints  # lazy: humanml3d imports more than this module needs
    except ImportError as err:
        raise FormatError(
            f"{source}: holds (T, {HUMANML3D_FEATURE_DIM}) HumanML3D features; converting them needs "
            f"text2imu.builder.humanml3d.features_to_joints, which is not available ({err})"
        ) from err
    try:
        return np.asarray(features_to_joints(features))
    except MotionError as err:
        raise FormatError(f"{source}: {err}") from err


def joints_from_array(array: Any, source: Path) -> np.ndarray:
    """A stored array -> (T, 22, 3) float32 positions.

    Accepts (T, 22, 3), (1, T, 22, 3) (a batch of one) and (T, 263) HumanML3D features (see
    :func:`features_to_joints_lazy`). Any other shape or a non-numeric dtype is a FormatError naming ``source``.
    """
    arr = np.asarray(array)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise FormatError(f"{source}: joint positions must be real numbers, got dtype {arr.dtype}")
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2 and arr.shape[1] == HUMANML3D_FEATURE_DIM:
        arr = features_to_joints_lazy(arr.astype(np.float32), source)
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise FormatError(
            f"{source}: array of shape {tuple(np.shape(array))} is not (T, {N_JOINTS}, 3) joint positions "
            f"(nor (1, T, {N_JOINTS}, 3) or (T, {HUMANML3D_FEATURE_DIM}) features)"
        )
    return arr.astype(np.float32)


def make_motion(
    joints: np.ndarray,
    fps: float,
    source: Path | str,
    *,
    prompt: str | None = None,
    metadata: dict[str, Any] | None = None,
    validate: bool = True,
) -> Motion:
    """Build a Motion and, when ``validate``, check it (MotionError naming ``source`` on failure)."""
    motion = Motion(joints, fps=fps, prompt=prompt or None, metadata=metadata or {})
    return motion.validated(str(source)) if validate else motion


def _scalar_str(value: np.ndarray) -> str | None:
    item = value.item() if value.shape == () else None
    if isinstance(item, bytes):
        item = item.decode("utf-8")
    return item if isinstance(item, str) else None


# ---------------------------------------------------------------------------------------------------------------
# Readers


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:  # object arrays need pickle: refused here
        raise FormatError(f"{path}: cannot read as a numeric array ({err})") from err
    except (OSError, EOFError) as err:
        raise FormatError(f"{path}: cannot read ({err})") from err


def read_joints_file(path: Path, *, fps: float | None = None, validate: bool = True) -> Motion:
    """One ``.npy`` or ``.npz`` file -> one Motion (see the module docstring for the layouts).

    Args:
        path: the file.
        fps: frame rate in Hz; default: the ``fps`` stored in an ``.npz``, else 20. An explicit value wins over a
            stored one (with a warning when they differ).
        validate: check the motion (:meth:`Motion.validated`).
    """
    path = Path(path)
    prompt: str | None = None
    stored_fps: float | None = None
    suffix = path.suffix.lower()
    if suffix == ".npy":
        joints = joints_from_array(_read_npy(path), path)
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                if "joints" not in data.files:
                    raise FormatError(f"{path}: no 'joints' array (found: {', '.join(data.files) or 'none'})")
                joints = joints_from_array(data["joints"], path)
                if "fps" in data.files:
                    stored_fps = float(np.asarray(data["fps"]).reshape(-1)[0])
                if "prompt" in data.files:
                    prompt = _scalar_str(np.asarray(data["prompt"]))
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise FormatError(f"{path}: cannot read as an .npz of joint positions ({err})") from err
    else:
        raise FormatError(f"{path}: expected a .npy or .npz file of joint positions")
    if fps is None:
        rate = stored_fps if stored_fps is not None else DEFAULT_FPS
    else:
        rate = float(fps)
        if stored_fps is not None and abs(stored_fps - rate) > 1e-9:
            log.warning("%s: stores fps %g but fps=%g was given; using %g", path, stored_fps, rate, rate)
    if not np.isfinite(rate) or rate <= 0:
        raise FormatError(f"{path}: frame rate must be positive, got {rate}")
    meta = {"format": NAME, "source": str(path), "file": path.name}
    return make_motion(joints, rate, path, prompt=prompt, metadata=meta, validate=validate)


def read_joints(path: Path, *, fps: float | None = None, validate: bool = True) -> list[Motion]:
    """A joints file, or every ``.npy``/``.npz`` below a folder (sorted by relative path), as Motions.

    Each Motion's metadata holds ``file`` (the path relative to the folder, or the file name) and ``source``.
    A folder without such files is a FormatError naming it.
    """
    path = Path(path)
    if path.is_file():
        return [read_joints_file(path, fps=fps, validate=validate)]
    if not path.is_dir():
        raise FormatError(f"{path}: no such file or folder")
    files = [p for p in _files_below(path) if p.suffix.lower() in MOTION_SUFFIXES]
    if not files:
        raise FormatError(f"{path}: folder holds no .npy or .npz motion files")
    motions = []
    for file in files:
        motion = read_joints_file(file, fps=fps, validate=validate)
        meta = dict(motion.metadata, file=file.relative_to(path).as_posix())
        motions.append(replace(motion, metadata=meta))
    log.info("read %d motions from %s", len(motions), path)
    return motions


register_format(
    MotionFormat(
        name=NAME,
        description="joint positions: .npy (T, 22, 3), .npz with 'joints' (+ 'fps', 'prompt'), or a folder",
        reference="../shared/FORMATS.md 4.2 (HumanML3D new_joints); 5.3 (T2M-GPT motion.npy)",
        reader=read_joints,
        sniff=lambda p: path_kind(p) == NAME,
        options=("fps", "validate"),
    )
)
