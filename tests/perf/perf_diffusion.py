"""Speed of the diffusion model on this machine's CPU: training steps per second and sampling time per motion.

Run: ``.venv/bin/python -m pytest -s -m perf tests/perf/perf_diffusion.py`` or
``.venv/bin/python tests/perf/perf_diffusion.py`` (prints figures, asserts none).

Data: 16 kinematic-generator motions (3-10 s) turned into HumanML3D features, normalised with their own
Mean/Std; captions are the prompts (embedded once by all-MiniLM-L6-v2 before timing). Training: AdamW steps
of batch 32 (cropped to each size's ``max_frames``), with L_simple only and with L_simple + L_acc, after two
warm-up steps; figures are steps per second over the timed steps. Sampling: one 6 s motion (120 frames) with
classifier-free guidance 2.5 (two forward passes per step), over the size's full schedule (not for ``mdm``: 2,000
forward passes) and respaced to 100 steps, in batches of 1 and of 16 (seconds per motion). Torch uses its default
thread count or ``OMP_NUM_THREADS`` (printed, with the load average: on a shared machine the figures fall with it).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from text2imu.builder.diffusion.checkpoint import Checkpoint  # noqa: E402
from text2imu.builder.diffusion.data import Clip  # noqa: E402
from text2imu.builder.diffusion.model import SIZES, MotionDenoiser, count_parameters  # noqa: E402
from text2imu.builder.diffusion.sample import sample_features  # noqa: E402
from text2imu.builder.diffusion.text_encoder import default_encoder  # noqa: E402
from text2imu.builder.diffusion.train import LossWeights, TrainConfig, train_model  # noqa: E402
from text2imu.builder.generators import derive_seed, get_generator  # noqa: E402
from text2imu.builder.humanml3d import feature_mean_std, joints_to_features  # noqa: E402
from text2imu.builder.prompts import load_prompt_set  # noqa: E402

pytestmark = pytest.mark.perf

TIMED_STEPS = {"tiny": 20, "small": 6, "mdm": 2}


def make_clips(n: int = 16) -> tuple[list[Clip], np.ndarray, np.ndarray]:
    gen = get_generator("kinematic")
    prompts = load_prompt_set("v1").prompts[::5][:n]
    clips = []
    for p in prompts:
        motion = gen.generate(p, 0, derive_seed("perf", p.prompt_id))
        clips.append(Clip(p.prompt_id, 0, (p.text.lower(),), joints_to_features(motion)))
    mean, std = feature_mean_std(c.features for c in clips)
    return clips, mean, np.where(std < 1e-6, 1.0, std).astype(np.float32)


def train_rate(size: str, clips, mean, std, lambdas: LossWeights, batch_size: int = 32) -> float:
    enc = default_encoder()
    model = MotionDenoiser(SIZES[size])
    train_model(model, clips, mean, std, enc, TrainConfig(steps=2, batch_size=batch_size, lambdas=lambdas),
                progress=False)
    n = TIMED_STEPS[size]
    start = time.perf_counter()
    train_model(model, clips, mean, std, enc, TrainConfig(steps=n, batch_size=batch_size, lambdas=lambdas),
                progress=False)
    return n / (time.perf_counter() - start)


def sample_seconds(size: str, mean, std, steps: int | None, batch: int) -> float:
    torch.manual_seed(0)
    cfg = SIZES[size]
    ckpt = Checkpoint(None, cfg, MotionDenoiser(cfg).eval(), mean, std, "")
    emb = default_encoder().encode(["a person walks forward at a normal pace."] * batch)
    start = time.perf_counter()
    sample_features(ckpt, emb, [120] * batch, list(range(batch)), guidance=2.5, sample_steps=steps)
    return (time.perf_counter() - start) / batch


def report(sizes=("tiny", "small", "mdm")) -> None:
    clips, mean, std = make_clips()
    default_encoder().precompute(c for clip in clips for c in clip.captions)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\ntorch {torch.__version__}, CPU, {torch.get_num_threads()} torch threads "
          f"(set OMP_NUM_THREADS to change), {os.cpu_count()} cores, load average {load}")
    print("training: steps/s at batch 32 (L_simple | L_simple + L_acc); "
          "sampling: s per 120-frame motion with guidance 2.5 (full schedule at batch 1 | 100 steps at batch 1 | "
          "100 steps at batch 16)")
    print(f"{'size':6s} {'params':>11s} {'steps':>6s} {'train':>7s} {'+L_acc':>7s} {'full@1':>8s} {'100@1':>7s} "
          f"{'100@16':>7s}")
    for size in sizes:
        cfg = SIZES[size]
        simple = train_rate(size, clips, mean, std, LossWeights())
        acc = train_rate(size, clips, mean, std, LossWeights(acc=1.0))
        full = sample_seconds(size, mean, std, None, 1) if size != "mdm" else float("nan")  # 2000 passes: skip
        resp1 = sample_seconds(size, mean, std, min(100, cfg.diffusion_steps), 1)
        resp16 = sample_seconds(size, mean, std, min(100, cfg.diffusion_steps), 16)
        print(f"{size:6s} {count_parameters(MotionDenoiser(cfg)):>11,d} {cfg.diffusion_steps:>6d} {simple:>7.2f} "
              f"{acc:>7.2f} {full:>8.2f} {resp1:>7.2f} {resp16:>7.3f}")


def test_perf_diffusion():
    report()


if __name__ == "__main__":
    report()
