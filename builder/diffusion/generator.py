"""``diffusion``: the in-package MDM-style model as a registered generator; its checkpoint is its weights.

The registry builds generators with no arguments, so the checkpoint comes from the environment variable
:data:`CHECKPOINT_ENV` (``TEXT2IMU_DIFFUSION_CHECKPOINT``, a checkpoint folder) unless the generator is built
directly: ``DiffusionGenerator(checkpoint="ckpt/", guidance=2.5, sample_steps=None)``. The registered spec
(listed by ``text2imu generators``) has no weights hash; a built generator's ``spec`` carries the SHA-256 of its
``model.safetensors`` and the checkpoint's license.

``generate(prompt, repetition, seed)``: the prompt's duration ("for about eight seconds", else 6 s, MDM's default;
clamped to 3 s .. the model's ``max_frames``) at 20 fps, sampled with classifier-free guidance from noise seeded
by ``SeedSequence([seed, repetition])``; the same arguments give the same motion on one platform.

This module imports torch only when a generator is built, so registering it costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import Text2ImuError
from ..generators import GeneratorSpec
from ..motion import Motion
from ..prompts import Prompt

CHECKPOINT_ENV = "TEXT2IMU_DIFFUSION_CHECKPOINT"
FPS = 20.0

DIFFUSION_SPEC = GeneratorSpec(
    name="diffusion",
    version="1.0.0",
    license="other",
    reference="text2imu.builder.diffusion (MDM-style, Tevet et al. 2023; L_acc fine-tuning, Häusler et al.)",
    weights_sha256=None,
    fps=FPS,
    needs_gpu=False,
    description=f"in-package text-to-motion diffusion; checkpoint folder from ${CHECKPOINT_ENV}",
)


def motion_frames(text: str, max_frames: int, length_s: float | None = None) -> int:
    """Frames at 20 fps for a prompt: ``length_s`` or the duration its words give (default 6 s), clamped."""
    if length_s is None:
        from ..generators.kinematic_words import parse_duration_s

        length_s, _ = parse_duration_s(text.lower())
    if not np.isfinite(length_s) or length_s <= 0:
        raise Text2ImuError(f"motion length must be a positive number of seconds, got {length_s}")
    return int(min(max(round(length_s * FPS), 3), max_frames))


class DiffusionGenerator:
    """The ``diffusion`` generator (module docstring).

    Args:
        checkpoint: checkpoint folder; default ``$TEXT2IMU_DIFFUSION_CHECKPOINT``.
        guidance: classifier-free guidance scale (MDM: 2.5).
        sample_steps: respaced sampling steps (default: the model's full schedule).
        length_s: fixed motion length in seconds instead of the prompt's.
        device: torch device.
    """

    spec = DIFFUSION_SPEC

    def __init__(self, checkpoint: str | Path | None = None, *, guidance: float = 2.5,
                 sample_steps: int | None = None, length_s: float | None = None, device: str = "cpu"):
        path = checkpoint or os.environ.get(CHECKPOINT_ENV)
        if not path:
            raise Text2ImuError(
                f"generator 'diffusion' needs a checkpoint: set {CHECKPOINT_ENV} to a checkpoint folder "
                "(from `text2imu diffusion train`)"
            )
        from .checkpoint import load_checkpoint

        self.checkpoint = load_checkpoint(path, device=device)
        self.guidance, self.sample_steps, self.length_s, self.device = guidance, sample_steps, length_s, device
        self.spec = replace(DIFFUSION_SPEC, weights_sha256=self.checkpoint.sha256, license=self.checkpoint.license,
                            reference=f"{DIFFUSION_SPEC.reference}; checkpoint {self.checkpoint.path}")

    def generate(self, prompt: Prompt, repetition: int, seed: int) -> Motion:
        """One motion for ``prompt``: (T, 22, 3) metres at 20 fps (HumanML3D conventions)."""
        from .sample import sample_motions

        if int(seed) < 0 or int(repetition) < 0:
            raise Text2ImuError(f"seed and repetition must be >= 0, got seed={seed}, repetition={repetition}")
        n = motion_frames(prompt.text, self.checkpoint.config.max_frames, self.length_s)
        torch_seed = int(np.random.SeedSequence([int(seed), int(repetition)]).generate_state(1, np.uint64)[0] >> 1)
        joints = sample_motions(self.checkpoint, [prompt.text], [n], [torch_seed], guidance=self.guidance,
                                sample_steps=self.sample_steps, device=self.device, progress=False)[0]
        return Motion(joints, fps=FPS, prompt=prompt.text, metadata={
            "generator": "diffusion", "checkpoint_sha256": self.checkpoint.sha256, "seed": int(seed),
            "repetition": int(repetition), "guidance": self.guidance, "sample_steps": self.sample_steps})
