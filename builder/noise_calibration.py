"""Calibration error of a triaxial sensor, and the measurement of the ``uci_hapt`` preset on the real recordings.

Model (:class:`Calibration`, applied by :mod:`text2imu.builder.noise` before bias and noise): in the sensor frame,
``reading = (I + E) @ true + offset``, ``E = diag(scale_error)`` plus symmetric cross-axis terms.

Measurement (``python -m text2imu.builder.noise_calibration --hapt ../shared/data/uci-hapt``), on UCI HAPT's still
segments (standing, sitting, lying; the middle half of each labelled segment, away from the postural transitions):

- *still windows*: 1 s windows whose per-axis std is below 10 mg; each gives one mean reading (g). The phone's
  orientation differs between postures and between the 30 subjects, so the windows cover many directions of
  gravity (x up when standing and sitting; y and z, both signs, when lying).
- *multi-position calibration*: least squares on ``|(I + E)^-1 (r - offset)| = 1 g`` over all windows, with offset
  and scale per axis (6 parameters) and with the 3 symmetric cross-axis terms as well (9); the preset takes the
  model with the lower leave-one-subject-out RMS. Uncertainty: bootstrap over subjects. A magnitude fit sees
  nothing of a rotation, so the frame stays the phone's own.
- *turn-on bias*: the spread (1.4826 x median absolute deviation) over segments of each segment's median
  calibrated magnitude minus 1 g: what the deterministic calibration leaves to a per-recording random bias.
- *noise density*: per axis, the square root of the median over sitting and lying segments of the mean Welch
  power spectral density (linear detrend, 256-sample Hann segments at 50 Hz) in 2-10 Hz (above breathing and sway,
  below the phone's roll-off), and in 15-25 Hz (the white floor above that roll-off); *bandwidth*: the frequency
  where the median spectrum, per axis, falls to half its 2-10 Hz level (median over axes). Standing is left out:
  its vertical postural rhythm is motion that the generator models.
- *acc-gyro coherence* (a diagnostic): per segment and acc axis, the largest magnitude-squared coherence with a gyro
  axis, median over segments, in 2-10 Hz against 15-25 Hz. Above the 15-25 Hz level, part of the 2-10 Hz content
  is real motion of the phone (sensor noise of two sensors is independent).

Axis correspondence (HAPT's phone frame -> the ``hapt.waist`` sensor frame: z the outward skin normal, x along the
body's long axis, up when standing, y = z x x). HAPT's phone reads gravity on +x when standing (median (1.01,
-0.17, 0.01) g), so its x points up like ours; lying on the back it reads (0.07, 0.76, 0.62) g: the body's
anterior direction has positive y and z components. At the left side of the waist our y = z x x points forward
and z outward (left), so a phone worn at the front-left of the waist, screen facing outward (z outward, as
Android's right-handed frame x, y = z x x), reads nearly that: phone (x, y, z) = sensor (x, y, z) up to a fixed
turn of about 19 deg, the device mounting that :mod:`text2imu.builder.mounting` measures from these gravity
directions and ``data/sites.toml`` gives ``hapt.waist``. The simulation applies it before the noise, so the
per-axis terms act on the phone's own axes.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import SimulationError, Text2ImuError

G_MPS2 = 9.80665  # HAPT's unit g (the reader multiplies by this)
STILL = ("standing", "sitting", "lying")
NOISE_POSTURES = ("sitting", "lying")
RATE_HZ = 50.0
WINDOW_S = 1.0
MAX_WINDOW_STD_G = 0.01
IN_BAND_HZ = (2.0, 10.0)
FLOOR_BAND_HZ = (15.0, 25.0)
NPERSEG = 256


def triple(name: str, value: object) -> tuple[float, float, float]:
    """Three finite numbers as a tuple of floats; SimulationError otherwise."""
    vals = tuple(value) if isinstance(value, list | tuple | np.ndarray) else ()
    if len(vals) != 3 or not all(
        not isinstance(v, bool) and isinstance(v, int | float | np.number) and math.isfinite(v) for v in vals
    ):
        raise SimulationError(f"{name} must be three finite numbers (x, y, z), got {value!r}")
    return tuple(float(v) for v in vals)


@dataclass(frozen=True)
class Calibration:
    """Deterministic calibration error of one triaxial sensor, in its own frame and the channel's unit.

    ``reading = M @ true + offset`` with ``M = I + E``, ``E = diag(scale_error)`` and the symmetric cross-axis terms
    ``E[0,1] = E[1,0] = xy``, ``E[0,2] = E[2,0] = xz``, ``E[1,2] = E[2,1] = yz`` (a magnitude-only calibration
    cannot see the antisymmetric, rotation-like part of a misalignment, so the model keeps the symmetric part).

    Attributes:
        offset: (x, y, z) offset in the channel unit (m/s^2, rad/s, or g while fitting).
        scale_error: (x, y, z) scale-factor errors, fractions (0.01 = +1 %), each > -1.
        cross_axis: (xy, xz, yz) cross-axis terms, fractions.
    """

    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale_error: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cross_axis: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("offset", "scale_error", "cross_axis"):
            object.__setattr__(self, name, triple(f"calibration {name}", getattr(self, name)))
        if min(self.scale_error) <= -1.0:
            raise SimulationError(f"calibration scale_error must be > -1, got {self.scale_error}")

    @property
    def is_identity(self) -> bool:
        return not any(self.offset + self.scale_error + self.cross_axis)

    def matrix(self) -> np.ndarray:
        """(3, 3) ``I + E``."""
        xy, xz, yz = self.cross_axis
        return np.eye(3) + np.diag(self.scale_error) + np.array([[0, xy, xz], [xy, 0, yz], [xz, yz, 0]])

    def apply(self, true: np.ndarray) -> np.ndarray:
        """(..., 3) true values -> (..., 3) readings ``M @ true + offset``, float64."""
        return np.asarray(true, dtype=np.float64) @ self.matrix().T + np.asarray(self.offset)

    def correct(self, readings: np.ndarray) -> np.ndarray:
        """(..., 3) readings -> (..., 3) true values ``M^-1 (reading - offset)``, the inverse of :meth:`apply`."""
        r = np.asarray(readings, dtype=np.float64) - np.asarray(self.offset)
        return np.linalg.solve(self.matrix(), r.reshape(-1, 3).T).T.reshape(r.shape)


# --------------------------------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class StillWindows:
    """Mean readings of still windows: ``mean_g`` (N, 3) in g, and per window its ``subject`` (N,),
    ``activity`` (N,) and ``recording`` (N,) (index of its recording in the input)."""

    mean_g: np.ndarray
    subject: np.ndarray
    activity: np.ndarray
    recording: np.ndarray


def _middle(x: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    cut = int(round(len(x) * (1.0 - fraction) / 2))
    return x[cut:len(x) - cut]


def still_windows(recordings: Iterable, window_s: float = WINDOW_S, max_std_g: float = MAX_WINDOW_STD_G,
                  activities: Sequence[str] = STILL) -> StillWindows:
    """:class:`StillWindows` of the middle half of each recording of ``activities`` (acc in m/s^2, any rate):
    consecutive ``window_s`` windows whose per-axis std is below ``max_std_g`` (g)."""
    means, subjects, acts, index = [], [], [], []
    for i, rec in enumerate(recordings):
        if rec.activity not in activities:
            continue
        acc_g = _middle(np.asarray(rec.acc_mps2, dtype=np.float64) / G_MPS2)
        n = int(round(window_s * rec.rate_hz))
        for k in range(len(acc_g) // n):
            w = acc_g[k * n:(k + 1) * n]
            if w.std(axis=0).max() < max_std_g:
                means.append(w.mean(axis=0))
                subjects.append(rec.subject)
                acts.append(rec.activity)
                index.append(i)
    if not means:
        raise Text2ImuError(f"no still windows of {', '.join(activities)} in these recordings")
    return StillWindows(np.array(means), np.array(subjects), np.array(acts), np.array(index))


def _unpack(params: np.ndarray) -> Calibration:
    cross = params[6:9] if len(params) == 9 else (0.0, 0.0, 0.0)
    return Calibration(tuple(params[:3]), tuple(params[3:6]), tuple(cross))


def _residuals(params: np.ndarray, points: np.ndarray, magnitude: float) -> np.ndarray:
    return np.linalg.norm(_unpack(params).correct(points), axis=1) - magnitude


def fit_calibration(points: np.ndarray, magnitude: float = 1.0, cross_axis: bool = False,
                    start: Calibration | None = None) -> Calibration:
    """Multi-position calibration: the :class:`Calibration` (in the unit of ``points``) that makes
    ``|correct(points)|`` closest to ``magnitude`` in least squares.

    Args:
        points: (N, 3) static readings in many orientations (N >= 9), e.g. in g.
        magnitude: the true magnitude of every point (1.0 for gravity in g).
        cross_axis: also fit the three symmetric cross-axis terms (else they stay 0).
        start: initial guess (default: identity).
    """
    from scipy.optimize import least_squares

    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 9 or not np.isfinite(pts).all():
        raise Text2ImuError(f"points must be finite with shape (N >= 9, 3), got {pts.shape}")
    s = start or Calibration()
    p0 = np.r_[s.offset, s.scale_error, s.cross_axis if cross_axis else ()]
    return _unpack(least_squares(_residuals, p0, args=(pts, magnitude)).x)


def bootstrap_by_subject(windows: StillWindows, fit: Calibration, n_boot: int = 200, seed: int = 0,
                         cross_axis: bool = False) -> np.ndarray:
    """(n_boot, 6 or 9) parameters refitted on subjects drawn with replacement (seeded), starting from ``fit``."""
    rng = np.random.default_rng(seed)
    subjects = np.unique(windows.subject)
    rows = {s: np.flatnonzero(windows.subject == s) for s in subjects}
    out = []
    for _ in range(n_boot):
        pick = np.concatenate([rows[s] for s in rng.choice(subjects, len(subjects))])
        cal = fit_calibration(windows.mean_g[pick], 1.0, cross_axis, fit)
        out.append(np.r_[cal.offset, cal.scale_error, cal.cross_axis if cross_axis else ()])
    return np.array(out)


def turn_on_bias_sigma(windows: StillWindows, cal: Calibration) -> float:
    """Robust spread (1.4826 MAD) over recordings of each one's median calibrated magnitude minus 1 (g)."""
    mags = np.linalg.norm(cal.correct(windows.mean_g), axis=1)
    per_rec = np.array([np.median(mags[windows.recording == r]) for r in np.unique(windows.recording)]) - 1.0
    return float(1.4826 * np.median(np.abs(per_rec - np.median(per_rec))))


def leave_one_subject_out_rms(windows: StillWindows, cross_axis: bool = False) -> float:
    """RMS (unit of the windows) of ``|correct(r)| - 1`` on each subject's windows, fitted without that subject:
    how well the calibration model carries over to a phone orientation it was not fitted on."""
    res = []
    for s in np.unique(windows.subject):
        train = windows.subject != s
        cal = fit_calibration(windows.mean_g[train], cross_axis=cross_axis)
        res.append(np.linalg.norm(cal.correct(windows.mean_g[~train]), axis=1) - 1.0)
    return float(np.sqrt(np.mean(np.concatenate(res) ** 2)))


# -------------------------------------------------------------------------------------------------- spectra


def _segments(recordings: Iterable, activities: Sequence[str], min_samples: int) -> list:
    return [r for r in recordings if r.activity in activities and len(_middle(r.acc_mps2)) >= min_samples]


def acc_spectra_g(recordings: Iterable, activities: Sequence[str] = NOISE_POSTURES, nperseg: int = NPERSEG
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral densities of the acc (in g) of the middle half of each recording of ``activities``.

    Returns:
        (freq_hz (F,), psd (R, F, 3) in g^2/Hz), R recordings with at least ``nperseg`` middle samples.
    """
    from scipy.signal import welch

    segs = _segments(recordings, activities, nperseg)
    if not segs:
        raise Text2ImuError(f"no still recordings of {', '.join(activities)} with {nperseg} samples")
    spectra = [welch(_middle(np.asarray(rec.acc_mps2, dtype=np.float64)) / G_MPS2, fs=rec.rate_hz,
                     nperseg=nperseg, detrend="linear", axis=0) for rec in segs]
    return spectra[0][0], np.array([p for _, p in spectra])


def band_density(freq_hz: np.ndarray, psd: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
    """(3,) per-axis density (unit/sqrt(Hz)): sqrt of the median over recordings of the mean PSD in ``band_hz``."""
    inside = (freq_hz >= band_hz[0]) & (freq_hz <= band_hz[1])
    if not inside.any():
        raise Text2ImuError(f"band {band_hz} Hz holds no frequency of the spectra")
    return np.sqrt(np.median(psd[:, inside].mean(axis=1), axis=0))


def half_power_frequency_hz(freq_hz: np.ndarray, psd: np.ndarray, band_hz: tuple[float, float] = IN_BAND_HZ
                            ) -> float:
    """Median over axes of the first frequency above ``band_hz`` where the median spectrum falls to half of
    its mean in the band (Hz); the Nyquist frequency where it never does."""
    med = np.median(psd, axis=0)
    inside = (freq_hz >= band_hz[0]) & (freq_hz <= band_hz[1])
    out = []
    for axis in range(med.shape[1]):
        below = np.flatnonzero((freq_hz > band_hz[1]) & (med[:, axis] <= 0.5 * med[inside, axis].mean()))
        out.append(freq_hz[below[0]] if len(below) else freq_hz[-1])
    return float(np.median(out))


def acc_gyro_coherence(recordings: Iterable, bands_hz: Sequence[tuple[float, float]],
                       activities: Sequence[str] = NOISE_POSTURES, nperseg: int = 128) -> np.ndarray:
    """(B, 3): per band and acc axis, the median over recordings of the band-mean of the largest
    magnitude-squared coherence between that acc axis and any gyro axis."""
    from scipy.signal import coherence

    rows = []
    for rec in _segments(recordings, activities, 4 * nperseg):
        acc, gyro = _middle(np.asarray(rec.acc_mps2, float)), _middle(np.asarray(rec.gyro_radps, float))
        coh = np.max([[coherence(acc[:, i], gyro[:, j], fs=rec.rate_hz, nperseg=nperseg)[1] for j in range(3)]
                      for i in range(3)], axis=1)  # (3, F)
        freq = np.fft.rfftfreq(nperseg, 1.0 / rec.rate_hz)
        rows.append([[coh[i, (freq >= lo) & (freq <= hi)].mean() for i in range(3)] for lo, hi in bands_hz])
    if not rows:
        raise Text2ImuError("no still recordings long enough for the coherence")
    return np.median(np.array(rows), axis=0)


# ---------------------------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class HaptMeasurement:
    """Figures of the ``uci_hapt`` preset measured on UCI HAPT (see the module docstring); offsets in g,
    densities in g/sqrt(Hz), fractions as fractions. ``fit`` (offset and scale) and ``fit_cross`` (with the
    cross-axis terms) with their bootstrap draws; ``cv_rms_g``: their leave-one-subject-out RMS; the preset takes
    the model with the lower one (:attr:`cross_axis_chosen`)."""

    n_windows: dict[str, int]
    fit: Calibration
    fit_boot: np.ndarray
    fit_cross: Calibration
    fit_cross_boot: np.ndarray
    cv_rms_g: tuple[float, float]
    raw_median_g: dict[str, float]
    corrected_median_g: dict[str, float]
    bias_sigma_g: float
    density_in_band: np.ndarray
    density_floor: np.ndarray
    bandwidth_hz: float
    coherence: np.ndarray

    @property
    def cross_axis_chosen(self) -> bool:
        return self.cv_rms_g[1] < self.cv_rms_g[0]


def measure_uci_hapt(paths, n_boot: int = 200, seed: int = 0) -> HaptMeasurement:
    """Read UCI HAPT (``paths`` as :func:`text2imu.benchmark.real.read_uci_hapt`) and measure the preset."""
    from text2imu.benchmark.real import read_uci_hapt

    recs = [r for r in read_uci_hapt(paths) if r.activity in STILL]
    win = still_windows(recs)
    fit = fit_calibration(win.mean_g)
    fit_cross = fit_calibration(win.mean_g, cross_axis=True, start=fit)
    cv = (leave_one_subject_out_rms(win), leave_one_subject_out_rms(win, cross_axis=True))
    chosen = fit_cross if cv[1] < cv[0] else fit
    raw = np.linalg.norm(win.mean_g, axis=1)
    cor = np.linalg.norm(chosen.correct(win.mean_g), axis=1)
    freq, psd = acc_spectra_g(recs)
    return HaptMeasurement(
        n_windows={a: int(np.sum(win.activity == a)) for a in STILL},
        fit=fit,
        fit_boot=bootstrap_by_subject(win, fit, n_boot, seed),
        fit_cross=fit_cross,
        fit_cross_boot=bootstrap_by_subject(win, fit_cross, n_boot, seed, cross_axis=True),
        cv_rms_g=cv,
        raw_median_g={a: float(np.median(raw[win.activity == a])) for a in STILL},
        corrected_median_g={a: float(np.median(cor[win.activity == a])) for a in STILL},
        bias_sigma_g=turn_on_bias_sigma(win, chosen),
        density_in_band=band_density(freq, psd, IN_BAND_HZ),
        density_floor=band_density(freq, psd, FLOOR_BAND_HZ),
        bandwidth_hz=half_power_frequency_hz(freq, psd),
        coherence=acc_gyro_coherence(recs, (IN_BAND_HZ, FLOOR_BAND_HZ)),
    )


def _fmt(values, scale: float, digits: int) -> str:
    return "[" + ", ".join(f"{v * scale:.{digits}f}" for v in values) + "]"


def _calibration_lines(cal: Calibration, boot: np.ndarray) -> list[str]:
    sd = boot.std(axis=0)
    lines = [f"offset_mg = {_fmt(cal.offset, 1e3, 1)}  # +- {_fmt(sd[:3], 1e3, 1)}",
             f"scale_error_percent = {_fmt(cal.scale_error, 100, 2)}  # +- {_fmt(sd[3:6], 100, 2)}"]
    if boot.shape[1] == 9:
        lines.append(f"cross_axis_percent = {_fmt(cal.cross_axis, 100, 2)}  # +- {_fmt(sd[6:9], 100, 2)}")
    return lines


def format_measurement(m: HaptMeasurement) -> str:
    """The figures as text: TOML-ready lines for ``[uci_hapt.acc]`` and the diagnostics behind them."""
    fits = [("offset + scale", m.fit, m.fit_boot), ("offset + scale + cross-axis", m.fit_cross, m.fit_cross_boot)]
    (name, cal, boot), (other_name, other, other_boot) = fits[::-1] if m.cross_axis_chosen else fits
    x_up = boot[:, 0] + boot[:, 3]  # x reading minus 1 g with +1 g along x (g)
    return "\n".join([
        f"still windows (1 s, per-axis std < {MAX_WINDOW_STD_G * 1000:g} mg, middle half of each segment): "
        + ", ".join(f"{a} {n}" for a, n in m.n_windows.items()),
        "leave-one-subject-out RMS of |a| - 1 g (mg): "
        + ", ".join(f"{f[0]} {v * 1e3:.2f}" for f, v in zip(fits, m.cv_rms_g, strict=True)) + f" -> preset: {name}",
        "median |a| raw (g): " + ", ".join(f"{a} {v:.4f}" for a, v in m.raw_median_g.items()),
        "median |a| calibrated (g): " + ", ".join(f"{a} {v:.4f}" for a, v in m.corrected_median_g.items()),
        "",
        f"# [uci_hapt.acc] ({name}; +- bootstrap sd over subjects)",
        *_calibration_lines(cal, boot),
        f"#   x offset and scale correlate (r = {np.corrcoef(boot[:, 0], boot[:, 3])[0, 1]:.2f}; the phone's x "
        f"never pointed down); together x reads 1 g {(cal.offset[0] + cal.scale_error[0]) * 1e3:+.1f} +- "
        f"{x_up.std() * 1e3:.1f} mg with +1 g along x",
        f"bias_sigma_mg = {m.bias_sigma_g * 1e3:.1f}",
        f"noise_density_ug_per_sqrt_hz = {_fmt(m.density_in_band, 1e6, 0)}  # 2-10 Hz, sitting and lying",
        f"bandwidth_hz = {m.bandwidth_hz:.1f}",
        "",
        f"white floor 15-25 Hz (ug/sqrt(Hz)): {_fmt(m.density_floor, 1e6, 0)}",
        "acc-gyro coherence x|y|z, 2-10 Hz: " + _fmt(m.coherence[0], 1, 2)
        + "; 15-25 Hz (independent-noise level): " + _fmt(m.coherence[1], 1, 2),
        "",
        f"# {other_name} (not used by the preset)",
        *_calibration_lines(other, other_boot),
    ]) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m text2imu.builder.noise_calibration --hapt DIR``: print the measured figures (exit 2 on a
    user error, one line)."""
    p = _Parser(prog="python -m text2imu.builder.noise_calibration",
                description="Measure the uci_hapt noise preset's figures on UCI HAPT.")
    p.add_argument("--hapt", required=True, help="UCI HAPT: the folder with its zips, a zip, or an extracted folder")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap draws over subjects (default 200)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    args = p.parse_args(argv)
    try:
        if args.bootstrap < 2:
            raise Text2ImuError(f"--bootstrap must be >= 2, got {args.bootstrap}")
        m = measure_uci_hapt(args.hapt, args.bootstrap, args.seed)
    except Text2ImuError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(format_measurement(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
