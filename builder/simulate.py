"""Motion -> virtual IMU signals at skin sites: fit, retarget, sparse skinning, IMU physics, noise.

:func:`simulate_motion` chains :func:`text2imu.builder.fit.fit_motion` (analytic IK on the motion retargeted to
the body, optional refinement), :func:`text2imu.builder.skinning.site_frames` (sensor position and frame per
site), :func:`text2imu.builder.imu.simulate_imu` (specific force and angular rate) and
:func:`text2imu.builder.noise.apply_noise`. A site with a device mounting in ``data/sites.toml``
(``mount_rotvec_deg``, :mod:`text2imu.builder.mounting`; only ``hapt.waist`` has one, measured on UCI HAPT) has
its skin frame turned into the device frame before the IMU physics, so its signals and ``orientation_wxyz`` are the
device's; every other site's signals are exactly those of its skin frame.

``placement`` (:mod:`text2imu.builder.placement`) picks where the sensor sits: ``skin`` (default, the above) or
``joint`` (IMUSim-style: rigidly at the site's skeleton joint of ``data/sites.toml``, turned with its segment, in
the rest-pose skin axes; the same mounting applies).

IMU file layout (:func:`write_imu_npz`, :func:`read_imu_npz`), one ``.npz``:

- ``sites``: (S,) unicode site names, in the order asked for;
- ``<site>/acc_mps2`` (T', 3) float32, specific force in the sensor frame, m/s^2;
- ``<site>/gyro_radps`` (T', 3) float32, angular rate in the sensor frame, rad/s;
- ``<site>/orientation_wxyz`` (T', 4) float32, unit quaternion sensor -> world, scalar first;
- ``rate_hz``: () float64, the sample rate (sample k at k / rate_hz s after the first motion frame);
- ``meta_json``: () unicode JSON: ``format_version`` plus what the writer passes; ``text2imu simulate`` writes
  body_model, shape, placement, method, noise, seed, refine, motion (path), motion_index, motion_fps,
  motion_frames, prompt and text2imu_version.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .bodies.asset import BodyAsset, asset_path
from .errors import FormatError, MotionError, Text2ImuError, UnknownNameError
from .fit import fit_motion
from .imu import METHODS, ImuSignals, simulate_imu
from .motion import Motion
from .noise import apply_noise, get_noise_preset
from .output import atomic_path
from .placement import DEFAULT_PLACEMENT, check_placement, joint_frames, site_joint_indices
from .skinning import site_frames

log = logging.getLogger(__name__)

BODY_MODELS = ("anny", "smpl")
IMU_FORMAT_VERSION = 1
IMU_FIELDS = ("acc_mps2", "gyro_radps", "orientation_wxyz")


def known_shapes(body_model: str) -> tuple[str, ...]:
    """Shape names of ``body_model``: the Table I shapes and every compiled asset of it in the package."""
    from .bodies.shapes import shape_names

    names = set(shape_names()) | {p.stem for p in asset_path(body_model, "x").parent.glob("*.npz")}
    return tuple(sorted(names))


def load_body(body_model: str, shape: str) -> BodyAsset:
    """The compiled asset of ``body_model`` in ``shape``; UnknownNameError for unknown names."""
    if body_model not in BODY_MODELS:
        raise UnknownNameError("body model", str(body_model), BODY_MODELS)
    if shape not in known_shapes(body_model):
        raise UnknownNameError("body shape", str(shape), known_shapes(body_model))
    path = asset_path(body_model, shape)
    if not path.is_file():
        raise FormatError(f"{path}: no compiled {body_model} asset for shape '{shape}'; compile it first")
    return BodyAsset.load(path)


def site_seed(seed: int, site: str) -> np.random.SeedSequence:
    """Noise seed of one site: ``SeedSequence(seed, spawn_key=(crc32(site),))``, independent of the other sites
    asked for and of their order."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise Text2ImuError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(site.encode("utf-8")),))


def simulate_motion(
    motion: Motion,
    body_model: str = "anny",
    shape: str = "female_average",
    sites: Sequence[str] = ("realworld.waist",),
    *,
    method: str = "central",
    noise: str = "ideal",
    seed: int = 0,
    rate_hz: float | None = None,
    refine: bool = False,
    asset: BodyAsset | None = None,
    mounting: bool = True,
    placement: str = DEFAULT_PLACEMENT,
) -> dict[str, ImuSignals]:
    """Simulate IMUs at skin sites (or at their skeleton joints) of a body performing ``motion``.

    Args:
        motion: a Motion (joints (T, 22, 3) metres at ``motion.fps`` Hz); validated first.
        body_model, shape: which compiled body asset to load (ignored when ``asset`` is given).
        sites: site names, e.g. ``("realworld.waist", "realworld.head")``.
        method: derivative method, ``central`` or ``spline`` (:mod:`text2imu.builder.imu`).
        noise: noise preset name (:mod:`text2imu.builder.noise`), ``ideal`` for none.
        seed: non-negative int; each site's noise draws from :func:`site_seed`.
        rate_hz: output rate in Hz (default: the motion's fps).
        refine: run the fit's refinement (slower, closer to the retargeted joints).
        asset: a BodyAsset to use instead of loading one (custom or test bodies).
        mounting: apply each site's device mounting (:func:`text2imu.builder.bodies.sites.site_mount_rotvec_deg`;
            sites without one are untouched); False gives the skin frame at every site.
        placement: ``skin`` (the site's skin vertex and skin frame) or ``joint`` (rigidly at the site's skeleton
            joint, turned with its segment; :mod:`text2imu.builder.placement`).
    Returns:
        {site: ImuSignals} with acc_mps2 / gyro_radps (T', 3), orientation_wxyz (T', 4).
    Raises:
        MotionError for an unusable motion; UnknownNameError for an unknown body model, shape, site, method,
        noise preset or placement; FormatError for a missing or broken asset; Text2ImuError for other bad arguments.
    """
    if not isinstance(motion, Motion):
        raise MotionError(f"expected a Motion, got {type(motion).__name__}")
    motion = motion.validated()
    body = asset if asset is not None else load_body(body_model, shape)
    sites = [sites] if isinstance(sites, str) else list(sites)
    if not sites:
        raise Text2ImuError("no site given")
    if len(set(sites)) != len(sites):
        raise Text2ImuError(f"a site is given twice: {', '.join(sites)}")
    idx = np.array([body.site_index(s) for s in sites])
    if method not in METHODS:
        raise UnknownNameError("simulation method", str(method), METHODS)
    get_noise_preset(noise)
    if check_placement(placement) == "joint":
        site_joint_indices(sites)  # every site needs a joint in data/sites.toml
    seeds = [site_seed(seed, s) for s in sites]
    pose = fit_motion(motion.joints_m, body.rest_joints_m, refine=refine)
    log.debug(
        "fit to %s/%s: scale %.3f, MPJPE %.4f m", body.body_model, body.shape, pose.scale, pose.mpjpe_m()
    )
    if placement == "joint":
        positions, rotations = joint_frames(body, pose.rotations, pose.joints_m, sites, idx)
    else:
        positions, rotations = site_frames(body, pose.rotations, pose.joints_m, idx)
    if mounting:
        rotations = mount_devices(positions, rotations, sites)
    signals = simulate_imu(positions, rotations, motion.fps, method=method, rate_hz=rate_hz)
    out = {}
    for i, (site, site_noise_seed) in enumerate(zip(sites, seeds, strict=True)):
        one = replace(
            signals,
            acc_mps2=signals.acc_mps2[:, i],
            gyro_radps=signals.gyro_radps[:, i],
            orientation_wxyz=signals.orientation_wxyz[:, i],
        )
        out[site] = apply_noise(one, noise, seed=site_noise_seed)
    return out


def mount_devices(positions_m: np.ndarray, rotations: np.ndarray, sites: Sequence[str]) -> np.ndarray:
    """Skin frames (T, S, 3, 3) sensor -> world of ``sites`` -> the frames with each site's device mounting applied
    (``R @ exp(mount_rotvec)``); columns of sites without a mounting are left as they are (the same values)."""
    from .bodies.sites import site_mount_rotvec_deg
    from .noise import perturb_placement

    mounts = {i: site_mount_rotvec_deg(name) for i, name in enumerate(sites)}
    out = rotations.copy()
    for i, rotvec in mounts.items():
        if rotvec is not None:
            _, out[:, i] = perturb_placement(positions_m[:, i], rotations[:, i], np.zeros(3), np.array(rotvec))
    return out


def write_imu_npz(path: str | Path, signals: Mapping[str, ImuSignals], meta: Mapping | None = None) -> Path:
    """Write per-site signals in the layout of the module docstring; atomic (temporary file, then moved)."""
    if not signals:
        raise Text2ImuError("no signals to write")
    rates = {float(s.rate_hz) for s in signals.values()}
    if len(rates) != 1:
        raise Text2ImuError(f"all sites must share one rate, got {sorted(rates)}")
    arrays: dict[str, np.ndarray] = {
        "sites": np.array(list(signals), dtype=str),
        "rate_hz": np.array(rates.pop(), dtype=np.float64),
        "meta_json": np.array(
            json.dumps({"format_version": IMU_FORMAT_VERSION, **(meta or {})}, sort_keys=True)
        ),
    }
    for site, sig in signals.items():
        for name in IMU_FIELDS:
            arrays[f"{site}/{name}"] = np.asarray(getattr(sig, name), dtype=np.float32)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def read_imu_npz(path: str | Path) -> tuple[dict[str, ImuSignals], dict]:
    """Read a file written by :func:`write_imu_npz` -> ({site: ImuSignals}, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such IMU file")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta_json"]))
            rate = float(z["rate_hz"])
            sites = [str(s) for s in z["sites"]]
            raw = {s: {n: z[f"{s}/{n}"] for n in IMU_FIELDS} for s in sites}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: not an IMU file of text2imu ({err})") from err
    method, preset = meta.get("method", "central"), meta.get("noise", "ideal")
    signals = {s: ImuSignals(rate_hz=rate, method=method, noise_preset=preset, **raw[s]) for s in sites}
    return signals, meta


def plot_imu(signals: Mapping[str, ImuSignals], path: str | Path, title: str | None = None) -> Path:
    """Write a PNG with one row per site: specific force (m/s^2) and angular rate (rad/s), x/y/z over time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(signals)
    if n == 0:
        raise Text2ImuError("nothing to plot")
    fig = Figure(figsize=(11, 2.4 * n + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 2, squeeze=False, sharex=True)
    for row, (site, sig) in enumerate(signals.items()):
        t = sig.times_s()
        for col, (data, unit) in enumerate(((sig.acc_mps2, "acc (m/s²)"), (sig.gyro_radps, "gyro (rad/s)"))):
            ax = axes[row, col]
            for k, axis in enumerate("xyz"):
                ax.plot(t, data[:, k], lw=1, label=axis)
            ax.set_ylabel(unit)
            ax.set_title(f"{site} {unit.split()[0]}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[row, 0].legend(loc="upper right", fontsize=7, ncols=3)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return path
