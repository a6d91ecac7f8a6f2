"""Virtual IMU physics: sensor positions and frames -> specific force and angular rate.

Conventions (DESIGN.md sections 3 and 4):

- World frame y-up, metres, seconds. Gravity ``g = (0, -9.81, 0)`` m/s^2.
- ``R`` (3, 3) maps sensor-frame vectors to world-frame vectors (columns = sensor axes in the world).
- Accelerometer: specific force ``f = R^T (a - g)`` with ``a = d2p/dt2`` the world acceleration of the sensor
  position, so a sensor at rest reads +9.81 m/s^2 along its axis that points up.
- Gyroscope: angular rate in the sensor frame, ``omega = vee(R^T dR/dt)``.
- Quaternions are scalar-first ``(w, x, y, z)``, sensor -> world, sign-continuous in time (first sample w >= 0).

Two derivative methods (recorded in every card):

- ``central``: the paper's second differences ``(p[i+1] - 2 p[i] + p[i-1]) / dt^2``; at both ends the
  second-order one-sided stencil ``(2 p0 - 5 p1 + 4 p2 - p3) / dt^2`` (never zeros). Angular rate from the log map
  of ``R[i-1]^T R[i+1]`` over ``2 dt``; at the ends the one-sided second-order ``(4 phi1 - phi2) / (2 dt)`` with
  ``phi_k = log(R[0]^T R[k])`` (mirrored at the last frame). Errors are O(dt^2). Needs >= 4 frames (at the
  output rate).
- ``spline``: a quintic interpolating position spline (``scipy.interpolate.make_interp_spline``, k = 5, two knots
  added at each end, see :func:`~text2imu.builder.imu_splines.extended_positions`) differentiated twice
  analytically, and a ``scipy.spatial.transform.RotationSpline`` (two knots added at each end, see
  :func:`~text2imu.builder.imu_splines.rotation_spline`) whose
  analytic angular rate ``spline(t, 1)`` is already ``vee(R^T dR/dt)``, the sensor-frame rate, for ``R`` =
  ``Rotation.as_matrix()`` (checked in tests/test_imu.py). Needs >= 6 frames.

Output rate: inputs are at the motion rate ``fps``; outputs at ``rate_hz`` (default ``fps``) at the times
``k / rate_hz``, k = 0 .. floor(duration * rate_hz), where duration = (T - 1) / fps. ``spline`` evaluates its
derivatives at those times. ``central`` first interpolates to those times (not-a-knot cubic spline for positions,
:func:`~text2imu.builder.imu_splines.rotation_spline` for rotations), then differentiates with ``dt = 1 / rate_hz``; with ``rate_hz == fps`` no
interpolation happens. Neither method low-pass filters when ``rate_hz < fps``: outputs are point samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import SimulationError
from .imu_splines import (
    SPLINE_MIN_FRAMES,
    resample_positions,
    resample_rotations,
    spline_kinematics,
)

log = logging.getLogger(__name__)

GRAVITY_MPS2 = 9.81
GRAVITY_WORLD_MPS2 = np.array([0.0, -GRAVITY_MPS2, 0.0])
METHODS = ("central", "spline")
MIN_FRAMES = {"central": 4, "spline": SPLINE_MIN_FRAMES}
# Largest accepted max|R^T R - I| (float32 rotations from fitting are ~1e-6 off); matrices are re-orthonormalised.
ORTHONORMAL_TOL = 1e-3
# A rotation of more than this between the two frames of a central difference is probably aliased.
MAX_CENTRAL_ANGLE_RAD = 0.9 * np.pi


@dataclass(frozen=True)
class ImuSignals:
    """Simulated IMU signals of one or more sensors.

    Attributes:
        acc_mps2: (T', ..., 3) specific force in the sensor frame, m/s^2.
        gyro_radps: (T', ..., 3) angular rate in the sensor frame, rad/s.
        orientation_wxyz: (T', ..., 4) unit quaternion sensor -> world, scalar first.
        rate_hz: output sample rate in Hz; sample k is at time k / rate_hz from the first motion frame.
        method: derivative method, ``central`` or ``spline``.
        noise_preset: name of the noise preset applied (``ideal``: none).
    """

    acc_mps2: np.ndarray
    gyro_radps: np.ndarray
    orientation_wxyz: np.ndarray
    rate_hz: float
    method: str = "central"
    noise_preset: str = "ideal"

    def __post_init__(self) -> None:
        for name in ("acc_mps2", "gyro_radps", "orientation_wxyz"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.acc_mps2.shape != self.gyro_radps.shape or self.acc_mps2.shape[-1:] != (3,):
            raise SimulationError(
                f"acc_mps2 and gyro_radps must share a (T, ..., 3) shape, got {self.acc_mps2.shape} "
                f"and {self.gyro_radps.shape}"
            )
        if self.orientation_wxyz.shape != self.acc_mps2.shape[:-1] + (4,):
            raise SimulationError(
                f"orientation_wxyz must have shape {self.acc_mps2.shape[:-1] + (4,)}, "
                f"got {self.orientation_wxyz.shape}"
            )
        object.__setattr__(self, "rate_hz", _positive_rate(self.rate_hz, "rate_hz"))

    @property
    def n_samples(self) -> int:
        return int(self.acc_mps2.shape[0])

    def times_s(self) -> np.ndarray:
        """(T',) sample times in seconds, starting at 0."""
        return np.arange(self.n_samples, dtype=np.float64) / self.rate_hz


def output_times_s(n_frames: int, fps: float, rate_hz: float) -> np.ndarray:
    """(T',) output sample times k / rate_hz, k = 0 .. floor((n_frames - 1) / fps * rate_hz), in seconds."""
    n_out = int(np.floor((n_frames - 1) * rate_hz / fps + 1e-9)) + 1
    return np.arange(n_out, dtype=np.float64) / rate_hz


def first_derivative_central(x: np.ndarray, dt_s: float) -> np.ndarray:
    """d x / dt along axis 0 by central differences, second-order one-sided at the ends.

    Args:
        x: (T, ...) samples at a uniform step, T >= 3.
        dt_s: sample step in seconds.
    Returns:
        (T, ...) derivative in units of x per second.
    """
    x = np.asarray(x, dtype=np.float64)
    _need_frames(x.shape[0], 3, "first_derivative_central")
    out = np.empty_like(x)
    out[1:-1] = (x[2:] - x[:-2]) / (2.0 * dt_s)
    out[0] = (-3.0 * x[0] + 4.0 * x[1] - x[2]) / (2.0 * dt_s)
    out[-1] = (3.0 * x[-1] - 4.0 * x[-2] + x[-3]) / (2.0 * dt_s)
    return out


def second_derivative_central(x: np.ndarray, dt_s: float) -> np.ndarray:
    """d2 x / dt2 along axis 0: ``(x[i+1] - 2 x[i] + x[i-1]) / dt^2``, one-sided second order at the ends.

    The end stencil is ``(2 x0 - 5 x1 + 4 x2 - x3) / dt^2`` (and its mirror), exact for cubics.

    Args:
        x: (T, ...) samples at a uniform step, T >= 4.
        dt_s: sample step in seconds.
    Returns:
        (T, ...) second derivative in units of x per second^2.
    """
    x = np.asarray(x, dtype=np.float64)
    _need_frames(x.shape[0], 4, "second_derivative_central")
    h2 = dt_s * dt_s
    out = np.empty_like(x)
    out[1:-1] = (x[2:] - 2.0 * x[1:-1] + x[:-2]) / h2
    out[0] = (2.0 * x[0] - 5.0 * x[1] + 4.0 * x[2] - x[3]) / h2
    out[-1] = (2.0 * x[-1] - 5.0 * x[-2] + 4.0 * x[-3] - x[-4]) / h2
    return out


def _relative_rotvec(r_from: np.ndarray, r_to: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vector log(r_from^T r_to) of (..., 3, 3) matrix stacks, radians."""
    rel = np.swapaxes(r_from, -1, -2) @ r_to
    shape = rel.shape[:-2]
    return Rotation.from_matrix(rel.reshape(-1, 3, 3)).as_rotvec().reshape(shape + (3,))


def angular_rate_central(rotations: np.ndarray, dt_s: float) -> np.ndarray:
    """Sensor-frame angular rate ``vee(R^T dR/dt)`` by central differences on SO(3).

    Interior: ``log(R[i-1]^T R[i+1]) / (2 dt)``. Ends: ``(4 phi1 - phi2) / (2 dt)`` with
    ``phi_k = log(R[0]^T R[k])``; at the last frame ``-(4 phi1 - phi2) / (2 dt)`` with
    ``phi_k = log(R[-1]^T R[-1-k])``. All O(dt^2); exact for a constant body rate. Rotations of more than
    0.9 pi between frames i-1 and i+1 are aliased (a warning is logged).

    Args:
        rotations: (T, ..., 3, 3) orthonormal sensor -> world matrices at a uniform step, T >= 3.
        dt_s: sample step in seconds.
    Returns:
        (T, ..., 3) angular rate in rad/s, sensor frame.
    """
    rot = np.asarray(rotations, dtype=np.float64)
    _need_frames(rot.shape[0], 3, "angular_rate_central")
    out = np.empty(rot.shape[:-1], dtype=np.float64)
    phi = _relative_rotvec(rot[:-2], rot[2:])
    max_angle = float(np.max(np.linalg.norm(phi, axis=-1)))
    if max_angle > MAX_CENTRAL_ANGLE_RAD:
        log.warning(
            "rotation of %.2f rad over two frames: the angular rate (%.1f rad/s at dt=%.4g s) may be aliased; "
            "use a higher motion rate",
            max_angle,
            max_angle / (2 * dt_s),
            dt_s,
        )
    out[1:-1] = phi / (2.0 * dt_s)
    phi1, phi2 = _relative_rotvec(rot[0], rot[1]), _relative_rotvec(rot[0], rot[2])
    out[0] = (4.0 * phi1 - phi2) / (2.0 * dt_s)
    phi1, phi2 = _relative_rotvec(rot[-1], rot[-2]), _relative_rotvec(rot[-1], rot[-3])
    out[-1] = -(4.0 * phi1 - phi2) / (2.0 * dt_s)
    return out


def specific_force(acc_world_mps2: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Accelerometer reading ``R^T (a - g)``, g = (0, -9.81, 0).

    Args:
        acc_world_mps2: (..., 3) world acceleration of the sensor, m/s^2.
        rotations: (..., 3, 3) sensor -> world matrices.
    Returns:
        (..., 3) specific force in the sensor frame, m/s^2.
    """
    f_world = np.asarray(acc_world_mps2, dtype=np.float64) - GRAVITY_WORLD_MPS2
    return np.einsum("...ji,...j->...i", np.asarray(rotations, dtype=np.float64), f_world)


def matrices_to_wxyz(rotations: np.ndarray) -> np.ndarray:
    """(T, ..., 3, 3) rotation matrices -> (T, ..., 4) unit quaternions (w, x, y, z), sign-continuous along T.

    The first sample has w >= 0; each later one takes the sign that makes its dot product with the previous
    sample non-negative (q and -q are the same rotation; continuity keeps the channel free of jumps).
    """
    rot = np.asarray(rotations, dtype=np.float64)
    shape = rot.shape[:-2]
    xyzw = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat().reshape(shape + (4,))
    q = xyzw[..., [3, 0, 1, 2]]
    signs = np.ones(shape, dtype=np.float64)
    signs[0] = np.where(q[0, ..., 0] < 0, -1.0, 1.0)
    if shape[0] > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        signs[1:] = np.where(dots < 0, -1.0, 1.0)
    return q * np.cumprod(signs, axis=0)[..., None]


def simulate_imu(
    positions_m: np.ndarray,
    rotations_sensor_to_world: np.ndarray,
    fps: float,
    *,
    method: str = "central",
    rate_hz: float | None = None,
) -> ImuSignals:
    """Ideal (noise-free) accelerometer and gyroscope signals of sensors moving with a body.

    Args:
        positions_m: (T, 3) or (T, S, 3) sensor positions in the world, metres, at ``fps``.
        rotations_sensor_to_world: (T, 3, 3) or (T, S, 3, 3) sensor -> world matrices (orthonormal, det +1).
        fps: motion frame rate in Hz (> 0).
        method: ``central`` (>= 4 output samples) or ``spline`` (>= 6 input frames); see the module docstring.
        rate_hz: output rate in Hz; default ``fps``.
    Returns:
        ImuSignals with acc_mps2 / gyro_radps (T', [S,] 3), orientation_wxyz (T', [S,] 4), T' from
        :func:`output_times_s`.
    Raises:
        SimulationError: bad shapes, NaN/inf, non-positive rates, too few frames, non-rotation matrices.
    """
    if method not in METHODS:
        from .errors import UnknownNameError

        raise UnknownNameError("simulation method", str(method), METHODS)
    fps = _positive_rate(fps, "fps")
    rate_hz = fps if rate_hz is None else _positive_rate(rate_hz, "rate_hz")
    pos, rot = _validated(positions_m, rotations_sensor_to_world)
    n_frames = pos.shape[0]
    if n_frames < MIN_FRAMES[method]:
        raise SimulationError(
            f"method '{method}' needs at least {MIN_FRAMES[method]} frames, got {n_frames}; "
            "use a longer motion" + (" or method 'central'" if method == "spline" else "")
        )
    times_in = np.arange(n_frames, dtype=np.float64) / fps
    times_out = output_times_s(n_frames, fps, rate_hz)
    if method == "spline":
        acc_world, gyro, rot_out = spline_kinematics(pos, rot, times_in, times_out)
    else:
        if len(times_out) < MIN_FRAMES["central"]:
            raise SimulationError(
                f"method 'central' needs at least {MIN_FRAMES['central']} output samples, got {len(times_out)} "
                f"({n_frames} frames at {fps} Hz -> {rate_hz} Hz); raise rate_hz or use a longer motion"
            )
        if rate_hz == fps:
            pos_out, rot_out = pos, rot
        else:
            pos_out = resample_positions(pos, times_in, times_out)
            rot_out = resample_rotations(rot, times_in, times_out)
        dt = 1.0 / rate_hz
        acc_world = second_derivative_central(pos_out, dt)
        gyro = angular_rate_central(rot_out, dt)
    return ImuSignals(
        acc_mps2=specific_force(acc_world, rot_out),
        gyro_radps=gyro,
        orientation_wxyz=matrices_to_wxyz(rot_out),
        rate_hz=rate_hz,
        method=method,
    )


def _positive_rate(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SimulationError(f"{name} must be a number in Hz, got {value!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise SimulationError(f"{name} must be a positive, finite rate in Hz, got {value}")
    return value


def _need_frames(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise SimulationError(f"{what} needs at least {minimum} samples, got {n}")


def _validated(positions_m: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 copies; rotations re-orthonormalised (nearest rotation)."""
    pos = np.asarray(positions_m)
    rot = np.asarray(rotations)
    if pos.ndim not in (2, 3) or pos.shape[-1] != 3:
        raise SimulationError(f"positions_m must have shape (T, 3) or (T, S, 3), got {pos.shape}")
    if rot.shape != pos.shape + (3,):
        raise SimulationError(
            f"rotations_sensor_to_world must have shape {pos.shape + (3,)} to match positions {pos.shape}, "
            f"got {rot.shape}"
        )
    for name, arr in (("positions_m", pos), ("rotations_sensor_to_world", rot)):
        if not np.issubdtype(arr.dtype, np.number):
            raise SimulationError(f"{name} must be numeric, got dtype {arr.dtype}")
        bad = ~np.isfinite(arr)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            raise SimulationError(f"{name} has {int(bad.sum())} NaN/inf values (first in frame {frame})")
    pos = pos.astype(np.float64)
    rot = rot.astype(np.float64)
    err = np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max(axis=(-2, -1))
    det = np.linalg.det(rot)
    if err.max() > ORTHONORMAL_TOL or (det <= 0).any():
        idx = np.unravel_index(int(np.argmax(err + (det <= 0) * 1e9)), err.shape)
        raise SimulationError(
            f"rotations_sensor_to_world must be rotation matrices (R^T R = I within {ORTHONORMAL_TOL}, "
            f"det +1); at index {tuple(int(i) for i in idx)} max|R^T R - I| = {err[idx]:.3g}, "
            f"det = {det[idx]:.3g}. Re-orthonormalise them or check the axis convention (sensor -> world)"
        )
    rot = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_matrix().reshape(rot.shape)
    return pos, rot
