"""Sampling motions from a checkpoint: ancestral sampling with classifier-free guidance (MDM's sampler).

From pure noise ``x_K`` the sampler steps down the (optionally respaced) cosine schedule; at each step the model
predicts x0 twice, with and without the caption, and guidance mixes them as MDM's ``ClassifierFreeSampleModel``:
``x0 = x0_uncond + g (x0_cond - x0_uncond)`` (g = 2.5 by default; g = 1 is the plain conditional model), then
``x_{k-1} ~ q(x_{k-1} | x_k, x0)``. The result is de-normalised with the checkpoint's Mean/Std and turned into
joint positions with HumanML3D's ``recover_from_ric`` (metres, y-up, 20 fps, starting at the origin facing +z).

Every sample draws its noise from its own ``torch.Generator`` seeded with its seed, shaped by its own length, so a
sample does not depend on which other samples share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..errors import Text2ImuError
from ..humanml3d import features_to_joints
from .checkpoint import Checkpoint
from .schedule import Schedule
from .text_encoder import TextEncoder, default_encoder

DEFAULT_GUIDANCE = 2.5


def _noise(gens: list[torch.Generator], lengths: Sequence[int], n: int, dim: int) -> torch.Tensor:
    out = torch.zeros(len(gens), n, dim)
    for row, (g, length) in enumerate(zip(gens, lengths, strict=True)):
        out[row, :length] = torch.randn(length, dim, generator=g)
    return out


@torch.no_grad()
def sample_features(ckpt: Checkpoint, text_emb: np.ndarray, lengths: Sequence[int], seeds: Sequence[int], *,
                    guidance: float = DEFAULT_GUIDANCE, sample_steps: int | None = None,
                    device: str = "cpu", progress: bool = False) -> list[np.ndarray]:
    """Sample one batch; returns the de-normalised (length_b, 263) float32 features of each sample.

    Args:
        ckpt: the loaded checkpoint.
        text_emb: (B, 384) caption embeddings.
        lengths: (B,) frames per sample, 1..max_frames.
        seeds: (B,) non-negative integer seeds.
        guidance: classifier-free guidance scale g.
        sample_steps: respace the schedule to this many steps (default: all of them).
        device: torch device.
        progress: show a progress bar over the steps.
    """
    cfg = ckpt.config
    lengths = [int(n) for n in lengths]
    if not (len(lengths) == len(seeds) == len(text_emb)) or not lengths:
        raise Text2ImuError("text embeddings, lengths and seeds must be non-empty and of one length")
    if min(lengths) < 1 or max(lengths) > cfg.max_frames:
        raise Text2ImuError(f"motion lengths must be 1..{cfg.max_frames} frames, got {min(lengths)}..{max(lengths)}")
    if not np.isfinite(guidance):
        raise Text2ImuError(f"guidance must be a finite number, got {guidance}")
    schedule = Schedule.cosine(cfg.diffusion_steps)
    if sample_steps is not None:
        schedule = schedule.respaced(sample_steps)
    model = ckpt.model.to(device).eval()
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    b, n = len(lengths), max(lengths)
    mask = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    emb = torch.as_tensor(np.asarray(text_emb, dtype=np.float32))
    x = _noise(gens, lengths, n, cfg.n_features)
    guided = guidance != 1.0
    if guided:
        emb2, mask2 = torch.cat([emb, emb]), torch.cat([mask, mask])
        drop = torch.cat([torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool)])
    emb, mask, x = emb.to(device), mask.to(device), x.to(device)
    for i in tqdm(range(schedule.n_steps - 1, -1, -1), desc="sampling", unit="step", disable=not progress):
        step = torch.full((b,), i, dtype=torch.long)
        t_model = torch.full((b,), int(schedule.timestep_map[i]), dtype=torch.long, device=device)
        if guided:
            out = model(torch.cat([x, x]), torch.cat([t_model, t_model]), emb2.to(device), mask2.to(device),
                        drop.to(device))
            x0 = out[b:] + guidance * (out[:b] - out[b:])
        else:
            x0 = model(x, t_model, emb, mask)
        mean, log_var = schedule.posterior(x0, x, step.to(device))
        if i > 0:
            x = mean + torch.exp(0.5 * log_var) * _noise(gens, lengths, n, cfg.n_features).to(device)
        else:
            x = mean
    feats = x.cpu().numpy() * ckpt.std + ckpt.mean
    return [feats[row, :length].astype(np.float32) for row, length in enumerate(lengths)]


def sample_motions(ckpt: Checkpoint, texts: Sequence[str], lengths: Sequence[int], seeds: Sequence[int], *,
                   guidance: float = DEFAULT_GUIDANCE, sample_steps: int | None = None, batch_size: int = 32,
                   device: str = "cpu", encoder: TextEncoder | None = None,
                   progress: bool = True) -> list[np.ndarray]:
    """Sample one motion per text; returns (length_i, 22, 3) float32 joint positions in metres at 20 fps."""
    if not len(texts) == len(lengths) == len(seeds):
        raise Text2ImuError("texts, lengths and seeds must have one length")
    enc = encoder or default_encoder(device)
    out: list[np.ndarray] = []
    starts = range(0, len(texts), batch_size)
    for a in tqdm(starts, desc="sampling", unit="batch", disable=not progress or len(starts) < 2):
        sl = slice(a, a + batch_size)
        feats = sample_features(ckpt, enc.encode(list(texts[sl])), lengths[sl], seeds[sl], guidance=guidance,
                                sample_steps=sample_steps, device=device, progress=progress and len(starts) == 1)
        out.extend(features_to_joints(f) for f in feats)
    return out
