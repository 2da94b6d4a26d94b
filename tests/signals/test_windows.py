"""Tests for myovision.signals.windows: counts and contents against plain slicing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.errors import InputError
from myovision.signals.windows import sliding_windows, split_clips


@pytest.mark.parametrize("n_time,size,step", [(10, 3, 1), (10, 3, 2), (10, 10, 5), (11, 4, 3), (100, 32, 32)])
def test_sliding_windows_counts_and_contents(n_time, size, step):
    x = np.arange(n_time * 3, dtype=np.float64).reshape(n_time, 3)
    w = sliding_windows(x, size, step)
    starts = list(range(0, n_time - size + 1, step))
    assert w.shape == (len(starts), size, 3)
    for k, s in enumerate(starts):
        np.testing.assert_array_equal(w[k], x[s : s + size])


def test_sliding_windows_is_a_view():
    x = np.random.default_rng(0).normal(size=(2, 50, 4))
    w = sliding_windows(x, 8, 4)
    assert w.shape == (2, 11, 8, 4)  # (50 - 8) // 4 + 1
    assert np.shares_memory(w, x)
    np.testing.assert_array_equal(w[1, 3], x[1, 12:20])


def test_sliding_windows_torch_view_matches_numpy():
    x = torch.arange(2 * 20 * 3, dtype=torch.float32).reshape(2, 20, 3)
    w = sliding_windows(x, 5, 3)
    assert isinstance(w, torch.Tensor) and w.shape == (2, 6, 5, 3)
    assert w.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    np.testing.assert_array_equal(w.numpy(), sliding_windows(x.numpy(), 5, 3))


def test_split_clips_drops_the_tail():
    x = np.arange(23 * 2).reshape(23, 2)
    c = split_clips(x, 5)
    assert c.shape == (5, 4, 2)
    for k in range(5):
        np.testing.assert_array_equal(c[k], x[4 * k : 4 * k + 4])
    assert np.shares_memory(c, x)


def test_split_clips_800_into_5_like_np_split():
    x = np.random.default_rng(1).normal(size=(2, 800, 8))
    c = split_clips(torch.from_numpy(x), 5)
    assert c.shape == (2, 5, 160, 8)
    for b in range(2):
        for k, ref in enumerate(np.split(x[b], 5, axis=0)):
            np.testing.assert_array_equal(c[b, k].numpy(), ref)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sliding_windows(np.ones((5, 2)), 6, 1), "longer than the signal"),
        (lambda: sliding_windows(np.ones((5, 2)), 2, 0), "step"),
        (lambda: sliding_windows(np.ones((5, 2)), 0, 1), "size"),
        (lambda: sliding_windows(np.ones(5), 2, 1), "shaped"),
        (lambda: sliding_windows([[1.0]], 1, 1), "must be a numpy array or a torch tensor, got list"),
        (lambda: split_clips(np.ones((4, 2)), 5), "cannot cut 4 samples into 5"),
        (lambda: split_clips(np.ones((4, 2)), 0), "number of clips"),
        (lambda: split_clips(torch.ones(4), 2), "shaped"),
    ],
)
def test_windows_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()
