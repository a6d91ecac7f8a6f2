"""``kinematic``: the built-in, embedded text-to-motion generator (no weights, no GPU, deterministic).

It reads the prompt's activity label and words (pace, direction, path, holds, postures, counts, duration; see
:mod:`.kinematic_words`) and synthesises the motion from biomechanics, by forward kinematics of joint angles on
HumanML3D's adult skeleton (``builder/data/skeleton.toml``; stature 1.71 m), so every bone keeps its length:

- walking, running, stairs up and down (:mod:`.kinematic_gait`): normative sagittal joint-angle curves (Winter
  1991; Perry & Burnfield 2010; Novacheck 1998; McFadyen & Winter 1988; Riener et al. 2002), cadence ~110
  steps/min walking and 155-190 running, step length ~0.41 x stature walking (Öberg et al. 1993), pelvic
  rotation, obliquity and tilt, thorax counter-rotation, arms swinging out of phase with the legs, trunk lean;
  feet grounded heel -> toe without sliding; the pelvis of walking and stairs moving vertically with the
  normative vertical ground reaction force of each (McFadyen & Winter 1988; Stacoff et al. 2005: stair descent
  loads hardest); running as a spring-mass body with ballistic flights; stairs of 17 cm rise and 29 cm going;
- jumping (:mod:`.kinematic_jumps`): countermovement and long jumps (countermovement, take-off, flight under
  g = 9.81 m/s^2, landing), rebound hops, rope skipping, jumping jacks;
- standing, sitting, lying (:mod:`.kinematic_postures`): postural sway (~1 cm), breathing (~0.25 Hz), chairs
  of 0.45 m, beds of 0.5 m, and the small motions the prompt names.

Output: a :class:`~text2imu.builder.motion.Motion` at 20 fps (synthesised at 120 fps and decimated), 3-10 s,
floor at y = 0 (the lowest floor reached, for stairs), facing +z at the start (lying: face up, head towards -z),
metadata with the plan, the realised gait figures and the seed.

Determinism: ``generate(prompt, repetition, seed)`` draws every random number from
``numpy.random.default_rng(numpy.random.SeedSequence([seed, repetition]))`` in a fixed order, so the same
arguments give the same bytes (on one platform and numpy version); repetitions differ in cadence, step length,
amplitudes, phases, sway and timing.
"""

from __future__ import annotations

import logging

import numpy as np

from ..motion import Motion
from ..prompts import Prompt
from . import GeneratorSpec
from .kinematic_gait import GAIT_OF_ACTIVITY, synthesize_gait
from .kinematic_jumps import synthesize_jumps
from .kinematic_postures import synthesize_posture
from .kinematic_words import parse_prompt

log = logging.getLogger(__name__)

OUTPUT_FPS = 20.0
OVERSAMPLE = 6  # internal rate 120 fps

KINEMATIC_SPEC = GeneratorSpec(
    name="kinematic",
    version="1.2.0",
    license="Apache-2.0",
    reference="text2imu.builder.generators.kinematic (this package)",
    weights_sha256=None,
    fps=OUTPUT_FPS,
    needs_gpu=False,
    description="biomechanical motion synthesis from the prompt's activity and words (built-in default)",
)


class KinematicGenerator:
    """The ``kinematic`` generator (see the module docstring). Stateless; cheap to build."""

    spec = KINEMATIC_SPEC

    def generate(self, prompt: Prompt, repetition: int, seed: int) -> Motion:
        """One motion for ``prompt``: (T, 22, 3) metres at 20 fps, T = 20 x duration + 1, validated.

        Args:
            prompt: the prompt (its activity picks the model, its words the details).
            repetition: index of this draw for the prompt (mixed into the random stream).
            seed: non-negative integer, e.g. from :func:`~text2imu.builder.generators.derive_seed`.
        """
        if int(seed) < 0 or int(repetition) < 0:
            from ..errors import Text2ImuError

            raise Text2ImuError(f"seed and repetition must be >= 0, got seed={seed}, repetition={repetition}")
        plan = parse_prompt(prompt)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(repetition)]))
        fps = OUTPUT_FPS * OVERSAMPLE
        if plan.activity in GAIT_OF_ACTIVITY:
            joints, facts = synthesize_gait(plan, rng, fps)
        elif plan.activity == "jumping":
            joints, facts = synthesize_jumps(plan, rng, fps)
        else:
            joints, facts = synthesize_posture(plan, rng, fps)
        joints = joints[::OVERSAMPLE].astype(np.float32)
        metadata = {
            "generator": self.spec.name,
            "generator_version": self.spec.version,
            "prompt_id": prompt.prompt_id,
            "activity": prompt.activity,
            "repetition": int(repetition),
            "seed": int(seed),
            "plan": plan.to_dict(),
            **facts,
        }
        log.debug("kinematic %s rep %d: %s", prompt.prompt_id, repetition, facts)
        return Motion(joints, fps=OUTPUT_FPS, prompt=prompt.text, metadata=metadata).validated(
            f"kinematic {prompt.prompt_id}")
