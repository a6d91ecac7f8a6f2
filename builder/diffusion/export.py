"""A HumanML3D-layout training set from a registered generator and a prompt set.

For every prompt of the set and every repetition r < ``repetitions``, the generator's motion
(``generate(prompt, r, derive_seed(seed_tag, generator, prompt_id, r))``) is written with
:func:`~text2imu.builder.humanml3d_folder.write_humanml3d_folder` (HumanML3D's features and ``new_joints``, its
Mean/Std, split files), captioned with the prompt text in lower case (one whole-clip caption, no POS tokens).
Splits are by repetition: the last ``test_repetitions`` repetitions of every prompt go to ``test``, the
``val_repetitions`` before them to ``val``, the rest to ``train``; so every split holds every prompt (the held-out
motions are new draws of the same prompts). Ids are ``000000``, ``000001``, ... in (prompt_id, repetition) order.
``export.json`` beside the layout records the generator spec, the prompt set and its hash, the seeds and the
id -> (prompt_id, activity, repetition) table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..errors import Text2ImuError
from ..generators import derive_seed, get_generator
from ..humanml3d_folder import Caption, HumanML3DItem, write_humanml3d_folder
from ..output import atomic_path
from ..prompts import load_prompt_set

log = logging.getLogger(__name__)

DEFAULT_SEED_TAG = "text2imu-humanml3d-export-v1"


def split_of(repetition: int, repetitions: int, val_repetitions: int, test_repetitions: int) -> str:
    """``train``, ``val`` or ``test`` for a repetition index (module docstring)."""
    if repetition >= repetitions - test_repetitions:
        return "test"
    if repetition >= repetitions - test_repetitions - val_repetitions:
        return "val"
    return "train"


def export_generator_folder(out_dir: str | Path, *, generator: str = "kinematic", prompt_set: str = "v1",
                            repetitions: int = 10, val_repetitions: int = 1, test_repetitions: int = 1,
                            seed_tag: str = DEFAULT_SEED_TAG, progress: bool = True) -> Path:
    """Write the folder (module docstring) and return it."""
    if min(val_repetitions, test_repetitions) < 0 or repetitions - val_repetitions - test_repetitions < 1:
        raise Text2ImuError(
            f"{repetitions} repetitions leave no training repetition after {val_repetitions} val and "
            f"{test_repetitions} test repetitions"
        )
    gen = get_generator(generator)
    prompts = load_prompt_set(prompt_set)
    table = []
    items = []
    jobs = [(p, r) for p in prompts.prompts for r in range(repetitions)]
    for index, (prompt, rep) in enumerate(tqdm(jobs, desc="generating", unit="motion", disable=not progress)):
        seed = derive_seed(seed_tag, gen.spec.name, prompt.prompt_id, rep)
        motion = gen.generate(prompt, rep, seed)
        id_ = f"{index:06d}"
        split = split_of(rep, repetitions, val_repetitions, test_repetitions)
        caption = " ".join(prompt.text.lower().split())
        items.append(HumanML3DItem(id_, (Caption(caption),), joints_m=motion, split=split))
        table.append({"id": id_, "prompt_id": prompt.prompt_id, "activity": prompt.activity, "repetition": rep,
                      "seed": seed, "split": split})
    out = write_humanml3d_folder(out_dir, items)
    manifest = {
        "generator": asdict(gen.spec),
        "prompt_set": prompts.version,
        "prompt_set_sha256": prompts.sha256,
        "repetitions": repetitions,
        "val_repetitions": val_repetitions,
        "test_repetitions": test_repetitions,
        "seed_tag": seed_tag,
        "items": table,
    }
    with atomic_path(out / "export.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    log.info("exported %d motions of %s (%s) to %s", len(items), generator, prompt_set, out)
    return out
