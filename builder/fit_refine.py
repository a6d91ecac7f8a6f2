"""Refinement of an analytic IK solution on joint position error (``fit_motion(..., refine=True)``), and the
fit-error report (``python -m text2imu.builder.fit --report``).

See :mod:`text2imu.builder.fit` for the pose conventions (global segment rotations, rest -> posed) and for why
the refinement exists: skeletons that place the torso joints differently leave an error that only a compromise
over the whole body can reduce.
"""

from __future__ import annotations

import logging

import numpy as np

from .fit import ANCESTORS, LEAF_SOURCE, PARENTS, fit_motion
from .rotations import axis_angle_to_matrix
from .skeleton import skeleton

log = logging.getLogger(__name__)

# Root offsets are optimised in units of 10 cm; errors are measured in cm with a 1 mm Huber corner.
SHIFT_UNIT_M = 0.1
HUBER_M = 0.001
POS_UNIT_M = 0.01


def _torch_rotate(aa, v):
    """torch (..., 3) rotation vectors applied to (..., 3) vectors (Rodrigues; finite gradients at zero)."""
    import torch

    t2 = (aa * aa).sum(-1, keepdim=True)
    small = t2 < 1e-8
    t = torch.sqrt(torch.where(small, torch.ones_like(t2), t2))
    a = torch.where(small, 1 - t2 / 6, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24, (1 - torch.cos(t)) / (t * t))
    k = torch.linalg.cross(aa, v, dim=-1)
    return v + a * k + b * torch.linalg.cross(aa, k, dim=-1)


def refine_pose(
    rotations: np.ndarray,
    root_m: np.ndarray,
    rest_joints_m: np.ndarray,
    target_m: np.ndarray,
    *,
    iterations: int = 40,
    smooth_weight: float = 1.0,
    prior_weight: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """Refine an IK solution on joint error: returns ((T, 22, 3, 3) rotations, (T, 3) root in metres).

    Unknowns: a world-frame axis-angle correction d per frame and segment with a joint below it,
    ``R' = exp(d) R`` (leaf segments follow their source segment), and a root offset e per frame (optimised in
    units of ``SHIFT_UNIT_M`` to balance it with the angles). Loss, minimised by ``iterations`` steps of scipy's
    L-BFGS-B with torch gradients (float64, one torch thread, deterministic):

        mean_t,j huber(|FK - target|) / 1 cm
        + smooth_weight * (mean |d[t+1] - d[t]|^2 / (0.05 rad)^2 + mean |e[t+1] - e[t]|^2 / (1 cm)^2)
        + prior_weight * mean |d|^2 / (0.05 rad)^2

    with ``huber(r) = sqrt(r^2 + h^2) - h``, h = ``HUBER_M`` (1 mm): about the distance itself, the quantity the
    mean per-joint position error averages, so a torso-shape mismatch stays in the few joints it concerns
    instead of being spread over all. The small prior keeps the twist of single-child segments, which no joint
    error sees, at the IK's.
    """
    import torch
    from scipy.optimize import minimize

    rest = np.asarray(rest_joints_m, dtype=np.float64)
    rot = np.asarray(rotations, dtype=np.float64)
    segs = np.unique(PARENTS[1:])  # segments with a joint below them
    slot = np.searchsorted(segs, PARENTS[1:])  # bone c (1..21) -> its segment's slot
    bones0 = torch.from_numpy(np.einsum("tcab,cb->tca", rot[:, PARENTS[1:]], rest[1:] - rest[PARENTS[1:]]))
    anc = torch.from_numpy(ANCESTORS)
    slot_t = torch.from_numpy(slot)
    root0 = torch.from_numpy(np.asarray(root_m, dtype=np.float64))
    target = torch.from_numpy(np.asarray(target_m, dtype=np.float64))
    n, m = rot.shape[0], len(segs)
    ang, pos = 0.05**2, POS_UNIT_M**2

    def joints_of(x):
        x = x.reshape(n, m + 1, 3)
        delta, shift = x[:, :m], x[:, m] * SHIFT_UNIT_M
        bones = _torch_rotate(delta[:, slot_t], bones0)
        return delta, shift, (root0 + shift)[:, None] + torch.einsum("ck,tka->tca", anc, bones)

    def loss_and_grad(x):
        xt = torch.from_numpy(x).requires_grad_(True)
        delta, shift, joints = joints_of(xt)
        err = torch.sqrt(((joints - target) ** 2).sum(-1) + HUBER_M**2) - HUBER_M
        loss = err.mean() / POS_UNIT_M + prior_weight * (delta**2).sum(-1).mean() / ang
        if n > 1:
            smooth = ((delta[1:] - delta[:-1]) ** 2).sum(-1).mean() / ang
            loss = loss + smooth_weight * (smooth + ((shift[1:] - shift[:-1]) ** 2).sum(-1).mean() / pos)
        loss.backward()
        return float(loss.detach()), xt.grad.numpy().copy()

    threads = torch.get_num_threads()
    # tensors of a few thousand numbers: threads only contend (10x slower on 2 busy cores)
    torch.set_num_threads(1)
    try:
        res = minimize(
            loss_and_grad, np.zeros(n * (m + 1) * 3), jac=True, method="L-BFGS-B",
            options={"maxiter": iterations, "maxcor": 10, "ftol": 1e-15, "gtol": 1e-12},
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    log.debug("refinement: %d iterations, loss %.4g (%s)", res.nit, res.fun, res.message)
    x = res.x.reshape(n, m + 1, 3)
    out = rot.copy()
    out[:, segs] = axis_angle_to_matrix(x[:, :m]) @ rot[:, segs]
    for leaf, src in LEAF_SOURCE.items():
        out[:, leaf] = out[:, src]
    return out, np.asarray(root_m, dtype=np.float64) + x[:, m] * SHIFT_UNIT_M


# ----------------------------------------------------------------------------------------------------- report

REPORT_SHAPES = ("female_average", "male_average")


def mpjpe_report(joints_m: np.ndarray, shapes=REPORT_SHAPES, body_model: str = "anny") -> list[dict]:
    """MPJPE (metres) of the fit against the retargeted reference, before and after refinement, per shape.

    Args:
        joints_m: (T, 22, 3) motion in metres. shapes: Table I shape names with compiled assets.
    Returns:
        one dict per shape: shape, scale, mpjpe_m, mpjpe_refined_m, per-joint means (22,) before and after,
        refine_s (seconds the refined fit took).
    """
    import time

    from .bodies.asset import BodyAsset, asset_path

    rows = []
    for shape in shapes:
        rest = BodyAsset.load(asset_path(body_model, shape)).rest_joints_m
        plain = fit_motion(joints_m, rest)
        start = time.perf_counter()
        refined = fit_motion(joints_m, rest, refine=True)
        rows.append(
            {
                "shape": shape,
                "scale": plain.scale,
                "mpjpe_m": plain.mpjpe_m(),
                "mpjpe_refined_m": refined.mpjpe_m(),
                "per_joint_m": np.linalg.norm(plain.joints_m - plain.target_m, axis=-1).mean(0),
                "per_joint_refined_m": np.linalg.norm(refined.joints_m - refined.target_m, axis=-1).mean(0),
                "refine_s": time.perf_counter() - start,
            }
        )
    return rows


def report_main(argv: list[str] | None = None) -> int:
    """``python -m text2imu.builder.fit --report [MOTION.npy]``: print :func:`mpjpe_report`."""
    import argparse
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m text2imu.builder.fit", description=report_main.__doc__)
    parser.add_argument("--report", action="store_true", help="print the fit error on a motion")
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "humanml3d" / "new_joints_012314.npy"
    parser.add_argument("motion", nargs="?", type=Path, default=default, help="(T, 22, 3) .npy in metres")
    args = parser.parse_args(argv)
    if not args.report:
        parser.print_help()
        return 0
    joints = np.load(args.motion)
    out = sys.stdout
    out.write(
        f"MPJPE against the motion retargeted to each body, {args.motion.name} ({len(joints)} frames)\n"
    )
    names = [n.replace("left_", "l_").replace("right_", "r_") for n in skeleton().names]
    for row in mpjpe_report(joints):
        out.write(
            f"{row['shape']:16s} scale {row['scale']:.3f}  analytic IK {100 * row['mpjpe_m']:.2f} cm  "
            f"refined {100 * row['mpjpe_refined_m']:.2f} cm  ({row['refine_s']:.2f} s)\n"
        )
        limbs = [4, 5, 7, 8, 10, 11, 18, 19, 20, 21]
        out.write(
            f"  limb joints (knees, ankles, feet, elbows, wrists): IK {100 * row['per_joint_m'][limbs].mean():.2f} cm"
            f", refined {100 * row['per_joint_refined_m'][limbs].mean():.2f} cm\n"
        )
        for label, key in (
            ("  per joint, IK", "per_joint_m"),
            ("  per joint, refined", "per_joint_refined_m"),
        ):
            cells = " ".join(f"{names[j]}={100 * v:.1f}" for j, v in enumerate(row[key]))
            out.write(f"{label}: {cells} (cm)\n")
    return 0
