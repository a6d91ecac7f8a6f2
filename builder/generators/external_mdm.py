"""``mdm``: the Motion Diffusion Model (Tevet et al., ICLR 2023) through the user's checkout's ``sample/generate.py``.

Run, in the repository (../shared/FORMATS.md 5.1)::

    <python> -m sample.generate --model_path <checkpoint> --input_text <prompts.txt> --num_repetitions R
        --output_dir <tmp>/out_<g> --seed S --motion_length L --batch_size N [--device K] [extra args]

``prompts.txt`` holds one prompt per line (``--input_text``; MDM sets ``num_samples`` to the number of lines, and
older revisions require ``num_samples <= batch_size``, hence ``--batch_size N``). MDM takes one motion length per
run, in seconds, so the prompts are grouped by the duration they ask for ("for about eight seconds"; 3-9.8 s, MDM's
HumanML3D limit is 196 frames) and each group is one run; ``--motion-length-s`` gives one length to all. The seed of
a group is ``derive_seed(base, "mdm", "len=<L>") mod 2**31``.

Output: ``results.npy`` (read with the ``mdm-results`` reader: a pickled dict, unpickled here because the user's
own script just wrote it), motions (N*R, 22, 3, T) repetition-major: sample i, repetition r is at r*N + i. Each
motion's ``text`` entry must equal its prompt line, which guards the mapping back to (prompt_id, repetition).
``checkpoint``'s folder must hold MDM's ``args.json``. ``--device cuda:K`` passes ``--device K``; MDM falls back to
the CPU by itself when CUDA is unavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import Text2ImuError
from ..formats.mdm import read_mdm_results
from ..motion import Motion
from ..prompts import Prompt
from . import GeneratorSpec
from .external import ExternalGenerator, ExternalRunError, check_count, single_line

log = logging.getLogger(__name__)

FPS = 20.0
MAX_LENGTH_S = 9.8  # 196 frames at 20 fps (HumanML3D)

MDM_SPEC = GeneratorSpec(
    name="mdm",
    version="user checkout",
    license="MIT",
    reference="https://github.com/GuyTevet/motion-diffusion-model (Tevet et al., Human Motion Diffusion Model, "
              "ICLR 2023)",
    weights_sha256=None,
    fps=FPS,
    needs_gpu=True,
    description="MDM run from the user's checkout (sample/generate.py --input_text) in a subprocess",
)


class MdmGenerator(ExternalGenerator):
    """``mdm`` (see the module docstring); options as :class:`ExternalGenerator`."""

    spec = MDM_SPEC
    script = "sample/generate.py"

    def check_setup(self) -> None:
        if not (self.checkpoint.parent / "args.json").is_file():
            raise Text2ImuError(f"--checkpoint {self.checkpoint}: MDM needs its args.json in the same folder")
        if self.motion_length_s is not None and self.motion_length_s > MAX_LENGTH_S:
            raise Text2ImuError(f"--motion-length-s {self.motion_length_s}: MDM's limit is {MAX_LENGTH_S} s")

    def groups(self, prompts: list[Prompt]) -> dict[float, list[int]]:
        """{motion length in s: indices of the prompts of that length}, lengths rounded to whole frames."""
        out: dict[float, list[int]] = {}
        for i, p in enumerate(prompts):
            length = round(min(self.duration_s(p), MAX_LENGTH_S) * FPS) / FPS
            out.setdefault(length, []).append(i)
        return dict(sorted(out.items()))

    def _run(self, prompts: list[Prompt], repetitions: int, seed: int,
             tmp: Path) -> Iterator[tuple[int, int, Motion, int]]:
        groups = self.groups(prompts)
        for g, (length, indices) in enumerate(groups.items()):
            lines = [single_line(prompts[i].text) for i in indices]
            text_file = tmp / f"prompts_{g}.txt"
            text_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            out = tmp / f"out_{g}"
            run_seed = self.seed_for(seed, f"len={length:g}")
            argv = ["-m", "sample.generate", "--model_path", self.checkpoint, "--input_text", text_file,
                    "--num_repetitions", repetitions, "--output_dir", out, "--seed", run_seed,
                    "--motion_length", f"{length:g}", "--batch_size", len(lines)]
            if self.device and self.device.startswith("cuda:"):
                argv += ["--device", self.device.split(":", 1)[1]]
            what = f"MDM (run {g + 1}/{len(groups)}: {len(lines)} prompts x {repetitions}, {length:g} s)"
            log.info("running %s", what)
            self.run(argv, tmp, what)
            results = out / "results.npy"
            if not results.is_file():
                raise ExternalRunError(f"{what}: finished but wrote no {results.name} in --output_dir")
            motions = read_mdm_results(results, fps=FPS)
            check_count(len(motions), len(lines) * repetitions, what, results)
            for motion in motions:
                sample, rep = int(motion.metadata["sample"]), int(motion.metadata["repetition"])
                if sample >= len(lines) or motion.prompt != lines[sample]:
                    raise ExternalRunError(f"{results}: motion {motion.metadata['index']} has text "
                                           f"{motion.prompt!r}, expected {lines[min(sample, len(lines) - 1)]!r}; "
                                           "cannot map the outputs back to the prompts")
                yield indices[sample], rep, motion, run_seed
