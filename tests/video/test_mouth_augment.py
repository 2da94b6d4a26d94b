"""Mouth-crop augmentation: flips, translations with replicated edges, time masks; seeded and bounded."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.video.mouth_augment import MouthAugment, SpeedPerturbation

VIDEO = torch.arange(6 * 5 * 7, dtype=torch.float32).reshape(6, 5, 7) + 1  # (T, h, w), no zero anywhere


def translations(video: torch.Tensor, s: int) -> list[torch.Tensor]:
    padded = F.pad(video[None], (s, s, s, s), mode="replicate")[0]
    t, h, w = video.shape
    return [padded[:, dy:dy + h, dx:dx + w] for dy in range(2 * s + 1) for dx in range(2 * s + 1)]


@given(seed=st.integers(0, 2**32 - 1), shift=st.integers(0, 3))
@settings(max_examples=40, deadline=None)
def test_a_shift_is_one_translation_of_the_whole_video_with_edges_replicated(seed, shift):
    out = MouthAugment(flip=False, max_shift=shift, time_masks=0, rng=np.random.default_rng(seed))(VIDEO)
    assert out.shape == VIDEO.shape
    assert sum(torch.equal(out, c) for c in translations(VIDEO, shift)) >= 1


def test_flips_happen_about_half_the_time_and_mirror_left_right():
    aug = MouthAugment(flip=True, max_shift=0, time_masks=0, rng=np.random.default_rng(0))
    outs = [aug(VIDEO) for _ in range(200)]
    flipped = sum(torch.equal(o, VIDEO.flip(-1)) for o in outs)
    assert sum(torch.equal(o, VIDEO) for o in outs) + flipped == 200
    assert 70 < flipped < 130


@given(seed=st.integers(0, 2**32 - 1), masks=st.integers(0, 3), frames=st.integers(0, 4))
@settings(max_examples=40, deadline=None)
def test_time_masks_zero_whole_frames_and_leave_the_rest_untouched(seed, masks, frames):
    original = VIDEO.clone()
    out = MouthAugment(flip=False, max_shift=0, time_masks=masks, max_mask_frames=frames,
                       rng=np.random.default_rng(seed))(VIDEO)
    assert torch.equal(VIDEO, original)  # the cached crops are never modified in place
    masked = out.flatten(1).eq(0).all(1)  # (T,) frames set to zero
    assert int(masked.sum()) <= masks * frames
    assert torch.equal(out[~masked], VIDEO[~masked]) and out.flatten(1)[masked].eq(0).all()


def test_seeded_augmentation_is_reproducible_and_sizes_are_checked():
    a = MouthAugment(rng=np.random.default_rng(3))
    b = MouthAugment(rng=np.random.default_rng(3))
    assert all(torch.equal(a(VIDEO), b(VIDEO)) for _ in range(5))
    with pytest.raises(ValueError, match=">= 0"):
        MouthAugment(max_shift=-1)


@given(seed=st.integers(0, 2**32 - 1), frames=st.integers(1, 120), change=st.floats(0.0, 0.5))
@settings(max_examples=60, deadline=None)
def test_speed_perturbation_plays_the_video_in_order_at_one_rate_within_the_bounds(seed, frames, change):
    idx = SpeedPerturbation(change, np.random.default_rng(seed))(frames)
    assert idx.min() >= 0 and idx.max() <= frames - 1 and idx[0] == 0
    assert (np.diff(idx) >= 0).all()  # never plays backwards
    assert round(frames / (1 + change)) <= len(idx) <= max(1, round(frames / (1 - change)))
    assert (np.diff(idx) <= 2).all()  # a rate within 1 +- 0.5 skips at most one frame at a time


def test_speed_perturbation_keeps_targets_aligned_with_their_frames():
    from myovision.lipread.data import LipReadingSet

    crops = [torch.arange(50, dtype=torch.float32)[:, None, None].expand(50, 2, 3)]  # frame i holds the value i
    ds = LipReadingSet(crops, [np.arange(50)], [["a"]], speed=SpeedPerturbation(0.3, np.random.default_rng(0)))
    lengths = set()
    for _ in range(20):
        item = ds[0]
        assert torch.equal(item["video"][:, 0, 0].long(), item["states"])
        lengths.add(len(item["states"]))
    assert len(lengths) > 3 and min(lengths) < 50 < max(lengths)
    with pytest.raises(ValueError, match="max_change"):
        SpeedPerturbation(1.0)
