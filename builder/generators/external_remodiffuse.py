"""``remodiffuse``: ReMoDiffuse (Zhang et al., ICCV 2023) through the user's checkout's ``tools/visualize.py``.

ReMoDiffuse's only text-to-motion entry point is its visualisation script, which draws one motion per call
(README "Visualization")::

    PYTHONPATH=. <python> tools/visualize.py <config> <checkpoint> --text "<prompt>" --motion_length L
        --out <tmp>/anim_<i>_<r>.gif --pose_npy <tmp>/pose_<i>_<r>.npy [--device cpu|cuda] [extra args]

so every (prompt, repetition) is one run (the model is loaded each time). ``--pose_npy`` receives the joints,
(L, 22, 3) metres at 20 fps, after the script's own Gaussian temporal filter (sigma 2.5 frames); it is read with the
``joints`` reader. ``L`` is in frames, 16-196 (the script's limit), from the prompt's duration or
``--motion-length-s``. ``--config`` is the model's config file, e.g. ``configs/remodiffuse/remodiffuse_t2m.py``.

The script takes no seed, so each run goes through a small launcher (``python -c``) that seeds Python's ``random``,
NumPy and torch with ``derive_seed(base, "remodiffuse", prompt_id, repetition) mod 2**31`` and then runs
``tools/visualize.py`` unchanged with ``runpy``. ``--device cuda:N`` runs ``--device cuda`` with
``CUDA_VISIBLE_DEVICES=N``.

License: S-Lab License 1.0 (non-commercial use only; recorded as ``LicenseRef-S-Lab-1.0``), so corpora built from
ReMoDiffuse motions are non-commercial too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import Text2ImuError
from ..formats.joints import read_joints_file
from ..motion import Motion
from ..prompts import Prompt
from . import GeneratorSpec
from .external import ExternalGenerator, ExternalRunError, single_line

log = logging.getLogger(__name__)

FPS = 20.0
MIN_FRAMES, MAX_FRAMES = 16, 196  # tools/visualize.py asserts 16 <= motion_length <= 196

# Seeds random, numpy and torch, then runs the script (argv: seed, script, script args) as `python script ...`.
LAUNCHER = """\
import os, random, runpy, sys
seed = int(sys.argv[1])
script = sys.argv[2]
random.seed(seed)
import numpy
numpy.random.seed(seed)
try:
    import torch
    torch.manual_seed(seed)
except ImportError:
    pass
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
"""

REMODIFFUSE_SPEC = GeneratorSpec(
    name="remodiffuse",
    version="user checkout",
    license="LicenseRef-S-Lab-1.0",
    reference="https://github.com/mingyuan-zhang/ReMoDiffuse (Zhang et al., ReMoDiffuse: Retrieval-Augmented "
              "Motion Diffusion Model, ICCV 2023); S-Lab License 1.0, non-commercial",
    weights_sha256=None,
    fps=FPS,
    needs_gpu=True,
    description="ReMoDiffuse run from the user's checkout (tools/visualize.py --pose_npy), one run per motion",
)


class RemodiffuseGenerator(ExternalGenerator):
    """``remodiffuse`` (see the module docstring).

    Args (besides :class:`ExternalGenerator`'s):
        config: the model's config file (relative to the checkout or absolute).
    """

    spec = REMODIFFUSE_SPEC
    script = "tools/visualize.py"
    options = (*ExternalGenerator.options, "config")
    required_options = ("repo", "checkpoint", "config")

    def __init__(self, repo=None, checkpoint=None, *, config: str | Path | None = None, **kwargs):
        if config is None:
            raise Text2ImuError("generator 'remodiffuse' needs --config (e.g. configs/remodiffuse/remodiffuse_t2m.py)")
        self.config = Path(config).expanduser()
        super().__init__(repo, checkpoint, **kwargs)

    def check_setup(self) -> None:
        config = self.config if self.config.is_absolute() else self.repo / self.config
        if not config.is_file():
            raise Text2ImuError(f"--config {self.config}: no such file in {self.repo}")
        self.config = config

    def record(self) -> dict:
        config = self.config.relative_to(self.repo).as_posix() if self.config.is_relative_to(self.repo) \
            else self.config.name
        return {**super().record(), "config": config}

    def frames(self, prompt: Prompt) -> int:
        return int(min(max(round(self.duration_s(prompt) * FPS), MIN_FRAMES), MAX_FRAMES))

    def _run(self, prompts: list[Prompt], repetitions: int, seed: int,
             tmp: Path) -> Iterator[tuple[int, int, Motion, int]]:
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(self.repo), os.environ.get("PYTHONPATH")]))}
        device = None if self.device is None else ("cpu" if self.device == "cpu" else "cuda")
        if self.device and ":" in self.device:
            env["CUDA_VISIBLE_DEVICES"] = self.device.split(":", 1)[1]
        total = len(prompts) * repetitions
        for i, prompt in enumerate(prompts):
            for rep in range(repetitions):
                run_seed = self.seed_for(seed, prompt.prompt_id, rep)
                pose = tmp / f"pose_{i}_{rep}.npy"
                argv = ["-c", LAUNCHER, run_seed, self.script, self.config, self.checkpoint,
                        "--text", single_line(prompt.text), "--motion_length", self.frames(prompt),
                        "--out", tmp / f"anim_{i}_{rep}.gif", "--pose_npy", pose]
                if device:
                    argv += ["--device", device]
                what = f"ReMoDiffuse ({prompt.prompt_id} repetition {rep}, run {i * repetitions + rep + 1}/{total})"
                self.run(argv, tmp, what, env=env)
                if not pose.is_file():
                    raise ExternalRunError(f"{what}: finished but wrote no {pose.name} (--pose_npy)")
                yield i, rep, read_joints_file(pose, fps=FPS), run_seed
                pose.unlink()
