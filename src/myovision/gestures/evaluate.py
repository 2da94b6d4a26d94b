"""Train and evaluate a window classifier on labelled recordings under a protocol; write the report.

Recordings are cut into windows (`window_ms`, `step_ms`); each window is classified alone (window
accuracy, as the published Myo work counts) and a recording's label is the majority vote of its windows
(recording accuracy, the `accuracy` of metrics.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from myovision.errors import InputError
from myovision.fileio import atomic_write_text
from myovision.gestures.classifiers import CLASSIFIERS, WindowClassifier
from myovision.gestures.protocols import make_folds
from myovision.metrics import classification_report
from myovision.signals.windows import sliding_windows

DEFAULT_CLASSIFIER = "feature_lda"  # the most accurate on real Myo data: benchmarks/RESULTS.md
NORMALISATIONS = ("none", "subject", "session")
DEFAULT_NORMALISATION = "session"


@dataclass
class WindowedRecordings:
    """Transformed windows of every recording, concatenated: inputs (N, ...), labels (N,), recording (N,)."""

    inputs: np.ndarray
    labels: np.ndarray
    recording: np.ndarray
    table: pd.DataFrame
    class_names: list[str]

    def rows(self, recordings: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.recording, recordings))


def window_recordings(recordings, classifier: WindowClassifier, *, window_ms: float, step_ms: float,
                      default_rate: float | None = None, progress: bool = True) -> WindowedRecordings:
    """Cut each recording into windows and transform them once with `classifier.transform`.

    `recordings` is a sequence of `myovision.data.Recording`; a recording shorter than one window is an
    InputError naming its file.
    """
    records, inputs, labels, owner = [], [], [], []
    class_names = sorted({r.label for r in recordings})
    label_index = {c: i for i, c in enumerate(class_names)}
    for i, rec in enumerate(tqdm(recordings, desc="windows", disable=not progress, leave=False)):
        fs = rec.sample_rate or default_rate
        if not fs:
            raise InputError("no sample rate: give the manifest a sample_rate column or pass one", rec.path)
        size, step = round(window_ms * fs / 1000), max(1, round(step_ms * fs / 1000))
        if len(rec.data) < size:
            raise InputError(f"recording has {len(rec.data)} samples, shorter than one {size}-sample window", rec.path)
        win = sliding_windows(np.asarray(rec.data, dtype=np.float32), size, step)  # (n, size, C)
        inputs.append(classifier.transform(np.ascontiguousarray(win)))
        labels.append(np.full(len(win), label_index[rec.label]))
        owner.append(np.full(len(win), i))
        records.append({"path": str(rec.path), "label": rec.label, "subject": rec.subject, "session": rec.session,
                        "split": getattr(rec, "split", None)})
    return WindowedRecordings(np.concatenate(inputs), np.concatenate(labels), np.concatenate(owner),
                              pd.DataFrame(records), class_names)


def standardise_groups(data: WindowedRecordings, by: str) -> None:
    """Standardise model inputs within each subject (or subject and session) using its own windows, in place.

    An unsupervised adaptation (no labels are used): it removes a person's or a donning's gain and offset,
    the main source of error across people and sessions. It is transductive: a test group is standardised
    with statistics of all its windows, so state it when reporting. Inputs (N, F) are standardised per
    feature; (N, C, F, T) spectrograms per (channel, frequency), over windows and frames.
    """
    if by == "none":
        return
    if by not in NORMALISATIONS:
        raise InputError(f"unknown normalisation {by!r}; choose one of {', '.join(NORMALISATIONS)}")
    columns = ["subject"] if by == "subject" else ["subject", "session"]
    group_of_recording = data.table.groupby(columns, sort=False).ngroup().to_numpy()
    group = group_of_recording[data.recording]
    axes = (0,) if data.inputs.ndim == 2 else (0, data.inputs.ndim - 1)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        x = data.inputs[rows]
        data.inputs[rows] = (x - x.mean(axis=axes, keepdims=True)) / (x.std(axis=axes, keepdims=True) + 1e-6)


def _validation_recordings(train: np.ndarray, labels: np.ndarray, fraction: float, rng) -> np.ndarray:
    """About `fraction` of the training recordings of each label (none when a label has fewer than 3)."""
    chosen = []
    for label in np.unique(labels[train]):
        members = train[labels[train] == label]
        n = int(round(fraction * len(members)))
        if len(members) >= 3 and n >= 1:
            chosen.append(rng.choice(members, size=n, replace=False))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def fit_on_recordings(data: WindowedRecordings, train: np.ndarray, make_classifier, *, seed: int = 0,
                      val_fraction: float = 0.1) -> WindowClassifier:
    """Fit a new classifier on the windows of the `train` recordings (a validation share held out for nets)."""
    clf: WindowClassifier = make_classifier()
    rec_labels = data.table["label"].map({c: i for i, c in enumerate(data.class_names)}).to_numpy()
    val_recs = np.zeros(0, dtype=np.int64)
    if clf.model_name != "lda":
        val_recs = _validation_recordings(train, rec_labels, val_fraction, np.random.default_rng(seed))
    train_rows = data.rows(np.setdiff1d(train, val_recs))
    val = None
    if len(val_recs):
        val_rows = data.rows(val_recs)
        val = (data.inputs[val_rows], data.labels[val_rows])
    return clf.fit(data.inputs[train_rows], data.labels[train_rows], len(data.class_names), val=val, seed=seed)


def evaluate(recordings, *, protocol: str, classifier: str = DEFAULT_CLASSIFIER, window_ms: float = 200.0,
             step_ms: float = 50.0, normalise: str = DEFAULT_NORMALISATION, default_rate: float | None = None,
             train_session: str | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Run every fold of `protocol` and return metrics (see module doc) with per-fold and per-group detail.

    `normalise` = "subject" or "session" standardises inputs per group first (see `standardise_groups`).
    """
    if classifier not in CLASSIFIERS:
        raise InputError(f"unknown classifier {classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
    data = window_recordings(recordings, CLASSIFIERS[classifier](), window_ms=window_ms, step_ms=step_ms,
                             default_rate=default_rate, progress=progress)
    standardise_groups(data, normalise)
    folds = make_folds(data.table, protocol, train_session=train_session, seed=seed)
    k = len(data.class_names)
    window_true, window_pred, rec_true, rec_pred, per_fold = [], [], [], [], []
    predictions = []
    fitted: dict[bytes, WindowClassifier] = {}  # folds with the same training set share one fit
    for fold in tqdm(folds, desc=f"{classifier} {protocol}", disable=not progress):
        key = np.sort(fold.train).tobytes()
        if key not in fitted:
            fitted.clear()
            fitted[key] = fit_on_recordings(data, fold.train, CLASSIFIERS[classifier], seed=seed)
        rows = data.rows(fold.test)
        scores = fitted[key].scores(data.inputs[rows])
        pred = scores.argmax(1)
        window_true.append(data.labels[rows])
        window_pred.append(pred)
        fold_rec_true, fold_rec_pred = [], []
        for r in fold.test:
            mine = data.recording[rows] == r
            votes = np.bincount(pred[mine], minlength=k).astype(np.float64)
            votes += 1e-6 * scores[mine].mean(0).argsort().argsort()  # ties: higher mean score wins
            fold_rec_true.append(int(data.labels[rows][mine][0]))
            fold_rec_pred.append(int(votes.argmax()))
            predictions.append({**data.table.iloc[r].to_dict(), "predicted": data.class_names[fold_rec_pred[-1]],
                                "window_accuracy": float(np.mean(pred[mine] == data.labels[rows][mine])),
                                "fold": fold.name})
        rec_true += fold_rec_true
        rec_pred += fold_rec_pred
        per_fold.append({"fold": fold.name, "group": fold.group, "n_test_recordings": len(fold.test),
                         "window_accuracy": float(np.mean(pred == data.labels[rows])),
                         "accuracy": float(np.mean(np.array(fold_rec_true) == np.array(fold_rec_pred)))})
    report = classification_report(rec_true, rec_pred, data.class_names)
    windows = classification_report(np.concatenate(window_true), np.concatenate(window_pred), data.class_names)
    groups = {}
    for g in dict.fromkeys(f["group"] for f in per_fold):
        mine = [f for f in per_fold if f["group"] == g]
        groups[g] = {"n_folds": len(mine),
                     "window_accuracy_mean": float(np.mean([f["window_accuracy"] for f in mine])),
                     "accuracy_mean": float(np.mean([f["accuracy"] for f in mine]))}
    return {
        "protocol": protocol, "classifier": classifier, "normalise": normalise, "window_ms": window_ms, "step_ms": step_ms, "seed": seed,
        "n_recordings": len(data.table), "n_windows": int(len(data.labels)),
        "accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
        "window_accuracy": windows["accuracy"], "window_balanced_accuracy": windows["balanced_accuracy"],
        "per_class_f1": report["per_class_f1"], "confusion_matrix": report["confusion_matrix"],
        "window_confusion_matrix": windows["confusion_matrix"], "class_names": data.class_names,
        "groups": groups, "folds": per_fold, "predictions": predictions,
    }


def write_report(metrics: dict, out: str | Path) -> dict[str, Path]:
    """Write metrics.json, predictions.csv and confusion.png under `out` (atomically); return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    predictions = metrics.get("predictions", [])
    summary = {k: v for k, v in metrics.items() if k != "predictions"}
    paths = {"metrics": out / "metrics.json", "predictions": out / "predictions.csv", "confusion": out / "confusion.png"}
    atomic_write_text(paths["metrics"], json.dumps(summary, indent=2))
    atomic_write_text(paths["predictions"], pd.DataFrame(predictions).to_csv(index=False))
    from myovision.report.plots import save_confusion_png

    save_confusion_png(np.array(metrics["confusion_matrix"]), metrics["class_names"], paths["confusion"],
                       title=f"{metrics['classifier']} / {metrics['protocol']}: "
                             f"recording accuracy {metrics['accuracy']:.1%}")
    return paths

