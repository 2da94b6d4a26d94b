import numpy as np
import pandas as pd
import pytest

from myovision.errors import InputError
from myovision.gestures.protocols import make_folds


def table(split=True):
    rows = []
    for subject in ("p1", "p2", "p3"):
        for session in ("training0", "Test0", "Test1"):
            for label in ("fist", "open"):
                for cycle in range(2):
                    rows.append({"subject": subject, "session": session, "label": label, "cycle": cycle,
                                 "split": "train" if session == "training0" else "test"})
    t = pd.DataFrame(rows)
    return t if split else t.drop(columns="split")


def check_disjoint(folds):
    for f in folds:
        assert len(np.intersect1d(f.train, f.test)) == 0 and len(f.train) and len(f.test)


def test_cross_subject_leaves_each_person_out_once():
    t = table()
    folds = make_folds(t, "cross-subject")
    check_disjoint(folds)
    assert [set(t.subject[f.test]) for f in folds] == [{"p1"}, {"p2"}, {"p3"}]
    assert all(not set(t.subject[f.train]) & set(t.subject[f.test]) for f in folds)


def test_within_subject_trains_on_the_split_train_rows_and_tests_each_session():
    t = table()
    folds = make_folds(t, "within-subject")
    check_disjoint(folds)
    assert [f.group for f in folds] == ["Test0", "Test1"] * 3
    for f in folds:
        assert set(t.session[f.train]) == {"training0"}
        assert len(set(t.subject[np.concatenate([f.train, f.test])])) == 1


def test_within_subject_without_split_uses_train_session():
    t = table(split=False)
    folds = make_folds(t, "within-subject", train_session="Test1")
    assert {f.group for f in folds} == {"training0", "Test0"}
    assert all(set(t.session[f.train]) == {"Test1"} for f in folds)
    with pytest.raises(InputError, match="no session 'nope'"):
        make_folds(t, "within-subject", train_session="nope")


def test_within_subject_single_session_is_stratified_cross_validation():
    t = table(split=False)
    t = t[t.session == "training0"].reset_index(drop=True)
    folds = make_folds(t, "within-subject")
    check_disjoint(folds)
    for subject in ("p1", "p2", "p3"):
        mine = [f for f in folds if f.name.startswith(subject)]
        tested = np.concatenate([f.test for f in mine])
        assert sorted(tested) == sorted(np.flatnonzero(t.subject == subject))  # every recording tested once
        assert all(set(t.label[f.test]) == {"fist", "open"} for f in mine)


def test_cross_session_and_split():
    t = table()
    folds = make_folds(t, "cross-session")
    check_disjoint(folds)
    assert len(folds) == 9
    [f] = make_folds(t, "split")
    assert set(t.split[f.train]) == {"train"} and set(t.split[f.test]) == {"test"}
    with pytest.raises(InputError, match="'split' column"):
        make_folds(table(split=False), "split")
    with pytest.raises(InputError, match="unknown protocol"):
        make_folds(t, "leave-nothing-out")
