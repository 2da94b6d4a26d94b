"""Classification metrics computed from a confusion matrix (rows: true class, columns: predicted)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; entry [i, j] = samples of class i predicted as j."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def classification_report(y_true, y_pred, class_names: list[str]) -> dict:
    """Accuracy, balanced accuracy (mean per-class recall over classes present), per-class F1, confusion.

    Classes absent from `y_true` are left out of the balanced accuracy and get recall `None`.
    """
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, k)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    n = int(support.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "balanced_accuracy": float(np.nanmean(recall)) if np.any(support > 0) else float("nan"),
        "per_class_f1": {name: float(f1[i]) for i, name in enumerate(class_names) if support[i] > 0},
        "per_class_recall": {name: float(recall[i]) for i, name in enumerate(class_names) if support[i] > 0},
        "confusion_matrix": cm.tolist(),
        "class_names": list(class_names),
    }


def top_k_accuracy(scores, y_true, k: int = 5) -> float:
    """Fraction of rows whose true class is among the `k` highest scores; scores (N, n_classes)."""
    scores = np.asarray(scores)
    y_true = np.asarray(y_true)
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == y_true[:, None], axis=1)))
