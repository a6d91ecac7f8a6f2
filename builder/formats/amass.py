"""AMASS ``.npz`` motions -> 22 HumanML3D joints at ~20 fps, through a user-supplied SMPL-H (or SMPL) model.

Layout read (../shared/FORMATS.md section 6.1): ``poses`` (T, 156) SMPL-H or (T, 72) SMPL axis-angle rotations
in radians (root orientation first, then the body joints 1-21, then hands), ``trans`` (T, 3) metres,
``betas`` (16,) or (10,), ``gender`` (str or bytes), ``mocap_framerate`` (Hz; SMPL-X "stageii" files spell it
``mocap_frame_rate``). The world frame is z-up. Files are read with ``allow_pickle=False``.

Derivation, as HumanML3D's ``raw_pose_processing.ipynb`` (FORMATS.md section 6.2):

1. ``step = int(mocap_framerate / 20)``; frames 0, step, 2 step, ... are kept (plain subsampling, no filter).
   The step uses the stored rate as is, so the frames are HumanML3D's (its index.csv frame ranges apply). The
   Motion's fps is the rate this really gives, ``mocap_framerate / step`` (e.g. 20.83 fps for 250 Hz, 30 fps
   for SSM's 59.9999885 Hz), rounded to an integer when within 1e-5 of one (float32 noise such as
   120.00004577636719 Hz); HumanML3D calls every clip 20 fps; ``Motion.resampled(20)`` makes it so.
   A source below 20 Hz keeps every frame (HumanML3D would fail there).
2. Body model: the male model when ``gender`` is male, else the female one (HumanML3D's rule, so neutral clips
   use the female model; a file without ``gender`` counts as neutral). Unlike HumanML3D, a bytes gender
   (``b'male'``) is decoded first, so a male subject stored as bytes gets the male model (HumanML3D silently
   uses the female one). DMPLs are not used.
3. The first 10 betas shape the body; joints are the model's J_regressor on the shaped template, posed by
   forward kinematics of the root and 21 body rotations (smplx's ``batch_rodrigues`` and
   ``batch_rigid_transform``), plus ``trans``. Only joints 0-21 are computed; hand poses cannot move them.
4. Axes: (x, y, z)_AMASS -> (-x, z, y): HumanML3D's y/z swap followed by its x negation (a proper rotation:
   z-up becomes y-up and left stays left). No floor, origin or heading normalisation is applied; AMASS's floor
   is at z = 0, so the result stands on about y = 0.

``body_model_path``: a model file (``.npz`` or ``.pkl``, used for every clip), or a folder laid out as AMASS's
``body_models/smplh`` (``<gender>/model.npz``) or holding ``SMPLH_<GENDER>.npz/.pkl`` / ``SMPL_<GENDER>.npz/.pkl``.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..bodies.smpl_model import BodyModelArrays, read_body_model
from ..errors import FormatError
from ..motion import Motion
from ..skeleton import N_JOINTS
from . import MotionFormat, register_format

log = logging.getLogger(__name__)

NAME = "amass"
HUMANML3D_FPS = 20.0
NUM_BETAS = 10  # HumanML3D uses the first 10 of AMASS's 16
RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
# (x, y, z)_AMASS -> (-x, z, y): rows give the output axes (HumanML3D's swap, then its x negation).
AMASS_TO_WORLD = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def npz_keys(path: Path) -> set[str]:
    """Member names of an ``.npz`` (from its zip directory only); empty when it is not a zip file."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {n[: -len(".npy")] if n.endswith(".npy") else n for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError):
        return set()


def is_amass_npz(path: Path) -> bool:
    """True for an ``.npz`` file holding ``poses`` and a mocap frame rate."""
    if not (path.is_file() and path.suffix.lower() == ".npz"):
        return False
    keys = npz_keys(path)
    return "poses" in keys and any(k in keys for k in RATE_KEYS)


def sniff(path: Path) -> bool:
    """An AMASS ``.npz``, or a folder whose ``.npz`` files include AMASS ones, none with a ``joints`` array, and
    that holds no ``.npy`` or ``.bvh`` files (those folders belong to the other readers)."""
    path = Path(path)
    if path.is_file():
        return is_amass_npz(path)
    if not path.is_dir():
        return False
    found = False
    for p in sorted(path.rglob("*.npz")):
        if "joints" in npz_keys(p):
            return False
        found = found or is_amass_npz(p)
    return found and not any(path.rglob("*.npy")) and not any(path.rglob("*.bvh"))


# ---------------------------------------------------------------------------------------------------------------
# Body models


def _decode(value: np.ndarray) -> str:
    item = value.item() if value.shape == () else (value.reshape(-1)[0] if value.size else "")
    if isinstance(item, bytes):
        item = item.decode("utf-8", "replace")
    return str(item).strip().lower()


def body_model_file(body_model_path: str | Path, gender: str) -> Path:
    """The model file for a clip of ``gender`` ("male" -> male, anything else -> female, as HumanML3D).

    A file is used as is. In a folder, the male/female model is looked for as ``<gender>/model.npz``,
    ``smplh/<gender>/model.npz``, ``SMPLH_<GENDER>.npz|.pkl`` and ``SMPL_<GENDER>.npz|.pkl`` (any case), then the
    neutral one the same way (with a warning). FormatError when nothing matches.
    """
    root = Path(body_model_path).expanduser()
    if root.is_file():
        return root
    if not root.is_dir():
        raise FormatError(f"{root}: body model not found (body_model_path / --body-model)")
    wanted = "male" if gender == "male" else "female"
    files = {p.relative_to(root).as_posix().lower(): p for p in root.rglob("*") if p.is_file()}
    for g in (wanted, "neutral"):
        names = [f"{g}/model.npz", f"smplh/{g}/model.npz"] + [
            f"{stem}_{g}.{ext}" for stem in ("smplh", "smpl") for ext in ("npz", "pkl")
        ]
        for name in names:
            if name in files:
                if g != wanted:
                    log.warning("%s: no %s model, using the neutral one %s", root, wanted, files[name])
                return files[name]
    raise FormatError(
        f"{root}: no {wanted} (or neutral) body model inside; expected {wanted}/model.npz (AMASS's smplh "
        f"layout) or SMPLH_{wanted.upper()}.npz"
    )


@lru_cache(maxsize=8)
def _cached_model(path: str, mtime_ns: int, size: int) -> BodyModelArrays:
    return read_body_model(path)


def load_body_model(path: Path) -> BodyModelArrays:
    """Read (once per file version) and check a body model for AMASS clips: SMPL, SMPL-H or SMPL-X."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as err:
        raise FormatError(f"{path}: body model not found ({err.strerror})") from err
    return _cached_model(str(path), st.st_mtime_ns, st.st_size)


def body_joints(
    model: BodyModelArrays, betas: np.ndarray, poses: np.ndarray, trans: np.ndarray
) -> np.ndarray:
    """Posed body joints in the model's (AMASS) frame.

    Args:
        model: the body model. betas: (B,) shape coefficients (the first min(B, model's) are used).
        poses: (T, >= 66) axis-angle rotations in radians: root, then body joints 1-21.
        trans: (T, 3) root translation in metres.
    Returns:
        (T, 22, 3) float64 joint positions in metres.
    """
    import torch
    from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

    nb = min(len(betas), model.n_betas)
    with torch.no_grad():
        b = torch.as_tensor(np.asarray(betas[:nb], dtype=np.float64))[None]
        shapedirs = torch.as_tensor(model.shapedirs[:, :, :nb])
        v = torch.as_tensor(model.v_template)[None] + blend_shapes(b, shapedirs)
        rest = vertices2joints(torch.as_tensor(model.J_regressor[:N_JOINTS]), v)[0]  # (22, 3)
        t = poses.shape[0]
        rot = batch_rodrigues(torch.as_tensor(poses[:, : 3 * N_JOINTS].reshape(-1, 3))).reshape(
            t, N_JOINTS, 3, 3
        )
        parents = torch.as_tensor(model.parents[:N_JOINTS], dtype=torch.long)
        posed, _ = batch_rigid_transform(rot, rest[None].expand(t, -1, -1).contiguous(), parents)
    return posed.numpy() + np.asarray(trans, dtype=np.float64)[:, None, :]


# ---------------------------------------------------------------------------------------------------------------
# Reader


def _load_clip(path: Path) -> dict:
    """The arrays of one AMASS file, checked; FormatError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            rate_key = next((k for k in RATE_KEYS if k in keys), None)
            missing = [k for k in ("poses", "trans") if k not in keys] + (
                [] if rate_key else ["mocap_framerate"]
            )
            if missing:
                raise FormatError(
                    f"{path}: not an AMASS motion: missing {', '.join(missing)} (found: {', '.join(sorted(keys))})"
                )
            clip = {
                "poses": np.asarray(data["poses"], dtype=np.float64),
                "trans": np.asarray(data["trans"], dtype=np.float64),
                "rate": float(np.asarray(data[rate_key]).reshape(-1)[0]),
                "betas": np.asarray(data["betas"], dtype=np.float64).reshape(-1) if "betas" in keys else None,
                "gender": _decode(np.asarray(data["gender"])) if "gender" in keys else "neutral",
            }
    except FormatError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as err:
        raise FormatError(f"{path}: cannot read as an AMASS .npz ({err})") from err
    poses, trans = clip["poses"], clip["trans"]
    if poses.ndim != 2 or poses.shape[1] % 3 or poses.shape[1] < 3 * N_JOINTS:
        raise FormatError(f"{path}: poses has shape {poses.shape}; expected (T, 156) SMPL-H or (T, 72) SMPL")
    if trans.shape != (poses.shape[0], 3):
        raise FormatError(
            f"{path}: trans has shape {trans.shape}; expected ({poses.shape[0]}, 3) to match poses"
        )
    if not (np.isfinite(poses).all() and np.isfinite(trans).all()):
        raise FormatError(f"{path}: poses or trans hold NaN or infinite values")
    if not np.isfinite(clip["rate"]) or clip["rate"] <= 0:
        raise FormatError(f"{path}: frame rate {clip['rate']} is not positive")
    if poses.shape[0] == 0:
        raise FormatError(f"{path}: holds no frames")
    if clip["betas"] is not None and not np.isfinite(clip["betas"]).all():
        raise FormatError(f"{path}: betas hold NaN or infinite values")
    return clip


def downsample_step(rate_hz: float) -> int:
    """HumanML3D's subsampling step ``int(rate / 20)`` (at least 1)."""
    return max(1, int(rate_hz / HUMANML3D_FPS))


def read_amass_file(
    path: Path, body_model_path: str | Path | None = None, *, validate: bool = True
) -> Motion:
    """One AMASS ``.npz`` -> one Motion of (T', 22, 3) joints (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such file")
    clip = _load_clip(path)
    if body_model_path is None:
        raise FormatError(
            f"{path}: AMASS files hold body-model parameters, not joints; pass the SMPL-H model you downloaded "
            "(--body-model PATH, or body_model_path=...; AMASS's body_models/smplh folder or a model file)"
        )
    model_file = body_model_file(body_model_path, clip["gender"])
    model = load_body_model(model_file)
    step = downsample_step(clip["rate"])
    poses, trans = clip["poses"][::step], clip["trans"][::step]
    betas = clip["betas"][:NUM_BETAS] if clip["betas"] is not None else np.zeros(NUM_BETAS)
    if clip["betas"] is None:
        log.warning("%s: no betas; using the model's template body", path)
    joints = body_joints(model, betas, poses, trans) @ AMASS_TO_WORLD.T
    fps = clip["rate"] / step
    if abs(fps - round(fps)) < 1e-5 * fps:  # float32 storage noise of the rate (120.00004577636719 Hz)
        fps = float(round(fps))
    meta = {
        "format": NAME,
        "source": str(path),
        "file": path.name,
        "mocap_framerate_hz": clip["rate"],
        "downsample_step": step,
        "gender": clip["gender"],
        "body_model": model.version,
        "body_model_kind": model.kind,
        "num_betas": int(min(len(betas), model.n_betas)),
        "axes": "(x, y, z)_AMASS -> (-x, z, y)",
    }
    motion = Motion(joints, fps=fps, metadata=meta)
    return motion.validated(str(path)) if validate else motion


def read_amass(
    path: Path, *, body_model_path: str | Path | None = None, validate: bool = True
) -> list[Motion]:
    """An AMASS ``.npz``, or every AMASS ``.npz`` below a folder (sorted), as Motions.

    In a folder, ``.npz`` files without ``poses``, ``trans`` or a frame rate (e.g. per-subject shape files) are
    skipped, as HumanML3D does; a folder with no AMASS motion is a FormatError.
    """
    path = Path(path)
    if path.is_file():
        return [read_amass_file(path, body_model_path, validate=validate)]
    if not path.is_dir():
        raise FormatError(f"{path}: no such file or folder")
    motions, skipped = [], 0
    for file in sorted(path.rglob("*.npz")):
        keys = npz_keys(file)
        if not ({"poses", "trans"} <= keys and any(k in keys for k in RATE_KEYS)):
            skipped += 1
            continue
        motion = read_amass_file(file, body_model_path, validate=validate)
        motions.append(
            replace(motion, metadata=dict(motion.metadata, file=file.relative_to(path).as_posix()))
        )
    if skipped:
        log.info("%s: skipped %d .npz files without poses/trans/frame rate", path, skipped)
    if not motions:
        raise FormatError(f"{path}: folder holds no AMASS .npz motions")
    return motions


register_format(
    MotionFormat(
        name=NAME,
        description="AMASS .npz (poses, trans, betas, mocap_framerate) via a user's SMPL-H model -> 20 fps joints",
        reference="../shared/FORMATS.md 6 (AMASS SMPL+H G files; HumanML3D raw_pose_processing.ipynb)",
        reader=read_amass,
        sniff=sniff,
        options=("body_model_path", "validate"),
    )
)
