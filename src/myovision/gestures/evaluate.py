"""Train and evaluate a window classifier on labelled recordings under a protocol.

Recordings are cut into windows (`window_ms`, `step_ms`); each window is classified alone (window
accuracy, as the published Myo work counts) and a recording's label is the majority vote of its windows
(recording accuracy, the `accuracy` of the metrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from myovision.errors import InputError
from myovision.gestures import DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION, NORMALISATIONS
from myovision.gestures.classifiers import CLASSIFIERS, WindowClassifier
from myovision.gestures.protocols import Fold, make_folds
from myovision.metrics import classification_report
from myovision.runs import CHECKPOINTS, is_run
from myovision.training.options import TrainerOptions


@dataclass
class WindowedRecordings:
    """Transformed windows of every recording, concatenated: inputs (N, ...), labels (N,), recording (N,).

    `table` has one row per recording (path, label, subject, session, split), in input order.
    """

    inputs: np.ndarray
    labels: np.ndarray
    recording: np.ndarray
    table: pd.DataFrame
    class_names: list[str]

    def rows(self, recordings: np.ndarray) -> np.ndarray:
        """Window rows belonging to the given recording indices."""
        return np.flatnonzero(np.isin(self.recording, recordings))


def window_recordings(recordings, classifier: WindowClassifier, *, window_ms: float, step_ms: float,
                      default_rate: float | None = None, class_names: list[str] | None = None,
                      progress: bool = True) -> WindowedRecordings:
    """The model inputs of every window of each `myovision.data.Recording`, once: `classifier.transform_recording`
    (features straight from the recording; windows materialised only for models that read raw windows).

    `class_names` fixes the class order (default: sorted labels). InputError, naming the file, for a
    recording without a sample rate, shorter than one window, or windowed differently from the others.
    """
    if not recordings:
        raise InputError("no recordings to evaluate (is the subject/session selection empty?)")
    class_names = list(class_names) if class_names is not None else sorted({r.label for r in recordings})
    label_index = {c: i for i, c in enumerate(class_names)}
    records, inputs, labels, owner = [], [], [], []
    for i, rec in enumerate(tqdm(recordings, desc="windows", disable=not progress, leave=False)):
        fs = rec.sample_rate or default_rate
        if not fs:
            raise InputError("no sample rate: give the manifest a sample_rate column or pass one", rec.path)
        if rec.label not in label_index:
            raise InputError(f"unknown label {rec.label!r}; known: {', '.join(class_names)}", rec.path)
        size, step = round(window_ms * fs / 1000), max(1, round(step_ms * fs / 1000))
        if len(rec.data) < size:
            raise InputError(f"recording has {len(rec.data)} samples, shorter than one {size}-sample window", rec.path)
        x = classifier.transform_recording(np.asarray(rec.data, dtype=np.float32), fs, size, step)  # (n, ...)
        if inputs and x.shape[1:] != inputs[0].shape[1:]:
            raise InputError(f"windows give inputs of shape {x.shape[1:]}, other recordings {inputs[0].shape[1:]} "
                             "(different sample rate or channel count?)", rec.path)
        inputs.append(x)
        labels.append(np.full(len(x), label_index[rec.label]))
        owner.append(np.full(len(x), i))
        records.append({"path": str(rec.path), "label": rec.label, "subject": rec.subject, "session": rec.session,
                        "split": rec.split})
    return WindowedRecordings(np.concatenate(inputs), np.concatenate(labels), np.concatenate(owner),
                              pd.DataFrame(records), class_names)


def standardise_groups(inputs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Standardise inputs within each group using that group's own windows (a new array).

    inputs (N, F) are standardised per feature; (N, C, F, T) spectrograms per (channel, frequency), over
    windows and frames. No label is used: an unsupervised adaptation that removes a person's or a
    donning's gain and offset.
    """
    out = np.empty_like(inputs)
    axes = (0,) if inputs.ndim == 2 else (0, inputs.ndim - 1)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        x = inputs[rows]
        out[rows] = (x - x.mean(axis=axes, keepdims=True)) / (x.std(axis=axes, keepdims=True) + 1e-6)
    return out


class FoldInputs:
    """Model inputs of a set of recordings, standardised per group within that set only.

    With normalise = "subject" or "session", training recordings are standardised with statistics of the
    training windows of their group and test recordings with those of their test windows, so no statistic
    crosses from test to training (a session split across both sides gets two sets of statistics).
    """

    def __init__(self, data: WindowedRecordings, normalise: str):
        if normalise not in NORMALISATIONS:
            raise InputError(f"unknown normalisation {normalise!r}; choose one of {', '.join(NORMALISATIONS)}")
        self.data = data
        self.normalise = normalise
        columns = ["subject"] if normalise == "subject" else ["subject", "session"]
        self.group_of_recording = data.table.groupby(columns, sort=False).ngroup().to_numpy()

    def __call__(self, recordings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(window rows, inputs, labels) of `recordings`."""
        rows = self.data.rows(recordings)
        x = self.data.inputs[rows]
        if self.normalise != "none":
            x = standardise_groups(x, self.group_of_recording[self.data.recording[rows]])
        return rows, x, self.data.labels[rows]


def _validation_recordings(train: np.ndarray, labels: np.ndarray, fraction: float, rng) -> np.ndarray:
    """About `fraction` of the training recordings of each label (none when a label has fewer than 3)."""
    chosen = []
    for label in np.unique(labels[train]):
        members = train[labels[train] == label]
        n = int(round(fraction * len(members)))
        if len(members) >= 3 and n >= 1:
            chosen.append(rng.choice(members, size=n, replace=False))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def fit_fold(data: WindowedRecordings, fold: Fold, inputs: FoldInputs, make_classifier, *, seed: int = 0,
             val_fraction: float = 0.1, trainer: TrainerOptions | None = None, out: Path | None = None,
             resume: bool = False, epochs: int | None = None) -> WindowClassifier:
    """Fit a new classifier on the fold's training recordings (into the run folder `out` when given; with
    `resume`, a fold already fitted there is read back and one in progress continues from its checkpoint).

    Gradient-trained models select their best epoch on the fold's validation recordings (the manifest's
    val rows under the split protocol), else on `val_fraction` of each label's training recordings.
    """
    clf: WindowClassifier = make_classifier()
    if epochs is not None:
        clf.train_kwargs = {**clf.train_kwargs, "epochs": epochs}
    if resume and out is not None and is_run(out):
        return clf.load(out)
    train, val = fold.train, np.zeros(0, dtype=np.int64)
    if clf.needs_validation:
        val = fold.val
        if len(val) == 0:
            label_of = data.table["label"].map({c: i for i, c in enumerate(data.class_names)}).to_numpy()
            val = _validation_recordings(train, label_of, val_fraction, np.random.default_rng(seed))
        train = np.setdiff1d(train, val)
    else:
        train = np.union1d(train, fold.val)
    _, x, y = inputs(train)
    val_set = inputs(val)[1:] if len(val) else None
    resume = resume and out is not None and (out / CHECKPOINTS).is_dir()
    return clf.fit(x, y, len(data.class_names), val=val_set, seed=seed, trainer=trainer, out=out, resume=resume)


def _slug(name: str) -> str:
    """A fold name as a folder name."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "fold"


def vote(predictions: np.ndarray, scores: np.ndarray, num_classes: int) -> int:
    """A recording's class: the majority of its windows' predictions; ties go to the higher mean score."""
    votes = np.bincount(predictions, minlength=num_classes).astype(np.float64)
    tied = np.flatnonzero(votes == votes.max())
    return int(tied[np.argmax(scores[:, tied].mean(0))])


def evaluate(recordings, *, protocol: str, classifier: str = DEFAULT_CLASSIFIER, window_ms: float = 200.0,
             step_ms: float = 50.0, normalise: str = DEFAULT_NORMALISATION, default_rate: float | None = None,
             train_session: str | None = None, class_names: list[str] | None = None, seed: int = 0,
             progress: bool = True, trainer: TrainerOptions | None = None, out: str | Path | None = None,
             resume: bool = False, epochs: int | None = None) -> dict:
    """Run every fold of `protocol`; return metrics with per-fold, per-group and per-recording detail.

    `normalise` = "subject" or "session" standardises inputs per group (see `FoldInputs`). out: each fit's
    run folder goes to `out/folds/<fold>/` (model, logs, checkpoints); `resume` continues an interrupted run.
    """
    if classifier not in CLASSIFIERS:
        raise InputError(f"unknown classifier {classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
    data = window_recordings(recordings, CLASSIFIERS[classifier](), window_ms=window_ms, step_ms=step_ms,
                             default_rate=default_rate, class_names=class_names, progress=progress)
    inputs = FoldInputs(data, normalise)
    folds = make_folds(data.table, protocol, train_session=train_session, seed=seed)
    k = len(data.class_names)
    window_true, window_pred, rec_true, rec_pred, per_fold, predictions = [], [], [], [], [], []
    last_train, clf = None, None  # consecutive folds with one training set (Test0, Test1) share a fit
    for fold in tqdm(folds, desc=f"{classifier} {protocol}", disable=not progress):
        if last_train is None or not np.array_equal(np.sort(fold.train), last_train):
            fold_dir = None if out is None else Path(out) / "folds" / _slug(fold.name)
            clf = fit_fold(data, fold, inputs, CLASSIFIERS[classifier], seed=seed, trainer=trainer, out=fold_dir,
                           resume=resume, epochs=epochs)
            last_train = np.sort(fold.train)
        rows, x, y = inputs(fold.test)
        scores = clf.scores(x)
        pred = scores.argmax(1)
        window_true.append(y)
        window_pred.append(pred)
        owner = data.recording[rows]
        fold_true, fold_pred = [], []
        for r in fold.test:
            mine = owner == r
            fold_true.append(int(y[mine][0]))
            fold_pred.append(vote(pred[mine], scores[mine], k))
            predictions.append({**data.table.iloc[r].to_dict(), "predicted": data.class_names[fold_pred[-1]],
                                "window_accuracy": float(np.mean(pred[mine] == y[mine])), "fold": fold.name})
        rec_true += fold_true
        rec_pred += fold_pred
        per_fold.append({"fold": fold.name, "group": fold.group, "n_test_recordings": len(fold.test),
                         "window_accuracy": float(np.mean(pred == y)),
                         "accuracy": float(np.mean(np.array(fold_true) == np.array(fold_pred)))})
    report = classification_report(rec_true, rec_pred, data.class_names)
    windows = classification_report(np.concatenate(window_true), np.concatenate(window_pred), data.class_names)
    groups = {}
    for g in dict.fromkeys(f["group"] for f in per_fold):
        mine = [f for f in per_fold if f["group"] == g]
        groups[g] = {"n_folds": len(mine),
                     "window_accuracy_mean": float(np.mean([f["window_accuracy"] for f in mine])),
                     "accuracy_mean": float(np.mean([f["accuracy"] for f in mine]))}
    return {
        "protocol": protocol, "classifier": classifier, "normalise": normalise, "window_ms": window_ms,
        "step_ms": step_ms, "seed": seed, "n_recordings": len(data.table), "n_windows": int(len(data.labels)),
        "accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"],
        "window_accuracy": windows["accuracy"], "window_balanced_accuracy": windows["balanced_accuracy"],
        "per_class_f1": report["per_class_f1"], "confusion_matrix": report["confusion_matrix"],
        "window_confusion_matrix": windows["confusion_matrix"], "class_names": data.class_names,
        "groups": groups, "folds": per_fold, "predictions": predictions,
    }
