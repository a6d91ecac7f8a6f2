"""Realism check of a generator: its simulated waist accelerometer against the real UCI HAPT waist recordings.

Three features per recording, all of the acceleration magnitude ``|a|`` (m/s^2, gravity included), so they do not
depend on how the sensor is mounted (HAPT's phone frame and our skin-site frame differ; a magnitude is the same in
every frame):

- ``acc_mean_mps2``: mean of ``|a|`` over the recording;
- ``acc_std_mps2``: standard deviation of ``|a|`` (population, ddof 0);
- ``step_hz``: dominant step frequency, the peak of the Hann-windowed, zero-padded power spectrum of the linearly
  detrended ``|a|`` in :data:`STEP_BAND_HZ` (0.5-3.5 Hz: 30-210 steps/min). A recording has a step frequency only
  when the RMS of ``|a|`` within that band reaches :data:`STEP_MIN_RMS_MPS2` (0.5 m/s^2); a still recording (quiet
  standing, sitting, lying) has none, so its spectrum's peak, which would only pick noise, is never compared.

Real ranges (:func:`real_ranges`): per activity and feature, the 5th-95th percentile over the real recordings of
that activity (each labelled HAPT segment is one recording; ``numpy.percentile``, linear interpolation). For
``step_hz`` the range is taken over the recordings that have a step frequency; an activity where fewer than half
of the real recordings have one is *still*, and its step-frequency range is "none".

Verdicts (:func:`verdicts`): per activity and feature, the synthetic median (over all synthetic recordings of the
activity; for ``step_hz`` over those that have one, "none" when fewer than half do) is *inside* when it lies in
the real range (for a still activity: when it is "none"); the fraction inside counts the synthetic recordings that
lie in the range (for a still activity: that have no step frequency).

Synthetic side (:func:`synthetic_features`): the generator's motions for a prompt set's prompts of the six
activities HAPT shares with the eight, simulated at site ``hapt.waist`` on Table I body shapes at 20 Hz with
:func:`text2imu.builder.simulate.simulate_motion`. This is a diagnostic of a generator, not a benchmark of a
corpus, so it calls the builder directly (the benchmark proper reads corpora as users do). Noise presets are
applied to the ideal signals with :func:`text2imu.builder.noise.apply_noise` and the seed that
``simulate_motion(noise=preset, seed=...)`` would use, so each preset sees the same motion and body.
Seeds: motion ``derive_seed("realism", generator, prompt_id, repetition)``, noise
``derive_seed("realism", generator, prompt_id, repetition, shape, site)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import detrend

from text2imu.builder.errors import Text2ImuError

log = logging.getLogger(__name__)

HAPT_ACTIVITIES: tuple[str, ...] = ("walking", "climbingup", "climbingdown", "sitting", "standing", "lying")
FEATURES: tuple[str, ...] = ("acc_mean_mps2", "acc_std_mps2", "step_hz")
FEATURE_LABELS = {"acc_mean_mps2": "acc mean (m/s²)", "acc_std_mps2": "acc std (m/s²)", "step_hz": "step freq (Hz)"}
STEP_BAND_HZ: tuple[float, float] = (0.5, 3.5)
STEP_MIN_RMS_MPS2 = 0.5
RANGE_PERCENTILES: tuple[float, float] = (5.0, 95.0)
SITE = "hapt.waist"
RATE_HZ = 20.0
MIN_FFT = 4096


@dataclass(frozen=True)
class Features:
    """Features of one recording (see the module docstring). ``step_hz`` is None for a still recording."""

    acc_mean_mps2: float
    acc_std_mps2: float
    step_hz: float | None

    def get(self, name: str) -> float | None:
        return getattr(self, name)


def acc_magnitude(acc_mps2: np.ndarray) -> np.ndarray:
    """(T, 3) specific force in m/s^2 -> (T,) its Euclidean norm in m/s^2 (float64)."""
    acc = np.asarray(acc_mps2, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3 or len(acc) < 3:
        raise Text2ImuError(f"acc_mps2 must have shape (T, 3) with T >= 3, got {acc.shape}")
    return np.linalg.norm(acc, axis=1)


def band_rms(x: np.ndarray, rate_hz: float, band_hz: tuple[float, float] = STEP_BAND_HZ) -> float:
    """RMS of the part of ``x`` (T,) within ``band_hz`` (Hz), from its discrete Fourier transform (Parseval),
    after removing a linear trend; same unit as ``x``."""
    y = detrend(np.asarray(x, dtype=np.float64))
    n = len(y)
    spec = np.abs(np.fft.rfft(y)) ** 2
    freq = np.fft.rfftfreq(n, 1.0 / rate_hz)
    weight = np.where((freq == 0) | ((n % 2 == 0) & (freq == freq[-1])), 1.0, 2.0)
    inside = (freq >= band_hz[0]) & (freq <= band_hz[1])
    return float(np.sqrt(np.sum(weight[inside] * spec[inside]) / n**2))


def dominant_frequency_hz(x: np.ndarray, rate_hz: float, band_hz: tuple[float, float] = STEP_BAND_HZ) -> float:
    """Frequency in Hz of the highest peak of the power spectrum of ``x`` (T,) within ``band_hz``: linear trend
    removed, Hann window, zero-padded to at least 4096 points (resolution <= rate_hz / 4096)."""
    y = detrend(np.asarray(x, dtype=np.float64)) * np.hanning(len(x))
    n_fft = max(MIN_FFT, 1 << int(np.ceil(np.log2(8 * len(y)))))
    power = np.abs(np.fft.rfft(y, n=n_fft)) ** 2
    freq = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    inside = (freq >= band_hz[0]) & (freq <= band_hz[1])
    if not inside.any():
        raise Text2ImuError(f"band {band_hz} Hz is outside the spectrum of a {rate_hz} Hz signal")
    return float(freq[inside][np.argmax(power[inside])])


def step_frequency_hz(magnitude_mps2: np.ndarray, rate_hz: float, band_hz: tuple[float, float] = STEP_BAND_HZ,
                      min_rms_mps2: float = STEP_MIN_RMS_MPS2) -> float | None:
    """Dominant step frequency in Hz of an acc magnitude (T,) m/s^2, or None when its RMS in ``band_hz`` is below
    ``min_rms_mps2`` (a still recording)."""
    if band_rms(magnitude_mps2, rate_hz, band_hz) < min_rms_mps2:
        return None
    return dominant_frequency_hz(magnitude_mps2, rate_hz, band_hz)


def waist_features(acc_mps2: np.ndarray, rate_hz: float) -> Features:
    """:class:`Features` of one recording: ``acc_mps2`` (T, 3) m/s^2 at ``rate_hz`` Hz (T >= 3)."""
    if not rate_hz > 0:
        raise Text2ImuError(f"rate_hz must be > 0, got {rate_hz}")
    mag = acc_magnitude(acc_mps2)
    return Features(float(mag.mean()), float(mag.std()), step_frequency_hz(mag, rate_hz))


def central_std_mps2(acc_mps2: np.ndarray, fraction: float = 0.5) -> float:
    """Std in m/s^2 of the acc magnitude over the middle ``fraction`` of a recording (T, 3): a diagnostic of still
    recordings whose ends carry the motion of the neighbouring postural transitions."""
    mag = acc_magnitude(acc_mps2)
    cut = int(round(len(mag) * (1.0 - fraction) / 2))
    return float(mag[cut:len(mag) - cut].std())


@dataclass(frozen=True)
class FeatureRange:
    """The real range of one feature of one activity.

    Attributes:
        activity, feature: names (:data:`HAPT_ACTIVITIES`, :data:`FEATURES`).
        lo, hi: the 5th and 95th percentiles (None for the step frequency of a still activity).
        median: the real median (None likewise).
        n: real recordings of the activity; n_valued: those with a value (step frequency) of the feature.
    """

    activity: str
    feature: str
    lo: float | None
    hi: float | None
    median: float | None
    n: int
    n_valued: int

    @property
    def still(self) -> bool:
        """True for the step frequency of an activity where fewer than half of the recordings have one."""
        return self.lo is None


def _values(feats: Sequence[Features], feature: str) -> np.ndarray:
    return np.array([f.get(feature) for f in feats if f.get(feature) is not None], dtype=np.float64)


def real_ranges(features: Mapping[str, Sequence[Features]],
                percentiles: tuple[float, float] = RANGE_PERCENTILES) -> dict[tuple[str, str], FeatureRange]:
    """{(activity, feature): FeatureRange} from real recordings' features grouped by activity."""
    out = {}
    for activity, feats in features.items():
        if not feats:
            raise Text2ImuError(f"no real recordings of {activity}")
        for feature in FEATURES:
            vals = _values(feats, feature)
            if len(vals) * 2 < len(feats):
                out[activity, feature] = FeatureRange(activity, feature, None, None, None, len(feats), len(vals))
                continue
            lo, hi = np.percentile(vals, percentiles)
            out[activity, feature] = FeatureRange(activity, feature, float(lo), float(hi), float(np.median(vals)),
                                                  len(feats), len(vals))
    return out


@dataclass(frozen=True)
class Verdict:
    """One (activity, feature) comparison: the real range, the synthetic median, the share inside, the verdict.

    Attributes:
        real: the real :class:`FeatureRange`.
        median: synthetic median (None: "none", i.e. fewer than half of the synthetic recordings have a value).
        fraction_inside: share of synthetic recordings inside the range (still: without a step frequency).
        n: synthetic recordings.
        inside: True when the synthetic median is inside the real range (still: is "none").
    """

    real: FeatureRange
    median: float | None
    fraction_inside: float
    n: int
    inside: bool

    @property
    def side(self) -> str:
        """"inside", "below", "above" or "step" (a still activity whose synthetic recordings step)."""
        if self.inside:
            return "inside"
        if self.real.still or self.median is None:
            return "step" if self.real.still else "none"
        return "below" if self.median < self.real.lo else "above"


def verdicts(ranges: Mapping[tuple[str, str], FeatureRange], synthetic: Mapping[str, Sequence[Features]]
             ) -> list[Verdict]:
    """A :class:`Verdict` per (activity, feature) of ``synthetic`` features grouped by activity, in the order of
    :data:`HAPT_ACTIVITIES` then :data:`FEATURES`; each activity needs a real range."""
    out = []
    for activity in sorted(synthetic, key=lambda a: HAPT_ACTIVITIES.index(a) if a in HAPT_ACTIVITIES else 99):
        feats = synthetic[activity]
        if not feats:
            raise Text2ImuError(f"no synthetic recordings of {activity}")
        for feature in FEATURES:
            if (activity, feature) not in ranges:
                raise Text2ImuError(f"no real range of {feature} for {activity}")
            real = ranges[activity, feature]
            vals = _values(feats, feature)
            median = float(np.median(vals)) if len(vals) * 2 >= len(feats) else None
            if real.still:
                frac = 1.0 - len(vals) / len(feats)
                inside = median is None
            else:
                frac = float(np.sum((vals >= real.lo) & (vals <= real.hi)) / len(feats))
                inside = median is not None and real.lo <= median <= real.hi
            out.append(Verdict(real, median, frac, len(feats), inside))
    return out


def hapt_features(recordings: Iterable, activities: Sequence[str] = HAPT_ACTIVITIES
                  ) -> dict[str, list[Features]]:
    """{activity: [Features]} of real :class:`~text2imu.benchmark.real.Recording` objects at the HAPT waist
    (other sites and activities skipped), each at its own rate."""
    out: dict[str, list[Features]] = {a: [] for a in activities}
    for rec in recordings:
        if rec.site == SITE and rec.activity in out and len(rec.acc_mps2) >= 3:
            out[rec.activity].append(waist_features(rec.acc_mps2, rec.rate_hz))
    return out


def synthetic_features(generator: str, shapes: Sequence[str], repetitions: int = 1,
                       noises: Sequence[str] = ("ideal",), activities: Sequence[str] = HAPT_ACTIVITIES,
                       prompt_set: str = "v1", rate_hz: float = RATE_HZ, progress: bool = False
                       ) -> dict[str, dict[str, list[Features]]]:
    """{noise preset: {activity: [Features]}} of ``generator``'s motions for the prompts of ``prompt_set`` with
    those activities, ``repetitions`` each, simulated at ``hapt.waist`` on every shape of ``shapes`` (anny body)
    at ``rate_hz``; one recording per (prompt, repetition, shape). Seeds as in the module docstring."""
    from tqdm import tqdm

    from text2imu.builder.generators import derive_seed, get_generator
    from text2imu.builder.noise import apply_noise, get_noise_preset
    from text2imu.builder.prompts import load_prompt_set
    from text2imu.builder.simulate import load_body, simulate_motion, site_seed

    if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 1:
        raise Text2ImuError(f"repetitions must be an integer >= 1, got {repetitions!r}")
    if not shapes or not noises:
        raise Text2ImuError("give at least one body shape and one noise preset")
    presets = {name: get_noise_preset(name) for name in noises}
    gen = get_generator(generator)
    bodies = {shape: load_body("anny", shape) for shape in shapes}
    prompts = [p for p in load_prompt_set(prompt_set).prompts if p.activity in activities]
    out = {name: {a: [] for a in activities if any(p.activity == a for p in prompts)} for name in noises}
    jobs = [(p, rep) for p in prompts for rep in range(repetitions)]
    for prompt, rep in tqdm(jobs, desc=f"realism {generator}", unit="motion", disable=not progress):
        motion = gen.generate(prompt, rep, derive_seed("realism", generator, prompt.prompt_id, rep))
        for shape, body in bodies.items():
            ideal = simulate_motion(motion, sites=(SITE,), rate_hz=rate_hz, asset=body)[SITE]
            seed = site_seed(derive_seed("realism", generator, prompt.prompt_id, rep, shape, SITE), SITE)
            for name, preset in presets.items():
                sig = ideal if name == "ideal" else apply_noise(ideal, preset, seed=seed)
                out[name][prompt.activity].append(waist_features(sig.acc_mps2, sig.rate_hz))
    return out


def _num(x: float | None) -> str:
    return "none" if x is None else f"{x:.2f}"


def _verdict_text(v: Verdict) -> str:
    return {"inside": "inside", "below": "outside (below)", "above": "outside (above)",
            "step": "outside (steps)", "none": "outside (no step)"}[v.side]


def render_table(results: Mapping[str, Sequence[Verdict]], title: str, notes: Sequence[str] = ()) -> str:
    """Markdown: ``title``, then one row per (activity, feature) with the real range and median and, per noise
    preset of ``results`` ({preset: verdicts}, all over the same (activity, feature) pairs), the synthetic median,
    the share of synthetic recordings inside and the verdict; then ``notes`` as a list."""
    names = list(results)
    if not names:
        raise Text2ImuError("nothing to tabulate")
    rows = list(zip(*(results[n] for n in names), strict=True))
    head = ["activity", "feature", f"HAPT {RANGE_PERCENTILES[0]:g}-{RANGE_PERCENTILES[1]:g} %", "HAPT median"]
    for n in names:
        head += [f"{n}: median", f"{n}: inside", f"{n}: verdict"]
    lines = [title, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group in rows:
        real = group[0].real
        if real.still:
            rng, med = f"none ({real.n_valued}/{real.n} step)", "none"
        else:
            rng, med = f"{real.lo:.2f}-{real.hi:.2f}", f"{real.median:.2f}"
        cells = [real.activity, FEATURE_LABELS[real.feature], rng, med]
        for v in group:
            cells += [_num(v.median), f"{100 * v.fraction_inside:.0f} % of {v.n}", _verdict_text(v)]
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
