"""Evaluation protocols for labelled recordings: which recordings train and which test, fold by fold.

A fold never splits one recording: all windows of a recording sit on one side, so neighbouring,
overlapping windows cannot leak from training into testing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from myovision.errors import InputError

PROTOCOLS = ("split", "within-subject", "cross-subject", "cross-session")


@dataclass(frozen=True)
class Fold:
    """Row positions (into the manifest table) of training, test and (optional) validation recordings.

    `group` names what the test set is (a test session, a held-out subject) so results can be averaged
    per group, e.g. Test0 and Test1 separately over subjects.
    """

    name: str
    group: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def make_folds(table: pd.DataFrame, protocol: str, *, train_session: str | None = None, k: int = 4,
               seed: int = 0) -> list[Fold]:
    """Folds of `protocol` over a manifest table with columns label, subject, session (and split).

    - split: the manifest's `split` column: train rows train, val rows select the epoch of gradient-trained
      models (and train closed-form ones), test rows test.
    - within-subject: per subject, train on `train_session` and test on each other session; without
      `train_session`, a manifest with a split column trains on the subject's train rows (val rows
      validate) and tests on its test rows (one fold per test session), else the subject's first session trains. A subject with
      one session gets `k`-fold cross-validation over its recordings, stratified by label.
    - cross-subject: leave one subject out.
    - cross-session: per subject, leave one session out.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    idx = np.arange(len(table))
    if protocol == "split":
        if "split" not in table.columns:
            raise InputError("protocol 'split' needs a 'split' column in the manifest")
        split = table["split"].fillna("").to_numpy()
        train, val, test = idx[split == "train"], idx[split == "val"], idx[split == "test"]
        if len(train) == 0 or len(test) == 0:
            raise InputError(f"protocol 'split' needs train and test rows; found {len(train)} and {len(test)}")
        return [Fold("split", "test", train, test, val)]
    if protocol == "cross-subject":
        subjects = table["subject"].to_numpy()
        if len(set(subjects)) < 2:
            raise InputError("protocol 'cross-subject' needs at least two subjects")
        return [Fold(f"subject={s}", "held-out subject", idx[subjects != s], idx[subjects == s])
                for s in _ordered_unique(subjects)]
    folds = []
    for subject in _ordered_unique(table["subject"].to_numpy()):
        rows = idx[table["subject"].to_numpy() == subject]
        sessions = table["session"].to_numpy()[rows]
        names = _ordered_unique(sessions)
        if protocol == "cross-session":
            if len(names) < 2:
                raise InputError(f"protocol 'cross-session' needs two sessions per subject; {subject} has {names}")
            folds += [Fold(f"{subject}/{s}", s, rows[sessions != s], rows[sessions == s]) for s in names]
        elif len(names) >= 2 and train_session is None and "split" in table.columns:
            split = table["split"].fillna("").to_numpy()[rows]
            train, val = rows[split == "train"], rows[split == "val"]
            test_sessions = _ordered_unique(sessions[split == "test"])
            if len(train) == 0 or not test_sessions:
                raise InputError(f"subject {subject} needs train and test rows in the split column")
            folds += [Fold(f"{subject}/{s}", s, train, rows[(sessions == s) & (split == "test")], val)
                      for s in test_sessions]
        elif len(names) >= 2:
            first = train_session if train_session is not None else names[0]
            if first not in names:
                raise InputError(f"subject {subject} has no session {first!r} (sessions: {names})")
            folds += [Fold(f"{subject}/{s}", s, rows[sessions == first], rows[sessions == s])
                      for s in names if s != first]
        else:
            folds += _stratified_kfold(rows, table["label"].to_numpy()[rows], k, seed, subject)
    return folds


def _stratified_kfold(rows: np.ndarray, labels: np.ndarray, k: int, seed: int, subject: str) -> list[Fold]:
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(rows), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        fold_of[members] = rng.permutation(len(members)) % k
    k_eff = min(k, int(min(np.sum(labels == lab) for lab in np.unique(labels))))
    if k_eff < 2:
        raise InputError(f"subject {subject} has one session and too few recordings per class for cross-validation")
    fold_of %= k_eff
    return [Fold(f"{subject}/cv{f}", "cross-validation", rows[fold_of != f], rows[fold_of == f]) for f in range(k_eff)]


def _ordered_unique(values: np.ndarray) -> list[str]:
    return list(dict.fromkeys(values.tolist()))
