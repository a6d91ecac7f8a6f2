import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from text2imu.builder import rotations as rot

RNG = np.random.default_rng(0)


def random_quats(n, rng=RNG):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def scipy_quat(q):
    """(w, x, y, z) -> scipy Rotation (which uses x, y, z, w)."""
    return Rotation.from_quat(np.asarray(q)[..., [1, 2, 3, 0]])


def near_pi_rotvecs():
    axes = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [-1, 2, 3], [0.3, -0.2, -0.9]], dtype=float)
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = np.array([np.pi, np.pi - 1e-9, np.pi - 1e-6, np.pi - 1e-3])
    return (axes[:, None, :] * angles[None, :, None]).reshape(-1, 3)


def test_quat_to_matrix_matches_scipy_and_rotate():
    q = random_quats(50)
    m = rot.quat_to_matrix(q)
    np.testing.assert_allclose(m, scipy_quat(q).as_matrix(), atol=1e-12)
    v = RNG.normal(size=(50, 3))
    np.testing.assert_allclose(rot.quat_rotate(q, v), scipy_quat(q).apply(v), atol=1e-12)
    np.testing.assert_allclose(rot.quat_rotate(q, v), np.einsum("nij,nj->ni", m, v), atol=1e-12)


def test_quat_mul_composes_b_first_then_a():
    a, b = random_quats(20), random_quats(20)
    ab = rot.quat_mul(a, b)
    np.testing.assert_allclose(
        rot.quat_to_matrix(ab), rot.quat_to_matrix(a) @ rot.quat_to_matrix(b), atol=1e-12
    )
    v = RNG.normal(size=(20, 3))
    np.testing.assert_allclose(rot.quat_rotate(ab, v), rot.quat_rotate(a, rot.quat_rotate(b, v)), atol=1e-12)


def test_conj_and_inverse():
    q = random_quats(10)
    np.testing.assert_allclose(rot.quat_mul(q, rot.quat_conj(q)), rot.quat_identity((10,)), atol=1e-12)
    scaled = q * 3.0  # not unit: the inverse must still invert the product
    np.testing.assert_allclose(
        rot.quat_mul(scaled, rot.quat_inv(scaled)), rot.quat_identity((10,)), atol=1e-12
    )
    assert rot.quat_conj(np.array([1, 2, 3, 4])).tolist() == [1, -2, -3, -4]


def test_known_rotations():
    # yaw of +90 degrees about y turns +z into +x and +x into -z
    q = rot.yaw_quat(np.pi / 2)
    np.testing.assert_allclose(rot.quat_rotate(q, [0, 0, 1]), [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(rot.quat_rotate(q, [1, 0, 0]), [0, 0, -1], atol=1e-15)
    np.testing.assert_allclose(rot.quat_rotate(q, [0, 1, 0]), [0, 1, 0], atol=1e-15)
    # 90 degrees about z: x -> y
    m = rot.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))
    np.testing.assert_allclose(m @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    assert rot.yaw_quat(np.zeros((3, 2))).shape == (3, 2, 4)


def test_quat_between_maps_u_onto_v_by_the_shortest_arc():
    u = RNG.normal(size=(100, 3)) * RNG.uniform(0.1, 3, size=(100, 1))
    v = RNG.normal(size=(100, 3))
    q = rot.quat_between(u, v)
    uhat = u / np.linalg.norm(u, axis=-1, keepdims=True)
    vhat = v / np.linalg.norm(v, axis=-1, keepdims=True)
    np.testing.assert_allclose(rot.quat_rotate(q, uhat), vhat, atol=1e-12)
    # shortest arc: the rotation angle equals the angle between u and v
    angle = np.linalg.norm(rot.quat_to_axis_angle(q), axis=-1)
    np.testing.assert_allclose(angle, np.arccos(np.clip(np.sum(uhat * vhat, -1), -1, 1)), atol=1e-7)


@pytest.mark.parametrize("u", [[0, 0, -1], [1, 0, 0], [0, 1, 0], [0.6, 0, 0.8], [1, 2, 3]])
def test_quat_between_opposite_and_nearly_opposite(u):
    u = np.asarray(u, dtype=float)
    u /= np.linalg.norm(u)
    for v in (-u, -u + 1e-9 * np.cross(u, [0.3, 0.5, 0.7])):
        q = rot.quat_between(u, v)
        assert np.isfinite(q).all()
        np.testing.assert_allclose(rot.quat_rotate(q, u), v / np.linalg.norm(v), atol=1e-7)


def test_quat_between_half_turn_of_horizontal_forward_is_a_yaw():
    q = rot.quat_between([0, 0, -1.0], [0, 0, 1.0])
    assert abs(q[1]) < 1e-15 and abs(q[3]) < 1e-15 and abs(abs(q[2]) - 1) < 1e-15


def test_quat_between_zero_vector_gives_identity():
    np.testing.assert_array_equal(rot.quat_between([0, 0, 0], [1, 0, 0]), [1, 0, 0, 0])


def test_matrix_to_quat_round_trip_including_near_pi():
    q = np.concatenate([random_quats(200), rot.axis_angle_to_quat(near_pi_rotvecs())])
    m = rot.quat_to_matrix(q)
    back = rot.matrix_to_quat(m)
    assert (back[:, 0] >= 0).all()
    np.testing.assert_allclose(rot.quat_to_matrix(back), m, atol=1e-12)
    # equal up to sign
    np.testing.assert_allclose(np.abs(np.sum(back * q, -1)), 1.0, atol=1e-12)


def test_matrix_to_quat_identity_and_batches():
    np.testing.assert_allclose(rot.matrix_to_quat(np.eye(3)), [1, 0, 0, 0], atol=1e-15)
    m = rot.quat_to_matrix(random_quats(24).reshape(2, 3, 4, 4))
    assert rot.matrix_to_quat(m).shape == (2, 3, 4, 4)


def test_cont6d_is_the_first_two_columns_and_round_trips():
    m = rot.quat_to_matrix(random_quats(100))
    d6 = rot.matrix_to_cont6d(m)
    np.testing.assert_array_equal(d6[:, :3], m[:, :, 0])
    np.testing.assert_array_equal(d6[:, 3:], m[:, :, 1])
    np.testing.assert_allclose(rot.cont6d_to_matrix(d6), m, atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_cont6d(random_quats(3)).shape, (3, 6))


def test_cont6d_gram_schmidt_gives_a_rotation_from_noisy_input():
    d6 = RNG.normal(size=(100, 6))
    m = rot.cont6d_to_matrix(d6)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    # the first column is the normalised first 3-vector, the second lies in the plane of both
    np.testing.assert_allclose(
        m[:, :, 0], d6[:, :3] / np.linalg.norm(d6[:, :3], axis=-1, keepdims=True), atol=1e-12
    )
    np.testing.assert_allclose(np.sum(m[:, :, 2] * d6[:, 3:], -1), 0.0, atol=1e-12)


def test_axis_angle_to_matrix_matches_scipy_including_small_angles():
    aa = np.concatenate(
        [
            RNG.normal(size=(100, 3)),
            RNG.normal(size=(5, 3)) * 1e-6,
            RNG.normal(size=(5, 3)) * 1e-12,
            np.zeros((1, 3)),
        ]
    )
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), Rotation.from_rotvec(aa).as_matrix(), atol=1e-14)
    q = rot.axis_angle_to_quat(aa)
    np.testing.assert_allclose(np.abs(np.sum(q * scipy_quat_wxyz(aa), -1)), 1.0, atol=1e-14)


def scipy_quat_wxyz(aa):
    return Rotation.from_rotvec(aa).as_quat()[:, [3, 0, 1, 2]]


def test_axis_angle_round_trip_near_zero_and_near_pi():
    small = (
        RNG.normal(size=(10, 3))
        * np.array([1e-3, 1e-7, 1e-11, 1e-15, 0, 1e-2, 1e-5, 1e-9, 1e-13, 1e-4])[:, None]
    )
    for aa in (small, RNG.normal(size=(100, 3)) / 2):
        back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
        np.testing.assert_allclose(back, aa, atol=1e-12, rtol=1e-9)
    big = near_pi_rotvecs()
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(big))
    # near pi the axis may come back negated only at exactly pi; the matrices must agree everywhere
    np.testing.assert_allclose(rot.axis_angle_to_matrix(back), rot.axis_angle_to_matrix(big), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(back, axis=-1), np.linalg.norm(big, axis=-1), atol=1e-8)
    not_exact = np.abs(np.linalg.norm(big, axis=-1) - np.pi) > 1e-12
    np.testing.assert_allclose(back[not_exact], big[not_exact], atol=1e-8)


def test_quat_to_axis_angle_chooses_the_short_way():
    q = rot.axis_angle_to_quat(np.array([0.0, 0.0, 0.5]))
    np.testing.assert_allclose(rot.quat_to_axis_angle(-q), [0, 0, 0.5], atol=1e-15)


def test_quat_continuous_removes_sign_flips():
    q = rot.axis_angle_to_quat(np.linspace(0, 6, 30)[:, None] * np.array([0, 1.0, 0]))
    flipped = q * np.where(RNG.uniform(size=30) < 0.5, -1.0, 1.0)[:, None]
    fixed = rot.quat_continuous(flipped)
    assert (np.sum(fixed[1:] * fixed[:-1], -1) > 0).all()
    np.testing.assert_allclose(fixed, q * np.sign(np.sum(fixed[0] * q[0])), atol=1e-15)
