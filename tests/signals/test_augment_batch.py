"""SpecAugment's drawn intervals and the batched band rotation + masking (`rotate_and_mask`): each item of a batch
equals np.roll of its bands' electrodes followed by SpecAugment's own mask for the same seed, whichever dense
layout the batch has (a contiguous (T, N, ...) array, or the (N, bands, T, ...) memory `SpectrogramWindows.gather`
hands out as a permuted view, an item slice of one, or a time slice of one, as when every window of a batch is
shorter than the buffer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.signals.augment import SpecAugment, rotate_and_mask


def in_layout(spec: np.ndarray, layout: str) -> torch.Tensor:
    """``spec (T, N, bands, C, freq)`` as a tensor laid out in memory as ``layout`` says."""
    if layout == "time-major":
        return torch.from_numpy(spec)
    items_first = torch.from_numpy(np.ascontiguousarray(spec.transpose(1, 2, 0, 3, 4)))  # (N, bands, T, C, freq)
    if layout == "items-major":
        return items_first.permute(2, 0, 1, 3, 4)
    if layout == "items-major slice":
        padded = torch.cat([items_first[:2], items_first])  # two more items first, sliced away: an offset view
        return padded.permute(2, 0, 1, 3, 4)[:, 2:]
    longer = torch.cat([items_first, items_first], dim=2)  # more frames, sliced away: not dense (copied first)
    return longer.permute(2, 0, 1, 3, 4)[:len(spec)]


@pytest.mark.parametrize("layout", ["time-major", "items-major", "items-major slice", "items-major, time-sliced"])
@pytest.mark.parametrize(("params", "n_time"), [((3, 25, 2, 4), 40), ((2, 9, 3, 40), 6), ((0, 5, 0, 3), 12)])
def test_rotate_and_mask_equals_roll_then_the_per_item_mask(params, n_time, layout):
    rng = np.random.default_rng(0)
    items, n_freq = 5, 33
    spec = rng.normal(size=(n_time, items, 2, 16, n_freq)).astype(np.float32)  # (T, N, bands, C, freq)
    rotation = rng.integers(-1, 2, size=(items, 2))
    time, freq, expected = [], [], []
    for n in range(items):
        shape = (n_time, 2, 16, n_freq)
        t, f = SpecAugment(*params, time_dim=0, independent_dims=(1, 2), rng=10 + n).intervals(shape)
        time.append(t[:, 0, :, :, 0].transpose(1, 2, 0, 3))  # (2, 16, M, 2)
        freq.append(f[:, 0, :, :, 0].transpose(1, 2, 0, 3))
        rolled = np.stack([np.roll(spec[:, n, b], rotation[n, b], axis=1) for b in range(2)], axis=1)
        mask = SpecAugment(*params, time_dim=0, independent_dims=(1, 2), rng=10 + n).mask(shape)
        expected.append(np.where(mask, np.float32(0), rolled))

    def padded(bounds):
        out = np.zeros((items, 2, 16, max(b.shape[2] for b in bounds), 2), dtype=np.int64)  # [0, 0): no mask
        for n, b in enumerate(bounds):
            out[n, :, :, :b.shape[2]] = b
        return torch.from_numpy(out)

    out = rotate_and_mask(in_layout(spec, layout), torch.from_numpy(rotation), padded(time), padded(freq))
    assert torch.equal(out, torch.from_numpy(np.stack(expected, axis=1)))
    assert params[0] == 0 or not torch.equal(out, torch.from_numpy(spec))


def test_intervals_are_the_masks_stripes():
    aug = SpecAugment(3, 25, 2, 4, time_dim=0, independent_dims=(1, 2), rng=3)
    time, freq = aug.intervals((100, 2, 16, 33))
    assert time.shape[1:] == (1, 2, 16, 1, 2) and freq.shape[1:] == (1, 2, 16, 1, 2)
    assert ((time[..., 1] - time[..., 0] >= 0) & (time[..., 1] - time[..., 0] < 25)).all()
    assert (time[..., 0] >= 0).all() and (time[..., 1] <= 100).all() and (freq[..., 1] <= 33).all()
