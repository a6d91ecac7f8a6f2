"""IMUGPT's classifier: a random forest on ECDF features (Hammerla et al., ISWC 2013).

Hammerla, Kirkham, Andras and Plötz, "On preserving statistical characteristics of accelerometry data using
their empirical cumulative distribution" (ISWC 2013): a window is represented, per channel, by its inverse
empirical CDF read at ``n_quantiles`` evenly spaced probabilities, followed by the channel means.

Features of one (T, C) window, in this order (C (n_quantiles + 1) values, float32):

- for channel c = 0..C-1: the order statistics ``sorted(x[:, c])[round(p_i (T - 1))]`` at
  ``p_i = i / (n_quantiles - 1)``, i = 0..n_quantiles-1 (the inverse ECDF at those probabilities, read off the
  sorted samples without interpolation, so p = 0 is the minimum and p = 1 the maximum);
- then the C channel means.

Protocol v1 windows (2 s at 20 Hz, 50 % overlap) are the windows IMUGPT uses: 40 samples with a hop of 20
samples = 1 s. Units are those of the channels (m/s^2 for acc, rad/s for gyro); no standardisation is needed
(trees are invariant to monotone per-feature scaling).

The forest is scikit-learn's ``RandomForestClassifier`` with balanced class weights (weight_k = N / (K n_k)), seeded
with the run's seed; it does not stop early, so it is fitted on every training window (validation split included).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from text2imu.builder.errors import Text2ImuError


@dataclass(frozen=True)
class RfEcdfConfig:
    """Settings of the ECDF random forest.

    Attributes:
        n_quantiles: probabilities of the ECDF representation per channel (15, as in Hammerla et al. 2013).
        n_estimators: trees (100).
        max_features: features tried per split ("sqrt", scikit-learn's default for classification).
        min_samples_leaf: smallest leaf (1: grown fully).
        class_weight: "balanced" (inverse class frequency) or None.
        threads: ``n_jobs`` of the forest (fit and predict).
    """

    n_quantiles: int = 15
    n_estimators: int = 100
    max_features: str = "sqrt"
    min_samples_leaf: int = 1
    class_weight: str | None = "balanced"
    threads: int = 2

    def __post_init__(self) -> None:
        if self.n_quantiles < 2 or self.n_estimators < 1 or self.min_samples_leaf < 1 or self.threads < 1:
            raise Text2ImuError(f"invalid rf-ecdf settings: {self}")

    def to_dict(self) -> dict:
        return {
            "model": "random forest on ECDF features (Hammerla et al. 2013; as IMUGPT): per channel the inverse "
            "ECDF at n_quantiles evenly spaced probabilities (order statistics) plus the channel mean",
            **asdict(self),
        }


def ecdf_positions(n_samples: int, n_quantiles: int) -> np.ndarray:
    """Indices (n_quantiles,) int64 into the sorted samples: round(p_i (T - 1)), p_i evenly spaced in [0, 1]."""
    if n_samples < 1 or n_quantiles < 2:
        raise Text2ImuError(f"ECDF features need T >= 1 samples and n_quantiles >= 2, got {n_samples}, {n_quantiles}")
    return np.rint(np.linspace(0.0, n_samples - 1, n_quantiles)).astype(np.int64)


def ecdf_features(x: np.ndarray, n_quantiles: int = 15) -> np.ndarray:
    """(N, T, C) windows -> (N, C * n_quantiles + C) float32 ECDF features (layout: module docstring)."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 3:
        raise Text2ImuError(f"ECDF features need (N, T, C) windows, got shape {arr.shape}")
    n, t, c = arr.shape
    if n == 0:
        return np.empty((0, c * (n_quantiles + 1)), np.float32)
    quantiles = np.sort(arr, axis=1)[:, ecdf_positions(t, n_quantiles), :]  # (N, Q, C)
    means = arr.mean(axis=1, dtype=np.float64).astype(np.float32)  # (N, C)
    return np.concatenate([quantiles.transpose(0, 2, 1).reshape(n, c * n_quantiles), means], axis=1)


def train_rf_ecdf(x: np.ndarray, y: np.ndarray, seed: int, config: RfEcdfConfig = RfEcdfConfig()):
    """Fit the forest on (N, T, C) windows with labels (N,) int; returns the fitted classifier."""
    from sklearn.ensemble import RandomForestClassifier

    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0 or len(y) != len(x):
        raise Text2ImuError(f"rf-ecdf needs training windows with one label each, got {len(x)} windows, {len(y)} labels")
    forest = RandomForestClassifier(
        n_estimators=config.n_estimators,
        max_features=config.max_features,
        min_samples_leaf=config.min_samples_leaf,
        class_weight=config.class_weight,
        n_jobs=config.threads,
        random_state=int(seed),
    )
    forest.fit(ecdf_features(x, config.n_quantiles), y)
    return forest


def predict_rf_ecdf(forest, x: np.ndarray, n_quantiles: int) -> np.ndarray:
    """Predicted labels (N,) int64 of (N, T, C) windows."""
    if len(x) == 0:
        return np.empty(0, np.int64)
    return np.asarray(forest.predict(ecdf_features(x, n_quantiles)), dtype=np.int64)


def fit_and_predict_rf_ecdf(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int, config: RfEcdfConfig = RfEcdfConfig()
) -> tuple[np.ndarray, dict]:
    """Train on every training window, predict the test windows; returns (pred (M,) int64, info dict)."""
    start = time.perf_counter()
    forest = train_rf_ecdf(x_train, y_train, seed, config)
    t_eval = time.perf_counter()
    pred = predict_rf_ecdf(forest, x_test, config.n_quantiles)
    done = time.perf_counter()
    info = {
        "n_train_windows": int(len(y_train)),
        "n_val_windows": 0,
        "n_features": int(forest.n_features_in_),
        "train_s": t_eval - start,
        "eval_s": done - t_eval,
        "train_windows_per_s": len(y_train) / (t_eval - start) if t_eval > start else None,
    }
    return pred, info
