import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.errors import InputError
from myovision.experiments.splits import make_split


def dataset(n_groups=30, per_group=4, n_classes=5, n_subjects=3, seed=0):
    rng = np.random.default_rng(seed)
    group_label = rng.integers(0, n_classes, n_groups)
    groups = np.repeat(np.arange(n_groups), per_group)
    labels = group_label[groups]
    subjects = np.array([f"S{g % n_subjects}" for g in groups])
    return labels, groups, subjects


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.sampled_from(["activity", "subject", "random"]))
def test_sides_partition_the_samples(seed, protocol):
    labels, groups, subjects = dataset(seed=seed)
    s = make_split(protocol, labels=labels, groups=groups, subjects=subjects, seed=seed)
    together = np.concatenate([s.train, s.val, s.test])
    assert sorted(together) == list(range(len(labels)))  # every sample once


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000))
def test_activity_split_never_puts_one_instance_on_two_sides(seed):
    labels, groups, subjects = dataset(seed=seed)
    s = make_split("activity", labels=labels, groups=groups, subjects=subjects, seed=seed)
    sides = [set(groups[s.train]), set(groups[s.val]), set(groups[s.test])]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_subject_split_holds_out_whole_people():
    labels, groups, subjects = dataset()
    s = make_split("subject", labels=labels, groups=groups, subjects=subjects, test_subjects=["S1"])
    assert set(subjects[s.test]) == {"S1"} and "S1" not in set(subjects[s.train]) | set(subjects[s.val])
    with pytest.raises(InputError, match="proper subset"):
        make_split("subject", labels=labels, groups=groups, subjects=subjects, test_subjects=["S0", "S1", "S2"])


def test_random_split_leaks_instances_as_the_authors_did():
    labels, groups, subjects = dataset(per_group=10)
    s = make_split("random", labels=labels, groups=groups, subjects=subjects, seed=0)
    assert set(groups[s.train]) & set(groups[s.test])  # the leak the honest protocols avoid
    with pytest.raises(InputError, match="unknown split"):
        make_split("leaky", labels=labels, groups=groups, subjects=subjects)
