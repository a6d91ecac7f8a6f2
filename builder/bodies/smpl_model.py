"""Load a user-supplied SMPL-family body model (SMPL, SMPL-H) without chumpy, and build it with ``smplx``.

SMPL is licensed: nothing here downloads or ships a model file. Users point at the files they obtained:

* ``.npz`` (smplx's converted SMPL files, AMASS's ``smplh/<gender>/model.npz``): read with
  ``allow_pickle=False`` (only the arrays listed in :data:`REQUIRED_KEYS` are touched, so other object-valued
  members do no harm).
* ``.pkl`` (the official SMPL downloads, e.g. ``basicModel_f_lbs_10_207_0_v1.0.0.pkl`` or ``SMPL_FEMALE.pkl``):
  they hold ``chumpy`` arrays and a scipy sparse ``J_regressor``. They are read with a restricted unpickler
  (:mod:`~text2imu.builder.bodies.smpl_pkl`) that only resolves numpy, scipy.sparse and chumpy classes; chumpy
  objects become a stand-in whose ``x`` (the underlying numpy array) is taken, so chumpy is never imported. The result is written once, as a plain ``.npz``,
  to a cache folder (:func:`default_cache_dir`, logged at INFO) and read from there afterwards.

Every problem with a file (missing, unreadable, not an SMPL model, wrong shapes, a gender other than the one
asked for) raises :class:`~text2imu.builder.errors.FormatError` naming the file; nothing is written then.

Array layout (SMPL's, kept as is): ``v_template`` (V, 3) metres, y-up, facing +z, left towards +x;
``shapedirs`` (V, 3, B); ``posedirs`` (V, 3, 9 (J - 1)); ``J_regressor`` (J, V); ``weights`` (V, J);
``kintree_table`` (2, J) with the parent of joint j in row 0; ``f`` (F, 3) triangles. J = 24 (SMPL), 52 (SMPL-H)
or 55 (SMPL-X); joints 0-21 are the 22 HumanML3D joints in every one of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FormatError
from .smpl_pkl import load_model_pickle, to_array

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
MODEL_KINDS = {24: "SMPL", 52: "SMPL-H", 55: "SMPL-X"}
# Parents of the 22 body joints, identical in SMPL, SMPL-H and SMPL-X (and HumanML3D's skeleton).
BODY_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
GENDERS = ("female", "male", "neutral")
CACHE_ENV = "TEXT2IMU_SMPL_CACHE"
SMPL_VERTEX_COUNT = 6890  # smplx's extra vertex joints index this topology


@dataclass(frozen=True)
class BodyModelArrays:
    """The arrays of one SMPL-family model file, as float64 / int64 numpy.

    Attributes:
        path: the file the user gave (``.npz`` or ``.pkl``).
        sha256: hex digest of that file (provenance).
        gender: "female", "male" or "neutral" as the file declares it (a ``gender`` member or its name),
            or None when it does not say.
        v_template: (V, 3) rest vertices in metres.
        shapedirs: (V, 3, B) shape blend shapes per unit beta.
        posedirs: (V, 3, P) pose blend shapes.
        J_regressor: (J, V) joint regressor (dense).
        weights: (V, J) skinning weights (rows sum to 1).
        parents: (J,) parent joint index, -1 for the root.
        faces: (F, 3) triangles (vertex indices).
    """

    path: Path
    sha256: str
    gender: str | None
    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    faces: np.ndarray

    @property
    def n_joints(self) -> int:
        return int(self.J_regressor.shape[0])

    @property
    def kind(self) -> str:
        return MODEL_KINDS.get(self.n_joints, f"{self.n_joints}-joint")

    @property
    def n_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def version(self) -> str:
        """``"<file name> sha256:<first 16 hex>"``, recorded in compiled assets."""
        return f"{self.path.name} sha256:{self.sha256[:16]}"


# ---------------------------------------------------------------------------------------------------------------
# Files -> arrays


def default_cache_dir() -> Path:
    """Where converted ``.pkl`` models go: ``$TEXT2IMU_SMPL_CACHE``, else ``$XDG_CACHE_HOME/text2imu/smpl``
    (``~/.cache/text2imu/smpl``). Users may delete it at any time; it is rebuilt from their files."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "text2imu" / "smpl"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def gender_from_name(path: Path) -> str | None:
    """Gender a model file name (or its folder) declares: ``SMPL_FEMALE.pkl``, ``basicModel_m_lbs_...pkl``,
    ``SMPLH_neutral.npz``, ``smplh/female/model.npz``; None when it says nothing."""
    for part in (path.stem, path.parent.name):
        low = part.lower()
        m = re.match(r"basicmodel_(f|m|neutral)_", low)
        if m:
            return {"f": "female", "m": "male", "neutral": "neutral"}[m.group(1)]
        for gender in GENDERS:  # "female" before "male": it contains it
            if re.search(rf"(^|[^a-z]){gender}($|[^a-z])", low):
                return gender
    return None


def _decode_gender(value: object, path: Path) -> str:
    arr = np.asarray(value)
    item = arr.item() if arr.shape == () else None
    if isinstance(item, bytes):
        item = item.decode("utf-8", "replace")
    if not isinstance(item, str) or item.strip().lower() not in GENDERS:
        raise FormatError(f"{path}: 'gender' is {value!r}; expected one of {', '.join(GENDERS)}")
    return item.strip().lower()


def _open_npz_arrays(path: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """The required arrays of an ``.npz`` model (and its ``gender`` member if any), without unpickling."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in REQUIRED_KEYS if k not in data.files]
            if missing:
                raise FormatError(
                    f"{path}: not an SMPL-family model: missing {', '.join(missing)} "
                    f"(found: {', '.join(sorted(data.files)) or 'nothing'})"
                )
            arrays = {k: np.asarray(data[k]) for k in REQUIRED_KEYS}
            gender = _decode_gender(data["gender"], path) if "gender" in data.files else None
    except FormatError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise FormatError(f"{path}: cannot read as an SMPL .npz model ({err})") from err
    return arrays, gender


def read_pkl_arrays(path: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """The required arrays of a (chumpy) ``.pkl`` SMPL model, without importing chumpy or running its code."""
    raw = load_model_pickle(path)
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        found = ", ".join(sorted(str(k) for k in raw)) or "nothing"
        raise FormatError(f"{path}: not an SMPL-family model: missing {', '.join(missing)} (found: {found})")
    arrays = {k: to_array(raw[k], k, path) for k in REQUIRED_KEYS}
    gender = _decode_gender(raw["gender"], path) if isinstance(raw.get("gender"), (str, bytes)) else None
    return arrays, gender


def array_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """Shape and content checks of a model's arrays; each problem as a sentence (empty when fine)."""
    found: list[str] = []
    v = arrays["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
        return [f"v_template has shape {v.shape}, expected (V, 3)"]
    n_v = v.shape[0]
    jr = arrays["J_regressor"]
    if jr.ndim != 2 or jr.shape[1] != n_v:
        return [f"J_regressor has shape {jr.shape}, expected (J, {n_v})"]
    n_j = jr.shape[0]
    expect = {
        "shapedirs": (n_v, 3, None),
        "posedirs": (n_v, 3, None),
        "weights": (n_v, n_j),
        "kintree_table": (2, n_j),
        "f": (None, 3),
    }
    for key, shape in expect.items():
        got = arrays[key].shape
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got, strict=False)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            found.append(f"{key} has shape {got}, expected {want}")
    if found:
        return found
    if n_j not in MODEL_KINDS:
        found.append(f"{n_j} joints; SMPL has 24, SMPL-H 52, SMPL-X 55")
    if arrays["posedirs"].shape[2] != 9 * (n_j - 1):
        found.append(f"posedirs has {arrays['posedirs'].shape[2]} pose blend shapes, expected 9 x {n_j - 1}")
    if arrays["shapedirs"].shape[2] < 1:
        found.append("shapedirs holds no shape blend shapes")
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        if not np.issubdtype(arrays[key].dtype, np.number) or not np.isfinite(arrays[key]).all():
            found.append(f"{key} is not all finite numbers")
    if found:
        return found
    f = arrays["f"]
    if not np.issubdtype(f.dtype, np.integer) or f.min(initial=0) < 0 or f.max(initial=0) >= n_v:
        found.append(f"f indexes vertices outside 0..{n_v - 1}")
    sums = arrays["weights"].sum(axis=1)
    if np.abs(sums - 1).max() > 1e-3:
        found.append("skinning weights do not sum to 1 per vertex")
    parents = parents_from_kintree(arrays["kintree_table"])
    if n_j >= 22 and tuple(parents[:22]) != BODY_PARENTS:
        found.append(f"kintree_table parents {parents[:22].tolist()} are not SMPL's body tree")
    return found


def parents_from_kintree(kintree_table: np.ndarray) -> np.ndarray:
    """(2, J) kintree table -> (J,) int64 parents with -1 at the root (SMPL stores 2**32 - 1 there)."""
    parents = np.asarray(kintree_table[0]).astype(np.int64)
    parents[0] = -1
    return parents


def _checked(arrays: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    problems = array_problems(arrays)
    if problems:
        raise FormatError(f"{path}: not a usable SMPL-family model: " + "; ".join(problems))
    out = {
        k: np.asarray(arrays[k], dtype=np.float64) for k in REQUIRED_KEYS if k not in ("kintree_table", "f")
    }
    out["kintree_table"] = np.asarray(arrays["kintree_table"]).astype(np.int64)
    out["f"] = np.asarray(arrays["f"]).astype(np.int64)
    return out


def convert_pkl(path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Convert a chumpy ``.pkl`` SMPL model to a plain ``.npz`` in ``cache_dir`` and return its path.

    The cache file is ``<stem>.<sha256[:16]>.npz``; an existing one is reused. It holds the arrays of
    :data:`REQUIRED_KEYS` plus ``gender`` (when the file or its name declares it) and ``source_sha256``. Bad input
    raises FormatError before anything is written.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: SMPL model file not found")
    digest = file_sha256(path)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"{path.stem}.{digest[:16]}.npz"
    if target.is_file():
        return target
    arrays, gender = read_pkl_arrays(path)
    arrays = _checked(arrays, path)
    gender = gender or gender_from_name(path)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp.npz")
    extra = {"gender": np.array(gender)} if gender else {}
    np.savez(tmp, source_sha256=np.array(digest), **arrays, **extra)
    tmp.replace(target)
    log.info("converted %s to %s (plain numpy, no chumpy); delete the cache folder to redo it", path, target)
    return target


def read_body_model(path: str | Path, cache_dir: str | Path | None = None) -> BodyModelArrays:
    """Read and check an SMPL / SMPL-H model file (``.npz`` or ``.pkl``); FormatError naming it when unusable."""
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: SMPL model file not found (pass the .npz or .pkl you downloaded)")
    if path.is_dir():
        raise FormatError(f"{path}: is a folder; pass the model file itself (e.g. SMPL_FEMALE.pkl)")
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        npz = convert_pkl(path, cache_dir)
        arrays, gender = _open_npz_arrays(npz)
        digest = file_sha256(path)
    elif suffix == ".npz":
        arrays, gender = _open_npz_arrays(path)
        digest = file_sha256(path)
    else:
        raise FormatError(f"{path}: expected an SMPL model .npz or .pkl file")
    arrays = _checked(arrays, path)
    return BodyModelArrays(
        path=path,
        sha256=digest,
        gender=gender or gender_from_name(path),
        v_template=arrays["v_template"],
        shapedirs=arrays["shapedirs"],
        posedirs=arrays["posedirs"],
        J_regressor=arrays["J_regressor"],
        weights=arrays["weights"],
        parents=parents_from_kintree(arrays["kintree_table"]),
        faces=arrays["f"],
    )


def check_gender(model: BodyModelArrays, wanted: str | None) -> None:
    """FormatError when ``wanted`` ("female"/"male"/"neutral") differs from the gender the file declares."""
    if wanted is None or model.gender is None or wanted == model.gender:
        return
    raise FormatError(
        f"{model.path}: this is a {model.gender} model (from its {'name' if gender_from_name(model.path) else 'gender'}"
        f"), but it was given as the {wanted} model"
    )


# ---------------------------------------------------------------------------------------------------------------
# smplx


@dataclass(frozen=True)
class SmplModel:
    """A checked SMPL model and the ``smplx.SMPL`` module built from it (float64, ``num_betas`` betas).

    Attributes:
        arrays: the file's arrays (:class:`BodyModelArrays`).
        module: ``smplx.SMPL`` built with ``data_struct`` from those arrays.
        gender: the gender used ("female", "male", "neutral").
        num_betas: betas the module takes.
    """

    arrays: BodyModelArrays
    module: object
    gender: str
    num_betas: int

    def shaped_vertices(self, betas):
        """(num_betas,) or (B, num_betas) betas (array or torch) -> (B, V, 3) torch float64 rest vertices (m)."""
        import torch

        b = torch.as_tensor(betas, dtype=torch.float64)
        b = b.reshape(-1, self.num_betas)
        return self.module.forward_shape(betas=b).v_shaped

    def rest_joints(self, vertices):
        """(B, V, 3) torch vertices -> (B, J, 3) joints through the model's J_regressor (smplx)."""
        from smplx.lbs import vertices2joints

        return vertices2joints(self.module.J_regressor, vertices)


def build_smplx(arrays: BodyModelArrays, gender: str, num_betas: int = 10):
    """The ``smplx.SMPL`` module of ``arrays`` (float64). smplx's stdout chatter goes to the debug log."""
    import smplx
    import torch
    from smplx.utils import Struct
    from smplx.vertex_ids import vertex_ids as smplx_vertex_ids

    struct = Struct(
        v_template=arrays.v_template,
        shapedirs=arrays.shapedirs,
        posedirs=arrays.posedirs,
        J_regressor=arrays.J_regressor,
        weights=arrays.weights,
        kintree_table=np.stack([arrays.parents, np.arange(arrays.n_joints)]),
        f=arrays.faces,
    )
    if arrays.v_template.shape[0] == SMPL_VERTEX_COUNT:
        vertex_ids = smplx_vertex_ids["smplh"]
    else:  # a smaller test mesh: smplx's extra vertex joints are unused here, point them at vertex 0
        vertex_ids = dict.fromkeys(smplx_vertex_ids["smplh"], 0)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        module = smplx.SMPL(
            model_path=str(arrays.path),
            data_struct=struct,
            gender=gender,
            num_betas=num_betas,
            dtype=torch.float64,
            vertex_ids=vertex_ids,
        )
    if chatter.getvalue().strip():
        log.debug("smplx: %s", chatter.getvalue().strip())
    return module


def load_smpl(
    path: str | Path,
    gender: str | None = None,
    *,
    num_betas: int = 10,
    cache_dir: str | Path | None = None,
) -> SmplModel:
    """Load a user's SMPL model file (``.npz`` or ``.pkl``) through ``smplx.SMPL(..., data_struct=...)``.

    Args:
        path: the model file.
        gender: the gender it is used for ("female", "male", "neutral"); a file that declares another gender is a
            FormatError. None: take the file's own (neutral when it says nothing).
        num_betas: shape coefficients used (the first ``num_betas``; fewer if the file has fewer).
        cache_dir: where ``.pkl`` files are converted (:func:`default_cache_dir` by default).
    """
    if gender is not None and gender not in GENDERS:
        raise FormatError(f"unknown gender {gender!r}; expected one of {', '.join(GENDERS)}")
    arrays = read_body_model(path, cache_dir)
    if arrays.n_joints != 24:
        raise FormatError(
            f"{arrays.path}: has {arrays.n_joints} joints ({arrays.kind}); an SMPL model has 24"
        )
    check_gender(arrays, gender)
    used = gender or arrays.gender or "neutral"
    nb = min(num_betas, arrays.n_betas)
    return SmplModel(arrays=arrays, module=build_smplx(arrays, used, nb), gender=used, num_betas=nb)
