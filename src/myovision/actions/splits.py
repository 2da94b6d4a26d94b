"""Train / validation / test splits of action samples that keep related samples on one side.

- "activity": activity-grouped: every sub-action of one activity instance lands on the same side, so
  neighbouring windows of one instance cannot leak from training into testing (the honest default).
- "subject": leave subjects out: the test set is whole people never seen in training.
- "loso": leave one subject out, once per subject (`protocol_folds`); results pool every fold's test side.
- "random": a random split of sub-actions, as the fusion paper's authors did (neighbours leak; for
  comparability only).
- "authors": the fusion paper's own 799/343 split of S04, S07 and S08 (`authors_split`), read from
  ``split_S04S07S08_{train,test}.csv`` (which must resolve inside the data folder, not be links out of it,
  unless `allow_outside_root`); random like "random", so for comparability only.
Validation data is always carved from the training side, grouped the same way, never from the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from myovision.data.manifest import inside_root
from myovision.errors import InputError

PROTOCOLS = ("activity", "subject", "random")
FOLD_PROTOCOLS = PROTOCOLS + ("loso", "authors")


@dataclass(frozen=True)
class Split:
    """Sample indices of the three sides."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def grouped_holdout(groups: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of about `fraction` of the samples, taken as whole groups, per label where possible.

    Groups are drawn label by label (a group's label = its first sample's) so every class with at least two
    groups has some held out.
    """
    unique, first = np.unique(groups, return_index=True)
    group_label = labels[first]
    chosen = []
    for label in np.unique(group_label):
        mine = rng.permutation(unique[group_label == label])
        n = int(round(fraction * len(mine)))
        if len(mine) >= 2:
            chosen.extend(mine[:max(1, n)])
    return np.flatnonzero(np.isin(groups, chosen))


def make_split(protocol: str, *, labels: np.ndarray, groups: np.ndarray, subjects: np.ndarray, seed: int = 0,
               test_fraction: float = 0.3, val_fraction: float = 0.15, test_subjects: list[str] | None = None) -> Split:
    """Split samples by `protocol` (see module doc); `groups` = activity instance of each sample."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown split protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    if protocol == "subject":
        people = np.unique(subjects)
        if test_subjects is None:
            test_subjects = list(rng.permutation(people)[:max(1, int(round(test_fraction * len(people))))])
        missing = set(test_subjects) - set(people)
        if missing or len(test_subjects) >= len(people):
            raise InputError(f"test subjects {sorted(test_subjects)} must be a proper subset of {list(people)}")
        test = np.flatnonzero(np.isin(subjects, test_subjects))
    elif protocol == "activity":
        test = grouped_holdout(groups, labels, test_fraction, rng)
    else:
        test = rng.permutation(n)[: int(round(test_fraction * n))]
    return _carve_validation(protocol, test, labels, groups if protocol != "random" else np.arange(n), rng,
                             val_fraction)


def _carve_validation(protocol: str, test: np.ndarray, labels: np.ndarray, val_groups: np.ndarray,
                      rng: np.random.Generator, val_fraction: float, rest: np.ndarray | None = None) -> Split:
    """Split `rest` (default: every sample not in `test`) into train and a grouped validation side."""
    rest = np.setdiff1d(np.arange(len(labels)), test) if rest is None else np.sort(rest)
    val = rest[grouped_holdout(val_groups[rest], labels[rest], val_fraction, rng)]
    train = np.setdiff1d(rest, val)
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"split {protocol!r} left {len(train)} training and {len(test)} test samples")
    return Split(train, val, np.sort(test))


def authors_split(uid: np.ndarray, subjects: np.ndarray, label: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                  folder: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
                  allow_outside_root: bool = False) -> Split:
    """The fusion paper's 799/343 split mapped onto our samples (validation carved from its training side).

    The tables number sub-actions globally: S04's in time order, then S07's, then S08's (uid 0..1141). Our
    samples are numbered per subject (``S04_001``...), so sample k of subject S in time order is global uid
    offset(S) + k. InputError when the recordings do not give the tables' sub-actions (count or labels), or when
    a table resolves outside `folder` (a link out of it) unless `allow_outside_root`.
    """
    from myovision.data.actionsense_samples import AUTHORS_SUBJECTS, read_authors_split

    folder = Path(folder)
    for side in ("train", "test"):
        problem = inside_root(folder / f"split_S04S07S08_{side}.csv", folder, allow_outside_root)
        if problem:
            raise InputError(problem, folder / f"split_S04S07S08_{side}.csv")
    train_table, test_table = read_authors_split(folder)
    order = []
    for subject in AUTHORS_SUBJECTS:
        mine = np.flatnonzero(subjects == subject)
        order.extend(mine[np.argsort([int(u.rsplit("_", 1)[-1]) for u in uid[mine]], kind="stable")])
    order = np.asarray(order, dtype=np.int64)  # global uid -> sample index
    n_tables = len(train_table) + len(test_table)
    table_path = folder / "split_S04S07S08_test.csv"
    if len(order) != n_tables or max(train_table.uid.max(), test_table.uid.max()) >= len(order):
        raise InputError(f"the authors' split lists {n_tables} sub-actions of {', '.join(AUTHORS_SUBJECTS)}; the "
                         f"recordings give {len(order)} (same recordings and sub-action tables needed)", table_path)
    for table in (train_table, test_table):
        wrong = label[order[table.uid.to_numpy()]] != table.label.to_numpy()
        if wrong.any():
            g = int(table.uid.to_numpy()[wrong][0])
            raise InputError(f"{int(wrong.sum())} sub-actions have other labels than the split tables, e.g. global "
                             f"uid {g} ({uid[order[g]]}: {label[order[g]]!r})", table_path)
    test, train = order[test_table.uid.to_numpy()], order[train_table.uid.to_numpy()]
    rng = np.random.default_rng(seed)
    return _carve_validation("authors", test, labels, groups, rng, val_fraction, rest=train)


def protocol_folds(protocol: str, *, labels: np.ndarray, groups: np.ndarray, subjects: np.ndarray, seed: int = 0,
                   uid: np.ndarray | None = None, label: np.ndarray | None = None,
                   split_folder: str | Path | None = None, allow_outside_root: bool = False) -> list[tuple[str, Split]]:
    """[(fold name, Split)]: one fold per subject for "loso", else the one split of `make_split` /
    `authors_split` (which needs `uid`, the text `label` and the folder of the split tables, inside which the
    tables must resolve unless `allow_outside_root`)."""
    if protocol == "loso":
        people = np.unique(subjects)
        if len(people) < 2:
            raise InputError(f"leave-one-subject-out needs two or more subjects; found {list(people)}")
        return [(str(s), make_split("subject", labels=labels, groups=groups, subjects=subjects, seed=seed,
                                    test_subjects=[s])) for s in people]
    if protocol == "authors":
        if split_folder is None:
            raise InputError("the authors' split needs the folder of split_S04S07S08_{train,test}.csv")
        return [("authors", authors_split(uid, subjects, label, labels, groups, split_folder, seed=seed,
                                          allow_outside_root=allow_outside_root))]
    return [(protocol, make_split(protocol, labels=labels, groups=groups, subjects=subjects, seed=seed))]
