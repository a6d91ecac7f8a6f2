"""Training losses of the diffusion model as pure masked functions over variable-length batches.

Every function takes batch-first tensors padded to a common length T and a boolean frame mask (B, T) that is True
on a sample's valid frames (``frame_mask(lengths, T)``), and returns one value per sample, shape (B,), so that
the caller chooses the batch reduction (training takes the mean). Padded frames never contribute.

Reductions (the same for every joint-space loss, and written into checkpoints and ``lacc`` results as
:data:`LACC_REDUCTION`):

- L_simple (MDM ``rot_mse``): squared error of the x0 prediction in the data representation (normalised
  263-dim HumanML3D features), mean over valid frames x features (MDM's ``masked_l2``).
- L_pos: squared error of joint positions recovered from the features (``recover_from_ric``), mean over valid
  frames x 22 joints x 3 axes; m^2.
- L_vel: squared error of per-frame joint displacements ``x^{i+1} - x^i`` (m/frame), mean over the frame
  pairs whose both frames are valid x 22 joints x 3 axes; m^2.
- L_foot (MDM ``fc``): predicted per-frame displacement of the ankles and feet (joints 7, 10, 8, 11) at frames
  where the target's displacement norm is <= :data:`FOOT_CONTACT_M` (0.01 m/frame), pushed towards zero;
  mean over valid frame pairs x 4 joints x 3 axes (non-contact entries count as zero, as in MDM); m^2.
- L_acc (Häusler et al.): ``(1/(N-1)) sum_{i=2}^{N-1} || (x^{i+1} - 2x^i + x^{i-1}) -
  (xhat^{i+1} - 2xhat^i + xhat^{i-1}) ||^2`` over a sample's N valid frames (1-based i, so the N-2 interior
  frames), with ``||.||^2`` taken as the **mean over the 22 joints and 3 axes** of the squared difference of
  second differences (m^2; second differences in metres per frame^2 at the clip's 20 fps, no division by
  dt^2), **summed** over the interior frames and **divided by N-1** as in the paper's formula. Samples with
  N < 3 have no interior frame and give 0.

In MDM, L_pos, L_vel and L_foot are defined on SMPL joints from rot6d data; here, as for L_acc, they are defined on
the joints that :func:`~.recover.features_to_joints_torch` recovers from the (de-normalised) 263-dim features.
"""

from __future__ import annotations

import torch

FOOT_JOINTS = (7, 10, 8, 11)
"""left_ankle, left_foot, right_ankle, right_foot (HumanML3D order, as the foot-contact features)."""
FOOT_CONTACT_M = 0.01
"""A foot joint is in contact at frame i when the target's displacement norm from i to i+1 is <= this (m)."""
LACC_REDUCTION = (
    "L_acc per sample: squared difference of second differences of joint positions (metres, per-frame "
    "differences at 20 fps, no division by dt^2), averaged over the 22 joints and 3 axes, summed over the "
    "interior valid frames i=2..N-1 and divided by N-1 (N = valid frames); units m^2"
)
"""The reduction of :func:`l_acc`, as written into results and checkpoints."""
_EPS = 1e-8


def frame_mask(lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
    """(B,) valid lengths -> (B, n_frames) bool mask, True on frames ``< length``."""
    lengths = torch.as_tensor(lengths)
    return torch.arange(n_frames, device=lengths.device)[None, :] < lengths[:, None]


def _check(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if mask.shape != pred.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool (B, T) = {tuple(pred.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over the valid frames and every trailing entry (MDM's ``masked_l2``).

    Args:
        pred, target: (B, T, ...) tensors of one shape.
        mask: (B, T) bool, True on valid frames.
    Returns:
        (B,) ``sum(mask * (pred - target)^2) / (valid frames x entries per frame)``; 0 for a sample with no
        valid frame.
    """
    _check(pred, target, mask)
    sq = (pred - target) ** 2
    per_frame = sq.reshape(sq.shape[0], sq.shape[1], -1)
    m = mask.to(per_frame.dtype)
    total = (per_frame.sum(-1) * m).sum(-1)
    return total / (m.sum(-1) * per_frame.shape[-1] + _EPS)


def l_simple(x0_pred: torch.Tensor, x0_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_simple: (B, T, F) x0 prediction vs target in the data representation -> (B,) masked mean."""
    return masked_mse(x0_pred, x0_target, mask)


def l_pos(joints_pred: torch.Tensor, joints_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_pos: (B, T, 22, 3) joint positions in m -> (B,) mean over valid frames, joints and axes (m^2)."""
    return masked_mse(joints_pred, joints_target, mask)


def _pair_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask[:, 1:] & mask[:, :-1]


def l_vel(joints_pred: torch.Tensor, joints_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_vel: per-frame displacements of (B, T, 22, 3) joints -> (B,) mean over valid pairs, joints, axes (m^2)."""
    _check(joints_pred, joints_target, mask)
    return masked_mse(torch.diff(joints_pred, dim=1), torch.diff(joints_target, dim=1), _pair_mask(mask))


def l_foot(joints_pred: torch.Tensor, joints_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_foot: predicted foot displacement where the target foot is in contact, towards 0 -> (B,) (m^2).

    Contact at frame i: ``||target[i+1, j] - target[i, j]|| <= FOOT_CONTACT_M`` for j in :data:`FOOT_JOINTS`.
    Mean over the valid frame pairs x 4 joints x 3 axes (entries out of contact count as 0).
    """
    _check(joints_pred, joints_target, mask)
    feet = list(FOOT_JOINTS)
    vel_pred = torch.diff(joints_pred[:, :, feet], dim=1)
    vel_target = torch.diff(joints_target[:, :, feet], dim=1)
    contact = (torch.linalg.vector_norm(vel_target, dim=-1, keepdim=True) <= FOOT_CONTACT_M).to(vel_pred.dtype)
    masked = vel_pred * contact
    return masked_mse(masked, torch.zeros_like(masked), _pair_mask(mask))


def second_difference(x: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) -> (B, T-2, ...) ``x[i+1] - 2 x[i] + x[i-1]`` for the interior frames i = 1..T-2 (0-based)."""
    return x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2]


def l_acc(joints_pred: torch.Tensor, joints_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_acc of Häusler et al. per sample (module docstring; reduction :data:`LACC_REDUCTION`).

    Args:
        joints_pred: (B, T, 22, 3) predicted joint positions in m (xhat).
        joints_target: (B, T, 22, 3) target joint positions in m (x).
        mask: (B, T) bool; each row must be a prefix of valid frames (variable-length batch).
    Returns:
        (B,) ``sum_{interior valid i} mean_{joints, axes} (d2x_i - d2xhat_i)^2 / (N - 1)`` in m^2; 0 when N < 3.
    """
    _check(joints_pred, joints_target, mask)
    diff = second_difference(joints_target) - second_difference(joints_pred)
    per_frame = (diff**2).reshape(diff.shape[0], diff.shape[1], -1).mean(-1)  # mean over joints and axes
    interior = (mask[:, 2:] & mask[:, 1:-1] & mask[:, :-2]).to(per_frame.dtype)
    n_valid = mask.to(per_frame.dtype).sum(-1)
    return (per_frame * interior).sum(-1) / torch.clamp(n_valid - 1.0, min=1.0)


LOSS_NAMES = ("simple", "pos", "vel", "foot", "acc")
"""Loss terms in the order of :class:`~.train.LossWeights` and the CLI's ``--lambda-*`` flags."""
REDUCTIONS: dict[str, str] = {
    "simple": "mean over valid frames x 263 normalised features of the squared x0 error",
    "pos": "mean over valid frames x 22 joints x 3 axes of the squared joint-position error (m^2)",
    "vel": "mean over valid frame pairs x 22 joints x 3 axes of the squared per-frame displacement error (m^2)",
    "foot": "mean over valid frame pairs x 4 foot joints x 3 axes of the squared predicted displacement where "
            "the target foot moves <= 0.01 m/frame (m^2)",
    "acc": LACC_REDUCTION,
}
"""How each loss reduces over frames, joints and axes (written into checkpoints and results)."""
