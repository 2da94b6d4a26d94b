"""Synthetic I3D-shaped RGB features: appearance decides what video can tell apart; determinism; shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from myovision.data import SYNTHETIC_CLASSES
from myovision.data.synthetic_rgb import synthetic_appearances, synthetic_rgb_features
from myovision.errors import InputError


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """4 subjects x 14 classes x 3 activity instances x 3 sub-actions."""
    rows = [{"uid": f"S{s:02d}_{c.index}_{a}_{k}", "label": c.label, "subject": f"S{s:02d}",
             "activity_index": 10 * c.index + a, "y": c.index}
            for s in range(4) for c in SYNTHETIC_CLASSES for a in range(3) for k in range(3)]
    return pd.DataFrame(rows)


def _nearest_centroid(features: np.ndarray, table: pd.DataFrame, test_subject: str) -> tuple[np.ndarray, np.ndarray]:
    """Cross-subject nearest-centroid predictions on clip-averaged features: (y_true, y_pred) of the test subject."""
    f = features.mean(axis=1)  # (N, dim)
    train = (table.subject != test_subject).to_numpy()
    y = table.y.to_numpy()
    centroids = np.stack([f[train & (y == k)].mean(axis=0) for k in range(len(SYNTHETIC_CLASSES))])
    pred = ((f[~train, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)
    return y[~train], pred


def test_shapes_statistics_and_determinism(table):
    x = synthetic_rgb_features(table, seed=3)
    assert x.shape == (len(table), 5, 1024) and x.dtype == np.float32
    assert x.min() >= 0 and 0.2 < (x == 0).mean() < 0.7  # post-ReLU: sparse-ish
    assert 0.1 < x.mean() < 1.0 and np.percentile(x, 99) < 2.5
    np.testing.assert_array_equal(x, synthetic_rgb_features(table, seed=3))
    assert not np.array_equal(x, synthetic_rgb_features(table, seed=4))
    # a sample's features do not depend on which other samples are built with it
    np.testing.assert_array_equal(x[7:9], synthetic_rgb_features(table.iloc[7:9], seed=3))
    assert synthetic_rgb_features(table.iloc[:2], dim=64, clips=3).shape == (2, 3, 64)


def test_same_appearance_is_confused_and_different_appearance_separated(table):
    x = synthetic_rgb_features(table, seed=0)
    appearance = np.array([c.appearance for c in SYNTHETIC_CLASSES])
    for subject in ("S00", "S03"):
        y, pred = _nearest_centroid(x, table, subject)
        assert (appearance[pred] == appearance[y]).mean() > 0.8  # different looks: told apart
        shared = np.isin(y, np.flatnonzero(np.bincount(appearance)[appearance] == 2))  # classes with a look-alike
        acc_shared = (pred[shared] == y[shared]).mean()
        assert acc_shared < 0.75  # a look-alike pair is a coin toss for video
        alone = ~shared
        assert (pred[alone] == y[alone]).mean() > 0.8


def test_the_label_reaches_features_only_through_the_appearance(table):
    """Two classes with one appearance (peel / slice a cucumber) give identical features for the same uids."""
    a = table.assign(label="Peel a cucumber")
    b = table.assign(label="Slice a cucumber")
    np.testing.assert_array_equal(synthetic_rgb_features(a), synthetic_rgb_features(b))
    c = table.assign(label="Peel a potato")
    assert not np.array_equal(synthetic_rgb_features(a), synthetic_rgb_features(c))


def test_first_clip_is_least_informative(table):
    x = synthetic_rgb_features(table)
    appearance = np.array([c.appearance for c in SYNTHETIC_CLASSES])
    acc = []
    for c in range(5):
        y, pred = _nearest_centroid(x[:, c : c + 1], table, "S03")  # one clip position only
        acc.append((appearance[pred] == appearance[y]).mean())
    assert acc[0] < min(acc[1:]) - 0.3  # the hands reach in: the objects are barely visible


def test_custom_appearances_and_bad_labels(table):
    x = synthetic_rgb_features({"label": ["x", "y"], "uid": ["1", "2"]}, appearance_of_label={"x": 0, "y": 9})
    assert x.shape == (2, 5, 1024)
    assert synthetic_rgb_features({"label": ["x"]}, appearance_of_label=lambda label: 2).shape == (1, 5, 1024)
    with pytest.raises(InputError, match="has no appearance"):
        synthetic_rgb_features({"label": ["unknown"]})
    with pytest.raises(InputError, match="uids repeat"):
        synthetic_rgb_features({"label": ["x", "x"], "uid": ["1", "1"]}, appearance_of_label={"x": 0})
    with pytest.raises(InputError, match="label"):
        synthetic_rgb_features({"uid": ["1"]})
    with pytest.raises(InputError, match="dim"):
        synthetic_rgb_features(table, dim=0)
    assert set(synthetic_appearances().values()) == {c.appearance for c in SYNTHETIC_CLASSES}
