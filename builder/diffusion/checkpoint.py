"""Checkpoints: a folder with ``model.safetensors`` (the weights) and ``config.json`` (what they mean).

``model.safetensors`` holds the denoiser's state dict under ``model.<name>`` and the feature normalisation under
``data.mean`` and ``data.std`` ((263,) float32, the training folder's ``Mean.npy``/``Std.npy``), so a checkpoint
samples motions on its own. ``config.json``::

    {"format": "text2imu-diffusion", "format_version": 1,
     "model": {...DiffusionConfig...},
     "weights_file": "model.safetensors", "weights_sha256": "<hex of model.safetensors>",
     "license": "...", "text_encoder": "sentence-transformers/all-MiniLM-L6-v2",
     "loss_reductions": "...", "package_version": "...",
     "history": [{"stage": "train" | "finetune", "steps": ..., "lambdas": {...}, ...}, ...]}

The checkpoint's identity (the generator's weights hash) is the SHA-256 of ``model.safetensors``. Loading checks
the format, the model config, that ``weights_sha256`` is the file's, and that every tensor has the shape the
config implies; any mismatch is a :class:`FormatError` naming the file and the first differences. Both files are
written atomically (the weights first, so an interrupted save leaves a config whose hash does not match).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import FormatError, Text2ImuError
from ..output import atomic_path, sha256_file
from .model import DiffusionConfig, MotionDenoiser

log = logging.getLogger(__name__)

FORMAT = "text2imu-diffusion"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_MODEL_PREFIX = "model."


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return sha256_file(path)


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: the folder itself, or the folder of its model.safetensors/config.json."""
    p = Path(path)
    if p.is_file() and p.name in (WEIGHTS_NAME, CONFIG_NAME):
        p = p.parent
    if not p.is_dir():
        raise FormatError(f"{p}: checkpoint not found (expected a folder with {WEIGHTS_NAME} and {CONFIG_NAME})")
    for name in (WEIGHTS_NAME, CONFIG_NAME):
        if not (p / name).is_file():
            raise FormatError(f"{p / name}: missing from the checkpoint folder")
    return p


@dataclass
class Checkpoint:
    """A loaded checkpoint (the model in eval mode on ``device``).

    Attributes:
        path: the checkpoint folder.
        config: the model config.
        model: the denoiser.
        mean, std: (263,) float32 feature normalisation.
        sha256: hex SHA-256 of ``model.safetensors``.
        meta: the whole ``config.json``.
    """

    path: Path
    config: DiffusionConfig
    model: MotionDenoiser
    mean: np.ndarray
    std: np.ndarray
    sha256: str
    meta: dict = field(default_factory=dict)

    @property
    def license(self) -> str:
        return str(self.meta.get("license", "other"))


def save_checkpoint(folder: str | Path, model: MotionDenoiser, mean: np.ndarray, std: np.ndarray,
                    meta: dict) -> Path:
    """Write ``model.safetensors`` then ``config.json`` into ``folder``; returns the folder.

    ``meta`` supplies the free fields of config.json (``license``, ``history``, ...); the format, the model
    config and the weights hash are filled in here.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {_MODEL_PREFIX + k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors["data.mean"] = torch.as_tensor(np.asarray(mean, dtype=np.float32)).contiguous()
    tensors["data.std"] = torch.as_tensor(np.asarray(std, dtype=np.float32)).contiguous()
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **{k: v for k, v in meta.items() if k not in ("format", "format_version", "model", "weights_sha256")},
        "model": model.config.to_dict(),
        "weights_file": WEIGHTS_NAME,
        "weights_sha256": file_sha256(folder / WEIGHTS_NAME),
    }
    with atomic_path(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log.info("saved checkpoint %s (sha256 %s)", folder, config["weights_sha256"][:12])
    return folder


def read_config(path: str | Path) -> dict:
    """The checked ``config.json`` of a checkpoint folder (format, version and model config)."""
    cfg_path = checkpoint_dir(path) / CONFIG_NAME
    try:
        meta = json.loads(cfg_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{cfg_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FormatError(f"{cfg_path}: not a {FORMAT} checkpoint config (its 'format' is not {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise FormatError(
            f"{cfg_path}: format_version {meta.get('format_version')!r}; this package reads {FORMAT_VERSION}"
        )
    if not isinstance(meta.get("model"), dict):
        raise FormatError(f"{cfg_path}: has no 'model' object")
    try:
        DiffusionConfig.from_dict(meta["model"], str(cfg_path))
    except (Text2ImuError, TypeError) as exc:
        raise FormatError(f"{cfg_path}: {exc}") from None
    return meta


def _shape_problems(model: MotionDenoiser, tensors: dict[str, torch.Tensor]) -> list[str]:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k[len(_MODEL_PREFIX):]: tuple(v.shape) for k, v in tensors.items() if k.startswith(_MODEL_PREFIX)}
    problems = [f"'{k}' is {found[k]} but the config implies {s}" for k, s in expected.items()
                if k in found and found[k] != s]
    problems += [f"'{k}' {s} is missing" for k, s in expected.items() if k not in found]
    problems += [f"'{k}' is not part of the configured model" for k in found if k not in expected]
    return problems


def load_checkpoint(path: str | Path, device: str = "cpu") -> Checkpoint:
    """Load and check a checkpoint folder (or its ``model.safetensors``/``config.json``); model in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = checkpoint_dir(path)
    meta = read_config(folder)
    config = DiffusionConfig.from_dict(meta["model"], str(folder / CONFIG_NAME))
    weights = folder / WEIGHTS_NAME
    sha = file_sha256(weights)
    if meta.get("weights_sha256") != sha:
        raise FormatError(
            f"{folder / CONFIG_NAME}: written for a different {WEIGHTS_NAME} (its weights_sha256 "
            f"{str(meta.get('weights_sha256'))[:12]}... is not the file's {sha[:12]}...)"
        )
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise FormatError(f"{weights}: not a readable safetensors file ({exc})") from None
    model = MotionDenoiser(config)
    problems = _shape_problems(model, tensors)
    for name in ("data.mean", "data.std"):
        if name not in tensors or tuple(tensors[name].shape) != (config.n_features,):
            problems.append(f"'{name}' must be ({config.n_features},)")
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise FormatError(
            f"{weights}: does not match {CONFIG_NAME} (n_layers={config.n_layers}, latent_dim={config.latent_dim},"
            f" ff_dim={config.ff_dim}, n_features={config.n_features}): {shown}"
        )
    model.load_state_dict({k[len(_MODEL_PREFIX):]: v for k, v in tensors.items() if k.startswith(_MODEL_PREFIX)})
    model.to(device).eval()
    return Checkpoint(folder, config, model, tensors["data.mean"].numpy().astype(np.float32),
                      tensors["data.std"].numpy().astype(np.float32), sha, meta)
