"""Compile Anny (NAVER's parametric body model, PyPI ``anny``) into one small BodyAsset per Table I shape.

    python -m text2imu.builder.bodies.compile_anny [--shapes male_tall ...] [--out DIR] [--check-sites]

What it does, per shape:

1. Builds Anny (``Anny(rig="anny", topology="anny")``, default phenotypes; Anny caches its model data under
   ``~/.cache/anny``, so only the first build on a machine takes ~40 s) and fixes the phenotypes that Table I
   does not give: gender 0 (male) or 1 (female), age = Anny's value for a 30-year-old (Anny's own
   morphological-age calibration), proportions 0.5.
2. Fits two unknowns to the two targets with ``scipy.optimize.least_squares``: Anny's ``height`` phenotype and a
   build parameter t in [-1, 1.5] that moves ``weight`` and ``muscle`` along one path: t < 0 lowers weight at
   average muscle (weight = 0.5 + t / 2); 0 < t <= 1 raises weight and lowers muscle together (weight =
   0.5 + t / 2, muscle = 0.5 - t / 2), towards MakeHuman's min-muscle/max-weight build, the heaviest per height;
   t > 1 extrapolates ``weight`` linearly past its maximum at minimum muscle (Anny is built with
   ``extrapolate_phenotypes=True``, which changes nothing inside [0, 1]). Only female_adipose (BMI 35.3) needs
   t > 1: the heaviest in-range female build of 165.8 cm weighs about 94.7 kg at 985 kg/m^3. Along this path the
   mass grows monotonically, so the fit is a well-posed 2 x 2 root finding.
   Height = vertical extent of the rest mesh; mass = volume of the closed body surface x density
   (``body_density_kg_m3()``, 985 kg/m^3). The eyeballs and the tongue, separate closed shells inside the head,
   are left out of the volume; the body surface is checked to be closed and consistently wound. A fit outside
   0.5 cm / 1 kg is an error.
3. Takes Anny's rest pose (its bind pose: identity pose parameters, arms about 45 degrees down, elbows a little
   bent) into the project's frame (Anny is z-up facing -y; the project is y-up facing +z, left +x), puts the
   soles on y = 0 and the pelvis joint over x = z = 0.
4. Maps Anny's rig onto the 22 HumanML3D joints in SMPL's joint convention (:mod:`.anny_rig`: bone heads, then
   pelvis, hips and collars placed by SMPL's shape of the pelvis and spine3 segments) and its bone skinning
   weights onto the 22 segments (``data/anny_skeleton.toml``), takes each site's vertex (``data/sites.toml``,
   key ``anny``) with its one-ring neighbours and ring triangles, and writes ``assets/anny/<shape>.npz``.

``--choose-sites`` runs the site rules (``anny_rule`` in sites.toml) on the body fitted to male_average and logs
the vertex ids they pick (the ``anny`` ids recorded in sites.toml); ``--check-sites`` re-runs the rules on every
compiled shape and logs how far the recorded vertex lies from where the rule lands on that shape.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import FormatError, Text2ImuError
from ..skeleton import skeleton
from .anny_rig import anny_joints, bone_head_joints, bone_segments, smpl_convention_joints
from .asset import BodyAsset, asset_path
from .mesh import closed_surface_problems, face_components, mesh_height_m, mesh_volume_m3, one_ring
from .shapes import BodyShape, body_density_kg_m3, body_shape, shape_names
from .sites import site
from .sites import sites as all_sites

log = logging.getLogger(__name__)

ANNY_CONFIG = {"rig": "anny", "topology": "anny", "phenotypes": "default", "extrapolate_phenotypes": True}
# Anny (x left, y back, z up) -> project world (x left, y up, z front): a proper rotation of -90 deg about x.
ANNY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
ADULT_AGE_YEARS = 30.0
PROPORTIONS = 0.5
BUILD_MAX = 1.5
SITE_REFERENCE_SHAPE = "male_average"  # the body the site rules ran on to choose the ids in sites.toml
HEIGHT_TOL_M = 0.005
WEIGHT_TOL_KG = 1.0
REST_POSE = "Anny bind pose (identity pose parameters): arms about 45 deg down, elbows slightly bent"


class FitError(Text2ImuError):
    """A body model could not reach a Table I shape within tolerance."""


@cache
def anny_model():
    """The Anny model (built once per process; float64, CPU)."""
    try:
        import anny
    except ImportError as err:  # pragma: no cover - anny is a declared dependency
        raise Text2ImuError("compiling Anny assets needs the 'anny' package (pip install anny)") from err
    t0 = time.perf_counter()
    model = anny.Anny(**ANNY_CONFIG)
    log.info("built Anny %s in %.1f s", anny_version(), time.perf_counter() - t0)
    return model


def anny_version() -> str:
    from importlib.metadata import version

    return version("anny")


@cache
def adult_age_phenotype(years: float = ADULT_AGE_YEARS) -> float:
    """Anny's ``age`` phenotype for a body of ``years`` (Anny's morphological-age calibration, piecewise linear)."""
    import anny
    import torch

    path = Path(anny.__file__).parent / "data" / "shape_calibration" / "boys.pth"
    mapping = torch.load(path, weights_only=True, map_location="cpu")["morphological_age_mapping"]
    return float(
        np.interp(years, mapping["morphological_age_anchors"].numpy(), mapping["anny_age_anchors"].numpy())
    )


def phenotypes_for(sex: str, height: float, build: float) -> dict[str, float]:
    """Anny phenotype values for ``sex``, Anny ``height`` in [0, 1] and the build parameter t in [-1, 1.5]."""
    weight = 0.5 + 0.5 * build
    muscle = 0.5 - 0.5 * min(max(build, 0.0), 1.0)
    return {
        "gender": 0.0 if sex == "male" else 1.0,
        "age": adult_age_phenotype(),
        "muscle": muscle,
        "weight": weight,
        "height": height,
        "proportions": PROPORTIONS,
    }


@dataclass(frozen=True)
class AnnyRest:
    """One Anny body in the rest pose, in the project frame (y-up, facing +z, soles on y = 0).

    Attributes:
        vertices_m: (V, 3) all mesh vertices. faces: (F, 3) all faces (body, eyeballs, tongue).
        body_faces: (Fb, 3) the closed outer body surface. bone_heads_m: (B, 3) rest heads of Anny's bones.
        bone_labels: (B,) Anny bone names.
    """

    vertices_m: np.ndarray
    faces: np.ndarray
    body_faces: np.ndarray
    bone_heads_m: np.ndarray
    bone_labels: tuple[str, ...]


@cache
def _body_face_mask() -> np.ndarray:
    model = anny_model()
    faces = model.faces.cpu().numpy()
    mask = face_components(faces, model.template_vertices.shape[0]) == 0
    problems = closed_surface_problems(faces[mask])
    if problems:
        raise FormatError("Anny's body surface is not closed: " + "; ".join(problems))
    return mask


def anny_rest(phenotypes: dict[str, float], *, center: bool = True) -> AnnyRest:
    """Anny's rest mesh and bone heads for ``phenotypes`` in the project frame (soles on y = 0, the SMPL-convention
    pelvis joint of :func:`rest_joints` at x = z = 0)."""
    import torch

    model = anny_model()
    with torch.no_grad():
        out = model(phenotype_kwargs={k: float(v) for k, v in phenotypes.items()})
    verts = out["rest_vertices"][0].cpu().numpy().astype(np.float64) @ ANNY_TO_WORLD.T
    heads = out["rest_bone_heads"][0].cpu().numpy().astype(np.float64) @ ANNY_TO_WORLD.T
    if center:
        pelvis = anny_joints(heads, tuple(model.bone_labels))[0]
        shift = np.array([-pelvis[0], -verts[:, 1].min(), -pelvis[2]])
        verts, heads = verts + shift, heads + shift
    faces = model.faces.cpu().numpy().astype(np.int64)
    return AnnyRest(verts, faces, faces[_body_face_mask()], heads, tuple(model.bone_labels))


def measure(rest: AnnyRest, density_kg_m3: float) -> tuple[float, float]:
    """(height m, mass kg) of a rest body: vertical extent, closed body volume x density."""
    volume = mesh_volume_m3(rest.vertices_m, rest.body_faces)
    if volume <= 0:
        raise FormatError("Anny's body surface is wound inwards (negative volume)")
    return mesh_height_m(rest.vertices_m), volume * density_kg_m3


@dataclass(frozen=True)
class AnnyFit:
    """Phenotypes reaching a shape, and what they reach (height m, mass kg)."""

    phenotypes: dict[str, float]
    build: float
    height_m: float
    weight_kg: float
    evaluations: int


def fit_shape(shape: BodyShape, density_kg_m3: float) -> AnnyFit:
    """Fit Anny's height phenotype and build parameter to ``shape`` (see the module docstring)."""
    from scipy.optimize import least_squares

    def residuals(x):
        h, w = measure(anny_rest(phenotypes_for(shape.sex, x[0], x[1]), center=False), density_kg_m3)
        return [(h - shape.height_m) / 0.001, (w - shape.weight_kg) / 0.1]  # in mm and in 100 g

    sol = least_squares(
        residuals,
        x0=[0.4, 0.2],
        bounds=([0.0, -1.0], [1.0, BUILD_MAX]),
        diff_step=1e-4,
        xtol=1e-12,
        ftol=1e-12,
    )
    pheno = phenotypes_for(shape.sex, float(sol.x[0]), float(sol.x[1]))
    h, w = measure(anny_rest(pheno, center=False), density_kg_m3)
    if abs(h - shape.height_m) > HEIGHT_TOL_M or abs(w - shape.weight_kg) > WEIGHT_TOL_KG:
        raise FitError(
            f"Anny reaches {h * 100:.1f} cm / {w:.1f} kg for {shape.name} "
            f"({shape.height_cm} cm / {shape.weight_kg} kg wanted); outside its phenotype range"
        )
    return AnnyFit(pheno, float(sol.x[1]), h, w, int(sol.nfev))


def rest_joints(rest: AnnyRest) -> np.ndarray:
    """(22, 3) HumanML3D joints (m) of a rest body in SMPL's convention (:mod:`.anny_rig`)."""
    return anny_joints(rest.bone_heads_m, rest.bone_labels)


def segment_weights(vertex_ids: np.ndarray) -> np.ndarray:
    """(N, 22) Anny skinning weights of ``vertex_ids`` summed onto the 22 segments (rows sum to 1)."""
    model = anny_model()
    seg = bone_segments(tuple(model.bone_labels))
    idx = model.vertex_bone_indices.cpu().numpy()[vertex_ids]
    w = model.vertex_bone_weights.cpu().numpy().astype(np.float64)[vertex_ids]
    out = np.zeros((len(vertex_ids), len(skeleton().names)))
    np.add.at(out, (np.arange(len(vertex_ids))[:, None].repeat(idx.shape[1], 1), seg[idx]), w)
    return out / out.sum(axis=1, keepdims=True)


def site_patches(rest: AnnyRest, vertex_ids: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches of the sites: (S, K, 3) vertices (NaN-padded), (S, F, 3) local faces (-1-padded), (S, K, 22) weights."""
    rings = [one_ring(rest.body_faces, v) for v in vertex_ids]
    k = max(len(ids) for ids, _ in rings)
    f = max(len(fc) for _, fc in rings)
    pv = np.full((len(rings), k, 3), np.nan)
    pf = np.full((len(rings), f, 3), -1, dtype=np.int64)
    pw = np.zeros((len(rings), k, len(skeleton().names)))
    for s, (ids, local) in enumerate(rings):
        pv[s, : len(ids)] = rest.vertices_m[ids]
        pf[s, : len(local)] = local
        pw[s, : len(ids)] = segment_weights(ids)
    return pv, pf, pw


def compile_shape(name: str, density_kg_m3: float | None = None) -> BodyAsset:
    """Fit Anny to Table I shape ``name`` and reduce it to a BodyAsset."""
    shape = body_shape(name)
    density = body_density_kg_m3() if density_kg_m3 is None else float(density_kg_m3)
    fit = fit_shape(shape, density)
    rest = anny_rest(fit.phenotypes)
    joints, convention_scale = smpl_convention_joints(bone_head_joints(rest.bone_heads_m, rest.bone_labels))
    site_list = [s for s in all_sites() if "anny" in s.vertex_ids]
    pv, pf, pw = site_patches(rest, [s.vertex_ids["anny"] for s in site_list])
    labels = list(fit.phenotypes)
    return BodyAsset(
        body_model="anny",
        body_model_version=anny_version(),
        shape=shape.name,
        shape_params=np.array([fit.phenotypes[k] for k in labels]),
        shape_param_names=tuple(labels),
        height_m=round(fit.height_m, 6),
        weight_kg=round(fit.weight_kg, 4),
        target_height_m=shape.height_m,
        target_weight_kg=shape.weight_kg,
        density_kg_m3=density,
        rest_joints_m=joints,
        site_names=tuple(s.name for s in site_list),
        site_vertex_ids=np.array([s.vertex_ids["anny"] for s in site_list]),
        patch_vertices_m=pv,
        patch_faces=pf,
        patch_weights=pw,
        provenance={
            "script": "python -m text2imu.builder.bodies.compile_anny",
            "anny_version": anny_version(),
            "anny_config": ANNY_CONFIG,
            "density_kg_m3": density,
            "adult_age_years": ADULT_AGE_YEARS,
            "build_parameter": round(fit.build, 6),
            "height_residual_cm": round((fit.height_m - shape.height_m) * 100, 6),
            "weight_residual_kg": round(fit.weight_kg - shape.weight_kg, 6),
            "fit_evaluations": fit.evaluations,
            "height_definition": "vertical extent of the rest mesh (top of head to soles)",
            "mass_definition": "volume of the closed outer body surface (eyeballs and tongue excluded) x density",
            "rest_pose": REST_POSE,
            "frame": "y-up, facing +z, left +x, soles on y=0, pelvis joint at x=z=0; Anny (x, y, z) -> (x, z, -y)",
            "joint_convention": "SMPL/HumanML3D: pelvis, hips and collars by [smpl_convention] of the joint map, "
            "the other joints at Anny's bone heads",
            "convention_scale": round(convention_scale, 6),
            "body_vertices": int(len(np.unique(rest.body_faces))),
            "joint_map": "builder/data/anny_skeleton.toml",
            "sites": "builder/data/sites.toml (key anny)",
        },
    )


def rule_vertices(rest: AnnyRest, joints: np.ndarray) -> dict[str, int]:
    """Vertex each site's ``anny_rule`` picks on this body."""
    from .mesh import site_vertex_by_ray

    return {
        s.name: site_vertex_by_ray(rest.vertices_m, rest.body_faces, joints, None, s.rules["anny"])[0]
        for s in all_sites()
        if "anny" in s.rules
    }


def check_sites(rest: AnnyRest, joints: np.ndarray) -> dict[str, float]:
    """Distance (m) from each recorded Anny site vertex to where its ``anny_rule`` lands on this body."""
    out = {}
    for name, vid in rule_vertices(rest, joints).items():
        recorded = site(name).vertex_ids.get("anny")
        if recorded is not None:
            out[name] = float(np.linalg.norm(rest.vertices_m[vid] - rest.vertices_m[recorded]))
    return out


def choose_site_vertices() -> dict[str, int]:
    """Anny vertex of every site by its rule on the body fitted to SITE_REFERENCE_SHAPE (the ids in sites.toml)."""
    fit = fit_shape(body_shape(SITE_REFERENCE_SHAPE), body_density_kg_m3())
    rest = anny_rest(fit.phenotypes)
    return rule_vertices(rest, rest_joints(rest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m text2imu.builder.bodies.compile_anny", description=__doc__
    )
    parser.add_argument("--shapes", nargs="+", default=None, help="Table I shapes (default: all eight)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the package's assets/anny)"
    )
    parser.add_argument("--check-sites", action="store_true", help="log rule-vs-recorded site distances")
    parser.add_argument(
        "--choose-sites",
        action="store_true",
        help=f"log the vertex ids the site rules pick on {SITE_REFERENCE_SHAPE}",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.choose_sites:
        for name, vid in choose_site_vertices().items():
            recorded = site(name).vertex_ids.get("anny")
            log.info("%-20s anny = %d  (recorded: %s)", name, vid, recorded)
        return 0
    names = args.shapes or list(shape_names())
    try:
        for name in names:
            body_shape(name)  # fail early on a typo
        for name in names:
            t0 = time.perf_counter()
            asset = compile_shape(name)
            path = (args.out / f"{name}.npz") if args.out else asset_path("anny", name)
            asset.save(path)
            log.info(
                "%s: %.2f cm / %.2f kg (target %.1f / %.1f) -> %s in %.1f s",
                name, asset.height_m * 100, asset.weight_kg, asset.target_height_m * 100, asset.target_weight_kg,
                path, time.perf_counter() - t0,
            )  # fmt: skip
            if args.check_sites:
                rest = anny_rest(dict(zip(asset.shape_param_names, asset.shape_params, strict=True)))
                for name_, dist in check_sites(rest, asset.rest_joints_m).items():
                    log.info("  %-20s rule lands %.1f cm from the recorded vertex", name_, dist * 100)
    except Text2ImuError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
