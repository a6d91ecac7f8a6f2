"""The cosine noise schedule (Nichol & Dhariwal 2021, as MDM uses it), forward noising and the posterior.

``alpha_bar(t) = f(t) / f(0)`` with ``f(t) = cos^2(((t/T) + s) / (1 + s) * pi/2)``, ``s = 0.008``;
``beta_t = min(1 - alpha_bar(t+1)/alpha_bar(t), 0.999)`` for t = 0..T-1. The model predicts x0; a reverse step
samples from ``q(x_{t-1} | x_t, x0_hat)`` with the posterior variance (MDM's ``fixed_small``, its log clipped at
t = 0). :meth:`Schedule.respaced` keeps a subset of the steps (improved-diffusion's respacing), so sampling can
use fewer steps than training; the model is then called with the original step indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import Text2ImuError

COSINE_S = 0.008
MAX_BETA = 0.999


def cosine_betas(n_steps: int, s: float = COSINE_S) -> np.ndarray:
    """(n_steps,) float64 betas of the cosine schedule."""
    if n_steps < 1:
        raise Text2ImuError(f"the number of diffusion steps must be >= 1, got {n_steps}")

    def f(t):
        return math.cos((t / n_steps + s) / (1 + s) * math.pi / 2) ** 2

    return np.array([min(1 - f(i + 1) / f(i), MAX_BETA) for i in range(n_steps)], dtype=np.float64)


@dataclass(frozen=True)
class Schedule:
    """A discrete diffusion schedule (float64 arrays; tensors are made on use).

    Attributes:
        betas: (K,) noise variances of the kept steps.
        timestep_map: (K,) the original step index of each kept step (what the model is told).
    """

    betas: np.ndarray
    timestep_map: np.ndarray

    @classmethod
    def cosine(cls, n_steps: int) -> Schedule:
        return cls(cosine_betas(n_steps), np.arange(n_steps))

    @property
    def n_steps(self) -> int:
        return len(self.betas)

    @property
    def alphas_cumprod(self) -> np.ndarray:
        return np.cumprod(1.0 - self.betas)

    def respaced(self, n_keep: int) -> Schedule:
        """A schedule of ``n_keep`` evenly spaced steps of this one with the same ``alpha_bar`` at each kept step."""
        if not 1 <= n_keep <= self.n_steps:
            raise Text2ImuError(f"sampling steps must be between 1 and {self.n_steps}, got {n_keep}")
        if n_keep == self.n_steps:
            return self
        keep = np.unique(np.round(np.linspace(0, self.n_steps - 1, n_keep)).astype(int))
        ab = self.alphas_cumprod[keep]
        prev = np.concatenate([[1.0], ab[:-1]])
        return Schedule(1.0 - ab / prev, self.timestep_map[keep])

    def _at(self, values: np.ndarray, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(values, dtype=like.dtype, device=like.device)[t.to(like.device)]
        return out.reshape(out.shape + (1,) * (like.dim() - 1))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; x0, noise (B, ...), t (B,) step indices."""
        ab = self.alphas_cumprod
        return self._at(np.sqrt(ab), t, x0) * x0 + self._at(np.sqrt(1.0 - ab), t, x0) * noise

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log variance of q(x_{t-1} | x_t, x0) for step indices t (B,) of this schedule."""
        ab = self.alphas_cumprod
        ab_prev = np.concatenate([[1.0], ab[:-1]])
        var = self.betas * (1.0 - ab_prev) / (1.0 - ab)
        log_var = np.log(np.concatenate([[var[1] if len(var) > 1 else self.betas[0]], var[1:]]))
        c0 = self.betas * np.sqrt(ab_prev) / (1.0 - ab)
        ct = (1.0 - ab_prev) * np.sqrt(1.0 - self.betas) / (1.0 - ab)
        mean = self._at(c0, t, x_t) * x0 + self._at(ct, t, x_t) * x_t
        return mean, self._at(log_var, t, x_t)
