"""``text2imu realism``: a generator's simulated waist acc against the real UCI HAPT ranges, as a markdown table.

See :mod:`text2imu.benchmark.realism` for the features, the range definition and the verdicts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from text2imu.builder.errors import Text2ImuError, UnknownNameError

from .realism import (
    HAPT_ACTIVITIES,
    RANGE_PERCENTILES,
    SITE,
    STEP_BAND_HZ,
    STEP_MIN_RMS_MPS2,
    central_std_mps2,
    hapt_features,
    real_ranges,
    render_table,
    synthetic_features,
    verdicts,
)

log = logging.getLogger(__name__)
STILL = ("sitting", "standing", "lying")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "realism",
        help="check a generator's simulated waist acc against the real UCI HAPT per-activity ranges",
        description="Simulate the generator's motions for the prompt set's walking, stairs, sitting, standing and "
        "lying prompts at hapt.waist on Table I body shapes (20 Hz), and compare acc-magnitude mean, std and "
        "dominant step frequency with the 5th-95th percentile ranges of the bundled UCI HAPT recordings. "
        "Prints a markdown table (and writes it with --out).",
    )
    p.add_argument("--generator", default="kinematic", help="generator name (default kinematic)")
    p.add_argument("--prompt-set", default="v1", help="prompt set version (default v1)")
    p.add_argument("--shapes", default="all", help="comma-separated Table I body shapes, or all (default)")
    p.add_argument("--activities", default=",".join(HAPT_ACTIVITIES),
                   help="comma-separated subset of the six HAPT activities (default: all six)")
    p.add_argument("--repetitions", type=int, default=1, help="motions per prompt (default 1)")
    p.add_argument("--noise", default="ideal,uci_hapt",
                   help="comma-separated noise presets, one column group each (default ideal,uci_hapt)")
    p.add_argument("--out", type=Path, help="also write the table to this markdown file")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_realism)


def _names(text: str, option: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise Text2ImuError(f"{option} names nothing")
    return names


def cmd_realism(args: argparse.Namespace) -> int:
    from text2imu.builder.bodies.shapes import shape_names
    from text2imu.builder.generators import available_generators
    from text2imu.builder.noise import get_noise_preset
    from text2imu.builder.output import atomic_path
    from text2imu.builder.prompts import load_prompt_set

    if args.out is not None and args.out.exists() and not args.force:
        raise Text2ImuError(f"{args.out} exists; pass --force to overwrite it")
    if args.repetitions < 1:
        raise Text2ImuError(f"--repetitions must be >= 1, got {args.repetitions}")
    shapes = list(shape_names()) if args.shapes.strip() == "all" else _names(args.shapes, "--shapes")
    for shape in shapes:
        if shape not in shape_names():
            raise UnknownNameError("body shape", shape, shape_names())
    activities = _names(args.activities, "--activities")
    for activity in activities:
        if activity not in HAPT_ACTIVITIES:
            raise UnknownNameError("HAPT activity", activity, HAPT_ACTIVITIES)
    noises = _names(args.noise, "--noise")
    for name in noises:
        get_noise_preset(name)
    available_generators()[args.generator]
    prompt_set = load_prompt_set(args.prompt_set)

    table = realism_table(args.generator, shapes, args.repetitions, noises, activities, args.prompt_set,
                          progress=sys.stderr.isatty(), prompt_set=prompt_set)
    print(table, end="")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(table, encoding="utf-8")
        log.info("wrote %s", args.out)
    return 0


def realism_table(generator: str, shapes: list[str], repetitions: int, noises: list[str],
                  activities: list[str] | tuple[str, ...] = HAPT_ACTIVITIES, prompt_set_name: str = "v1", *,
                  progress: bool = False, prompt_set=None) -> str:
    """The realism table (markdown) of ``generator`` against the bundled UCI HAPT waist recordings."""
    from text2imu.benchmark.data import load_bundled_hapt
    from text2imu.builder.prompts import load_prompt_set

    prompt_set = prompt_set or load_prompt_set(prompt_set_name)
    recordings = load_bundled_hapt()
    real = hapt_features(recordings, activities)
    ranges = real_ranges(real)
    synthetic = synthetic_features(generator, shapes, repetitions, noises, activities, prompt_set_name,
                                   progress=progress)
    results = {name: verdicts(ranges, synthetic[name]) for name in noises}
    n_prompts = sum(p.activity in activities for p in prompt_set.prompts)
    title = (f"Realism of `{generator}` at {SITE} (prompt set {prompt_set_name}: {n_prompts} prompts x "
             f"{repetitions} repetition(s) x {len(shapes)} body shapes, anny, 20 Hz) against UCI HAPT "
             f"({sum(map(len, real.values()))} bundled waist recordings, 20 Hz); synthetic columns per noise "
             f"preset: {', '.join(noises)}.")
    return render_table(results, title, _notes(recordings, ranges, list(activities)))


def _notes(recordings, ranges: dict, activities: list[str]) -> list[str]:
    """Method and the real-data figures that explain the still rows (computed here, from ``recordings``)."""
    notes = [
        "Features per recording, of the acc magnitude |a| (frame-independent: HAPT's phone frame and the skin "
        "site's frame differ): mean, std, and the peak of its spectrum in "
        f"{STEP_BAND_HZ[0]:g}-{STEP_BAND_HZ[1]:g} Hz when |a|'s RMS in that band is >= {STEP_MIN_RMS_MPS2:g} "
        "m/s² (else no step frequency). HAPT range: "
        f"{RANGE_PERCENTILES[0]:g}th-{RANGE_PERCENTILES[1]:g}th percentile over the recordings of the activity. "
        "Verdict: the synthetic median lies in that range; 'inside': the share of synthetic recordings in it.",
    ]
    still = [a for a in activities if a in STILL]
    if still:
        rest = ", ".join(f"{a} {ranges[a, 'acc_mean_mps2'].median:.2f}" for a in still)
        notes.append(f"HAPT at rest, median acc mean (m/s²): {rest}; an ideal sensor reads 9.81. The phone's "
                     "gravity reading depends on its posture: a per-axis calibration error (offset, scale, "
                     "cross-axis), which the uci_hapt preset models with figures measured on HAPT's still segments "
                     "(python -m text2imu.builder.noise_calibration); the simulated hapt.waist device is turned "
                     "against the skin frame by the phone's mounting, measured on HAPT's still gravity directions "
                     "(python -m text2imu.builder.mounting), so the calibration acts on the phone's own axes.")
        central = {a: [] for a in still}
        for rec in recordings:
            if rec.site == SITE and rec.activity in central:
                central[rec.activity].append(central_std_mps2(rec.acc_mps2))
        mids = ", ".join(f"{a} {np.median(v):.3f}" for a, v in central.items() if v)
        notes.append(f"HAPT still recordings, median acc std over the middle half of each recording (m/s²): "
                     f"{mids}; the whole recordings include the ends next to the postural transitions.")
    return notes
