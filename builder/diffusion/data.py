"""HumanML3D clips for the diffusion model: reading a split, caption segments, crops, normalisation, batches.

A clip is a motion's 263-dim features with the captions that describe all of it. As in MDM's HumanML3D loader
(FORMATS.md 4.6), a caption with a time segment (``start#end`` not ``0.0#0.0``) describes frames
``int(start*20)`` to ``int(end*20)`` and becomes a clip of its own; clips shorter than ``min_frames`` (MDM: 40)
are skipped. Unlike MDM, which drops motions of 200 frames or more, long clips are kept and cropped to
``max_frames`` at a random start when drawn. Features are normalised with the folder's ``Mean.npy``/``Std.npy``:
``(x - Mean) / Std``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..errors import Text2ImuError
from ..humanml3d_folder import HumanML3DFolder
from .text_encoder import TextEncoder

log = logging.getLogger(__name__)

FPS = 20.0
MIN_STD = 1e-6


@dataclass(frozen=True)
class Clip:
    """One training or evaluation clip.

    Attributes:
        id: the motion's id in the folder (segments keep their motion's id).
        start_frame: first frame of the clip in the motion (0 for whole-clip captions).
        captions: the captions describing the clip (at least one).
        features: (T, 263) float32 raw (not normalised) features.
    """

    id: str
    start_frame: int
    captions: tuple[str, ...]
    features: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.features.shape[0])


def load_clips(folder: HumanML3DFolder, split: str = "train", *, min_frames: int = 40,
               limit: int | None = None, progress: bool = True) -> list[Clip]:
    """The clips of a split (module docstring); :class:`FormatError` for a missing caption or motion file.

    Args:
        folder: the HumanML3D folder.
        split: a split file name (``train``, ``val``, ``test``, ``train_val``, ``all``).
        min_frames: shortest clip kept, in frames.
        limit: read only the first ``limit`` ids of the split.
        progress: show a progress bar.
    """
    ids = folder.split(split)[:limit]
    if not ids:
        raise Text2ImuError(f"{folder.root / (split + '.txt')}: the split lists no ids")
    clips: list[Clip] = []
    short = 0
    for id_ in tqdm(ids, desc=f"reading {split}", unit="motion", disable=not progress or len(ids) < 200):
        feats = folder.features(id_)
        captions = folder.captions(id_)
        whole = tuple(c.caption for c in captions if c.whole_clip)
        if whole:
            if len(feats) >= min_frames:
                clips.append(Clip(id_, 0, whole, feats))
            else:
                short += 1
        for c in captions:
            if c.whole_clip:
                continue
            a, b = int(c.start_s * FPS), int(c.end_s * FPS)
            seg = feats[a:b]
            if len(seg) >= min_frames:
                clips.append(Clip(id_, a, (c.caption,), seg))
            else:
                short += 1
    if short:
        log.info("%s: %d clip(s) shorter than %d frames skipped", split, short, min_frames)
    if not clips:
        raise Text2ImuError(
            f"{folder.root}: split {split!r} has no clip of at least {min_frames} frames (lower --min-frames?)"
        )
    log.info("%s: %d clips from %d motions", split, len(clips), len(ids))
    return clips


def safe_std(std: np.ndarray) -> np.ndarray:
    """Std with entries below :data:`MIN_STD` replaced by 1 (a constant feature is then left unscaled)."""
    std = np.asarray(std, dtype=np.float32)
    small = std < MIN_STD
    if small.any():
        log.warning("%d Std entries are ~0; those features are not scaled", int(small.sum()))
    return np.where(small, np.float32(1.0), std)


@dataclass(frozen=True)
class Pick:
    """Which clip, which of its captions and which window of it goes into a batch row."""

    clip: int
    caption: int
    start: int
    length: int


def draw_picks(clips: list[Clip], rng: np.random.Generator, batch_size: int, max_frames: int) -> list[Pick]:
    """``batch_size`` random (clip, caption, crop) choices: clip uniform, caption uniform, crop start uniform."""
    picks = []
    for _ in range(batch_size):
        i = int(rng.integers(len(clips)))
        clip = clips[i]
        cap = int(rng.integers(len(clip.captions)))
        length = min(clip.n_frames, max_frames)
        start = int(rng.integers(clip.n_frames - length + 1))
        picks.append(Pick(i, cap, start, length))
    return picks


@dataclass(frozen=True)
class Batch:
    """A padded batch (tensors on the CPU).

    Attributes:
        x0: (B, T, 263) float32 normalised features, zeros past each length.
        mask: (B, T) bool, True on valid frames.
        text_emb: (B, 384) float32 caption embeddings.
        captions: the B captions.
    """

    x0: torch.Tensor
    mask: torch.Tensor
    text_emb: torch.Tensor
    captions: tuple[str, ...]

    def to(self, device: str | torch.device) -> Batch:
        return Batch(self.x0.to(device), self.mask.to(device), self.text_emb.to(device), self.captions)


def make_batch(clips: list[Clip], picks: list[Pick], mean: np.ndarray, std: np.ndarray,
               encoder: TextEncoder) -> Batch:
    """Normalise, crop and pad the picked clips; embed their captions."""
    n = max(p.length for p in picks)
    x0 = np.zeros((len(picks), n, clips[0].features.shape[1]), dtype=np.float32)
    mask = np.zeros((len(picks), n), dtype=bool)
    captions = []
    for row, p in enumerate(picks):
        clip = clips[p.clip]
        x0[row, : p.length] = (clip.features[p.start : p.start + p.length] - mean) / std
        mask[row, : p.length] = True
        captions.append(clip.captions[p.caption])
    emb = encoder.encode(captions)
    return Batch(torch.from_numpy(x0), torch.from_numpy(mask), torch.from_numpy(emb), tuple(captions))
