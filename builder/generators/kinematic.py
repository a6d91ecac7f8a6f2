"""stub"""
from __future__ import annotations
import numpy as np
from . import GeneratorSpec
from ..motion import Motion
from .kinematic_words import parse_prompt
from .kinematic_gait import synthesize_gait, GAIT_OF_ACTIVITY
KINEMATIC_SPEC = GeneratorSpec(name="kinematic", version="1.0.0", license="Apache-2.0", reference="x")
class KinematicGenerator:
    spec = KINEMATIC_SPEC
    def generate(self, prompt, repetition, seed):
        plan = parse_prompt(prompt)
        rng = np.random.default_rng(np.random.SeedSequence([seed, repetition]))
        joints, facts = synthesize_gait(plan, rng, 120.0)
        return Motion(joints[::6], fps=20.0, prompt=prompt.text, metadata=facts)
