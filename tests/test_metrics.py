import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.metrics import classification_report, confusion_matrix, top_k_accuracy


def test_report_matches_hand_computed_values():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    r = classification_report(y_true, y_pred, ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(4 / 6)
    # recalls: a 2/3, b 1/2, c 1/1
    assert r["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # precision a 1, b 1/2, c 1/2 -> F1 a 0.8, b 0.5, c 2/3
    assert r["per_class_f1"] == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3})
    assert r["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_absent_class_is_left_out_of_balanced_accuracy():
    r = classification_report([0, 0, 1], [0, 1, 1], ["a", "b", "never"])
    assert r["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    assert "never" not in r["per_class_f1"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60))
def test_confusion_matrix_counts_every_pair_once(pairs):
    t, p = map(np.array, zip(*pairs))
    cm = confusion_matrix(t, p, 5)
    assert cm.sum() == len(pairs)
    assert np.trace(cm) == np.sum(t == p)
    for i, j in set(pairs):
        assert cm[i, j] == sum(1 for a, b in pairs if (a, b) == (i, j))


def test_top_k_accuracy():
    scores = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert top_k_accuracy(scores, np.array([2, 2]), k=1) == 0.0
    assert top_k_accuracy(scores, np.array([2, 2]), k=2) == 0.5
    assert top_k_accuracy(scores, np.array([2, 2]), k=5) == 1.0
