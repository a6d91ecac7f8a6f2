"""The denoiser: an MDM-style transformer encoder that predicts x0 from (x_t, t, caption).

Architecture (Tevet et al., "Human Motion Diffusion Model", ICLR 2023, ``trans_enc``):

- each frame's normalised 263-dim feature vector -> linear -> ``latent_dim``;
- one condition token = MLP(sinusoidal embedding of the step t) + linear(all-MiniLM-L6-v2 caption embedding,
  384-dim); during training the caption embedding is zeroed for a fraction ``cond_mask_prob`` of the samples, so
  the same network is also the unconditional model that classifier-free guidance needs;
- [condition token, frames] + sinusoidal positions, dropout -> ``n_layers`` transformer encoder layers (GELU,
  ``n_heads`` heads, ``ff_dim`` wide, padded frames masked out of attention) -> linear -> 263 per frame.

Sizes (:data:`SIZES`): ``tiny`` for tests, ``small`` for CPU runs, ``mdm`` = MDM's (8 layers, 512 wide, 4 heads,
feed-forward 1024, 1000 cosine steps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from ..errors import Text2ImuError, UnknownNameError

TEXT_DIM = 384
"""Width of the all-MiniLM-L6-v2 sentence embedding."""


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything that fixes the shapes and the meaning of a model's weights (stored in ``config.json``).

    Attributes:
        n_features: per-frame feature size (263 for HumanML3D).
        latent_dim: transformer width.
        n_layers: transformer encoder layers.
        n_heads: attention heads.
        ff_dim: feed-forward width.
        dropout: dropout probability (training only).
        text_dim: width of the caption embedding (384, all-MiniLM-L6-v2).
        cond_mask_prob: fraction of training samples whose caption is dropped (classifier-free guidance).
        diffusion_steps: steps of the cosine schedule.
        max_frames: longest clip the model takes (frames at 20 fps; MDM's 196).
        text_model: name of the sentence encoder whose embeddings condition the model.
    """

    n_features: int = 263
    latent_dim: int = 512
    n_layers: int = 8
    n_heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.1
    text_dim: int = TEXT_DIM
    cond_mask_prob: float = 0.1
    diffusion_steps: int = 1000
    max_frames: int = 196
    text_model: str = "sentence-transformers/all-MiniLM-L6-v2"

    def __post_init__(self):
        for name in ("n_features", "latent_dim", "n_layers", "n_heads", "ff_dim", "text_dim", "diffusion_steps",
                     "max_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise Text2ImuError(f"model config: {name} must be a positive integer, got {value!r}")
        if self.latent_dim % self.n_heads:
            raise Text2ImuError(
                f"model config: latent_dim {self.latent_dim} is not divisible by n_heads {self.n_heads}"
            )
        for name in ("dropout", "cond_mask_prob"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
                raise Text2ImuError(f"model config: {name} must be in [0, 1), got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "model config") -> DiffusionConfig:
        """Build from a dict; unknown or missing keys give :class:`Text2ImuError` naming ``source``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = sorted(known - set(data))
        if unknown or missing:
            parts = ([f"unknown keys {unknown}"] if unknown else []) + ([f"missing keys {missing}"] if missing else [])
            raise Text2ImuError(f"{source}: model config has {' and '.join(parts)}")
        return cls(**data)


SIZES: dict[str, DiffusionConfig] = {
    "tiny": DiffusionConfig(latent_dim=32, n_layers=2, n_heads=4, ff_dim=64, diffusion_steps=50),
    "small": DiffusionConfig(latent_dim=128, n_layers=4, n_heads=4, ff_dim=256, diffusion_steps=1000),
    "mdm": DiffusionConfig(latent_dim=512, n_layers=8, n_heads=4, ff_dim=1024, diffusion_steps=1000),
}
"""Named sizes; ``mdm`` is MDM's HumanML3D model (its CLIP text encoder replaced by all-MiniLM-L6-v2)."""


def config_for_size(size: str, **overrides) -> DiffusionConfig:
    """The config of a named size with some fields replaced (None values are ignored)."""
    if size not in SIZES:
        raise UnknownNameError("model size", size, SIZES)
    return replace(SIZES[size], **{k: v for k, v in overrides.items() if v is not None})


def sinusoidal_table(n_positions: int, dim: int) -> torch.Tensor:
    """(n_positions, dim) sinusoidal position table (Vaswani et al.), float32."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table


class MotionDenoiser(nn.Module):
    """x0 predictor ``G(x_t, t, c)`` (module docstring). Build with a :class:`DiffusionConfig`."""

    def __init__(self, config: DiffusionConfig):
        super().__init__()
        self.config = config
        d = config.latent_dim
        self.input_proj = nn.Linear(config.n_features, d)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.text_proj = nn.Linear(config.text_dim, d)
        layer = nn.TransformerEncoderLayer(
            d_model=d, nhead=config.n_heads, dim_feedforward=config.ff_dim, dropout=config.dropout,
            activation="gelu", batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=config.n_layers, enable_nested_tensor=False)
        self.output_proj = nn.Linear(d, config.n_features)
        self.dropout = nn.Dropout(config.dropout)
        n_pos = max(config.max_frames + 1, config.diffusion_steps)
        self.register_buffer("positions", sinusoidal_table(n_pos, d), persistent=False)

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        text_emb: torch.Tensor,
        mask: torch.Tensor,
        drop_text: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict x0.

        Args:
            x_t: (B, T, n_features) noised normalised features, T <= max_frames.
            t: (B,) integer diffusion steps in [0, diffusion_steps).
            text_emb: (B, text_dim) caption embeddings.
            mask: (B, T) bool, True on valid frames.
            drop_text: (B,) bool; True replaces that sample's caption embedding by zeros (unconditional).
        Returns:
            (B, T, n_features) predicted clean normalised features (padded frames carry no meaning).
        """
        b, n, _ = x_t.shape
        if n > self.config.max_frames:
            raise Text2ImuError(f"{n} frames is more than the model's max_frames {self.config.max_frames}")
        if drop_text is not None:
            text_emb = text_emb * (~drop_text).to(text_emb.dtype)[:, None]
        cond = self.time_mlp(self.positions[t.long()]) + self.text_proj(text_emb)
        h = torch.cat([cond[:, None, :], self.input_proj(x_t)], dim=1) + self.positions[: n + 1][None]
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=mask.device), ~mask], dim=1)
        h = self.encoder(self.dropout(h), src_key_padding_mask=pad)
        return self.output_proj(h[:, 1:])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
