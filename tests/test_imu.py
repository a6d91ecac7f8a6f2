"""IMU physics against analytic motions, for both derivative methods."""

import logging

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, RotationSpline

from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.builder.imu import (
    GRAVITY_MPS2,
    ImuSignals,
    SimulationError,
    angular_rate_central,
    matrices_to_wxyz,
    output_times_s,
    second_derivative_central,
    simulate_imu,
    spline_kinematics,
)
from text2imu.builder.imu_splines import extended_positions

METHODS = ["central", "spline"]
UP = np.array([0.0, GRAVITY_MPS2, 0.0])
TILT = Rotation.from_rotvec([0.4, -1.1, 0.7]).as_matrix()  # a fixed, arbitrary sensor -> world rotation


def times(n, fps):
    return np.arange(n) / fps


def expmap(rotvecs):
    return Rotation.from_rotvec(rotvecs).as_matrix()


def two_axis_motion(t, amp_m=0.15, f_hz=1.3):
    """A smooth motion with analytic acceleration and body rate.

    Position: p = c + A (sin(w t), cos(0.7 w t), sin(1.3 w t + 0.5)).
    Rotation: R = exp(a(t) n1) exp(b(t) n2), a = 0.8 sin(w t), b = 0.5 cos(1.1 w t); body rate
    omega = exp(b n2)^T n1 a' + n2 b'.
    """
    w = 2 * np.pi * f_hz
    c = np.array([0.2, 1.0, -0.3])
    k = np.array([1.0, 0.7, 1.3])
    ph = np.array([0.0, np.pi / 2, 0.5])
    p = c + amp_m * np.sin(np.outer(t, k * w) + ph)
    acc = -amp_m * (k * w) ** 2 * np.sin(np.outer(t, k * w) + ph)
    n1 = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    n2 = np.array([-0.3, 0.4, 1.0]) / np.linalg.norm([-0.3, 0.4, 1.0])
    a, da = 0.8 * np.sin(w * t), 0.8 * w * np.cos(w * t)
    b, db = 0.5 * np.cos(1.1 * w * t), -0.55 * w * np.sin(1.1 * w * t)
    r_b = expmap(np.outer(b, n2))
    rot = expmap(np.outer(a, n1)) @ r_b
    gyro = np.einsum("tji,j->ti", r_b, n1) * da[:, None] + np.outer(db, n2)
    f = np.einsum("tji,tj->ti", rot, acc + UP)
    return p, rot, f, gyro


# ------------------------------------------------------------------------------------------------- analytic


@pytest.mark.parametrize("method", METHODS)
def test_at_rest_reads_plus_g_along_up_and_zero_rate(method):
    n = 12
    pos = np.tile([0.3, 1.2, -0.4], (n, 1))
    sig = simulate_imu(pos, np.tile(np.eye(3), (n, 1, 1)), 20.0, method=method)
    np.testing.assert_allclose(sig.acc_mps2, np.tile([0.0, 9.81, 0.0], (n, 1)), atol=1e-9)
    np.testing.assert_allclose(sig.gyro_radps, 0.0, atol=1e-12)
    # tilted sensor: R^T (0, 9.81, 0); here its z axis points straight up -> (0, 0, 9.81)
    for rot, expected in ((TILT, TILT.T @ UP), (expmap([-np.pi / 2, 0, 0]), [0.0, 0.0, 9.81])):
        sig = simulate_imu(pos, np.tile(rot, (n, 1, 1)), 20.0, method=method)
        np.testing.assert_allclose(sig.acc_mps2, np.tile(expected, (n, 1)), atol=1e-9)
        np.testing.assert_allclose(sig.gyro_radps, 0.0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_constant_velocity_reads_gravity_only(method):
    t = times(30, 20.0)
    pos = np.array([0.0, 1.0, 0.0]) + np.outer(t, [1.4, -0.2, 3.0])
    sig = simulate_imu(pos, np.tile(TILT, (30, 1, 1)), 20.0, method=method)
    np.testing.assert_allclose(sig.acc_mps2, np.tile(TILT.T @ UP, (30, 1)), atol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_free_fall_reads_zero_even_while_spinning(method):
    t = times(25, 20.0)
    g = np.array([0.0, -9.81, 0.0])
    pos = np.array([0.0, 10.0, 0.0]) + np.outer(t, [0.5, 4.0, -1.0]) + 0.5 * np.outer(t**2, g)
    axis = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    rot = TILT @ expmap(np.outer(3.0 * t, axis))
    sig = simulate_imu(pos, rot, 20.0, method=method)
    np.testing.assert_allclose(sig.acc_mps2, 0.0, atol=1e-7)
    np.testing.assert_allclose(sig.gyro_radps, np.tile(3.0 * axis, (25, 1)), atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_uniform_circular_motion(method):
    # Sensor on a turntable: radius r, rate w about world +y; its x axis points away from the centre.
    fps, n, r, w = 20.0, 60, 0.5, 2.0
    t = times(n, fps)
    centre = np.array([1.0, 1.1, -2.0])
    pos = centre + r * np.stack([np.cos(w * t), np.zeros(n), np.sin(w * t)], axis=1)
    rot = expmap(np.outer(-w * t, [0, 1, 0]))  # Ry(-w t): x -> (cos wt, 0, sin wt)
    np.testing.assert_allclose(rot[:, :, 0], (pos - centre) / r, atol=1e-12)
    sig = simulate_imu(pos, rot, fps, method=method)
    tol = 0.015 if method == "central" else 2e-3  # relative to w^2 r = 2 m/s^2, every sample incl. the ends
    np.testing.assert_allclose(sig.acc_mps2[:, 0], -(w**2) * r, atol=tol * w**2 * r)
    np.testing.assert_allclose(sig.acc_mps2[:, 1], 9.81, atol=1e-9)
    np.testing.assert_allclose(sig.acc_mps2[:, 2], 0.0, atol=tol * w**2 * r)
    # in the world: horizontal part points at the centre
    acc_world = np.einsum("tij,tj->ti", rot, sig.acc_mps2) - UP
    inward = (centre - pos) / r
    cos = np.sum(acc_world * inward, axis=1) / np.linalg.norm(acc_world, axis=1)
    assert cos.min() > 0.999
    np.testing.assert_allclose(sig.gyro_radps, np.tile([0.0, -w, 0.0], (n, 1)), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_constant_rotation_about_arbitrary_axis_reads_its_rate_in_the_sensor_frame(method):
    t = times(40, 20.0)
    pos = np.tile([0.0, 1.0, 0.0], (40, 1))
    axis = np.array([0.3, -0.5, 0.81]) / np.linalg.norm([0.3, -0.5, 0.81])
    rate = 4.0
    # about a sensor-fixed axis: R = R0 exp(rate t axis) -> gyro = rate axis
    body = TILT @ expmap(np.outer(rate * t, axis))
    np.testing.assert_allclose(
        simulate_imu(pos, body, 20.0, method=method).gyro_radps, np.tile(rate * axis, (40, 1)), atol=1e-6
    )
    # about a world-fixed axis: R = exp(rate t axis) R0 -> gyro = R0^T axis rate (not the world axis)
    world = expmap(np.outer(rate * t, axis)) @ TILT
    gyro = simulate_imu(pos, world, 20.0, method=method).gyro_radps
    np.testing.assert_allclose(gyro, np.tile(rate * TILT.T @ axis, (40, 1)), atol=1e-6)
    assert np.abs(gyro[0] - rate * axis).max() > 1.0  # the two frames really differ here


def test_scipy_rotation_spline_rate_is_the_sensor_frame_rate():
    # The convention simulate_imu relies on: RotationSpline(t, 1) == vee(R^T dR/dt) for R = as_matrix().
    t = times(200, 200.0)
    _, rot, _, gyro = two_axis_motion(t)
    rate = RotationSpline(t, Rotation.from_matrix(rot))(t[50:150], 1)
    np.testing.assert_allclose(rate, gyro[50:150], atol=1e-3 * np.abs(gyro).max())
    world = np.einsum("tij,tj->ti", rot[50:150], gyro[50:150])
    assert np.abs(rate - world).max() > 0.1


@pytest.mark.parametrize("method", METHODS)
def test_end_samples_are_not_zero_and_accurate(method):
    # One-sided O(dt^2) stencils at the ends: error ~ (11/12) dt^2 |d4p/dt4| for central, far below a zero or a
    # copy of the neighbour (error ~ dt |d3p/dt3|, about 20 % of the signal here).
    t = times(40, 20.0)
    pos, rot, f, gyro = two_axis_motion(t, f_hz=0.5)
    sig = simulate_imu(pos, rot, 20.0, method=method)
    tol = 0.08 if method == "central" else 0.01
    dyn_got = np.einsum("tij,tj->ti", rot, sig.acc_mps2) - UP  # world acceleration, gravity removed
    dyn_want = np.einsum("tij,tj->ti", rot, f) - UP
    for got, want in ((dyn_got, dyn_want), (sig.gyro_radps, gyro)):
        scale = np.abs(want).max()
        for end in (0, 1, -2, -1):
            assert np.linalg.norm(got[end]) > 0.2 * np.linalg.norm(want[end]) > 0
            np.testing.assert_allclose(got[end], want[end], atol=tol * scale)


def convergence_slope(errors, dts):
    return np.polyfit(np.log(dts), np.log(errors), 1)[0]


def test_central_converges_at_second_order():
    rates = np.array([20.0, 40.0, 80.0, 160.0])
    err_acc, err_gyro = [], []
    for fps in rates:
        t = times(int(3 * fps) + 1, fps)
        pos, rot, f, gyro = two_axis_motion(t)
        sig = simulate_imu(pos, rot, fps, method="central")
        err_acc.append(np.abs(sig.acc_mps2 - f).max())  # max over all samples, ends included
        err_gyro.append(np.abs(sig.gyro_radps - gyro).max())
    slope_acc = convergence_slope(err_acc, 1 / rates)
    slope_gyro = convergence_slope(err_gyro, 1 / rates)
    assert 1.8 < slope_acc < 2.2, (slope_acc, err_acc)
    assert 1.8 < slope_gyro < 2.2, (slope_gyro, err_gyro)


def test_second_derivative_stencils_exact_for_cubics():
    t = times(9, 10.0)
    x = 2.0 - 3.0 * t + 0.5 * t**2 + 1.7 * t**3
    np.testing.assert_allclose(second_derivative_central(x, 0.1), 1.0 + 10.2 * t, atol=1e-9)


def test_spline_is_more_accurate_than_central_on_a_smooth_motion():
    # Inside the clip 4x more accurate; at the two end samples, where both methods extrapolate from one side
    # (the spline through knots fitted to the end frames, which keeps noise from blowing up there), at least as
    # accurate as central's one-sided stencils.
    t = times(61, 20.0)
    pos, rot, f, gyro = two_axis_motion(t, f_hz=1.0)
    inner, ends = slice(1, -1), [0, -1]
    errs = {}
    for method in METHODS:
        sig = simulate_imu(pos, rot, 20.0, method=method)
        errs[method] = (
            np.sqrt(np.mean((sig.acc_mps2 - f)[inner] ** 2)),
            np.sqrt(np.mean((sig.gyro_radps - gyro)[inner] ** 2)),
            np.abs(sig.acc_mps2 - f)[ends].max(),
            np.abs(sig.gyro_radps - gyro)[ends].max(),
        )
    assert errs["spline"][0] < 0.25 * errs["central"][0], errs
    assert errs["spline"][1] < 0.25 * errs["central"][1], errs
    assert errs["spline"][2] < errs["central"][2] and errs["spline"][3] < errs["central"][3], errs


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rate_hz", [50.0, 100.0])
def test_output_rate_keeps_a_sinusoid(method, rate_hz):
    fps, n = 20.0, 81  # 4 s
    t = times(n, fps)
    pos, rot, _, _ = two_axis_motion(t, f_hz=1.0)
    sig = simulate_imu(pos, rot, fps, method=method, rate_hz=rate_hz)
    t_out = sig.times_s()
    assert len(t_out) == int(4 * rate_hz) + 1 and sig.rate_hz == rate_hz
    _, rot_true, f, gyro = two_axis_motion(t_out, f_hz=1.0)
    mid = slice(len(t_out) // 8, -len(t_out) // 8)
    for got, want in ((sig.acc_mps2, f), (sig.gyro_radps, gyro)):
        dyn = want - want.mean(axis=0)
        amp_want = np.abs(dyn[mid]).max(axis=0)
        amp_got = np.abs((got - want.mean(axis=0))[mid]).max(axis=0)
        np.testing.assert_allclose(amp_got, amp_want, rtol=0.015)
        assert np.sqrt(np.mean((got[mid] - want[mid]) ** 2)) < 0.01 * np.abs(dyn).max()  # phase too
    np.testing.assert_allclose(
        np.abs(np.sum(sig.orientation_wxyz * matrices_to_wxyz(rot_true), -1)), 1, atol=2e-3
    )


def test_output_times_and_identity_rate():
    np.testing.assert_allclose(output_times_s(41, 20.0, 50.0), np.arange(101) / 50.0)
    assert len(output_times_s(41, 20.0, 30.0)) == 61 and len(output_times_s(41, 20.0, 7.0)) == 15
    t = times(30, 20.0)
    pos, rot, _, _ = two_axis_motion(t)
    a = simulate_imu(pos, rot, 20.0)
    b = simulate_imu(pos, rot, 20.0, rate_hz=20.0)
    assert a.acc_mps2.tobytes() == b.acc_mps2.tobytes()
    np.testing.assert_allclose(
        np.abs(np.sum(a.orientation_wxyz * matrices_to_wxyz(rot), -1)), 1.0, atol=1e-12
    )


@pytest.mark.parametrize("method", METHODS)
def test_many_sensors_match_one_at_a_time(method):
    t = times(30, 20.0)
    p1, r1, _, _ = two_axis_motion(t)
    p2, r2, _, _ = two_axis_motion(t, amp_m=0.3, f_hz=0.7)
    both = simulate_imu(np.stack([p1, p2], 1), np.stack([r1, r2], 1), 20.0, method=method, rate_hz=40.0)
    assert both.acc_mps2.shape == (59, 2, 3) and both.orientation_wxyz.shape == (59, 2, 4)
    for s, (p, r) in enumerate(((p1, r1), (p2, r2))):
        one = simulate_imu(p, r, 20.0, method=method, rate_hz=40.0)
        np.testing.assert_allclose(both.acc_mps2[:, s], one.acc_mps2, atol=1e-12)
        np.testing.assert_allclose(both.gyro_radps[:, s], one.gyro_radps, atol=1e-12)
        np.testing.assert_allclose(both.orientation_wxyz[:, s], one.orientation_wxyz, atol=1e-12)


def test_quaternions_are_scalar_first_and_sign_continuous():
    theta = np.linspace(0, 3.5 * np.pi, 50)  # passes through pi, where w changes sign
    rot = expmap(np.outer(theta, [0, 0, 1]))
    q = matrices_to_wxyz(rot)
    np.testing.assert_allclose(q[0], [1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(np.abs(q[:, 0]), np.abs(np.cos(theta / 2)), atol=1e-9)
    np.testing.assert_allclose(np.abs(q[:, 3]), np.abs(np.sin(theta / 2)), atol=1e-9)
    assert (np.sum(q[1:] * q[:-1], axis=1) > 0).all()
    np.testing.assert_allclose(
        q, np.stack([np.cos(theta / 2), 0 * theta, 0 * theta, np.sin(theta / 2)], 1), atol=1e-9
    )


def test_float32_inputs_are_accepted():
    t = times(30, 20.0)
    pos, rot, f, _ = two_axis_motion(t)
    sig = simulate_imu(pos.astype(np.float32), rot.astype(np.float32), 20.0)
    assert sig.acc_mps2.dtype == np.float64
    ref = simulate_imu(pos, rot, 20.0)
    # float32 rounding (~1e-7 m) over dt^2 = 1/400 s^2
    assert np.abs(sig.acc_mps2 - ref.acc_mps2).max() < 1e-3
    assert np.abs(sig.gyro_radps - ref.gyro_radps).max() < 1e-4


# ---------------------------------------------------------------------------------------------------- errors


def _still(n=10):
    return np.zeros((n, 3)), np.tile(np.eye(3), (n, 1, 1))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p, r: (p[:, :2], r), "shape"),
        (lambda p, r: (p, r[:, :2]), "shape"),
        (lambda p, r: (p[:, None, None], r), "shape"),
        (lambda p, r: (np.where(np.arange(10)[:, None] == 4, np.nan, p), r), "NaN"),
        (lambda p, r: (p, np.where(np.arange(10)[:, None, None] == 2, np.inf, r)), "NaN"),
        (lambda p, r: (p, r * 1.01), "rotation matrices"),
        (lambda p, r: (p, r * np.array([1.0, 1.0, -1.0])), "det"),
    ],
)
def test_bad_inputs_raise_actionable_errors(change, match):
    p, r = change(*_still())
    with pytest.raises(SimulationError, match=match):
        simulate_imu(p, r, 20.0)


@pytest.mark.parametrize("fps", [0.0, -20.0, float("nan"), "fast"])
def test_non_positive_rates_raise(fps):
    with pytest.raises(SimulationError, match="fps"):
        simulate_imu(*_still(), fps)
    with pytest.raises(SimulationError, match="rate_hz"):
        simulate_imu(*_still(), 20.0, rate_hz=fps)


def test_too_few_frames_states_the_minimum():
    with pytest.raises(SimulationError, match="at least 4"):
        simulate_imu(*_still(3), 20.0, method="central")
    with pytest.raises(SimulationError, match="at least 6"):
        simulate_imu(*_still(5), 20.0, method="spline")
    simulate_imu(*_still(4), 20.0, method="central")
    simulate_imu(*_still(6), 20.0, method="spline")
    with pytest.raises(SimulationError, match="output samples"):
        simulate_imu(*_still(10), 20.0, rate_hz=5.0)  # 0.45 s at 5 Hz -> 3 samples


def test_unknown_method_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean: spline"):
        simulate_imu(*_still(), 20.0, method="splin")


def test_errors_are_user_errors_and_signals_are_checked():
    assert issubclass(SimulationError, Text2ImuError)
    with pytest.raises(SimulationError):
        ImuSignals(np.zeros((5, 3)), np.zeros((5, 3)), np.zeros((4, 4)), 20.0)
    sig = ImuSignals(np.zeros((5, 3)), np.zeros((5, 3)), np.zeros((5, 4)), 20.0)
    assert not sig.acc_mps2.flags.writeable


def test_aliased_rotation_logs_a_warning(caplog):
    t = times(10, 20.0)
    rot = expmap(np.outer(30.0 * t, [0, 0, 1]))  # 1.5 rad per frame: 3 rad > 0.9 pi over a central difference
    with caplog.at_level(logging.WARNING, logger="text2imu.builder.imu"):
        angular_rate_central(rot, 0.05)
    assert "aliased" in caplog.text


def test_spline_end_knots_keep_polynomials_and_cut_the_end_noise_gain():
    # Exact for quartics (the knots lie on the least-squares quartic through the end frames, which is the
    # polynomial itself); the spline's second derivative at the end sample answers unit noise on the positions
    # with a gain near central's one-sided stencil (6.8), not the ~42 of the bare interpolating quintic.
    t = times(12, 20.0)
    quartic = np.stack([1.0 + t - 2 * t**2 + 3 * t**3 - 4 * t**4, t**4, 0.5 * t**2], axis=1)
    knot_t, knots = extended_positions(t, quartic)
    assert len(knot_t) == len(t) + 4 and np.allclose(np.diff(knot_t), 0.05)
    tk = knot_t[:, None]
    np.testing.assert_allclose(
        knots, np.hstack([1 + tk - 2 * tk**2 + 3 * tk**3 - 4 * tk**4, tk**4, 0.5 * tk**2]), atol=1e-12
    )
    acc, _, _ = spline_kinematics(quartic, np.tile(np.eye(3), (12, 1, 1)), t, t)
    np.testing.assert_allclose(
        acc, np.stack([-4 + 18 * t - 48 * t**2, 12 * t**2, np.ones_like(t)], 1), atol=1e-8
    )
    n = 40
    t = times(n, 20.0)
    impulses = np.eye(n)[:, :, None].repeat(3, axis=2)  # (T, T, 3): column k is a unit step at frame k
    acc, _, _ = spline_kinematics(impulses, np.tile(np.eye(3), (n, n, 1, 1)), t, t[[0, -1, n // 2]])
    gain = np.linalg.norm(acc[..., 0], axis=1) * 0.05**2  # (3,): ends and the middle
    assert gain[0] < 8.0 and gain[1] < 8.0 and gain[2] < 6.0, gain


def test_spline_and_central_agree_at_the_ends_of_a_real_motion(humanml3d_sample):
    # Regression: the bare quintic read 120 m/s^2 at t = 0 on the upper arm of the HumanML3D sample
    # (central: 17), and 4.5x central's peak on the forearm.
    from text2imu.builder.bodies.asset import BodyAsset, asset_path
    from text2imu.builder.motion import Motion
    from text2imu.builder.rotations import quat_rotate
    from text2imu.builder.simulate import simulate_motion

    path = asset_path("anny", "female_average")
    if not path.is_file():
        pytest.skip(f"{path} not compiled")
    asset = BodyAsset.load(path)
    motion = Motion(np.load(humanml3d_sample / "new_joints_012314.npy").astype(np.float64), fps=20.0)
    acc = {}
    for method in METHODS:
        out = simulate_motion(motion, sites=list(asset.site_names), asset=asset, method=method)
        # world acceleration magnitude, gravity removed: (S, T)
        acc[method] = np.stack(
            [np.linalg.norm(quat_rotate(s.orientation_wxyz, s.acc_mps2) - UP, axis=-1) for s in out.values()]
        )
    central, spline = acc["central"], acc["spline"]
    # At the first and last samples the spline reads at most central + 6 m/s^2 on every site (measured: +4.7).
    # Not two-sided: central's one-sided end stencil answers noise about as strongly and is the one that spikes
    # on this clip (forearm at t = 0: central 26, spline 7; the next five samples 4-16 and 13-26).
    assert (spline[:, [0, -1]] <= central[:, [0, -1]] + 6.0).all(), (spline[:, [0, -1]], central[:, [0, -1]])
    # peaks: the quintic answers frame-to-frame noise a little more than second differences do inside the clip,
    # never far more (measured: at most 1.46x)
    assert (spline.max(axis=1) < 1.6 * central.max(axis=1)).all(), spline.max(axis=1) / central.max(axis=1)


def test_spline_kinematics_matches_analytic_inside():
    t = times(61, 20.0)
    pos, rot, f, gyro = two_axis_motion(t)
    t_out = np.linspace(0.5, 2.5, 37)
    acc_w, gyro_s, rot_out = spline_kinematics(pos, rot, t, t_out)
    _, rot_true, f_true, gyro_true = two_axis_motion(t_out)
    np.testing.assert_allclose(
        np.einsum("tji,tj->ti", rot_true, acc_w + np.array([0, 9.81, 0])),
        f_true,
        atol=0.01 * np.abs(f_true).max(),
    )
    np.testing.assert_allclose(gyro_s, gyro_true, atol=0.01 * np.abs(gyro_true).max())
    np.testing.assert_allclose(rot_out, rot_true, atol=2e-3)
