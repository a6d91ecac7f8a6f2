"""``t2m-gpt``: T2M-GPT (Zhang et al., CVPR 2023) from the user's checkout, through text2imu's sampling driver.

T2M-GPT ships no text-to-motion command (its demo is a notebook; ../shared/FORMATS.md 5.3), so this generator runs
:mod:`.t2m_gpt_driver` (a copy, placed in a temporary folder) with the checkout as working folder and on
PYTHONPATH, in the checkout's own Python::

    <python> <tmp>/driver/t2m_gpt_driver.py --jobs <tmp>/jobs.jsonl --out_dir <tmp>/out
        --resume-pth <vq checkpoint> --resume-trans <checkpoint> [--device D] [extra args]

``--checkpoint`` is the GPT (e.g. ``pretrained/VQTransformer_corruption05/net_best_fid.pth``; its sha256 is the
weights hash), ``--vq-checkpoint`` the VQ-VAE (default ``pretrained/VQVAE/net_last.pth`` in the checkout). Every
(prompt, repetition) is one job seeded with ``derive_seed(base, "t2m-gpt", prompt_id, repetition) mod 2**31``; the
model decides each length (it stops at its end token; at most 49 x 4 frames). ``--script`` replaces the driver
with another script that takes the same arguments and writes the same files.

Output: ``<out>/sample{i}_repeat{r}_pred.npy`` (1, T, 22, 3) metres at 20 fps, read with the ``t2m-gpt`` reader.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import Text2ImuError
from ..formats.mdm import read_t2m_gpt
from ..motion import Motion
from ..prompts import Prompt
from . import GeneratorSpec
from .external import ExternalGenerator, ExternalRunError, check_count, sha256_file

log = logging.getLogger(__name__)

FPS = 20.0
DRIVER = Path(__file__).with_name("t2m_gpt_driver.py")
DEFAULT_VQ = "pretrained/VQVAE/net_last.pth"
KEY = re.compile(r"^sample(\d+)_repeat(\d+)$")

T2M_GPT_SPEC = GeneratorSpec(
    name="t2m-gpt",
    version="user checkout",
    license="Apache-2.0",
    reference="https://github.com/Mael-zys/T2M-GPT (Zhang et al., T2M-GPT: Generating Human Motion from Textual "
              "Descriptions with Discrete Representations, CVPR 2023)",
    weights_sha256=None,
    fps=FPS,
    needs_gpu=True,
    description="T2M-GPT from the user's checkout, sampled by text2imu's driver (the demo's recipe)",
)


class T2mGptGenerator(ExternalGenerator):
    """``t2m-gpt`` (see the module docstring).

    Args (besides :class:`ExternalGenerator`'s, without ``motion_length_s``):
        vq_checkpoint: the VQ-VAE weights (default ``pretrained/VQVAE/net_last.pth`` in the checkout).
        script: a sampling script to use instead of text2imu's driver (same arguments and outputs).
    """

    spec = T2M_GPT_SPEC
    script = "models/t2m_trans.py"
    options = ("repo", "checkpoint", "python", "device", "timeout_s", "extra_args", "vq_checkpoint", "script")

    def __init__(self, repo=None, checkpoint=None, *, vq_checkpoint: str | Path | None = None,
                 script: str | Path | None = None, **kwargs):
        self.vq_checkpoint = Path(vq_checkpoint).expanduser() if vq_checkpoint else Path(DEFAULT_VQ)
        self.driver = Path(script).expanduser().resolve() if script else DRIVER
        super().__init__(repo, checkpoint, **kwargs)

    def check_setup(self) -> None:
        vq = self.vq_checkpoint if self.vq_checkpoint.is_absolute() else self.repo / self.vq_checkpoint
        if not vq.is_file():
            raise Text2ImuError(f"--vq-checkpoint {self.vq_checkpoint}: no such file in {self.repo}")
        self.vq_checkpoint = vq.resolve()
        if not self.driver.is_file():
            raise Text2ImuError(f"--script {self.driver}: no such file")

    def record(self) -> dict:
        return {**super().record(), "vq_checkpoint": self.vq_checkpoint.name,
                "vq_checkpoint_sha256": sha256_file(self.vq_checkpoint),
                "driver": "text2imu t2m_gpt_driver.py" if self.driver == DRIVER else self.driver.name}

    def _run(self, prompts: list[Prompt], repetitions: int, seed: int,
             tmp: Path) -> Iterator[tuple[int, int, Motion, int]]:
        jobs, seeds = [], {}
        for i, p in enumerate(prompts):
            for r in range(repetitions):
                seeds[(i, r)] = self.seed_for(seed, p.prompt_id, r)
                jobs.append({"key": f"sample{i}_repeat{r}", "text": " ".join(p.text.split()), "seed": seeds[(i, r)]})
        jobs_file = tmp / "jobs.jsonl"
        jobs_file.write_text("".join(json.dumps(j, sort_keys=True) + "\n" for j in jobs), encoding="utf-8")
        (tmp / "driver").mkdir()
        driver = tmp / "driver" / self.driver.name
        shutil.copyfile(self.driver, driver)
        out = tmp / "out"
        argv = [driver, "--jobs", jobs_file, "--out_dir", out, "--resume-pth", self.vq_checkpoint,
                "--resume-trans", self.checkpoint]
        if self.device is not None:
            argv += ["--device", self.device]
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(self.repo), os.environ.get("PYTHONPATH")]))}
        what = f"T2M-GPT ({len(prompts)} prompts x {repetitions})"
        log.info("running %s", what)
        self.run(argv, tmp, what, env=env)
        if not out.is_dir():
            raise ExternalRunError(f"{what}: finished but wrote no output folder {out}")
        motions = read_t2m_gpt(out, which="pred", fps=FPS)
        check_count(len(motions), len(jobs), what, out)
        for motion in motions:
            m = KEY.match(str(motion.metadata["id"]))
            key = (int(m.group(1)), int(m.group(2))) if m else None
            if key not in seeds:
                raise ExternalRunError(f"{what}: unexpected output {motion.metadata['file']} in {out}")
            yield key[0], key[1], motion, seeds[key]
