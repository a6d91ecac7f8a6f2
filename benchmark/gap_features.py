"""catch22 features of accelerometer windows, and the numbers of the domain gap built on them.

Features: per window and per acc axis (x, y, z), the 22 catch22 features (pycatch22 ``catch22_all``), 66 per
window, in the order axis-major (``acc_x:<feature>`` ... ``acc_z:<feature>``).

Constant windows (explicit rule): catch22 z-scores its input, so an axis whose standard deviation over the window
is below :data:`CONSTANT_STD_MPS2` (1e-8 m/s^2) has no defined features (catch22 returns zeros mixed with
arbitrary numbers such as 734.3 for it). Such an axis gets all 22 features set to 0.0, and the count of such
axes is reported; the window is kept (dropping it would silently remove, e.g., still synthetic postures). Any
other non-finite catch22 value is also set to 0.0 and counted.

Gap numbers:

- separability AUC: logistic regression (L2, C = 1, features standardised inside each training fold) separating
  real (0) from synthetic (1) windows, scored by ROC AUC under stratified group k-fold where the groups are
  recordings, so windows of one recording never sit on both sides of a split; mean and std (ddof 1) over folds.
  0.5: the classifier cannot tell them apart; 1.0: perfectly separable.
- Fréchet distance between Gaussian fits of the two sets after standardising every feature with the pooled set's
  mean and std: ||mu_r - mu_s||^2 + tr(S_r + S_s - 2 (S_r S_s)^(1/2)), with ``scipy.linalg.sqrtm`` (real part);
  when the product is singular or sqrtm returns non-finite values, ``eps`` (1e-6) is added to both covariance
  diagonals and the value recomputed (the result says whether it was).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from text2imu.builder.errors import Text2ImuError

log = logging.getLogger(__name__)

AXES = ("acc_x", "acc_y", "acc_z")
N_CATCH22 = 22
CONSTANT_STD_MPS2 = 1e-8
FRECHET_EPS = 1e-6


def catch22_names() -> list[str]:
    """The 22 catch22 feature names, in pycatch22's order."""
    import pycatch22

    return list(pycatch22.catch22_all([0.0, 1.0, 0.0, 2.0, 1.0, 3.0, 0.5, 2.5])["names"])


def feature_names() -> list[str]:
    """The 66 feature names ``<axis>:<catch22 name>``, axis-major."""
    names = catch22_names()
    return [f"{axis}:{name}" for axis in AXES for name in names]


def catch22_features(acc_mps2: np.ndarray, progress: bool = False) -> tuple[np.ndarray, dict]:
    """catch22 features of acc windows.

    Args:
        acc_mps2: (N, W, 3) accelerometer windows in m/s^2.
        progress: show a tqdm bar.

    Returns:
        (features (N, 66) float64, info dict(n_windows, n_constant_axes, n_windows_with_constant_axis,
        n_nonfinite_values)). Constant axes and non-finite values follow the module docstring's rule.
    """
    import pycatch22
    from tqdm.auto import tqdm

    x = np.asarray(acc_mps2, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise Text2ImuError(f"catch22_features needs (N, W, 3) acc windows, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise Text2ImuError("catch22_features: the windows hold NaN or infinite values")
    n = x.shape[0]
    out = np.zeros((n, 3 * N_CATCH22), dtype=np.float64)
    constant = x.std(axis=1) < CONSTANT_STD_MPS2  # (N, 3)
    nonfinite = 0
    for i in tqdm(range(n), desc="catch22", disable=not progress):
        for a in range(3):
            if constant[i, a]:
                continue
            values = np.asarray(pycatch22.catch22_all(x[i, :, a].tolist())["values"], dtype=np.float64)
            bad = ~np.isfinite(values)
            if bad.any():
                nonfinite += int(bad.sum())
                values[bad] = 0.0
            out[i, a * N_CATCH22 : (a + 1) * N_CATCH22] = values
    info = {
        "n_windows": n,
        "n_constant_axes": int(constant.sum()),
        "n_windows_with_constant_axis": int(constant.any(axis=1).sum()),
        "n_nonfinite_values": nonfinite,
        "constant_rule": f"an axis with std < {CONSTANT_STD_MPS2:g} m/s^2 over the window gets its 22 features "
        "set to 0.0 (window kept); other non-finite catch22 values are set to 0.0",
    }
    return out, info


def subsample_per_class(y: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``cap`` items of each label in ``y`` (N,), drawn without replacement with
    ``numpy.random.default_rng(seed)``; all items of a label with at most ``cap``."""
    if cap < 1:
        raise Text2ImuError(f"the per-class cap must be at least 1, got {cap}")
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        keep.append(idx if len(idx) <= cap else rng.choice(idx, cap, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, np.int64)


def pooled_standardise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise (n_a, D) and (n_b, D) with the mean and std of both together (a zero std counts as 1)."""
    both = np.concatenate([a, b])
    mean, std = both.mean(axis=0), both.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (a - mean) / std, (b - mean) / std


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = FRECHET_EPS) -> tuple[float, bool]:
    """Fréchet distance between Gaussian fits of (n_a, D) and (n_b, D) features (already standardised).

    Returns (distance, whether ``eps`` was added to the covariance diagonals for a stable sqrtm).
    """
    from scipy.linalg import sqrtm

    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise Text2ImuError(f"frechet_distance needs two (n >= 2, D) arrays, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))

    def trace_sqrt(ca: np.ndarray, cb: np.ndarray) -> float | None:
        with warnings.catch_warnings():  # singular products are handled below (eps on the diagonals)
            warnings.simplefilter("ignore")
            root = sqrtm(ca @ cb)
        root = root[0] if isinstance(root, tuple) else root
        if not np.isfinite(root).all():
            return None
        return float(np.trace(np.real(root)))

    used_eps = False
    tr = trace_sqrt(cov_a, cov_b)
    if tr is None or np.linalg.matrix_rank(cov_a @ cov_b) < cov_a.shape[0]:
        eye = np.eye(cov_a.shape[0]) * eps
        tr, used_eps = trace_sqrt(cov_a + eye, cov_b + eye), True
        if tr is None:
            raise Text2ImuError("frechet_distance: sqrtm failed even with eps on the diagonals")
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr)
    return max(value, 0.0), used_eps


def separability_auc(features: np.ndarray, is_synthetic: np.ndarray, groups: np.ndarray, folds: int = 5,
                     seed: int = 0) -> dict:
    """Cross-validated ROC AUC of a logistic regression telling synthetic (1) from real (0) windows.

    Args:
        features: (N, D) features; is_synthetic: (N,) bool/int; groups: (N,) recording ids (str), never split
            across folds. folds: k of the stratified group k-fold (lowered to the number of recordings of the
            smaller side when that is fewer, at least 2). seed: the fold shuffle.

    Returns:
        dict(mean, std, per_fold, n_folds, classifier, cv).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(is_synthetic).astype(int)
    groups = np.asarray(groups).astype(str)
    n_groups = min(len(np.unique(groups[y == 0])), len(np.unique(groups[y == 1])))
    if n_groups < 2:
        raise Text2ImuError(f"the separability AUC needs at least 2 recordings on each side, got {n_groups}")
    k = min(folds, n_groups)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    scores = []
    for train, test in cv.split(features, y, groups):
        if len(np.unique(y[test])) < 2 or len(np.unique(y[train])) < 2:
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(features[train], y[train])
        scores.append(float(roc_auc_score(y[test], model.predict_proba(features[test])[:, 1])))
    if not scores:
        raise Text2ImuError("the separability AUC: no fold held both real and synthetic windows")
    return {
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
        "per_fold": scores,
        "n_folds": len(scores),
        "classifier": "logistic regression (L2, C=1, standardised in each training fold)",
        "cv": f"stratified group {k}-fold (groups: recordings), shuffled with seed {seed}",
    }
