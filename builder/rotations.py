"""Rotation helpers in pure numpy: one function per conversion, batched over leading dimensions.

Conventions:

- Quaternions are ``(..., 4)`` arrays, scalar first ``(w, x, y, z)``, Hamilton product, active rotations:
  ``quat_rotate(q, v)`` rotates the vector ``v`` by ``q``; ``quat_mul(a, b)`` applies ``b`` first, then ``a``.
- Rotation matrices are ``(..., 3, 3)`` and act on column vectors: ``v' = R @ v``. ``quat_to_matrix(q) @ v``
  equals ``quat_rotate(q, v)``.
- Continuous 6-D (``cont6d``) follows HumanML3D: the first two **columns** of the matrix, ``[R[:, 0], R[:, 1]]``
  (pytorch3d's ``matrix_to_rotation_6d`` takes rows instead).
- Axis-angle is ``(..., 3)``: unit axis times angle in radians (the rotation vector, exp/log maps of SO(3)).
- Angles are radians. World frame y-up (DESIGN.md section 3), so a yaw is a rotation about +y.

Functions broadcast their inputs with numpy rules and return float64 unless they receive float32 throughout
(numpy's promotion rules decide). They never raise for unnormalised input; they normalise where stated.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _unit(v: np.ndarray, eps: float = _EPS) -> np.ndarray:
    """(..., n) -> (..., n) vectors scaled to unit length (zero vectors stay zero)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, eps)


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity quaternions of shape ``shape + (4,)`` (float64)."""
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) unit quaternions."""
    return _unit(np.asarray(q))


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of (..., 4) quaternions (rotation ``b`` first, then ``a``) -> (..., 4)."""
    a, b = np.asarray(a), np.asarray(b)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) conjugate ``(w, -x, -y, -z)``; the inverse of a unit quaternion."""
    q = np.asarray(q)
    return np.concatenate([q[..., :1], -q[..., 1:]], axis=-1)


def quat_inv(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 4) inverse ``conj(q) / |q|^2`` (also for non-unit quaternions)."""
    q = np.asarray(q)
    return quat_conj(q) / np.maximum(np.sum(q * q, axis=-1, keepdims=True), _EPS)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate (..., 3) vectors ``v`` by unit (..., 4) quaternions ``q`` -> (..., 3); same units as ``v``.

    ``v' = v + 2 w (u x v) + 2 u x (u x v)`` with ``q = (w, u)``.
    """
    q, v = np.asarray(q), np.asarray(v)
    w = q[..., :1]
    u = q[..., 1:]
    uv = np.cross(u, v)
    return v + 2.0 * (w * uv + np.cross(u, uv))


def quat_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternion (..., 4) that rotates direction ``u`` onto direction ``v`` (both (..., 3)).

    ``normalise([|u||v| + u.v, u x v])`` (HumanML3D's ``qbetween``). Robust where that formula fails: for
    opposite directions the result is a half turn about an axis perpendicular to ``u`` (about -y for
    ``u = -z``, so that a horizontal ``u`` gives a yaw); for a zero vector it is the identity.
    """
    u, v = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
    nu = np.linalg.norm(u, axis=-1, keepdims=True)
    nv = np.linalg.norm(v, axis=-1, keepdims=True)
    q = np.concatenate([nu * nv + np.sum(u * v, axis=-1, keepdims=True), np.cross(u, v)], axis=-1)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    scale = np.maximum(nu * nv, _EPS)
    opposite = (norm[..., 0] <= 1e-7 * scale[..., 0]) & (nu[..., 0] > _EPS) & (nv[..., 0] > _EPS)
    if np.any(opposite):
        uo = u[opposite] / nu[opposite]
        # axis: u x e, with e the basis vector least aligned with u (x first, then y, then z on ties)
        e = np.eye(3)[np.argmin(np.abs(uo), axis=-1)]
        q[opposite] = np.concatenate([np.zeros((len(uo), 1)), _unit(np.cross(uo, e))], axis=-1)
    zero = (nu[..., 0] <= _EPS) | (nv[..., 0] <= _EPS)
    q[zero] = (1.0, 0.0, 0.0, 0.0)
    return _unit(q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (normalised first) -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(quat_normalize(q), -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )  # fmt: skip
    return m.reshape(m.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions with ``w >= 0``.

    Shepperd's method: the largest of ``4w^2, 4x^2, 4y^2, 4z^2`` is taken from the diagonal and the other
    components from the off-diagonal sums, so it stays accurate near 180 degrees.
    """
    m = np.asarray(m, dtype=np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    four_sq = np.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1
    )
    d21, d02, d10 = m21 - m12, m02 - m20, m10 - m01  # 4wx, 4wy, 4wz
    a01, a02, a12 = m01 + m10, m02 + m20, m12 + m21  # 4xy, 4xz, 4yz
    # Row k is 4 * |q_k| * q (up to sign): divided by 4 |q_k| = 2 sqrt(four_sq[k]) it gives q, accurate when
    # q_k is the largest component.
    numer = np.stack(
        [
            np.stack([four_sq[..., 0], d21, d02, d10], axis=-1),
            np.stack([d21, four_sq[..., 1], a01, a02], axis=-1),
            np.stack([d02, a01, four_sq[..., 2], a12], axis=-1),
            np.stack([d10, a02, a12, four_sq[..., 3]], axis=-1),
        ],
        axis=-2,
    )
    cands = numer / (2.0 * np.sqrt(np.maximum(four_sq, _EPS)))[..., None]
    best = np.argmax(four_sq, axis=-1)[..., None, None]
    q = np.take_along_axis(cands, best, axis=-2)[..., 0, :]
    q = _unit(q)
    return np.where(q[..., :1] < 0, -q, q)


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns ``[R[:, 0], R[:, 1]]`` (HumanML3D's continuous 6-D)."""
    m = np.asarray(m)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) column-6-D -> (..., 3, 3) rotation matrices by Gram-Schmidt.

    ``x = normalise(c0)``, ``z = normalise(x x c1)``, ``y = z x x``; the result has columns ``[x, y, z]``.
    """
    d6 = np.asarray(d6)
    x = _unit(d6[..., 0:3])
    z = _unit(np.cross(x, d6[..., 3:6]))
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions -> (..., 6) column-6-D (``matrix_to_cont6d(quat_to_matrix(q))``)."""
    return matrix_to_cont6d(quat_to_matrix(q))


def skew(v: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) cross-product matrices: ``skew(a) @ b == a x b``."""
    v = np.asarray(v)
    x, y, z = np.moveaxis(v, -1, 0)
    o = np.zeros_like(x)
    return np.stack([o, -z, y, z, o, -x, -y, x, o], axis=-1).reshape(v.shape[:-1] + (3, 3))


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (axis times angle, rad) -> (..., 3, 3) matrices (exp map, Rodrigues).

    ``R = I + A K + B K^2`` with ``K = skew(aa)``, ``A = sin t / t``, ``B = (1 - cos t) / t^2``; Taylor series
    below ``t = 1e-4`` rad keep it exact to machine precision near 0.
    """
    aa = np.asarray(aa, dtype=np.float64)
    t2 = np.sum(aa * aa, axis=-1)
    t = np.sqrt(t2)
    small = t < 1e-4
    ts = np.where(small, 1.0, t)
    a = np.where(small, 1.0 - t2 / 6.0, np.sin(ts) / ts)
    b = np.where(small, 0.5 - t2 / 24.0, (1.0 - np.cos(ts)) / (ts * ts))
    k = skew(aa)
    return np.eye(3) + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (rad) -> (..., 4) unit quaternions ``(cos t/2, sin(t/2) axis)``."""
    aa = np.asarray(aa, dtype=np.float64)
    t2 = np.sum(aa * aa, axis=-1, keepdims=True)
    t = np.sqrt(t2)
    small = t < 1e-4
    ts = np.where(small, 1.0, t)
    half_sinc = np.where(small, 0.5 - t2 / 48.0, np.sin(ts / 2) / ts)  # sin(t/2) / t
    return np.concatenate([np.cos(t / 2), aa * half_sinc], axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (normalised first) -> (..., 3) rotation vectors with angle in [0, pi] (log map).

    The sign of ``q`` is chosen with ``w >= 0``; the angle is ``2 atan2(|xyz|, w)``, accurate at 0 and pi. At
    exactly pi both axis signs describe the same rotation; the one of the input's ``xyz`` is returned.
    """
    q = quat_normalize(np.asarray(q, dtype=np.float64))
    q = np.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    n = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(n, w)
    small = n < 1e-6
    ns = np.where(small, 1.0, n)
    # angle / sin(angle / 2); for small angles 2 (1 + h^2 / 6) / w with h = angle / 2
    ratio = np.where(small, 2.0 * (1.0 + (angle / 2) ** 2 / 6.0) / np.maximum(w, _EPS), angle / ns)
    return xyz * ratio


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors, angle in [0, pi] (log map, robust at pi)."""
    return quat_to_axis_angle(matrix_to_quat(m))


def yaw_quat(angle_rad: np.ndarray | float) -> np.ndarray:
    """(...) yaw angles in rad -> (..., 4) quaternions of a rotation by that angle about +y (world up).

    Positive angles turn +z towards +x.
    """
    half = 0.5 * np.asarray(angle_rad, dtype=np.float64)
    z = np.zeros_like(half)
    return np.stack([np.cos(half), z, np.sin(half), z], axis=-1)


def quat_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs of (T, ..., 4) quaternions along ``axis`` so neighbours have a non-negative dot product.

    ``q`` and ``-q`` are the same rotation; interpolation and differentiation need the continuous choice.
    Returns a new array of the same shape.
    """
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    if len(q) > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.cumsum(dots < 0, axis=0) % 2 == 1
        q[1:][flips] *= -1.0
    return np.moveaxis(q, 0, axis)
