"""``momask``: MoMask (Guo et al., CVPR 2024) through the user's checkout's ``gen_t2m.py``.

Run, in the repository (../shared/FORMATS.md 5.4)::

    <python> gen_t2m.py --text_path <prompts.txt> --repeat_times R --seed S --ext <tmp>/generation
        --checkpoints_dir <D> --dataset_name <t2m> --name <NAME> [--gpu_id G] [extra args]

``--checkpoint`` is the masked transformer's ``<D>/<dataset>/<NAME>/model/latest.tar`` (the file gen_t2m.py loads);
the checkpoints folder, dataset name and model name are read off its path, and its sha256 is the weights hash.
The residual transformer, VQ model and length estimator are found by gen_t2m.py itself under the same folder
(``--extra-arg=--res_name=...`` to pick another residual model).

``prompts.txt`` has lines ``<text>#NA``: MoMask's own length estimator decides each length (gen_t2m.py compares
``infos[1].isdigit()`` on lines that still end in a newline, so lengths given in a file of several lines are never
honoured; ``#NA`` makes that explicit). Prompts cannot contain ``#``. ``--ext`` is given as an absolute path, which
``os.path.join('./generation', ext)`` keeps as is, so nothing is written into the checkout. The run's seed is
``derive_seed(base, "momask", "run") mod 2**31``.

Output: ``joints/<k>/sample{k}_repeat{r}_len{L}.npy`` (L, 22, 3) metres at 20 fps (and ``_ik`` twins after foot IK;
option ``foot_ik``), read with the ``momask`` reader; sample k is line k of the prompt file.
``--device``: cpu -> ``--gpu_id -1``, cuda -> 0, cuda:N -> N (MoMask's default is -1, the CPU).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import Text2ImuError
from ..formats.mdm import read_momask
from ..motion import Motion
from ..prompts import Prompt
from . import GeneratorSpec
from .external import ExternalGenerator, ExternalRunError, check_count, single_line

log = logging.getLogger(__name__)

FPS = 20.0
CHECKPOINT_NAME = "latest.tar"

MOMASK_SPEC = GeneratorSpec(
    name="momask",
    version="user checkout",
    license="MIT",
    reference="https://github.com/EricGuo5513/momask-codes (Guo et al., MoMask: Generative Masked Modeling of 3D "
              "Human Motions, CVPR 2024)",
    weights_sha256=None,
    fps=FPS,
    needs_gpu=True,
    description="MoMask run from the user's checkout (gen_t2m.py --text_path) in a subprocess",
)


class MomaskGenerator(ExternalGenerator):
    """``momask`` (see the module docstring).

    Args (besides :class:`ExternalGenerator`'s, without ``motion_length_s``):
        foot_ik: import the ``_ik`` joints (after MoMask's foot-skating clean-up) instead of the plain ones.
    """

    spec = MOMASK_SPEC
    script = "gen_t2m.py"
    options = ("repo", "checkpoint", "python", "device", "timeout_s", "extra_args", "foot_ik")

    def __init__(self, repo=None, checkpoint=None, *, foot_ik: bool = False, **kwargs):
        self.foot_ik = bool(foot_ik)
        super().__init__(repo, checkpoint, **kwargs)

    def check_setup(self) -> None:
        ckpt = self.checkpoint
        if ckpt.name != CHECKPOINT_NAME or ckpt.parent.name != "model" or len(ckpt.parents) < 4:
            raise Text2ImuError(f"--checkpoint {ckpt}: MoMask loads <checkpoints_dir>/<dataset>/<name>/model/"
                                f"{CHECKPOINT_NAME}; give that file")
        if not (ckpt.parents[1] / "opt.txt").is_file():
            raise Text2ImuError(f"--checkpoint {ckpt}: no opt.txt in {ckpt.parents[1]} (MoMask's model options)")

    def record(self) -> dict:
        return {**super().record(), "foot_ik": self.foot_ik, "lengths": "MoMask length estimator"}

    def _run(self, prompts: list[Prompt], repetitions: int, seed: int,
             tmp: Path) -> Iterator[tuple[int, int, Motion, int]]:
        lines = [single_line(p.text, forbidden="#") for p in prompts]
        text_file = tmp / "prompts.txt"
        text_file.write_text("".join(f"{line}#NA\n" for line in lines), encoding="utf-8")
        out = tmp / "generation"
        run_seed = self.seed_for(seed, "run")
        ckpt = self.checkpoint
        argv = ["gen_t2m.py", "--text_path", text_file, "--repeat_times", repetitions, "--seed", run_seed,
                "--ext", out, "--checkpoints_dir", ckpt.parents[3], "--dataset_name", ckpt.parents[2].name,
                "--name", ckpt.parents[1].name]
        if self.device is not None:
            gpu = "-1" if self.device == "cpu" else (self.device.split(":", 1)[1] if ":" in self.device else "0")
            argv += ["--gpu_id", gpu]
        what = f"MoMask ({len(lines)} prompts x {repetitions})"
        log.info("running %s", what)
        self.run(argv, tmp, what)
        if not (out / "joints").is_dir():
            raise ExternalRunError(f"{what}: finished but wrote no joints/ folder in {out}")
        motions = read_momask(out / "joints", foot_ik=self.foot_ik, text_path=text_file, fps=FPS)
        check_count(len(motions), len(lines) * repetitions, what, out / "joints")
        for motion in motions:
            k, rep = int(motion.metadata["sample"]), int(motion.metadata["repetition"])
            if rep >= repetitions:
                raise ExternalRunError(f"{what}: {motion.metadata['file']} is repeat {rep} of {repetitions}")
            yield k, rep, motion, run_seed
