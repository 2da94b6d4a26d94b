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


def _edit_rates(hyps, refs, split, name: str, unit: str) -> dict:
    """Levenshtein alignment of each (hyp, ref) pair, summed over the corpus: `name` (the error rate) and the
    substitution / insertion / deletion rates as fractions of the reference units, counts beside them."""
    from rapidfuzz.distance import Levenshtein

    hyps, refs = list(hyps), list(refs)
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    subs = ins = dels = n_ref = 0
    for hyp, ref in zip(hyps, refs):
        ref_units, hyp_units = split(ref), split(hyp)
        n_ref += len(ref_units)
        for op in Levenshtein.editops(ref_units, hyp_units):  # ref -> hyp: delete = a reference unit missed
            subs += op.tag == "replace"
            ins += op.tag == "insert"
            dels += op.tag == "delete"

    def rate(count: int) -> float:
        return count / n_ref if n_ref else (0.0 if count == 0 else float("inf"))

    return {name: rate(subs + ins + dels), "errors": subs + ins + dels, f"reference_{unit}": n_ref,
            "substitutions": subs, "insertions": ins, "deletions": dels, "substitution_rate": rate(subs),
            "insertion_rate": rate(ins), "deletion_rate": rate(dels)}


def character_error_rate(hyps, refs) -> dict:
    """Corpus CER: ``sum(edit distance) / sum(len(ref))`` over pairs of strings (emg2qwerty's definition).

    Returns ``cer`` and the ``substitution_rate``, ``insertion_rate``, ``deletion_rate`` of one minimal
    alignment (fractions of the reference characters; they add up to ``cer``), with the counts beside them:
    ``errors``, ``reference_chars``, ``substitutions``, ``insertions``, ``deletions``.

    >>> r = character_error_rate(["kitten"], ["sitting"])
    >>> round(r["cer"], 4), round(r["substitution_rate"], 4), r["deletions"], r["reference_chars"]
    (0.4286, 0.2857, 1, 7)
    """
    return _edit_rates(hyps, refs, list, "cer", "chars")


def word_error_rate(hyps, refs) -> dict:
    """Corpus WER over whitespace-separated words: ``wer`` and the same rates and counts as
    :func:`character_error_rate`, with ``reference_words``.

    >>> word_error_rate(["the cat sat"], ["the cat sat down"])["wer"]
    0.25
    """
    return _edit_rates(hyps, refs, str.split, "wer", "words")
