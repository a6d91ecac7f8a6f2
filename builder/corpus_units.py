"""The units of a corpus build: one unit = one (prompt, repetition) of one generator.

A unit draws (or reads) the motion once, then for every shape fits it once and simulates every site, giving
``len(shapes) x len(sites)`` recordings in config order (:meth:`CorpusSpec.config_names`). It is a pure function
of the job and the unit: the same arguments give the same bytes on any worker, in any order. It never raises: a
failure comes back as :class:`UnitResult` with ``error`` set, so one bad unit cannot stop or corrupt the others.

Grouping by (prompt, repetition) rather than by (..., shape, site) generates each motion once and fits it once
per shape; the kinematic generator costs about three times a simulation of eight sites, so this is the cheap cut.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from functools import cache

import numpy as np

from .corpus_parquet import rows_table, table_to_ipc
from .corpus_spec import CorpusSpec, config_name
from .generators import derive_seed
from .prompts import Prompt
from .vocab import ACTIVITIES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    """One (prompt, repetition): ``unit_id`` ``<generator>/<prompt_id>/r<rep:03d>`` names it in reports."""

    generator: str
    prompt: Prompt
    repetition: int

    @property
    def unit_id(self) -> str:
        return f"{self.generator}/{self.prompt.prompt_id}/r{self.repetition:03d}"

    @property
    def part_name(self) -> str:
        """File name of its staging part."""
        return f"{self.prompt.prompt_id}__r{self.repetition:03d}.arrow"


@dataclass(frozen=True)
class Job:
    """What every unit of one build shares: the normalised spec and the motion source."""

    spec: CorpusSpec
    source: object  # a corpus_sources.MotionSource


@dataclass(frozen=True)
class UnitResult:
    """A unit's outcome: Arrow IPC bytes of its rows, or an error message (then ``ipc`` is None)."""

    unit_id: str
    part_name: str
    n_rows: int = 0
    ipc: bytes | None = None
    error: str | None = None
    detail: str | None = None


def plan_units(spec: CorpusSpec, prompts: tuple[Prompt, ...]) -> list[Unit]:
    """All units of a spec, sorted by (prompt_id, repetition): the row order inside every config."""
    return [Unit(spec.generator, p, r) for p in sorted(prompts, key=lambda p: p.prompt_id)
            for r in range(spec.repetitions)]


def motion_seed(spec: CorpusSpec, unit: Unit) -> int:
    """Seed of the unit's motion: ``derive_seed(seed, generator, prompt_id, repetition)``."""
    return derive_seed(spec.seed, spec.generator, unit.prompt.prompt_id, unit.repetition)


def recording_seed(spec: CorpusSpec, unit: Unit, shape: str, site: str) -> int:
    """Seed of one recording (its noise; the row's ``seed``): ``derive_seed(seed, generator, prompt_id,
    repetition, shape, site)``."""
    return derive_seed(spec.seed, spec.generator, unit.prompt.prompt_id, unit.repetition, shape, site)


@cache
def body_asset(body_model: str, shape: str):
    """The compiled body asset (cached per process)."""
    from .simulate import load_body

    return load_body(body_model, shape)


def unit_rows(job: Job, unit: Unit) -> list[dict]:
    """The unit's recordings as row dicts, in config order (raises on failure)."""
    from .noise import apply_noise
    from .simulate import simulate_motion

    spec = job.spec
    motion = job.source.motion(unit.prompt, unit.repetition, motion_seed(spec, unit)).validated(unit.unit_id)
    by_config: dict[str, dict] = {}
    for shape in spec.shapes:
        signals = simulate_motion(motion, sites=spec.sites, method=spec.method, noise="ideal",
                                  rate_hz=spec.rate_hz, refine=spec.refine, asset=body_asset(spec.body_model, shape),
                                  placement=spec.placement)
        for site in spec.sites:
            seed = recording_seed(spec, unit, shape, site)
            sig = apply_noise(signals[site], spec.noise, seed=seed)
            acc = np.asarray(sig.acc_mps2, dtype=np.float32)
            if not (np.isfinite(acc).all() and np.isfinite(sig.gyro_radps).all()):
                raise ValueError(f"non-finite signals at {shape}/{site}")
            by_config[config_name(site, shape)] = {
                "recording_id": f"{unit.unit_id}/{shape}/{site}",
                "prompt_id": unit.prompt.prompt_id,
                "prompt": unit.prompt.text,
                "activity": ACTIVITIES.index(unit.prompt.activity),
                "repetition": unit.repetition,
                "seed": seed,
                "generator": spec.generator,
                "body_model": spec.body_model,
                "body_shape": shape,
                "site": site,
                "rate_hz": float(sig.rate_hz),
                "duration_s": (sig.n_samples - 1) / float(sig.rate_hz),
                "acc_mps2": acc,
                "gyro_radps": np.asarray(sig.gyro_radps, dtype=np.float32),
                "orientation_wxyz": np.asarray(sig.orientation_wxyz, dtype=np.float32),
            }
    return [by_config[name] for name in spec.config_names()]


def run_unit(job: Job, unit: Unit) -> UnitResult:
    """Run one unit; never raises (the error and traceback come back in the result)."""
    try:
        rows = unit_rows(job, unit)
        return UnitResult(unit.unit_id, unit.part_name, len(rows), table_to_ipc(rows_table(rows)))
    except Exception as err:  # a unit's failure is data for the report, not a crash of the build
        log.debug("unit %s failed", unit.unit_id, exc_info=True)
        return UnitResult(unit.unit_id, unit.part_name, error=f"{type(err).__name__}: {err}",
                          detail=traceback.format_exc(limit=8))
