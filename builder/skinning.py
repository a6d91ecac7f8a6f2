"""Sparse linear-blend skinning of the skin-site patches, and the sensor frame at each site.

Linear blend skinning with global segment rotations ``R_j(t)`` (rest -> posed) and posed joints ``J_j(t)``
(:mod:`text2imu.builder.fit`):

    v(t) = sum_j w_j (R_j(t) (v_rest - J_rest_j) + J_j(t)),

over the 22 segments of the SMPL convention (weight column j follows the segment whose proximal joint is j).
Only the site patches of a :class:`~text2imu.builder.bodies.asset.BodyAsset` are skinned (a site vertex and its
one-ring: a few vertices per site), which is what makes simulation cheap; :func:`skin_vertices` skins a whole
mesh the same way, for pictures and for the speed comparison in ``tests/perf/perf_skinning.py``.

Sensor frame at a site (DESIGN.md section 3), per frame:

- z: outward surface normal, the area-weighted mean of the patch face normals (the sum of the faces' cross
  products ``(b - a) x (c - a)``, which the asset winds outwards), normalised;
- x: the limb direction projected on the tangent plane (orthogonal to z), normalised. The limb is the segment
  with the largest weight at the site vertex, and its direction the posed joint-to-joint direction
  ``J_child - J_j``: the child is the only child, spine1 (3) for the pelvis (0), the neck (12) for spine3 (9);
  segments without a child joint (feet 10/11, head 15, wrists 20/21) use the bone ending at them
  (``J_j - J_parent``). Where that direction is within 0.06 degrees of the normal, the rest-pose tangent axis
  (the world axis least aligned with the rest normal, projected) carried by the segment's rotation is used.
- y = z x x; position: the skinned site vertex (patch row 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .skeleton import N_JOINTS, skeleton

if TYPE_CHECKING:
    from .bodies.asset import BodyAsset

PARENTS = skeleton().parents
_BRANCH_CHILD = {0: 3, 9: 12}
_DEGENERATE = 1e-3  # |tangent part| of a unit limb direction below this: the limb is along the normal


def _limb_joints() -> np.ndarray:
    """(22, 2) joint pair (from, to) whose direction is the limb axis of each segment."""
    children: dict[int, list[int]] = {j: [] for j in range(N_JOINTS)}
    for c in range(1, N_JOINTS):
        children[PARENTS[c]].append(c)
    pairs = np.zeros((N_JOINTS, 2), dtype=np.int64)
    for j in range(N_JOINTS):
        if j in _BRANCH_CHILD:
            pairs[j] = (j, _BRANCH_CHILD[j])
        elif children[j]:
            pairs[j] = (j, children[j][0])
        else:
            pairs[j] = (PARENTS[j], j)
    return pairs


LIMB_JOINTS = _limb_joints()


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12), n


def skin_vertices(
    vertices_m: np.ndarray,
    weights: np.ndarray,
    rest_joints_m: np.ndarray,
    rotations: np.ndarray,
    joints_m: np.ndarray,
) -> np.ndarray:
    """Linear blend skinning of any vertex set (dense weights).

    Written as one matrix product, linear in the segments' affine maps ``A_j = [R_j | J_j - R_j J_rest_j]``:
    ``v'[t, v] = sum_(j, b) A[t, j, :, b] (w[v, j] [v_rest, 1][v, b])`` over the segments the weights use.

    Args:
        vertices_m: (V, 3) rest-pose vertices, metres. weights: (V, 22), rows summing to 1.
        rest_joints_m: (22, 3) rest joints. rotations: (T, 22, 3, 3) global segment rotations (rest -> posed).
        joints_m: (T, 22, 3) posed joints, metres.
    Returns:
        (T, V, 3) posed vertices, metres.
    """
    weights = np.asarray(weights, dtype=np.float64)
    used = np.flatnonzero(np.any(weights != 0, axis=0))
    rot = np.asarray(rotations, dtype=np.float64)[:, used]  # (T, J, 3, 3)
    trans = (
        np.asarray(joints_m, dtype=np.float64)[:, used]
        - (rot @ np.asarray(rest_joints_m)[used, :, None])[..., 0]
    )
    n, j = rot.shape[:2]
    affine = np.concatenate([rot, trans[..., None]], axis=-1)  # (T, J, 3, 4)
    affine = affine.transpose(0, 2, 1, 3).reshape(n * 3, j * 4)
    verts = np.asarray(vertices_m, dtype=np.float64)
    homogeneous = np.concatenate([verts, np.ones((len(verts), 1))], axis=1)  # (V, 4)
    blend = (weights[:, used, None] * homogeneous[:, None, :]).reshape(len(verts), j * 4)  # (V, J * 4)
    return (affine @ blend.T).reshape(n, 3, len(verts)).transpose(0, 2, 1)


def skin_patches(
    asset: BodyAsset, rotations: np.ndarray, joints_m: np.ndarray, sites: np.ndarray | None = None
) -> np.ndarray:
    """Skin the site patches of ``asset`` (a BodyAsset).

    Args:
        rotations: (T, 22, 3, 3) global segment rotations. joints_m: (T, 22, 3) posed joints, metres.
        sites: (S,) site indices into ``asset.site_names`` (default: all).
    Returns:
        (T, S, K, 3) posed patch vertices in metres; unused patch rows (NaN in the asset) stay NaN.
    """
    idx = np.arange(len(asset.site_names)) if sites is None else np.asarray(sites, dtype=np.int64)
    verts = asset.patch_vertices_m[idx]
    s, k = verts.shape[:2]
    unused = np.isnan(verts[..., 0])
    flat = skin_vertices(
        np.where(unused[..., None], 0.0, verts).reshape(-1, 3),
        asset.patch_weights[idx].reshape(-1, N_JOINTS),
        asset.rest_joints_m,
        rotations,
        joints_m,
    )
    out = flat.reshape(flat.shape[0], s, k, 3)
    out[:, unused] = np.nan
    return out


def _fallback_axes(asset: BodyAsset, idx: np.ndarray) -> np.ndarray:
    """(S, 3) rest-pose tangent axis per site (world axis least aligned with the rest normal, projected)."""
    normals = _patch_normals(asset.patch_vertices_m[idx][None], asset.patch_faces[idx])[0]
    axes = np.eye(3)[np.argmin(np.abs(normals), axis=-1)]
    tangent, _ = _unit(axes - np.sum(axes * normals, -1, keepdims=True) * normals)
    return tangent


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _patch_normals(patches: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(T, S, K, 3) patch vertices, (S, F, 3) faces (-1 rows unused) -> (T, S, 3) unit outward normals."""
    valid = (faces >= 0).all(-1)
    tri = patches[:, np.arange(faces.shape[0])[:, None, None], np.where(valid[..., None], faces, 0)]
    cross = _cross(tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :])  # (T, S, F, 3)
    return _unit(np.einsum("tsfa,sf->tsa", cross, valid.astype(np.float64)))[0]


def site_frames(
    asset: BodyAsset, rotations: np.ndarray, joints_m: np.ndarray, sites: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sensor positions and frames at skin sites (see the module docstring for the frame).

    Args:
        asset: BodyAsset. rotations: (T, 22, 3, 3) global segment rotations. joints_m: (T, 22, 3) posed joints.
        sites: (S,) site indices (default: all sites of the asset).
    Returns:
        positions (T, S, 3) in metres and rotations sensor -> world (T, S, 3, 3), columns = sensor x, y, z.
    """
    idx = np.arange(len(asset.site_names)) if sites is None else np.asarray(sites, dtype=np.int64)
    patches = skin_patches(asset, rotations, joints_m, idx)
    z = _patch_normals(patches, asset.patch_faces[idx])
    dominant = np.argmax(asset.patch_weights[idx, 0], axis=-1)  # (S,)
    pair = LIMB_JOINTS[dominant]
    limb, _ = _unit(joints_m[:, pair[:, 1]] - joints_m[:, pair[:, 0]])
    x, norm = _unit(limb - np.sum(limb * z, -1, keepdims=True) * z)
    degenerate = norm[..., 0] < _DEGENERATE
    if degenerate.any():
        carried = np.einsum("tsab,sb->tsa", rotations[:, dominant], _fallback_axes(asset, idx))
        alt, _ = _unit(carried - np.sum(carried * z, -1, keepdims=True) * z)
        x = np.where(degenerate[..., None], alt, x)
    y = _cross(z, x)
    return patches[:, :, 0].copy(), np.stack([x, y, z], axis=-1)
