"""Fit SMPL betas to a body height and weight (Table I), with mass = closed-mesh volume x density.

Measures, on the rest-pose mesh of the shaped model (smplx ``forward_shape``):

* height: vertical extent of the mesh, max y - min y, in metres (SMPL's rest pose stands upright, y-up);
* volume: divergence theorem over the closed triangle mesh, V = sum over faces of v0 . (v1 x v2) / 6, in m^3
  (exact for a watertight mesh whose triangles are wound counter-clockwise seen from outside; SMPL's are);
* weight: volume x density, in kg. The density is the one every body model shares,
  :func:`~text2imu.builder.bodies.shapes.body_density_kg_m3` (985 kg/m^3, see ``data/body_shapes.toml``).

Fitting: among all betas that reach both targets, take the smallest ||beta|| (the most typical body). Solved by
sequential quadratic programming: linearise height and weight at the current betas (torch autograd), move to the
minimum-norm betas satisfying the linearised targets, halve the step while it does not reduce the target error.
Converges in a handful of steps to < 1e-5 m and < 1e-4 kg when the targets are reachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .shapes import body_density_kg_m3
from .smpl_model import SmplModel

log = logging.getLogger(__name__)

HEIGHT_TOL_M = 0.005
WEIGHT_TOL_KG = 1.0
TYPICAL_BETA_LIMIT = 5.0  # |beta| beyond ~5 standard deviations gives implausible SMPL bodies


@dataclass(frozen=True)
class BetaFit:
    """The betas that reach a height and weight, and what they reach.

    Attributes:
        betas: (B,) float64 shape coefficients.
        height_m, weight_kg: reached height (m) and weight (kg).
        target_height_m, target_weight_kg: the targets.
        density_kg_m3: density used for the weight.
        iterations: SQP steps taken.
    """

    betas: np.ndarray
    height_m: float
    weight_kg: float
    target_height_m: float
    target_weight_kg: float
    density_kg_m3: float
    iterations: int

    @property
    def height_residual_m(self) -> float:
        return self.height_m - self.target_height_m

    @property
    def weight_residual_kg(self) -> float:
        return self.weight_kg - self.target_weight_kg

    @property
    def within_tolerance(self) -> bool:
        """|height error| <= 0.5 cm and |weight error| <= 1 kg."""
        return abs(self.height_residual_m) <= HEIGHT_TOL_M and abs(self.weight_residual_kg) <= WEIGHT_TOL_KG


def mesh_volume_torch(vertices, faces):
    """Signed volume of a closed triangle mesh by the divergence theorem, differentiable (torch).

    Args:
        vertices: (..., V, 3) torch positions in metres.
        faces: (F, 3) integer triangles, counter-clockwise seen from outside.
    Returns:
        (...) volume in m^3, positive for an outward-wound closed mesh (same as
        :func:`text2imu.builder.bodies.mesh.mesh_volume_m3`, which is the numpy version).
    """
    import torch

    v0, v1, v2 = (vertices[..., faces[:, k], :] for k in range(3))
    return (v0 * torch.linalg.cross(v1, v2, dim=-1)).sum(-1).sum(-1) / 6.0


def mesh_height_torch(vertices):
    """(..., V, 3) torch positions -> (...) vertical extent max y - min y in metres."""
    y = vertices[..., 1]
    return y.max(-1).values - y.min(-1).values


def _measure(model: SmplModel, betas, density: float):
    """betas (B,) torch -> (height m, weight kg) torch scalars."""
    verts = model.shaped_vertices(betas)[0]
    faces = model.module.faces_tensor
    return mesh_height_torch(verts), mesh_volume_torch(verts, faces) * density


def body_measures(model: SmplModel, betas, density_kg_m3: float | None = None) -> tuple[float, float]:
    """Height (m) and weight (kg) of ``model`` with ``betas`` (B,) in its rest pose (density: the shared one)."""
    import torch

    density_kg_m3 = body_density_kg_m3() if density_kg_m3 is None else density_kg_m3

    with torch.no_grad():
        h, w = _measure(model, torch.as_tensor(np.asarray(betas, dtype=np.float64)), density_kg_m3)
    return float(h), float(w)


def fit_betas(
    model: SmplModel,
    height_m: float,
    weight_kg: float,
    *,
    density_kg_m3: float | None = None,
    max_iter: int = 50,
    tol_height_m: float = 1e-5,
    tol_weight_kg: float = 1e-4,
) -> BetaFit:
    """The minimum-norm betas of ``model`` whose rest mesh is ``height_m`` tall and weighs ``weight_kg``.

    Args:
        model: a loaded SMPL model (:func:`~text2imu.builder.bodies.smpl_model.load_smpl`).
        height_m, weight_kg: targets (Table I: e.g. 1.658 m, 69.2 kg).
        density_kg_m3: body density for mass = volume x density (default: the shared 985 kg/m^3).
        max_iter: SQP steps at most.
        tol_height_m, tol_weight_kg: stop when both errors are below these.
    Returns:
        a :class:`BetaFit`; check ``within_tolerance`` (unreachable targets end at the closest point found).
    """
    import torch

    density_kg_m3 = body_density_kg_m3() if density_kg_m3 is None else float(density_kg_m3)
    scale = np.array([HEIGHT_TOL_M, WEIGHT_TOL_KG])  # residuals in units of the tolerances
    target = np.array([height_m, weight_kg])

    def residual(b: np.ndarray, grad: bool):
        bt = torch.tensor(b, dtype=torch.float64, requires_grad=grad)
        h, w = _measure(model, bt, density_kg_m3)
        r = np.array([float(h.detach()), float(w.detach())]) - target
        if not grad:
            return r, None
        jac = np.stack([torch.autograd.grad(q, bt, retain_graph=True)[0].numpy() for q in (h, w)])
        return r, jac

    beta = np.zeros(model.num_betas)
    r, jac = residual(beta, True)
    it = 0
    while it < max_iter and not (abs(r[0]) < tol_height_m and abs(r[1]) < tol_weight_kg):
        js, rs = jac / scale[:, None], r / scale
        # minimum-norm point x of the linearised targets: js (x - beta) = -rs
        x = js.T @ np.linalg.lstsq(js @ js.T, js @ beta - rs, rcond=None)[0]
        step = x - beta
        merit = np.linalg.norm(rs)
        for _ in range(30):  # halve the step until it reduces the target error
            r_new, _ = residual(beta + step, False)
            if np.linalg.norm(r_new / scale) < merit:
                break
            step *= 0.5
        if (
            np.linalg.norm(step) < 1e-10
        ):  # no progress possible: the targets are out of the shape space's reach
            break
        beta = beta + step
        r, jac = residual(beta, True)
        it += 1
    h, w = body_measures(model, beta, density_kg_m3)
    fit = BetaFit(
        betas=beta,
        height_m=h,
        weight_kg=w,
        target_height_m=float(height_m),
        target_weight_kg=float(weight_kg),
        density_kg_m3=float(density_kg_m3),
        iterations=it,
    )
    if not fit.within_tolerance:
        log.warning(
            "%s: betas reach %.4f m / %.2f kg, not the targets %.4f m / %.2f kg",
            model.arrays.path.name,
            h,
            w,
            height_m,
            weight_kg,
        )
    if np.abs(beta).max(initial=0) > TYPICAL_BETA_LIMIT:
        log.warning(
            "%s: fitted betas reach |beta| = %.1f (beyond typical bodies)",
            model.arrays.path.name,
            np.abs(beta).max(),
        )
    return fit
