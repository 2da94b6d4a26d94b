"""Train / validation / test splits of action samples that keep related samples on one side.

- "activity": activity-grouped: every sub-action of one activity instance lands on the same side, so
  neighbouring windows of one instance cannot leak from training into testing (the honest default).
- "subject": leave subjects out: the test set is whole people never seen in training.
- "random": a random split of sub-actions, as the fusion paper's authors did (neighbours leak; for
  comparability only).
Validation data is always carved from the training side, grouped the same way, never from the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from myovision.errors import InputError

PROTOCOLS = ("activity", "subject", "random")


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
    rest = np.setdiff1d(np.arange(n), test)
    val_groups = groups if protocol != "random" else np.arange(n)
    val = rest[grouped_holdout(val_groups[rest], labels[rest], val_fraction, rng)]
    train = np.setdiff1d(rest, val)
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"split {protocol!r} left {len(train)} training and {len(test)} test samples")
    return Split(train, val, np.sort(test))
