"""Training and fine-tuning of the diffusion model (MDM's recipe, every loss weight a parameter).

One step: draw a batch of clips (uniform clip, uniform caption, random crop to ``max_frames``), a step
``t ~ U{0..K-1}`` and Gaussian noise per sample, noise the normalised features (``x_t``), drop the caption of a
fraction ``cond_mask_prob`` of the samples, predict x0 and minimise

    L = lambda_simple L_simple + lambda_pos L_pos + lambda_vel L_vel + lambda_foot L_foot + lambda_acc L_acc

averaged over the batch (:mod:`.losses`; joint-space terms on the joints recovered from the de-normalised
features). AdamW, constant learning rate (MDM: 1e-4, no weight decay), optional gradient-norm clipping.
Fine-tuning starts from a checkpoint's weights and normalisation with a fresh optimiser. Every random draw comes
from ``seed`` (data order: ``numpy.random.default_rng(seed)``; t, noise, caption drop: a ``torch.Generator``;
initial weights and dropout: ``torch.manual_seed(seed)``), so a run on one machine is repeatable (bit for bit
with the same torch version and thread count).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import Text2ImuError
from ..humanml3d_folder import HumanML3DFolder
from .checkpoint import Checkpoint, save_checkpoint
from .data import Batch, Clip, draw_picks, load_clips, make_batch, safe_std
from .losses import LOSS_NAMES, REDUCTIONS, l_acc, l_foot, l_pos, l_simple, l_vel
from .model import DiffusionConfig, MotionDenoiser
from .recover import features_to_joints_torch
from .schedule import Schedule
from .text_encoder import TextEncoder, default_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossWeights:
    """The lambdas of the total loss (MDM's defaults for HumanML3D: L_simple only)."""

    simple: float = 1.0
    pos: float = 0.0
    vel: float = 0.0
    foot: float = 0.0
    acc: float = 0.0

    def __post_init__(self):
        for name in LOSS_NAMES:
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise Text2ImuError(f"--lambda-{name} must be a finite number >= 0, got {value}")
        if not any(getattr(self, n) > 0 for n in LOSS_NAMES):
            raise Text2ImuError("every loss weight is 0: nothing to train")

    @property
    def needs_joints(self) -> bool:
        return any(getattr(self, n) > 0 for n in ("pos", "vel", "foot", "acc"))


@dataclass(frozen=True)
class TrainConfig:
    """One training or fine-tuning run.

    Attributes:
        steps: optimiser steps.
        batch_size: clips per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: clip the gradient norm to this, or None.
        lambdas: loss weights.
        seed: seed of every random draw.
        log_every: steps per entry of the loss log.
        device: torch device.
    """

    steps: int
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float | None = None
    lambdas: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    log_every: int = 50
    device: str = "cpu"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1:
            raise Text2ImuError("steps, batch size and log interval must be >= 1")
        if not self.lr > 0:
            raise Text2ImuError(f"the learning rate must be > 0, got {self.lr}")


def loss_terms(model: MotionDenoiser, schedule: Schedule, batch: Batch, t: torch.Tensor, noise: torch.Tensor,
               drop_text: torch.Tensor | None, lambdas: LossWeights, mean: torch.Tensor,
               std: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample loss terms (B,) for one batch, and ``total`` (weighted sum); terms with weight 0 are skipped.

    ``mean``/``std`` (263,) de-normalise the features before joints are recovered.
    """
    x_t = schedule.q_sample(batch.x0, t, noise)
    x0_pred = model(x_t, torch.as_tensor(schedule.timestep_map, device=t.device)[t], batch.text_emb, batch.mask,
                    drop_text)
    terms = {"simple": l_simple(x0_pred, batch.x0, batch.mask)}
    if lambdas.needs_joints:
        joints_pred = features_to_joints_torch(x0_pred * std + mean)
        joints_true = features_to_joints_torch(batch.x0 * std + mean)
        for name, fn in (("pos", l_pos), ("vel", l_vel), ("foot", l_foot), ("acc", l_acc)):
            if getattr(lambdas, name) > 0:
                terms[name] = fn(joints_pred, joints_true, batch.mask)
    terms["total"] = sum(getattr(lambdas, n) * v for n, v in terms.items())
    return terms


def train_model(model: MotionDenoiser, clips: list[Clip], mean: np.ndarray, std: np.ndarray,
                encoder: TextEncoder, cfg: TrainConfig, *, progress: bool = True) -> list[dict]:
    """Train ``model`` in place for ``cfg.steps`` steps; returns the loss log (one dict per ``log_every``)."""
    device = torch.device(cfg.device)
    encoder.precompute(c for clip in clips for c in clip.captions)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    schedule = Schedule.cosine(model.config.diffusion_steps)
    mean_t = torch.as_tensor(mean, device=device)
    std_t = torch.as_tensor(std, device=device)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    log_rows: list[dict] = []
    sums: dict[str, float] = {}
    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="training", unit="step", disable=not progress)
    for step in bar:
        picks = draw_picks(clips, rng, cfg.batch_size, model.config.max_frames)
        batch = make_batch(clips, picks, mean, std, encoder)
        b = batch.x0.shape[0]
        t = torch.randint(0, schedule.n_steps, (b,), generator=gen)
        noise = torch.randn(batch.x0.shape, generator=gen)
        drop = torch.rand(b, generator=gen) < model.config.cond_mask_prob
        batch = batch.to(device)
        terms = loss_terms(model, schedule, batch, t.to(device), noise.to(device), drop.to(device), cfg.lambdas,
                           mean_t, std_t)
        total = terms["total"].mean()
        if not torch.isfinite(total):
            raise Text2ImuError(f"the loss became {total.item()} at step {step + 1}; lower --lr or the lambdas")
        opt.zero_grad(set_to_none=True)
        total.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach().mean())
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            n = (step % cfg.log_every) + 1
            row = {"step": step + 1, **{k: v / n for k, v in sums.items()}}
            log_rows.append(row)
            bar.set_postfix(loss=f"{row['total']:.4f}")
            log.debug("step %d: %s", step + 1, row)
            sums = {}
    elapsed = time.perf_counter() - start
    log.info("%d steps in %.1f s (%.2f steps/s)", cfg.steps, elapsed, cfg.steps / max(elapsed, 1e-9))
    model.eval()
    return log_rows


def run_training(data_dir: str | Path, out_dir: str | Path, cfg: TrainConfig, *,
                 model_config: DiffusionConfig | None = None, init: Checkpoint | None = None,
                 split: str = "train", min_frames: int = 40, license: str | None = None,
                 encoder: TextEncoder | None = None, progress: bool = True) -> Path:
    """Train a new model (``model_config``) or fine-tune ``init`` on a HumanML3D folder; save a checkpoint.

    A new model normalises with the folder's Mean/Std; a fine-tuned one keeps its checkpoint's (a warning says
    when the folder's differ). Returns the checkpoint folder ``out_dir``.
    """
    if (model_config is None) == (init is None):
        raise Text2ImuError("give exactly one of a model config (train) and a checkpoint (finetune)")
    folder = HumanML3DFolder(data_dir)
    clips = load_clips(folder, split, min_frames=min_frames, progress=progress)
    if init is not None:
        model, mean, std = init.model, init.mean, init.std
        if not (np.allclose(folder.mean(), mean, atol=1e-5) and np.allclose(safe_std(folder.std()), std, atol=1e-5)):
            log.warning("%s: Mean/Std differ from the checkpoint's; fine-tuning keeps the checkpoint's", folder.root)
        history = list(init.meta.get("history", []))
        license = license or init.license
    else:
        torch.manual_seed(cfg.seed)  # the initial weights come from the seed too
        model, mean, std = MotionDenoiser(model_config), folder.mean(), safe_std(folder.std())
        history = []
        license = license or "other"
    start = time.perf_counter()
    log_rows = train_model(model, clips, mean, std, encoder or default_encoder(cfg.device), cfg,
                           progress=progress)
    tail = log_rows[-1]
    history.append({
        "stage": "finetune" if init is not None else "train",
        "from_sha256": init.sha256 if init is not None else None,
        "data": str(Path(data_dir).resolve()),
        "split": split,
        "n_clips": len(clips),
        "min_frames": min_frames,
        **{k: v for k, v in asdict(cfg).items() if k not in ("lambdas", "device")},
        "lambdas": asdict(cfg.lambdas),
        "seconds": round(time.perf_counter() - start, 3),
        "final_losses": {k: v for k, v in tail.items() if k != "step"},
        "loss_log": log_rows,
    })
    from ... import __version__

    meta = {"license": license, "text_encoder": model.config.text_model, "history": history,
            "loss_reductions": REDUCTIONS, "package_version": __version__}
    return save_checkpoint(out_dir, model, mean, std, meta)
