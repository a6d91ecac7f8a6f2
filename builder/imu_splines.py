"""The spline half of the IMU physics (:mod:`text2imu.builder.imu`): position and rotation splines with knots
extrapolated beyond both ends, their analytic derivatives, and spline resampling.

Conventions as in :mod:`text2imu.builder.imu`: metres, seconds, world frame y-up; rotations (3, 3) map sensor-frame
vectors to the world; angular rates are in the sensor frame, ``vee(R^T dR/dt)``.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline, make_interp_spline
from scipy.spatial.transform import Rotation, RotationSpline

from .errors import SimulationError

# Position spline ends: a polynomial of END_FIT_DEGREE fitted by least squares to the END_FIT_FRAMES frames at
# each end gives END_KNOTS extra knots outside the clip (see extended_positions).
END_FIT_DEGREE = 4
END_FIT_FRAMES = 6
END_KNOTS = 2
SPLINE_MIN_FRAMES = END_FIT_FRAMES


def resample_positions(
    positions_m: np.ndarray, times_in_s: np.ndarray, times_out_s: np.ndarray
) -> np.ndarray:
    """(T, ..., 3) positions -> (T', ..., 3) at ``times_out_s`` by a not-a-knot cubic spline (metres)."""
    return CubicSpline(times_in_s, positions_m, axis=0)(times_out_s)


# Cubic Lagrange extrapolation from samples 0..3 to -1 and -2 (the weight of sample 0 multiplies phi_0 = 0).
_EXTRAPOLATE_WEIGHTS = np.array([[-6.0, 4.0, -1.0], [-20.0, 15.0, -4.0]])


def rotation_spline(times_s: np.ndarray, rotations: np.ndarray) -> RotationSpline:
    """A ``RotationSpline`` through (T, 3, 3) sensor -> world matrices at uniform ``times_s`` (T >= 4).

    RotationSpline's natural end conditions (zero angular acceleration at the first and last knot) bias the rate
    near the ends; two extra knots at each end, extrapolated by a cubic in the tangent space of the end rotation
    (``phi_k = log(R_0^T R_k)``), move that bias outside ``times_s`` (end-rate error about 8x smaller on smooth
    motions).
    """
    rot = Rotation.from_matrix(rotations)
    dt = times_s[1] - times_s[0]

    def extrapolated(end: Rotation, inner: Rotation) -> Rotation:
        phi = (end.inv() * inner).as_rotvec()  # (3, 3): phi_1 .. phi_3
        return end * Rotation.from_rotvec(_EXTRAPOLATE_WEIGHTS @ phi)  # at -1, -2 steps outward

    before = extrapolated(rot[0], rot[1:4])
    after = extrapolated(rot[-1], rot[-2:-5:-1])
    knots = Rotation.concatenate([before[::-1], rot, after])
    pad = dt * np.array([1.0, 2.0])
    knot_times = np.concatenate([times_s[0] - pad[::-1], times_s, times_s[-1] + pad])
    return RotationSpline(knot_times, knots)


def resample_rotations(rotations: np.ndarray, times_in_s: np.ndarray, times_out_s: np.ndarray) -> np.ndarray:
    """(T, ..., 3, 3) rotations -> (T', ..., 3, 3) at ``times_out_s`` by one :func:`rotation_spline` per sensor."""
    flat = rotations.reshape(rotations.shape[0], -1, 3, 3)
    out = np.empty((len(times_out_s), flat.shape[1], 3, 3))
    for s in range(flat.shape[1]):
        out[:, s] = rotation_spline(times_in_s, flat[:, s])(times_out_s).as_matrix()
    return out.reshape((len(times_out_s),) + rotations.shape[1:])


def _extrapolation_weights(nodes_s: np.ndarray, at_s: np.ndarray, degree: int) -> np.ndarray:
    """(K, N) weights giving, at the K times ``at_s``, the least-squares polynomial of ``degree`` through the
    values at the N times ``nodes_s`` (N > degree; times are scaled by their spread for conditioning)."""
    origin, unit = nodes_s[0], np.ptp(nodes_s)
    vander = np.vander((nodes_s - origin) / unit, degree + 1, increasing=True)  # (N, d + 1)
    at = np.vander((np.asarray(at_s) - origin) / unit, degree + 1, increasing=True)  # (K, d + 1)
    return at @ np.linalg.pinv(vander)


def extended_positions(times_s: np.ndarray, positions_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions with ``END_KNOTS`` extrapolated samples added before the first and after the last frame.

    An interpolating quintic leans on nothing beyond the last frame, so at the two end samples its second
    derivative answers frame-to-frame noise with a gain of about 42 (the standard deviation of the noise on the
    acceleration, in units of noise / dt^2), against 4.8 inside the clip and 6.8 for ``central``'s one-sided
    end stencil; on the HumanML3D sample that was a 120 m/s^2 spike at t = 0 on the upper arm where ``central``
    reads 17. The added knots, at the clip's end steps, lie on a quartic fitted by least squares to the 6 frames
    at each end: end gain 7.0, and polynomials up to degree 4 (constant velocity, free fall) stay exact, so the
    end error on smooth motions is O(dt^3) (0.8 % of the peak acceleration of tests/test_imu.py's 0.5 Hz
    two-axis motion at 20 fps, half of ``central``'s end error on its 1 Hz one).

    Args:
        times_s: (T,) strictly increasing times, T >= ``END_FIT_FRAMES``. positions_m: (T, ...) samples.
    Returns:
        (T + 2 END_KNOTS,) times and (T + 2 END_KNOTS, ...) positions.
    """
    n = END_FIT_FRAMES
    steps = np.arange(1, END_KNOTS + 1, dtype=np.float64)
    before_t = times_s[0] - (times_s[1] - times_s[0]) * steps[::-1]
    after_t = times_s[-1] + (times_s[-1] - times_s[-2]) * steps
    before = np.tensordot(
        _extrapolation_weights(times_s[:n], before_t, END_FIT_DEGREE), positions_m[:n], axes=1
    )
    after = np.tensordot(
        _extrapolation_weights(times_s[-n:], after_t, END_FIT_DEGREE), positions_m[-n:], axes=1
    )
    return (
        np.concatenate([before_t, times_s, after_t]),
        np.concatenate([before, positions_m, after], axis=0),
    )


def spline_kinematics(
    positions_m: np.ndarray, rotations: np.ndarray, times_in_s: np.ndarray, times_out_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World acceleration, sensor-frame angular rate and rotations from splines, evaluated analytically.

    Args:
        positions_m: (T, ..., 3) sensor positions, metres; T >= 6.
        rotations: (T, ..., 3, 3) sensor -> world matrices.
        times_in_s: (T,) strictly increasing input times; times_out_s: (T',) evaluation times (inside the range).
    Returns:
        acc_world_mps2 (T', ..., 3), gyro_radps (T', ..., 3) sensor frame, rotations (T', ..., 3, 3).
    """
    if positions_m.shape[0] < SPLINE_MIN_FRAMES:
        raise SimulationError(
            f"spline needs at least {SPLINE_MIN_FRAMES} samples, got {positions_m.shape[0]}"
        )
    knot_times, knots = extended_positions(times_in_s, positions_m)
    acc = make_interp_spline(knot_times, knots, k=5, axis=0).derivative(2)(times_out_s)
    flat = rotations.reshape(rotations.shape[0], -1, 3, 3)
    n_out = len(times_out_s)
    gyro = np.empty((n_out, flat.shape[1], 3))
    rot_out = np.empty((n_out, flat.shape[1], 3, 3))
    for s in range(flat.shape[1]):
        spline = rotation_spline(times_in_s, flat[:, s])
        rot_out[:, s] = spline(times_out_s).as_matrix()
        # RotationSpline's rate is vee(R^T dR/dt) for R = as_matrix(): already the sensor frame.
        gyro[:, s] = spline(times_out_s, 1)
    batch = rotations.shape[1:-2]
    return acc, gyro.reshape((n_out,) + batch + (3,)), rot_out.reshape((n_out,) + batch + (3, 3))
