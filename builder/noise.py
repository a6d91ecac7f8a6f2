"""Sensor noise models and placement perturbation for simulated IMU signals.

Presets are data (``data/noise_presets.toml``, figures and their sources in its comments): ``ideal`` (no noise,
the default), ``lsm6ds3`` and ``mpu6500`` (datasheet figures of smartphone-class MEMS IMUs) and ``uci_hapt``
(measured on the real UCI HAPT recordings by :mod:`text2imu.builder.noise_calibration`). Per recording, sensor
and channel, in order:

0. calibration error, deterministic per preset (:class:`Calibration`), in the sensor frame:
   ``reading = (I + E) @ true + offset``, ``E = diag(scale_error)`` plus symmetric cross-axis terms;
1. turn-on bias ``b0 ~ N(0, bias_sigma)`` per axis, constant, plus an optional random walk with increments
   ``N(0, bias_walk * sqrt(dt))``;
2. white noise ``N(0, density * sqrt(rate_hz / 2))`` per sample (bandwidth = Nyquist; density per axis or one
   for all), low-passed by a causal 2nd-order Butterworth filter at ``bandwidth_hz`` (the sensor's output
   bandwidth; passband density unchanged) when that lies below Nyquist;
3. saturation at ``+-range``;
4. quantisation to ``step`` (default ``range / 2^(bits-1)``), codes clipped to ``-N .. N-1``, ``N = range/step``
   (two's complement), so the largest positive output is ``range - step``.

Orientation (ground truth) is never perturbed. Randomness: ``numpy.random.Generator(PCG64(seed))``, draws in a
fixed order (bias, walk, white), so a seed gives the same bytes on every machine.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy.signal import butter, sosfilt
from scipy.spatial.transform import Rotation

from .errors import SimulationError, UnknownNameError
from .imu import ImuSignals
from .noise_calibration import Calibration, triple

STANDARD_GRAVITY_MPS2 = 9.80665  # datasheets' "g"
DEFAULT_PRESET = "ideal"

# TOML key -> (field of ChannelNoise or Calibration, factor to SI); "*" marks per-axis lists of three.
_ACC_KEYS = {
    "noise_density_ug_per_sqrt_hz": ("noise_density_per_sqrt_hz", 1e-6 * STANDARD_GRAVITY_MPS2),
    "bias_sigma_mg": ("bias_sigma", 1e-3 * STANDARD_GRAVITY_MPS2),
    "bias_walk_ug_per_sqrt_s": ("bias_walk_per_sqrt_s", 1e-6 * STANDARD_GRAVITY_MPS2),
    "range_g": ("range", STANDARD_GRAVITY_MPS2),
    "step_mg": ("step", 1e-3 * STANDARD_GRAVITY_MPS2),
    "bandwidth_hz": ("bandwidth_hz", 1.0),
    "offset_mg": ("*offset", 1e-3 * STANDARD_GRAVITY_MPS2),
    "scale_error_percent": ("*scale_error", 0.01),
    "cross_axis_percent": ("*cross_axis", 0.01),
}
_GYRO_KEYS = {
    "noise_density_dps_per_sqrt_hz": ("noise_density_per_sqrt_hz", math.pi / 180.0),
    "bias_sigma_dps": ("bias_sigma", math.pi / 180.0),
    "bias_walk_dps_per_sqrt_s": ("bias_walk_per_sqrt_s", math.pi / 180.0),
    "range_dps": ("range", math.pi / 180.0),
    "step_mdps": ("step", 1e-3 * math.pi / 180.0),
    "bandwidth_hz": ("bandwidth_hz", 1.0),
    "offset_dps": ("*offset", math.pi / 180.0),
    "scale_error_percent": ("*scale_error", 0.01),
    "cross_axis_percent": ("*cross_axis", 0.01),
}
_PER_AXIS = {"noise_density_per_sqrt_hz"}  # a number or a list of three


@dataclass(frozen=True)
class ChannelNoise:
    """Noise of one triaxial channel, in the channel's SI unit (m/s^2 for acc, rad/s for gyro).

    Attributes:
        noise_density_per_sqrt_hz: white-noise density, unit/sqrt(Hz); a number or (x, y, z).
        bias_sigma: std of the constant turn-on bias, unit.
        bias_walk_per_sqrt_s: bias random-walk density, unit/sqrt(s).
        range: full scale +-range, unit; None = no saturation.
        step: quantisation step, unit; None = no quantisation (needs a range).
        bandwidth_hz: the sensor's output bandwidth (white noise low-passed there), Hz; None = Nyquist.
        calibration: deterministic :class:`Calibration` error (default: none).
    """

    noise_density_per_sqrt_hz: float | tuple[float, float, float] = 0.0
    bias_sigma: float = 0.0
    bias_walk_per_sqrt_s: float = 0.0
    range: float | None = None
    step: float | None = None
    bandwidth_hz: float | None = None
    calibration: Calibration = field(default_factory=Calibration)

    def __post_init__(self) -> None:
        density = self.noise_density_per_sqrt_hz
        if isinstance(density, list | tuple | np.ndarray):
            density = triple("noise density", density)
            object.__setattr__(self, "noise_density_per_sqrt_hz", density)
        for name in ("bias_sigma", "bias_walk_per_sqrt_s"):
            _check_non_negative(name, getattr(self, name))
        for value in density if isinstance(density, tuple) else (density,):
            _check_non_negative("noise_density_per_sqrt_hz", value)
        for name in ("range", "step", "bandwidth_hz"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise SimulationError(f"noise {name} must be a positive number or absent, got {value!r}")
        if self.step is not None and self.range is None:
            raise SimulationError(
                "a quantisation step needs a range (the ADC full scale); add range_g/range_dps"
            )
        if not isinstance(self.calibration, Calibration):
            raise SimulationError(f"calibration must be a Calibration, got {type(self.calibration).__name__}")

    @property
    def is_ideal(self) -> bool:
        return (
            not np.any(self.noise_density_per_sqrt_hz)
            and self.bias_sigma == 0
            and self.bias_walk_per_sqrt_s == 0
            and self.range is None
            and self.step is None
            and self.calibration.is_identity
        )

    def white_noise_std(self, rate_hz: float) -> float | np.ndarray:
        """Per-sample white-noise std at ``rate_hz`` before the bandwidth filter: density * sqrt(rate_hz / 2),
        unit; a float, or (3,) per axis."""
        density = self.noise_density_per_sqrt_hz
        return white_noise_std(np.asarray(density) if isinstance(density, tuple) else density, rate_hz)


def _check_non_negative(name: str, value: object) -> None:
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise SimulationError(f"noise {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class NoisePreset:
    """A named device noise model: ``acc_mps2`` in m/s^2, ``gyro_radps`` in rad/s."""

    name: str
    acc_mps2: ChannelNoise = ChannelNoise()
    gyro_radps: ChannelNoise = ChannelNoise()
    description: str = ""
    source: str = ""

    @property
    def is_ideal(self) -> bool:
        return self.acc_mps2.is_ideal and self.gyro_radps.is_ideal


def white_noise_std(density_per_sqrt_hz: float | np.ndarray, rate_hz: float) -> float | np.ndarray:
    """Std of white noise sampled at ``rate_hz`` with bandwidth rate_hz / 2: ``density * sqrt(rate_hz / 2)``;
    a float for a float density, an array for an array (per axis)."""
    if isinstance(density_per_sqrt_hz, np.ndarray):
        return density_per_sqrt_hz * math.sqrt(float(rate_hz) / 2.0)
    return float(density_per_sqrt_hz) * math.sqrt(float(rate_hz) / 2.0)


def quantisation_step(range_: float, bits: int) -> float:
    """ADC step of a signed ``bits``-bit converter over +-range: ``range / 2^(bits-1)`` (unit of range)."""
    return float(range_) / 2.0 ** (int(bits) - 1)


def saturate_and_quantise(x: np.ndarray, range_: float | None, step: float | None) -> np.ndarray:
    """Clip to +-range, then (with a step) round to the nearest code, codes in ``-N .. N-1``, ``N = range/step``.

    Args:
        x: (...) values in the channel unit. range_, step: as :class:`ChannelNoise`.
    Returns:
        (...) float64 values; with a step every value is an integer multiple of it.
    """
    x = np.asarray(x, dtype=np.float64)
    if range_ is None:
        return x.copy()
    if step is None:
        return np.clip(x, -range_, range_)
    n_codes = round(range_ / step)
    return np.clip(np.round(x / step), -n_codes, n_codes - 1) * step


def _channel(x: np.ndarray, model: ChannelNoise, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """(T, ..., 3) clean channel -> noisy channel; draws bias, walk and white noise in that order."""
    shape = x.shape
    bias = model.bias_sigma * rng.standard_normal(shape[1:])
    walk_steps = rng.standard_normal(shape)
    white = rng.standard_normal(shape)
    out = x if model.calibration.is_identity else model.calibration.apply(x)
    out = out + bias
    if model.bias_walk_per_sqrt_s > 0:
        walk_steps[0] = 0.0
        out = out + np.cumsum(walk_steps, axis=0) * (model.bias_walk_per_sqrt_s * math.sqrt(1.0 / rate_hz))
    noise = white * model.white_noise_std(rate_hz)
    if model.bandwidth_hz is not None and model.bandwidth_hz < rate_hz / 2:
        noise = sosfilt(butter(2, model.bandwidth_hz, fs=rate_hz, output="sos"), noise, axis=0)
    out = out + noise
    return saturate_and_quantise(out, model.range, model.step)


def apply_noise(
    signals: ImuSignals,
    preset: str | NoisePreset = DEFAULT_PRESET,
    seed: int | np.random.SeedSequence | None = None,
) -> ImuSignals:
    """Device-like noise on ideal signals; deterministic for a seed.

    Args:
        signals: ideal ImuSignals, acc (T, ..., 3) m/s^2 and gyro (T, ..., 3) rad/s; each sensor and axis gets
            independent noise.
        preset: a preset name (see :func:`noise_presets`) or a NoisePreset.
        seed: non-negative int (or a numpy SeedSequence) for ``Generator(PCG64(seed))``; required unless the
            preset is ideal (DESIGN: every stochastic step takes an explicit seed).
    Returns:
        New ImuSignals with noisy acc and gyro, the same orientation and ``noise_preset`` = the preset name; the
        input itself when the preset is ideal.
    """
    if not isinstance(preset, NoisePreset):
        preset = get_noise_preset(preset)
    if preset.is_ideal:
        return signals
    if seed is None:
        raise SimulationError(
            f"noise preset '{preset.name}' is random: pass an explicit seed (a non-negative int)"
        )
    rng = np.random.Generator(np.random.PCG64(_checked_seed(seed)))
    acc = _channel(signals.acc_mps2, preset.acc_mps2, signals.rate_hz, rng)
    gyro = _channel(signals.gyro_radps, preset.gyro_radps, signals.rate_hz, rng)
    return replace(signals, acc_mps2=acc, gyro_radps=gyro, noise_preset=preset.name)


def _checked_seed(seed: int | np.random.SeedSequence) -> int | np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------------------------------- presets


def noise_presets(path: str | Path | None = None) -> Mapping[str, NoisePreset]:
    """Presets by name from a TOML file (default: the bundled ``data/noise_presets.toml``), read-only."""
    if path is None:
        return _bundled_presets()
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SimulationError(f"cannot read noise preset file {path}: {exc}") from None
    return MappingProxyType(parse_noise_presets(text, str(path)))


@cache
def _bundled_presets() -> Mapping[str, NoisePreset]:
    text = resources.files(__package__).joinpath("data/noise_presets.toml").read_text("utf-8")
    return MappingProxyType(parse_noise_presets(text, "builder/data/noise_presets.toml"))


def get_noise_preset(name: str) -> NoisePreset:
    """The bundled preset ``name``; UnknownNameError with suggestions otherwise."""
    presets = _bundled_presets()
    if name not in presets:
        raise UnknownNameError("noise preset", str(name), presets)
    return presets[name]


def parse_noise_presets(text: str, source: str = "<string>") -> dict[str, NoisePreset]:
    """Parse preset TOML (layout in ``data/noise_presets.toml``) into NoisePresets in SI units."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SimulationError(f"{source}: not valid TOML: {exc}") from None
    presets = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise SimulationError(f"{source}: '{name}' must be a table [{name}]")
        unknown = set(table) - {"description", "source", "acc", "gyro"}
        if unknown:
            raise SimulationError(f"{source}: preset '{name}' has unknown keys {sorted(unknown)}")
        presets[name] = NoisePreset(
            name=name,
            acc_mps2=_parse_channel(table.get("acc", {}), _ACC_KEYS, f"{source}: [{name}.acc]"),
            gyro_radps=_parse_channel(table.get("gyro", {}), _GYRO_KEYS, f"{source}: [{name}.gyro]"),
            description=str(table.get("description", "")),
            source=str(table.get("source", "")),
        )
    return presets


def _parse_channel(table: dict, keys: dict[str, tuple[str, float]], where: str) -> ChannelNoise:
    unknown = set(table) - set(keys) - {"bits"}
    if unknown:
        raise SimulationError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(keys) + ['bits']}")
    fields: dict[str, object] = {}
    calibration: dict[str, tuple[float, ...]] = {}
    for key, value in table.items():
        if key == "bits":
            continue
        name, factor = keys[key]
        if name.startswith("*") or (name in _PER_AXIS and isinstance(value, list)):
            try:
                values = tuple(v * factor for v in triple(key, value))
            except SimulationError as exc:
                raise SimulationError(f"{where}: {exc}") from None
            (calibration if name.startswith("*") else fields)[name.lstrip("*")] = values
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SimulationError(f"{where}: {key} must be a number, got {value!r}")
        fields[name] = float(value) * factor
    if "bits" in table:
        bits = table["bits"]
        if "step" in fields:
            raise SimulationError(f"{where}: give either bits or a step, not both")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 32:
            raise SimulationError(f"{where}: bits must be an integer from 2 to 32, got {bits!r}")
        if "range" not in fields:
            raise SimulationError(f"{where}: bits needs a range (the ADC full scale)")
        fields["step"] = quantisation_step(fields["range"], bits)
    try:
        return ChannelNoise(**fields, calibration=Calibration(**calibration))
    except SimulationError as exc:
        raise SimulationError(f"{where}: {exc}") from None


# -------------------------------------------------------------------------------------------------- placement


@dataclass(frozen=True)
class Placement:
    """A sensor placement error.

    Attributes:
        offset_m: (..., 3) position offset in the nominal sensor frame, metres.
        mount_rotvec_deg: (..., 3) mounting rotation as a rotation vector (axis x angle) in the nominal sensor
            frame, degrees: the mounted sensor frame is ``R_nominal @ exp(mount_rotvec)``.
    """

    offset_m: np.ndarray
    mount_rotvec_deg: np.ndarray


def perturb_placement(
    positions_m: np.ndarray,
    rotations_sensor_to_world: np.ndarray,
    offset_m: np.ndarray,
    mount_rotvec_deg: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Move and tilt sensors rigidly with their body: ``p' = p + R offset``, ``R' = R exp(mount)``.

    Apply before :func:`text2imu.builder.imu.simulate_imu`.

    Args:
        positions_m: (T, [S,] 3) nominal sensor positions, metres, world frame.
        rotations_sensor_to_world: (T, [S,] 3, 3) nominal sensor -> world matrices.
        offset_m: (3,) or ([S,] 3) offset in the nominal sensor frame, metres.
        mount_rotvec_deg: (3,) or ([S,] 3) mounting rotation vector in the nominal sensor frame, degrees.
    Returns:
        (positions_m', rotations') with the input shapes, float64.
    """
    pos = np.asarray(positions_m, dtype=np.float64)
    rot = np.asarray(rotations_sensor_to_world, dtype=np.float64)
    offset = np.asarray(offset_m, dtype=np.float64)
    rotvec = np.radians(np.asarray(mount_rotvec_deg, dtype=np.float64))
    if rot.shape != pos.shape + (3,):
        raise SimulationError(
            f"rotations must have shape {pos.shape + (3,)} to match positions, got {rot.shape}"
        )
    for name, arr in (("offset_m", offset), ("mount_rotvec_deg", rotvec)):
        try:
            fits = np.broadcast_shapes(arr.shape, pos.shape[1:]) == pos.shape[1:]
        except ValueError:
            fits = False
        if not fits or arr.shape[-1:] != (3,) or not np.isfinite(arr).all():
            raise SimulationError(
                f"{name} must be finite with shape (3,) or {pos.shape[1:]} (one per sensor), got {arr.shape}"
            )
    mount = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(rotvec.shape[:-1] + (3, 3))
    new_pos = pos + np.einsum("...ij,...j->...i", rot, np.broadcast_to(offset, pos.shape))
    return new_pos, rot @ mount


def sample_placement(
    seed: int, *, offset_sigma_m: float = 0.01, mount_sigma_deg: float = 5.0, n_sensors: int | None = None
) -> Placement:
    """Random placement error: every offset component ~ N(0, offset_sigma_m) (metres) and every rotation-vector
    component ~ N(0, mount_sigma_deg) (degrees), from ``Generator(PCG64(seed))``.

    Returns:
        Placement with arrays of shape (3,), or (n_sensors, 3) when n_sensors is given.
    """
    for name, value in (("offset_sigma_m", offset_sigma_m), ("mount_sigma_deg", mount_sigma_deg)):
        if not (math.isfinite(value) and value >= 0):
            raise SimulationError(f"{name} must be a finite number >= 0, got {value!r}")
    rng = np.random.Generator(np.random.PCG64(_checked_seed(seed)))
    shape = (3,) if n_sensors is None else (int(n_sensors), 3)
    offset = offset_sigma_m * rng.standard_normal(shape)
    rotvec = mount_sigma_deg * rng.standard_normal(shape)
    return Placement(offset_m=offset, mount_rotvec_deg=rotvec)
