"""HumanML3D features -> joint positions in torch, differentiable (``recover_from_ric``, FORMATS.md 4.3).

The same computation as :func:`text2imu.builder.humanml3d.features_to_joints` (numpy, float64), written with
torch operations only so that gradients flow from joint-space losses (L_pos, L_vel, L_foot, L_acc) back into the
263-dim prediction. It works in the dtype of its input (float32 in training; float64 reproduces the numpy
function to ~1e-12 m).

1. half-yaw ``theta_t`` = cumulative sum of slice [0] over rows 0..t-1, ``theta_0 = 0``; the facing rotation
   ``r_t`` is a yaw by ``2 theta_t``; its inverse turns facing-frame vectors back into the world;
2. root xz = cumulative sum of ``r_t^-1 (v_x, 0, v_z)`` with ``v`` slice [1:3] of row t-1, starting at 0;
3. root y = slice [3];
4. joints 1..21 = ``r_t^-1`` applied to slice [4:67] (xz relative to the root, y absolute) + root xz.
"""

from __future__ import annotations

import torch

N_FEATURES = 263
N_JOINTS = 22


def _rotate_yaw(x: torch.Tensor, z: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Turn the horizontal vector (x, z) about +y by the angle whose cosine and sine are given.

    Positive angles turn +z towards +x (the convention of :func:`text2imu.builder.rotations.yaw_quat`).
    """
    return x * cos + z * sin, z * cos - x * sin


def features_to_root_torch(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Root yaw and path from (..., T, 263) features.

    Returns ``(yaw_rad, root_m)``: (..., T) world yaw ``2 theta_t`` of the facing frame (0 at row 0) in rad, and
    (..., T, 3) pelvis positions in metres (xz integrated from slice [1:3] starting at 0, y from slice [3]).
    """
    if features.shape[-1] != N_FEATURES or features.dim() < 2:
        raise ValueError(f"features must be (..., T, {N_FEATURES}), got {tuple(features.shape)}")
    zero = torch.zeros_like(features[..., :1, 0])
    half_yaw = torch.cumsum(torch.cat([zero, features[..., :-1, 0]], dim=-1), dim=-1)
    yaw = 2.0 * half_yaw
    # r_t^-1 is a yaw by -2 theta_t
    cos, sin = torch.cos(-yaw), torch.sin(-yaw)
    vx = torch.cat([zero, features[..., :-1, 1]], dim=-1)
    vz = torch.cat([zero, features[..., :-1, 2]], dim=-1)
    sx, sz = _rotate_yaw(vx, vz, cos, sin)
    root = torch.stack([torch.cumsum(sx, dim=-1), features[..., 3], torch.cumsum(sz, dim=-1)], dim=-1)
    return yaw, root


def features_to_joints_torch(features: torch.Tensor) -> torch.Tensor:
    """(..., T, 263) HumanML3D features -> (..., T, 22, 3) joint positions in metres, differentiable.

    Matches :func:`text2imu.builder.humanml3d.features_to_joints` (float32 there; this keeps the input dtype).
    Rows past a clip's valid length give positions too (they continue the integration); mask them in losses.
    """
    yaw, root = features_to_root_torch(features)
    cos, sin = torch.cos(-yaw)[..., None], torch.sin(-yaw)[..., None]
    ric = features[..., 4:67].reshape(features.shape[:-1] + (N_JOINTS - 1, 3))
    x, z = _rotate_yaw(ric[..., 0], ric[..., 2], cos, sin)
    joints = torch.stack([x + root[..., None, 0], ric[..., 1], z + root[..., None, 2]], dim=-1)
    return torch.cat([root[..., None, :], joints], dim=-2)
