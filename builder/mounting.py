"""Device mounting at a skin site: the fixed rotation between the site's skin frame and the real device's frame.

A site's sensor frame (:mod:`text2imu.builder.skinning`: z the outward skin normal, x the limb projected on the
tangent plane, y = z x x) is where a device *could* sit; the real device sits turned against it by a fixed
rotation ``M``. A site table in ``data/sites.toml`` may carry it as ``mount_rotvec_deg`` (rotation vector, axis
x angle in degrees, in the skin frame); :func:`text2imu.builder.simulate.simulate_motion` then uses the device
frame ``R_device = R_skin @ M`` (:func:`text2imu.builder.noise.perturb_placement` with zero offset) before the
IMU physics, so acc, gyro and ``orientation_wxyz`` are the device's. A vector reads ``v_device = M^T v_skin``.

Measurement (``python -m text2imu.builder.mounting --hapt ../shared/data/uci-hapt``; without ``--hapt`` the
bundled 20 Hz HAPT copy), for ``hapt.waist`` against UCI HAPT's phone:

- *phone side* (:func:`phone_gravity_directions`): HAPT's still windows of standing, sitting and lying
  (:func:`text2imu.builder.noise_calibration.still_windows`: 1 s, per-axis std < 10 mg, middle half of each
  segment), corrected by the ``uci_hapt`` preset's calibration (the true specific force), normalised; per
  segment the mean direction, per posture the component-wise median over segments, normalised; its weight is the
  number of segments.
- *site side* (:func:`site_gravity_directions`): the kinematic generator's motions for the prompt set's standing,
  sitting and lying prompts (repetition 0, the realism seeds), simulated ``ideal`` at the site without mounting on
  the 8 Table I shapes (anny, 20 Hz); per recording the direction of the mean specific force; per posture the
  component-wise median, normalised.
- *fit* (:func:`fit_mounting`): the rotation ``M`` minimising ``sum_k w_k |M p_k - s_k|^2`` (Wahba's problem,
  solved by SVD through :meth:`scipy.spatial.transform.Rotation.align_vectors`), with residual angles
  ``angle(M^T s_k, p_k)`` per posture.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import SimulationError, Text2ImuError

POSTURES = ("standing", "sitting", "lying")
SITE = "hapt.waist"


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _median_direction(directions: np.ndarray) -> np.ndarray:
    """(N, 3) unit vectors -> (3,) their component-wise median, normalised."""
    return _unit_rows(np.median(directions, axis=0))


def phone_gravity_directions(recordings: Iterable, calibration=None,
                             postures: Sequence[str] = POSTURES) -> dict[str, tuple[np.ndarray, int]]:
    """{posture: ((3,) unit direction of the specific force in the real device's frame, number of segments)}.

    Args:
        recordings: real recordings (``acc_mps2`` (T, 3) in m/s^2 at ``rate_hz``, ``activity``, ``subject``).
        calibration: a :class:`~text2imu.builder.noise_calibration.Calibration` in m/s^2 whose ``correct`` turns
            readings into true values (default: the ``uci_hapt`` preset's acc calibration).
    Raises:
        Text2ImuError when a posture has no still window.
    """
    from .noise import get_noise_preset
    from .noise_calibration import G_MPS2, still_windows

    cal = calibration if calibration is not None else get_noise_preset("uci_hapt").acc_mps2.calibration
    win = still_windows([r for r in recordings if r.activity in postures], activities=postures)
    true = _unit_rows(cal.correct(win.mean_g * G_MPS2))
    out = {}
    for posture in postures:
        mask = win.activity == posture
        if not mask.any():
            raise Text2ImuError(f"no still window of {posture} in these recordings")
        per_segment = np.array([_median_direction(true[mask & (win.recording == r)])
                                for r in np.unique(win.recording[mask])])
        out[posture] = (_median_direction(per_segment), len(per_segment))
    return out


def site_gravity_directions(site: str = SITE, shapes: Sequence[str] = ("male_average",),
                            generator: str = "kinematic", prompt_set: str = "v1", mounting: bool = False,
                            postures: Sequence[str] = POSTURES) -> dict[str, tuple[np.ndarray, int]]:
    """{posture: ((3,) unit direction of the mean specific force in the site's frame, number of motions x shapes)}
    of ``generator``'s still prompts simulated ideal at ``site`` on the anny ``shapes`` at 20 Hz; the skin frame
    when ``mounting`` is False, the device frame (the site's mounting applied) when True."""
    from .generators import derive_seed, get_generator
    from .prompts import load_prompt_set
    from .simulate import load_body, simulate_motion

    gen = get_generator(generator)
    bodies = [load_body("anny", shape) for shape in shapes]
    prompts = load_prompt_set(prompt_set)
    out = {}
    for posture in postures:
        dirs = []
        for p in prompts.by_activity(posture):
            motion = gen.generate(p, 0, derive_seed("realism", generator, p.prompt_id, 0))
            for body in bodies:
                acc = simulate_motion(motion, sites=(site,), rate_hz=20.0, asset=body,
                                      mounting=mounting)[site].acc_mps2
                dirs.append(_unit_rows(acc.astype(np.float64).mean(axis=0)))
        if not dirs:
            raise Text2ImuError(f"prompt set {prompt_set} has no {posture} prompt")
        out[posture] = (_median_direction(np.array(dirs)), len(dirs))
    return out


@dataclass(frozen=True)
class MountingFit:
    """A fitted mounting: ``rotvec_deg`` (3,) rotation vector of ``M`` (skin frame -> device axes, degrees) and
    ``residual_deg`` {posture: angle between ``M^T s`` and the device direction, degrees}."""

    rotvec_deg: tuple[float, float, float]
    residual_deg: dict[str, float]

    @property
    def angle_deg(self) -> float:
        return float(np.linalg.norm(self.rotvec_deg))

    def rotation(self) -> Rotation:
        return Rotation.from_rotvec(self.rotvec_deg, degrees=True)


def fit_mounting(site_dirs: Mapping[str, np.ndarray], device_dirs: Mapping[str, np.ndarray],
                 weights: Mapping[str, float]) -> MountingFit:
    """Weighted Wahba fit of the mounting ``M`` with ``M @ device_dir ~ site_dir`` (so ``M^T`` maps the skin frame's
    reading onto the device's).

    Args:
        site_dirs, device_dirs: {name: (3,) direction} in the skin frame and in the device frame (any length > 0).
        weights: {name: weight >= 0}; the same names in all three, at least two not parallel with weight > 0.
    Raises:
        SimulationError for mismatched names, bad vectors or weights, or directions that do not fix a rotation.
    """
    names = list(site_dirs)
    if not names or set(names) != set(device_dirs) or set(names) != set(weights):
        raise SimulationError(f"site, device and weight tables must name the same postures, got {names}, "
                              f"{list(device_dirs)}, {list(weights)}")
    try:
        s = np.array([np.asarray(site_dirs[n], dtype=np.float64).reshape(3) for n in names])
        p = np.array([np.asarray(device_dirs[n], dtype=np.float64).reshape(3) for n in names])
        w = np.array([float(weights[n]) for n in names])
    except (TypeError, ValueError):
        raise SimulationError("directions must be finite 3-vectors and weights numbers") from None
    if not (np.isfinite(s).all() and np.isfinite(p).all()):
        raise SimulationError("directions must be finite 3-vectors")
    if (np.linalg.norm(s, axis=1) == 0).any() or (np.linalg.norm(p, axis=1) == 0).any():
        raise SimulationError("a direction has length 0")
    if not np.isfinite(w).all() or (w < 0).any():
        raise SimulationError(f"weights must be finite and >= 0, got {w.tolist()}")
    s, p = _unit_rows(s), _unit_rows(p)
    used = w > 0
    if np.linalg.matrix_rank(np.cross(s[used][:, None], s[used][None]).reshape(-1, 3), tol=1e-6) == 0:
        raise SimulationError("at least two weighted directions must differ to fix a rotation")
    rot, _ = Rotation.align_vectors(s, p, weights=w)
    back = rot.inv().apply(s)
    residual = np.degrees(np.arccos(np.clip(np.sum(back * p, axis=1), -1.0, 1.0)))
    return MountingFit(tuple(float(v) for v in np.degrees(rot.as_rotvec())),
                       {n: float(r) for n, r in zip(names, residual, strict=True)})


def measure_hapt_mounting(hapt=None, shapes: Sequence[str] | None = None):
    """(fit, phone directions, site directions) of ``hapt.waist`` against UCI HAPT (``hapt`` as
    :func:`text2imu.benchmark.real.read_uci_hapt` takes it; None: the bundled copy) on the anny ``shapes``
    (default: the 8 Table I shapes)."""
    from .bodies.shapes import shape_names

    shapes = tuple(shape_names()) if shapes is None else tuple(shapes)
    if hapt is None:
        from text2imu.benchmark.data import load_bundled_hapt

        recordings = load_bundled_hapt()
    else:
        from text2imu.benchmark.real import read_uci_hapt

        recordings = read_uci_hapt(hapt)
    phone = phone_gravity_directions(recordings)
    site = site_gravity_directions(SITE, shapes)
    fit = fit_mounting({k: v[0] for k, v in site.items()}, {k: v[0] for k, v in phone.items()},
                       {k: v[1] for k, v in phone.items()})
    return fit, phone, site


def _vec(v) -> str:
    return "(" + ", ".join(f"{x:+.3f}" for x in v) + ")"


def format_fit(fit: MountingFit, phone: Mapping, site: Mapping) -> str:
    """The fit as text: per posture the directions and residual, then the TOML line for ``data/sites.toml``."""
    rot = fit.rotation()
    lines = ["posture | device (HAPT) direction, segments | skin-frame direction, motions | M^T skin | residual"]
    for k in phone:
        lines.append(f"{k} | {_vec(phone[k][0])}, {phone[k][1]} | {_vec(site[k][0])}, {site[k][1]} | "
                     f"{_vec(rot.inv().apply(site[k][0]))} | {fit.residual_deg[k]:.1f} deg")
    w, x, y, z = np.roll(rot.as_quat(), 1)
    lines += [f"rotation angle {fit.angle_deg:.1f} deg; quaternion wxyz ({w:.4f}, {x:.4f}, {y:.4f}, {z:.4f})",
              "mount_rotvec_deg = [" + ", ".join(f"{v:.1f}" for v in fit.rotvec_deg) + "]"]
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m text2imu.builder.mounting [--hapt DIR] [--shapes a,b]``: print the fitted hapt.waist mounting."""
    p = _Parser(prog="python -m text2imu.builder.mounting",
                description="Measure the hapt.waist device mounting from UCI HAPT's still gravity directions.")
    p.add_argument("--hapt", help="UCI HAPT: the folder with its zips, a zip, or an extracted folder "
                                  "(default: the bundled 20 Hz copy)")
    p.add_argument("--shapes", default="all", help="comma-separated anny shapes, or all (default: the 8 of Table I)")
    args = p.parse_args(argv)
    try:
        from .bodies.shapes import shape_names
        from .simulate import load_body

        shapes = list(shape_names()) if args.shapes == "all" else [
            s.strip() for s in args.shapes.split(",") if s.strip()]
        if not shapes:
            raise Text2ImuError("--shapes names no shape")
        for shape in shapes:
            load_body("anny", shape)
        fit, phone, site = measure_hapt_mounting(args.hapt, shapes)
    except Text2ImuError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(format_fit(fit, phone, site))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
