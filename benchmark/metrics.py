"""Scores of protocol v1: balanced accuracy (primary), macro-F1, per-class recall, confusion matrix, and the
mean / std / 95 % t-interval over seeds.

Conventions: classes are indices 0..K-1 into a list of class names; the confusion matrix has true classes in
rows and predicted classes in columns (counts). Balanced accuracy is the mean recall over the classes present in
the true labels (as ``sklearn.metrics.balanced_accuracy_score``); macro-F1 is the mean F1 over the same classes,
with F1 = 0 for a class that is never predicted correctly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from text2imu.builder.errors import Text2ImuError


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted class."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    if t.shape != p.shape or t.ndim != 1:
        raise Text2ImuError(f"y_true and y_pred must be 1-D of the same length, got {t.shape} and {p.shape}")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise Text2ImuError(f"class indices must lie in 0..{n_classes - 1}")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores_from_confusion(cm: np.ndarray, class_names: Sequence[str]) -> dict:
    """Scores of a (K, K) confusion matrix.

    Returns:
        dict(balanced_accuracy, macro_f1, accuracy, per_class_recall {name: recall or None when the class has
        no true window}, per_class_f1 {name: ...}, confusion_matrix (list of lists), n_windows).
    """
    cm = np.asarray(cm, dtype=np.int64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm)
    present = support > 0
    recall = np.divide(tp, support, out=np.zeros(len(cm)), where=present)
    precision = np.divide(tp, predicted, out=np.zeros(len(cm)), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(len(cm)), where=denom > 0)
    n = int(cm.sum())
    return {
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "per_class_recall": {c: (float(recall[i]) if present[i] else None) for i, c in enumerate(class_names)},
        "per_class_f1": {c: (float(f1[i]) if present[i] else None) for i, c in enumerate(class_names)},
        "confusion_matrix": cm.tolist(),
        "n_windows": n,
    }


def scores(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> dict:
    """:func:`scores_from_confusion` of the predictions (indices into ``class_names``)."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, len(class_names)), class_names)


def summarise(values: Sequence[float], confidence: float = 0.95) -> dict:
    """Mean, sample std (ddof 1), and the two-sided ``confidence`` t-interval of the mean over seeds.

    Returns dict(mean, std, ci95 [low, high], n); with one value std is 0 and the interval is [mean, mean];
    None values are left out; with none left every figure is None.
    """
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "ci95": [None, None], "n": 0}
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": mean, "std": 0.0, "ci95": [mean, mean], "n": 1}
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * std / math.sqrt(v.size))
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "n": int(v.size)}


def summarise_seeds(per_seed: Sequence[dict], class_names: Sequence[str]) -> dict:
    """Summary over seeds of balanced_accuracy, macro_f1 and accuracy (:func:`summarise`) and the mean
    per-class recall, plus the confusion matrix summed over seeds."""
    out = {key: summarise([s[key] for s in per_seed]) for key in ("balanced_accuracy", "macro_f1", "accuracy")}
    out["per_class_recall"] = {
        c: summarise([s["per_class_recall"][c] for s in per_seed]) for c in class_names
    }
    k = len(class_names)
    total = np.zeros((k, k), dtype=np.int64)
    for s in per_seed:
        total += np.asarray(s["confusion_matrix"], dtype=np.int64)
    out["confusion_matrix_sum"] = total.tolist()
    return out


def chance_scores(y_true: np.ndarray, class_names: Sequence[str]) -> dict:
    """Reference rows without a model.

    Returns dict(chance={balanced_accuracy: 1/K (uniform guessing recalls each class 1/K of the time), accuracy: expected accuracy of uniform guessing = 1/K,
    macro_f1: expected macro-F1 of uniform guessing (per class 2 p_k / (K p_k + 1) with p_k the class share)},
    majority={scores of always predicting the most frequent true class, and its name}).
    """
    y = np.asarray(y_true, dtype=np.int64)
    k = len(class_names)
    if y.size == 0 or k == 0:
        raise Text2ImuError("chance scores need at least one window and one class")
    share = np.bincount(y, minlength=k) / y.size
    present = share > 0
    f1_uniform = 2 * share / (k * share + 1)  # precision = share, recall = 1/K
    chance = {
        "balanced_accuracy": 1.0 / k,
        "accuracy": 1.0 / k,
        "macro_f1": float(f1_uniform[present].mean()),
    }
    top = int(np.argmax(share))
    majority = scores(y, np.full_like(y, top), class_names)
    majority["class"] = class_names[top]
    return {"chance": chance, "majority": majority}
