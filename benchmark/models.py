"""The benchmark's classifiers, declared by metadata objects in a registry (unknown names get "did you mean").

Every model is one function ``fit_predict(train, y_train, val_mask, test_x, n_classes, seed, protocol, options)``:

- ``train``: a :class:`~text2imu.benchmark.windows.WindowSet` of (N, T, C) training windows (synthetic and/or
  real, in m/s^2 and rad/s), ``y_train`` (N,) labels 0..K-1, ``val_mask`` (N,) bool: windows held out for early
  stopping (whole prompts or subjects, never test data);
- ``test_x``: (M, T, C) windows to predict; returns (predicted labels (M,) int64, info dict with at least
  ``n_train_windows``, ``n_val_windows``, ``train_s``, ``eval_s``).

``deepconvlstm`` is protocol v1's path unchanged (standardised with the fitting windows, early stopping on the
held-out windows). ``rf-ecdf`` (IMUGPT's classifier, :mod:`text2imu.benchmark.rf_ecdf`) does not stop early, so it
fits every training window (the validation mask is ignored) and needs no standardisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from text2imu.builder.registry import Registry

from .protocol import Protocol, _fit_and_score
from .rf_ecdf import RfEcdfConfig, fit_and_predict_rf_ecdf
from .windows import WindowSet


@dataclass(frozen=True)
class ModelSpec:
    """A classifier of the benchmark.

    Attributes:
        name: registry name (``--model``).
        description: one line for help texts and results.
        needs_validation: whether it stops early on held-out groups (then the modes hold some out).
        fit_predict: the function described in the module docstring.
        protocol_dict: (protocol, options) -> the results file's ``protocol`` object.
        default_folds: subject folds of the real/mixed modes when ``--folds`` is not given.
    """

    name: str
    description: str
    needs_validation: bool
    fit_predict: Callable[..., tuple[np.ndarray, dict]]
    protocol_dict: Callable[[Protocol, object], dict]
    default_folds: str


MODELS: Registry[ModelSpec] = Registry("model")
DEFAULT_MODEL = "deepconvlstm"


def _deepconvlstm_fit_predict(
    train: WindowSet, y_train, val_mask, test_x, n_classes: int, seed: int, protocol: Protocol, options=None
) -> tuple[np.ndarray, dict]:
    return _fit_and_score(train, y_train, np.asarray(val_mask, bool), test_x, n_classes, seed, protocol)


def rf_config(protocol: Protocol, options: RfEcdfConfig | None) -> RfEcdfConfig:
    """The forest settings: ``options`` (default :class:`RfEcdfConfig`) with the protocol's thread count."""
    return replace(options or RfEcdfConfig(), threads=protocol.train.threads)


def _rf_fit_predict(
    train: WindowSet, y_train, val_mask, test_x, n_classes: int, seed: int, protocol: Protocol, options=None
) -> tuple[np.ndarray, dict]:
    return fit_and_predict_rf_ecdf(train.x, y_train, test_x, seed, rf_config(protocol, options))


_DCL_KEYS = ("standardisation", "loss", "optimizer", "early_stopping", "val_fraction", "epochs", "patience",
             "batch_size", "lr", "dropout")


def _rf_protocol(protocol: Protocol, options) -> dict:
    base = {k: v for k, v in protocol.to_dict().items() if k not in _DCL_KEYS}
    cfg = rf_config(protocol, options)
    return {
        **base,
        "model_name": "rf-ecdf",
        "standardisation": "none (trees are invariant to per-feature scaling)",
        "early_stopping": "none: fitted on every training window (no validation split)",
        **cfg.to_dict(),
    }


MODELS.register(
    "deepconvlstm",
    ModelSpec(
        "deepconvlstm",
        "DeepConvLSTM (Ordonez & Roggen 2016), protocol v1 training with early stopping on held-out groups",
        True,
        _deepconvlstm_fit_predict,
        lambda protocol, options: protocol.to_dict(),
        "5",
    ),
)
MODELS.register(
    "rf-ecdf",
    ModelSpec(
        "rf-ecdf",
        "random forest on ECDF features (15 quantiles + mean per channel), as IMUGPT; no early stopping",
        False,
        _rf_fit_predict,
        _rf_protocol,
        "loso",
    ),
)
