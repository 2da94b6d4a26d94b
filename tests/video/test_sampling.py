"""Clip sampling: hand-computed indices, and properties over random spans (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.errors import InputError
from myovision.video.sampling import clip_indices, dense_clip_indices, uniform_clip_indices


def test_dense_evaluation_clips_are_centred_on_equal_segments():
    # span 100..199 in 5 segments of 20: centres 110, 130, ..., 190; 16 frames from centre - 8
    idx = dense_clip_indices(100, 199, clips=5, frames=16)
    assert idx.shape == (5, 16) and idx.dtype == np.int64
    assert idx[:, 0].tolist() == [102, 122, 142, 162, 182]
    np.testing.assert_array_equal(np.diff(idx, axis=1), 1)


def test_dense_clips_stay_inside_a_long_enough_span_and_clamp_past_the_video_end():
    idx = dense_clip_indices(0, 39, clips=2, frames=8, stride=4)  # window 29 > a 20-frame segment
    assert idx[:, 0].tolist() == [0, 11] and idx.max() == 39  # second window pushed back to end at 39
    short = dense_clip_indices(5, 7, clips=2, frames=4, last=8)  # 3-frame span, video ends at 8
    assert short.tolist() == [[5, 6, 7, 8], [5, 6, 7, 8]]
    assert dense_clip_indices(5, 7, clips=1, frames=4).tolist() == [[5, 6, 7, 7]]  # last defaults to stop


def test_uniform_clips_take_the_phase_of_their_clip_in_every_part():
    assert uniform_clip_indices(0, 99, clips=1, frames=5).tolist() == [[10, 30, 50, 70, 90]]
    assert uniform_clip_indices(10, 19, clips=2, frames=2).tolist() == [[11, 16], [13, 18]]
    assert uniform_clip_indices(0, 2, clips=1, frames=6).tolist() == [[0, 0, 1, 1, 2, 2]]  # short: repeats


def test_training_offsets_are_random_but_seeded():
    a = dense_clip_indices(0, 999, 5, 16, train=True, rng=np.random.default_rng(1))
    b = dense_clip_indices(0, 999, 5, 16, train=True, rng=np.random.default_rng(1))
    c = dense_clip_indices(0, 999, 5, 16, train=True, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    for k in range(5):  # each clip's centre stays in its own segment of 200 frames
        assert 200 * k - 8 <= a[k, 0] + 8 < 200 * (k + 1) + 8


def test_bad_spans_and_names():
    with pytest.raises(InputError, match="starts after the last frame 50"):
        clip_indices(60, 70, 5, 16, last=50)
    with pytest.raises(InputError, match="0 <= start <= stop"):
        clip_indices(10, 5, 5, 16)
    with pytest.raises(InputError, match="sampling must be one of"):
        clip_indices(0, 10, 1, 4, sampling="random")


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 500), length=st.integers(1, 400), extra=st.integers(0, 50), clips=st.integers(1, 8),
       frames=st.integers(1, 32), stride=st.integers(1, 4), train=st.booleans(), dense=st.booleans(),
       seed=st.integers(0, 2**16))
def test_indices_are_in_range_ordered_and_start_in_the_span(start, length, extra, clips, frames, stride, train, dense,
                                                            seed):
    stop, last = start + length - 1, start + length - 1 + extra
    idx = clip_indices(start, stop, clips, frames, "dense" if dense else "uniform", stride, train=train,
                       rng=np.random.default_rng(seed), last=last)
    assert idx.shape == (clips, frames)
    assert idx.min() >= start and idx.max() <= last
    assert (np.diff(idx, axis=1) >= 0).all()  # time order inside a clip
    assert (idx[:, 0] <= stop).all()  # every clip starts inside the action
    if not train:
        assert (np.diff(idx[:, 0]) >= 0).all()  # clips in time order
    if dense and length >= (frames - 1) * stride + 1:
        assert idx.max() <= stop  # a span long enough holds every window
