"""The compiled per-shape body asset: everything run time needs from a body model, without the model.

A :class:`BodyAsset` is built once per (body model, shape) by a compile script (Anny: ``compile_anny``; SMPL:
``compile_smpl``) and stored as ``assets/<body_model>/<shape>.npz``. Run time (fitting, sparse skinning,
simulation) loads it and never imports the body model.

Conventions: world frame y-up, metres, body facing +z with its left towards +x, standing on y = 0, in the
model's rest pose. Joints are the 22 HumanML3D joints (:mod:`text2imu.builder.skeleton`). Skinning weights
follow SMPL's convention: weight column j moves a vertex with the rigid segment whose proximal joint is j
(segment j spans joint j to its children), so a vertex on the upper arm is weighted on the shoulder joint (16/17).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..output import atomic_path
from ..skeleton import N_JOINTS, skeleton

ASSET_FORMAT_VERSION = 1


@dataclass(frozen=True)
class BodyAsset:
    """One body model in one shape, reduced to its skin sites.

    Attributes:
        body_model: "anny" or "smpl".
        body_model_version: version string of the model package or file it was compiled from.
        shape: Table I shape name, e.g. "female_short".
        shape_params: (P,) the model's shape parameters that reach the shape (Anny phenotypes or SMPL betas).
        shape_param_names: (P,) their names.
        height_m, weight_kg: what the fitted body reaches (mass = mesh volume x density_kg_m3).
        target_height_m, target_weight_kg: Table I targets.
        density_kg_m3: density used for the mass.
        rest_joints_m: (22, 3) joint positions in the rest pose.
        site_names: (S,) site names, e.g. "realworld.waist".
        site_vertex_ids: (S,) index of each site's vertex in the model's full mesh.
        patch_vertices_m: (S, K, 3) rest positions of each site's patch: row 0 is the site vertex, rows 1.. its
            one-ring neighbours; unused rows (rings shorter than K) are NaN.
        patch_faces: (S, F, 3) triangles of each patch as local row indices into ``patch_vertices_m[s]``,
            wound counter-clockwise seen from outside (so the cross product points out of the body); unused
            rows are -1.
        patch_weights: (S, K, 22) linear-blend-skinning weights of the patch vertices over the 22 segments
            (rows sum to 1; unused rows 0).
        provenance: free-form JSON-serialisable facts (fitting residuals, script, source files' hashes).
    """

    body_model: str
    body_model_version: str
    shape: str
    shape_params: np.ndarray
    shape_param_names: tuple[str, ...]
    height_m: float
    weight_kg: float
    target_height_m: float
    target_weight_kg: float
    density_kg_m3: float
    rest_joints_m: np.ndarray
    site_names: tuple[str, ...]
    site_vertex_ids: np.ndarray
    patch_vertices_m: np.ndarray
    patch_faces: np.ndarray
    patch_weights: np.ndarray
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = asset_problems(self)
        if problems:
            raise FormatError(f"body asset {self.body_model}/{self.shape}: " + "; ".join(problems))

    def site_index(self, site: str) -> int:
        from ..errors import UnknownNameError

        try:
            return self.site_names.index(site)
        except ValueError:
            raise UnknownNameError("site", site, self.site_names) from None

    def save(self, path: str | Path) -> Path:
        """Write the asset as a compressed .npz (written to a temporary name, then moved in place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": ASSET_FORMAT_VERSION,
            "body_model": self.body_model,
            "body_model_version": self.body_model_version,
            "shape": self.shape,
            "shape_param_names": list(self.shape_param_names),
            "height_m": self.height_m,
            "weight_kg": self.weight_kg,
            "target_height_m": self.target_height_m,
            "target_weight_kg": self.target_weight_kg,
            "density_kg_m3": self.density_kg_m3,
            "site_names": list(self.site_names),
            "provenance": self.provenance,
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                meta_json=np.array(json.dumps(meta, sort_keys=True)),
                shape_params=np.asarray(self.shape_params, dtype=np.float64),
                rest_joints_m=np.asarray(self.rest_joints_m, dtype=np.float64),
                site_vertex_ids=np.asarray(self.site_vertex_ids, dtype=np.int64),
                patch_vertices_m=np.asarray(self.patch_vertices_m, dtype=np.float64),
                patch_faces=np.asarray(self.patch_faces, dtype=np.int64),
                patch_weights=np.asarray(self.patch_weights, dtype=np.float64),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> BodyAsset:
        """Read an asset written by :meth:`save`; a missing or malformed file raises FormatError naming it."""
        path = Path(path)
        if not path.is_file():
            raise FormatError(f"{path}: body asset not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta_json"]))
                arrays = {k: z[k] for k in z.files if k != "meta_json"}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            raise FormatError(f"{path}: not a readable body asset ({err})") from err
        if meta.get("format_version") != ASSET_FORMAT_VERSION:
            raise FormatError(
                f"{path}: body asset format {meta.get('format_version')!r}, expected {ASSET_FORMAT_VERSION}; "
                "recompile it"
            )
        try:
            return cls(
                body_model=meta["body_model"],
                body_model_version=meta["body_model_version"],
                shape=meta["shape"],
                shape_params=arrays["shape_params"],
                shape_param_names=tuple(meta["shape_param_names"]),
                height_m=float(meta["height_m"]),
                weight_kg=float(meta["weight_kg"]),
                target_height_m=float(meta["target_height_m"]),
                target_weight_kg=float(meta["target_weight_kg"]),
                density_kg_m3=float(meta["density_kg_m3"]),
                rest_joints_m=arrays["rest_joints_m"],
                site_names=tuple(meta["site_names"]),
                site_vertex_ids=arrays["site_vertex_ids"],
                patch_vertices_m=arrays["patch_vertices_m"],
                patch_faces=arrays["patch_faces"],
                patch_weights=arrays["patch_weights"],
                provenance=meta.get("provenance", {}),
            )
        except KeyError as err:
            raise FormatError(f"{path}: body asset lacks {err}") from err


def asset_problems(a: BodyAsset) -> list[str]:
    """Shape and content checks of an asset; each problem as a sentence."""
    found = []
    s = len(a.site_names)
    if np.shape(a.rest_joints_m) != (N_JOINTS, 3):
        found.append(f"rest_joints_m has shape {np.shape(a.rest_joints_m)}, expected ({N_JOINTS}, 3)")
    if np.shape(a.site_vertex_ids) != (s,):
        found.append(f"site_vertex_ids has shape {np.shape(a.site_vertex_ids)}, expected ({s},)")
    pv, pf, pw = np.shape(a.patch_vertices_m), np.shape(a.patch_faces), np.shape(a.patch_weights)
    if len(pv) != 3 or pv[0] != s or pv[2] != 3:
        found.append(f"patch_vertices_m has shape {pv}, expected ({s}, K, 3)")
    elif pw != (s, pv[1], N_JOINTS):
        found.append(f"patch_weights has shape {pw}, expected ({s}, {pv[1]}, {N_JOINTS})")
    if len(pf) != 3 or pf[0] != s or pf[2] != 3:
        found.append(f"patch_faces has shape {pf}, expected ({s}, F, 3)")
    if found:
        return found
    used = ~np.isnan(a.patch_vertices_m[..., 0])
    if not used[:, 0].all():
        found.append("a site vertex (patch row 0) is NaN")
    sums = a.patch_weights.sum(-1)
    if np.abs(sums[used] - 1).max(initial=0) > 1e-4:
        found.append("skinning weights of a patch vertex do not sum to 1")
    if (a.patch_faces >= pv[1]).any():
        found.append("patch_faces index past the patch")
    if len(a.shape_params) != len(a.shape_param_names):
        found.append("shape_params and shape_param_names differ in length")
    _ = skeleton()
    return found


def asset_path(body_model: str, shape: str) -> Path:
    """Where the committed asset of ``body_model`` in ``shape`` lives inside the package."""
    return Path(__file__).parent / "assets" / body_model / f"{shape}.npz"
