"""Compile a user's SMPL model into one BodyAsset per Table I shape, in a folder of the user's (never the package).

    python -m text2imu.builder.bodies.compile_smpl --model female=SMPL_FEMALE.pkl --model male=SMPL_MALE.pkl \
        --out ~/text2imu-smpl-assets
    export TEXT2IMU_SMPL_ASSETS=~/text2imu-smpl-assets     # where run time looks for them

SMPL is licensed, and so is everything derived from it: the assets are written only to ``--out`` (default
``$TEXT2IMU_SMPL_ASSETS``), a folder inside the installed package is refused, and nothing is downloaded.

Per shape:

1. Model: ``female_*`` shapes use the female model and ``male_*`` the male one when given, else the neutral one.
   ``--model PATH`` takes the gender the file declares (its name, e.g. ``SMPL_FEMALE.pkl`` /
   ``basicModel_f_lbs_...pkl``, or a ``gender`` member; neutral when silent); ``--model GENDER=PATH`` checks it.
2. Betas (the first 10) fitted to the height and weight (:func:`~text2imu.builder.bodies.smpl_fit.fit_betas`:
   height = vertical extent of the rest mesh, mass = closed-mesh volume x 985 kg/m^3, minimum-norm betas).
3. SMPL's rest (T) pose is already in the project frame (y-up, facing +z, left +x); the soles are put on y = 0
   and the pelvis over x = z = 0. The 24 joints come from the J_regressor; the first 22 are HumanML3D's.
   Skinning weights of joints past 21 (SMPL's hands 22/23, SMPL-H's fingers) are folded into their wrist.
4. Sites (:func:`smpl_site_vertices`): the ``smpl`` vertex ids of ``sites.toml`` on SMPL's 6890-vertex
   topology; a site without one, and every site on another mesh (a test model), is placed by its geometric
   rule on the model's template body. Each site keeps its vertex, one-ring neighbours, ring triangles and their
   folded skinning weights.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ..errors import FormatError, Text2ImuError
from ..skeleton import N_JOINTS, skeleton
from .asset import BodyAsset
from .mesh import closed_surface_problems, mesh_height_m, mesh_volume_m3, one_ring
from .shapes import BodyShape, body_density_kg_m3, body_shape, shape_names
from .smpl_fit import BetaFit, fit_betas
from .smpl_model import (
    GENDERS,
    SMPL_VERTEX_COUNT,
    SmplModel,
    check_gender,
    gender_from_name,
    load_smpl,
    read_body_model,
)

log = logging.getLogger(__name__)

ASSETS_ENV = "TEXT2IMU_SMPL_ASSETS"
BODY_MODEL = "smpl"
REST_POSE = "SMPL template pose (T-pose, arms horizontal), zero pose parameters"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------------
# Where assets live


def smpl_assets_dir(root: str | Path | None = None) -> Path:
    """The folder of compiled SMPL assets: ``root``, else ``$TEXT2IMU_SMPL_ASSETS``; FormatError when neither."""
    if root is None:
        root = os.environ.get(ASSETS_ENV)
    if not root:
        raise FormatError(
            f"no SMPL asset folder: set {ASSETS_ENV} (or pass a path) to the folder written by "
            "'python -m text2imu.builder.bodies.compile_smpl --model SMPL_FILE --out DIR'"
        )
    return Path(root).expanduser()


def smpl_asset_path(shape: str, root: str | Path | None = None) -> Path:
    """``<asset folder>/<shape>.npz``."""
    return smpl_assets_dir(root) / f"{shape}.npz"


def load_smpl_asset(shape: str, root: str | Path | None = None) -> BodyAsset:
    """The compiled SMPL asset of Table I ``shape``; FormatError saying how to compile it when missing."""
    body_shape(shape)  # unknown names get "did you mean"
    path = smpl_asset_path(shape, root)
    if not path.is_file():
        raise FormatError(
            f"{path}: no compiled SMPL asset for {shape}; run 'python -m text2imu.builder.bodies.compile_smpl "
            f"--model YOUR_SMPL_FILE --out {path.parent}'"
        )
    return BodyAsset.load(path)


def _refuse_package_folder(out: Path) -> None:
    resolved = out.expanduser().resolve()
    if resolved == _PACKAGE_ROOT or _PACKAGE_ROOT in resolved.parents:
        raise Text2ImuError(
            f"{out}: is inside the text2imu package; SMPL assets derive from licensed data, write them to a "
            f"folder of your own (and point {ASSETS_ENV} at it)"
        )


# ---------------------------------------------------------------------------------------------------------------
# Geometry


def fold_weights(weights: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(V, J) skinning weights -> (V, 22): each joint past 21 adds its column to its nearest ancestor below 22
    (SMPL: hands 22/23 into wrists 20/21; SMPL-H: fingers into the wrists). Rows are renormalised to sum 1."""
    out = np.array(weights[:, :N_JOINTS], dtype=np.float64)
    for j in range(N_JOINTS, weights.shape[1]):
        a = j
        while a >= N_JOINTS:
            a = int(parents[a])
        out[:, a] += weights[:, j]
    return out / out.sum(axis=1, keepdims=True)


def rest_body(model: SmplModel, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest vertices (V, 3) and joints (J, 3) in metres for ``betas``, soles on y = 0, pelvis over x = z = 0."""
    import torch

    with torch.no_grad():
        verts = model.shaped_vertices(betas)
        joints = model.rest_joints(verts)
    v, j = verts[0].numpy().astype(np.float64), joints[0].numpy().astype(np.float64)
    shift = np.array([-j[0, 0], -v[:, 1].min(), -j[0, 2]])
    return v + shift, j + shift


def frame_problems(joints: np.ndarray) -> list[str]:
    """Checks that (J >= 22, 3) rest joints stand in SMPL's frame: y-up, left towards +x, feet forward (+z)."""
    found = []
    if joints[15, 1] <= joints[0, 1]:
        found.append("the head is not above the pelvis (not y-up)")
    if joints[1, 0] <= joints[2, 0]:
        found.append("the left hip is not at +x of the right hip")
    if joints[10, 2] <= joints[7, 2] or joints[11, 2] <= joints[8, 2]:
        found.append("the toes do not point forward (+z)")
    return found


def _rule_vertex(name: str, rule: dict, verts: np.ndarray, faces: np.ndarray, joints: np.ndarray) -> int:
    """The vertex a sites.toml rule picks on a rest body; FormatError when the rule is ill-posed there."""
    from .mesh import site_vertex_by_ray

    sk = skeleton()
    a, b = joints[sk.index(rule["from"])], joints[sk.index(rule["to"])]
    axis = (b - a) / max(np.linalg.norm(b - a), 1e-12)
    toward = np.asarray(rule["toward"], dtype=np.float64)
    if np.linalg.norm(toward - (toward @ axis) * axis) < 0.25 * np.linalg.norm(toward):
        raise FormatError(
            f"sites.toml: the rule of site {name} points (nearly) along its bone in SMPL's T-pose; "
            "give the site an smpl_rule"
        )
    vid, _ = site_vertex_by_ray(verts, faces, joints, None, rule)
    return int(vid)


def smpl_site_vertices(model: SmplModel) -> tuple[dict[str, int], dict[str, str]]:
    """Site name -> vertex id on ``model``'s mesh, and how each was found.

    On SMPL's 6890-vertex topology a site's ``smpl`` id in sites.toml is taken as is (and, when the site also has
    a rule, how far the rule lands from it is noted). A site without an id, and every site on any other mesh (a
    test model), is placed by its geometric rule (``smpl_rule``, else the first rule the site has: rules are
    body-frame directions, so they carry over between models) on the model's template body (betas = 0), so that
    a site is the same vertex in every shape of one model file.
    """
    from .sites import sites as all_sites

    smpl_topology = model.arrays.v_template.shape[0] == SMPL_VERTEX_COUNT
    verts, joints = rest_body(model, np.zeros(model.num_betas))
    joints = joints[:N_JOINTS]
    faces = model.arrays.faces
    table: dict[str, int] = {}
    how: dict[str, str] = {}
    for s in all_sites():
        key = BODY_MODEL if BODY_MODEL in s.rules else next(iter(s.rules), None)
        if smpl_topology and BODY_MODEL in s.vertex_ids:
            table[s.name] = int(s.vertex_ids[BODY_MODEL])
            if table[s.name] >= len(verts):
                raise FormatError(
                    f"{model.arrays.path}: sites.toml puts {s.name} at vertex {table[s.name]}, outside the mesh's "
                    f"{len(verts)} vertices"
                )
            how[s.name] = "sites.toml smpl id"
            if key is not None:
                try:
                    vid = _rule_vertex(s.name, s.rules[key], verts, faces, joints)
                    gap = float(np.linalg.norm(verts[vid] - verts[table[s.name]]))
                    how[s.name] += f" ({key}_rule lands {gap * 100:.1f} cm from it)"
                except FormatError as err:
                    log.debug("%s", err)
        elif key is not None:
            table[s.name] = _rule_vertex(s.name, s.rules[key], verts, faces, joints)
            how[s.name] = f"sites.toml {key}_rule on the template body"
        else:
            log.warning("site %s has neither an smpl vertex id nor a rule; left out", s.name)
    if not table:
        raise FormatError("sites.toml places no site on SMPL (no smpl vertex ids, no rules)")
    return table, how


def site_patches(
    vertices: np.ndarray, faces: np.ndarray, weights22: np.ndarray, vertex_ids: Iterable[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-ring patches of the site vertices.

    Returns:
        (S, K, 3) patch vertices in metres (row 0 the site vertex, NaN-padded), (S, F, 3) local triangles
        (-1-padded), (S, K, 22) skinning weights (0-padded).
    """
    rings = [one_ring(faces, int(v)) for v in vertex_ids]
    k = max(len(ids) for ids, _ in rings)
    f = max(len(local) for _, local in rings)
    pv = np.full((len(rings), k, 3), np.nan)
    pf = np.full((len(rings), f, 3), -1, dtype=np.int64)
    pw = np.zeros((len(rings), k, N_JOINTS))
    for s, (ids, local) in enumerate(rings):
        pv[s, : len(ids)] = vertices[ids]
        pf[s, : len(local)] = local
        pw[s, : len(ids)] = weights22[ids]
    return pv, pf, pw


# ---------------------------------------------------------------------------------------------------------------
# Compiling


def compile_smpl_shape(
    model: SmplModel,
    shape: BodyShape,
    *,
    density_kg_m3: float | None = None,
    sites: Mapping[str, int] | None = None,
) -> BodyAsset:
    """Fit ``model``'s betas to ``shape`` and reduce the body to a :class:`BodyAsset`.

    Args:
        model: a loaded SMPL model. shape: the Table I target.
        density_kg_m3: body density (default: the shared 985 kg/m^3).
        sites: site name -> vertex id, overriding sites.toml (e.g. for a test mesh).
    Raises:
        FormatError: the mesh is not closed, is wound inwards, or does not stand in SMPL's frame.
        Text2ImuError: the betas cannot reach the shape within 0.5 cm and 1 kg.
    """
    arrays = model.arrays
    path = arrays.path
    problems = closed_surface_problems(arrays.faces)
    if problems:
        raise FormatError(
            f"{path}: the mesh is not a closed surface, so it has no volume: " + "; ".join(problems)
        )
    density = body_density_kg_m3() if density_kg_m3 is None else float(density_kg_m3)
    fit: BetaFit = fit_betas(model, shape.height_m, shape.weight_kg, density_kg_m3=density)
    if not fit.within_tolerance:
        raise Text2ImuError(
            f"{path}: betas reach {fit.height_m * 100:.1f} cm / {fit.weight_kg:.1f} kg for {shape.name} "
            f"({shape.height_cm} cm / {shape.weight_kg} kg wanted, within 0.5 cm / 1 kg)"
        )
    verts, joints = rest_body(model, fit.betas)
    problems = frame_problems(joints)
    if mesh_volume_m3(verts, arrays.faces) <= 0:
        problems.append("the mesh is wound inwards (negative volume)")
    if problems:
        raise FormatError(f"{path}: not in SMPL's conventions: " + "; ".join(problems))
    if sites is None:
        table, how = smpl_site_vertices(model)
    else:
        table, how = dict(sites), dict.fromkeys(sites, "given")
    names = tuple(table)  # sites.toml order
    ids = np.array([table[n] for n in names], dtype=np.int64)
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= len(verts):
        raise FormatError(f"{path}: a site vertex id is outside the mesh's {len(verts)} vertices")
    pv, pf, pw = site_patches(verts, arrays.faces, fold_weights(arrays.weights, arrays.parents), ids)
    return BodyAsset(
        body_model=BODY_MODEL,
        body_model_version=arrays.version,
        shape=shape.name,
        shape_params=np.asarray(fit.betas, dtype=np.float64),
        shape_param_names=tuple(f"beta{i}" for i in range(len(fit.betas))),
        height_m=round(mesh_height_m(verts), 6),
        weight_kg=round(mesh_volume_m3(verts, arrays.faces) * density, 4),
        target_height_m=shape.height_m,
        target_weight_kg=shape.weight_kg,
        density_kg_m3=density,
        rest_joints_m=joints[:N_JOINTS],
        site_names=names,
        site_vertex_ids=ids,
        patch_vertices_m=pv,
        patch_faces=pf,
        patch_weights=pw,
        provenance={
            "script": "python -m text2imu.builder.bodies.compile_smpl",
            "model_file": path.name,
            "model_sha256": arrays.sha256,
            "model_kind": arrays.kind,
            "model_gender": model.gender,
            "num_betas": model.num_betas,
            "density_kg_m3": density,
            "height_residual_cm": round(fit.height_residual_m * 100, 4),
            "weight_residual_kg": round(fit.weight_residual_kg, 4),
            "fit_iterations": fit.iterations,
            "fit_method": "minimum-norm betas reaching both targets (SQP)",
            "height_definition": "vertical extent of the rest mesh (top of head to soles)",
            "mass_definition": "volume of the closed mesh (divergence theorem) x density",
            "rest_pose": REST_POSE,
            "frame": "y-up, facing +z, left +x, soles on y=0, pelvis at x=z=0 (SMPL's own axes)",
            "sites_from": how,
            "weights": "SMPL skinning weights; joints past 21 folded into their wrist",
        },
    )


def parse_model_specs(specs: Iterable[str]) -> dict[str, Path]:
    """``["female=A.pkl", "B.npz"]`` -> {"female": A.pkl, <B's declared gender or "neutral">: B.npz}."""
    models: dict[str, Path] = {}
    for spec in specs:
        gender, sep, path = spec.partition("=")
        if sep and gender.lower() in GENDERS:
            gender, file = gender.lower(), Path(path)
        else:
            file = Path(spec)
            gender = gender_from_name(file) or "neutral"
        if gender in models:
            raise Text2ImuError(f"two {gender} models given ({models[gender]} and {file})")
        models[gender] = file
    return models


def model_for(shape: BodyShape, models: Mapping[str, object]) -> str:
    """Which of ``models`` (keyed by gender) a shape uses: its own sex's, else the neutral one."""
    if shape.sex in models:
        return shape.sex
    if "neutral" in models:
        return "neutral"
    raise Text2ImuError(
        f"no model for {shape.name}: pass --model {shape.sex}=SMPL_{shape.sex.upper()}.pkl or a neutral model"
    )


def compile_smpl_assets(
    models: Mapping[str, str | Path],
    out_dir: str | Path | None = None,
    *,
    shapes: Iterable[str] | None = None,
    density_kg_m3: float | None = None,
    cache_dir: str | Path | None = None,
    sites: Mapping[str, int] | None = None,
) -> list[Path]:
    """Compile every requested shape (default: all eight) and write ``<out_dir>/<shape>.npz``.

    Every model is loaded and every shape fitted before anything is written, so bad input leaves no files
    (a ``.pkl`` model is converted into ``cache_dir`` once it has been checked).

    Args:
        models: gender ("female"/"male"/"neutral") -> model file.
        out_dir: output folder (default ``$TEXT2IMU_SMPL_ASSETS``); never inside the package.
        shapes: Table I shape names. density_kg_m3: default 985. cache_dir: for converted ``.pkl`` files.
        sites: site name -> vertex id, overriding sites.toml.
    Returns:
        the written paths.
    """
    out = smpl_assets_dir(out_dir)
    _refuse_package_folder(out)
    wanted = [body_shape(n) for n in (shapes or shape_names())]
    for gender, file in models.items():  # every given file, also one that no requested shape uses
        check_gender(read_body_model(file, cache_dir), gender)
    uses = {s.name: model_for(s, models) for s in wanted}
    loaded = {}
    for gender in sorted(set(uses.values())):
        loaded[gender] = load_smpl(models[gender], gender, cache_dir=cache_dir)
    assets = [
        compile_smpl_shape(loaded[uses[s.name]], s, density_kg_m3=density_kg_m3, sites=sites) for s in wanted
    ]
    written = []
    for asset in assets:
        path = asset.save(out / f"{asset.shape}.npz")
        log.info(
            "%s: %.2f cm / %.2f kg (target %.1f / %.1f) from %s -> %s",
            asset.shape, asset.height_m * 100, asset.weight_kg, asset.target_height_m * 100,
            asset.target_weight_kg, asset.provenance["model_file"], path,
        )  # fmt: skip
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m text2imu.builder.bodies.compile_smpl",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--model", action="append", required=True, metavar="[GENDER=]PATH",
        help="SMPL model file (.npz or .pkl); repeat for female/male/neutral",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default: ${ASSETS_ENV})")
    parser.add_argument("--shapes", nargs="+", default=None, help="Table I shapes (default: all eight)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where .pkl models are converted to .npz"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        models = parse_model_specs(args.model)
        compile_smpl_assets(models, args.out, shapes=args.shapes, cache_dir=args.cache_dir)
    except Text2ImuError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
