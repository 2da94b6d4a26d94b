"""Augmentations: bounds, permutations, shifts, smoothness and reproducibility, on numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from myovision.errors import InputError
from myovision.signals.augment import BandRotation, Compose, MagnitudeWarping, SpecAugment, TemporalJitter

MARK = -99.0  # mask value that cannot occur in the test spectrograms (all entries >= 0)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D boolean array."""
    padded = np.r_[False, flags, False].astype(int)
    starts = np.flatnonzero(np.diff(padded) == 1)
    ends = np.flatnonzero(np.diff(padded) == -1)
    return list(zip(starts.tolist(), (ends - starts).tolist()))


# ----------------------------------------------------------------------------- SpecAugment


@pytest.mark.parametrize("seed", range(40))
def test_specaugment_single_masks_are_one_stripe_within_bounds(seed):
    spec = np.random.default_rng(seed).random((4, 100, 33))  # (channels, time, freq), default layout
    aug = SpecAugment(n_time_masks=1, time_mask_param=25, n_freq_masks=1, freq_mask_param=4, mask_value=MARK, rng=seed)
    out = aug(spec)
    masked = out == MARK
    assert ((out == spec) | masked).all()  # nothing else changes
    time_rows = masked.all(axis=(0, 2))  # a time mask covers every channel and bin
    freq_cols = masked.all(axis=(0, 1))
    t_runs, f_runs = runs(time_rows), runs(freq_cols)
    assert len(t_runs) <= 1 and all(w < 25 for _, w in t_runs)  # widths 0 .. param - 1
    assert len(f_runs) <= 1 and all(w < 4 for _, w in f_runs)
    assert (masked == (time_rows[None, :, None] | freq_cols[None, None, :])).all()  # masks are whole stripes


def test_specaugment_counts_and_widths_over_many_draws():
    aug = SpecAugment(n_time_masks=3, time_mask_param=5, n_freq_masks=2, freq_mask_param=3, mask_value=MARK, rng=0)
    spec = np.ones((200, 40))  # (time, freq): stripes rarely merge
    time_counts, widths = [], []
    for _ in range(400):
        masked = aug(spec) == MARK
        rows = masked.all(axis=1)
        cols = masked.all(axis=0)
        assert rows.sum() <= 3 * 4 and cols.sum() <= 2 * 2  # each mask is at most param - 1 wide
        t_runs = runs(rows)
        assert len(t_runs) <= 3 and len(runs(cols)) <= 2
        time_counts.append(len(t_runs))
        widths += [w for _, w in t_runs]
    assert set(time_counts) == {0, 1, 2, 3}  # the count is drawn from 0 .. n_time_masks
    assert max(widths) <= 8 and set(range(1, 5)) <= set(widths)  # widths up to param - 1 (merged pairs up to 2x)


def torchaudio_mask(size: int, mask_param: int, u_value: float, u_start: float) -> np.ndarray:
    """torchaudio.functional.mask_along_axis's mask, line for line, for given uniform draws."""
    value = torch.tensor(u_value, dtype=torch.float64) * mask_param
    min_value = torch.tensor(u_start, dtype=torch.float64) * (size - value)
    mask_start = min_value.long()
    mask_end = min_value.long() + value.long()
    mask = torch.arange(0, size, dtype=torch.float64)
    return ((mask >= mask_start) & (mask < mask_end)).numpy()


@pytest.mark.parametrize(("size", "param"), [(20, 5), (7, 7), (3, 8)])  # incl. param > axis length
def test_specaugment_replays_torchaudio_mask_along_axis(size, param):
    for seed in range(300):
        mask = SpecAugment(n_time_masks=1, time_mask_param=param, rng=seed).mask((size, 6))[:, 0]  # (time,)
        replay = np.random.default_rng(seed)  # the same draws: mask count, then value, then start
        if replay.integers(2) == 0:
            assert not mask.any()
            continue
        u_value, u_start = replay.random(), replay.random()
        np.testing.assert_array_equal(mask, torchaudio_mask(size, param, u_value, u_start), err_msg=f"seed {seed}")


def expected_stripe_probabilities(size: int, param: int) -> dict[tuple[int, int], float]:
    """P(one mask is the stripe [start, start + width)) under torchaudio's rule, by integrating over the draws.

    width = floor(v) with v ~ U[0, param); given v, start = floor(U * (size - v)) with U ~ U[0, 1).
    """
    probs = {}
    for width in range(1, param):
        v = width + (np.arange(20_000) + 0.5) / 20_000  # midpoint rule over v in [width, width + 1)
        span = size - v
        for start in range(size):
            p_start = np.clip(np.minimum(start + 1, span) - start, 0, None) / span  # P(floor(U * span) == start)
            if p_start.any():
                probs[(start, width)] = float(p_start.mean()) / param
    return probs


def test_specaugment_width_and_start_distribution_is_torchaudios():
    size, param, calls = 20, 5, 6000
    aug = SpecAugment(n_time_masks=1, time_mask_param=param, mask_value=MARK, rng=123)
    spec = np.ones((size, 4))  # (time, freq)
    stripes, empty = [], 0
    for _ in range(calls):
        t_runs = runs((aug(spec) == MARK).all(axis=1))
        assert len(t_runs) <= 1
        stripes += t_runs
        empty += not t_runs
    widths = [w for _, w in stripes]
    assert max(widths) == param - 1  # never param: floor(U * param) < param
    # no stripe: no mask drawn (1/2) or a mask of width 0 (1/2 * 1/param); without width 0 this would be 1/2
    expected_empty = 0.5 + 0.5 / param
    assert abs(empty / calls - expected_empty) < 5 * np.sqrt(expected_empty * (1 - expected_empty) / calls)
    # widths 1 .. param - 1 equally likely, and starts given each width as the rule implies (chi-square)
    probs = expected_stripe_probabilities(size, param)
    assert set(stripes) <= set(probs)  # every stripe lies inside the axis
    cells = sorted(probs)
    observed = np.array([stripes.count(c) for c in cells], dtype=float)
    expected = np.array([probs[c] for c in cells]) * calls
    expected *= observed.sum() / expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    for width in range(1, param):
        share = widths.count(width) / calls
        assert abs(share - 0.5 / param) < 0.02, (width, share)


def test_specaugment_log_spectrogram_layout_and_independent_dims():
    spec = np.random.default_rng(1).random((120, 2, 16, 33))  # log_spectrogram's (T', bands, electrodes, freq)
    shared = SpecAugment(2, 25, 2, 4, mask_value=MARK, time_dim=0, rng=3)(spec) == MARK
    assert (shared == shared[:, :1, :1, :]).all()  # same stripes for every band and electrode
    iid = SpecAugment(2, 25, 2, 4, mask_value=MARK, time_dim=0, independent_dims=(1, 2), rng=3)
    patterns = set()
    for _ in range(5):
        m = iid(spec) == MARK
        patterns |= {m[:, b, c].tobytes() for b in range(2) for c in range(16)}
    assert len(patterns) > 10  # electrodes and bands get their own positions


def test_specaugment_torch_matches_numpy_and_keeps_type():
    spec = np.random.default_rng(2).random((3, 50, 20)).astype(np.float32)
    a = SpecAugment(2, 10, 2, 5, mask_value=-1.0, rng=7)(spec)
    b = SpecAugment(2, 10, 2, 5, mask_value=-1.0, rng=7)(torch.from_numpy(spec))
    assert isinstance(b, torch.Tensor) and b.dtype == torch.float32 and a.dtype == np.float32
    np.testing.assert_array_equal(a, b.numpy())


def test_specaugment_zero_masks_is_identity_and_bad_settings():
    spec = np.random.default_rng(3).random((10, 8))
    np.testing.assert_array_equal(SpecAugment(rng=0)(spec), spec)
    with pytest.raises(InputError, match=r"n_time_masks must be an integer >= 0"):
        SpecAugment(n_time_masks=-1)
    with pytest.raises(InputError, match="same axis"):
        SpecAugment(1, 2, time_dim=-1, freq_dim=1)(spec)
    with pytest.raises(InputError, match="out of range"):
        SpecAugment(1, 2, time_dim=5)(spec)


# ----------------------------------------------------------------------------- BandRotation


def is_rotation(before: np.ndarray, after: np.ndarray, offset: int) -> bool:
    return np.array_equal(after, np.roll(before, offset, axis=-1))


@pytest.mark.parametrize("seed", range(20))
def test_band_rotation_rolls_each_band_within_allowed_offsets(seed):
    x = np.arange(50 * 32, dtype=np.float32).reshape(50, 32)  # (time, 2 bands x 16 electrodes)
    rot = BandRotation(offsets=(-1, 0, 1), n_bands=2, rng=seed)
    y = rot(x)
    assert y.shape == x.shape and len(rot.last_offsets) == 2
    for band, offset in enumerate(rot.last_offsets):
        assert offset in (-1, 0, 1)
        cols = slice(16 * band, 16 * band + 16)
        assert sorted(y[0, cols]) == sorted(x[0, cols])  # a permutation within the band
        assert is_rotation(x[:, cols], y[:, cols], offset)


def test_band_rotation_band_dim_and_offsets_cover_the_set():
    x = np.random.default_rng(4).standard_normal((30, 2, 16))  # emg2qwerty (T, bands, electrodes)
    rot = BandRotation(offsets=(-2, 3), band_dim=1, rng=5)
    seen = set()
    for _ in range(40):
        y = rot(x)
        for band, offset in enumerate(rot.last_offsets):
            assert offset in (-2, 3)
            assert is_rotation(x[:, band], y[:, band], offset)
        seen.add(rot.last_offsets)
    assert seen == {(-2, -2), (-2, 3), (3, -2), (3, 3)}  # independent per band
    t = BandRotation(offsets=(-2, 3), band_dim=1, rng=5)(torch.from_numpy(x))
    np.testing.assert_array_equal(t.numpy(), BandRotation(offsets=(-2, 3), band_dim=1, rng=5)(x))


def test_band_rotation_bad_band_split():
    with pytest.raises(InputError, match="equal bands"):
        BandRotation(n_bands=3)(np.zeros((5, 16)))


# ----------------------------------------------------------------------------- TemporalJitter


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), max_offset=st.integers(0, 30))
def test_temporal_jitter_shifts_second_band_by_k(seed, max_offset):
    x = np.random.default_rng(seed).standard_normal((200, 2, 4))  # (time, bands, electrodes)
    jit = TemporalJitter(max_offset, band_dim=1, rng=seed)
    y = jit(x)
    k = jit.last_offset
    assert -max_offset <= k <= max_offset
    assert y.shape == (200 - abs(k), 2, 4)
    if k >= 0:
        np.testing.assert_array_equal(y[:, 0], x[k:, 0])
        np.testing.assert_array_equal(y[:, 1], x[: 200 - k, 1])
    else:
        np.testing.assert_array_equal(y[:, 0], x[: 200 + k, 0])
        np.testing.assert_array_equal(y[:, 1], x[-k:, 1])


def test_temporal_jitter_channel_halves_and_torch():
    x = np.arange(100 * 8, dtype=np.float64).reshape(100, 8)
    jit = TemporalJitter(5, rng=1)
    offsets = set()
    for _ in range(60):
        y = jit(x)
        k = jit.last_offset
        offsets.add(k)
        a, b = (x[k:, :4], x[: 100 - k, 4:]) if k >= 0 else (x[: 100 + k, :4], x[-k:, 4:])
        np.testing.assert_array_equal(y, np.concatenate([a, b], axis=1))
    assert offsets == set(range(-5, 6))
    t = TemporalJitter(5, rng=9)(torch.from_numpy(x))
    np.testing.assert_array_equal(t.numpy(), TemporalJitter(5, rng=9)(x))
    with pytest.raises(InputError, match="2 bands"):
        TemporalJitter(3, band_dim=1)(np.zeros((10, 3, 4)))


# ----------------------------------------------------------------------------- MagnitudeWarping


def test_magnitude_warping_curve_passes_through_knots_and_is_a_cubic_spline():
    warp = MagnitudeWarping(sigma=0.2, knots=4, rng=0)
    curve, knot_t, knot_v = warp.curve(101, (3,))  # knots at 0, 20, ..., 100: integer samples
    np.testing.assert_array_equal(knot_t, np.arange(0, 101, 20))
    np.testing.assert_allclose(curve[knot_t.astype(int)], knot_v, atol=1e-12)
    t = np.arange(101.0)
    second_derivs = []
    for i in range(5):  # a cubic polynomial on each knot interval (exactly)
        seg = slice(20 * i, 20 * i + 21)
        for c in range(3):
            coeffs = np.polyfit(t[seg], curve[seg, c], 3)
            np.testing.assert_allclose(np.polyval(coeffs, t[seg]), curve[seg, c], atol=1e-9)
            second_derivs.append(np.polyval(np.polyder(coeffs, 2), [t[seg][0], t[seg][-1]]))
    # C2 at the inner knots: the second derivative from the left equals that from the right
    d2 = np.array(second_derivs).reshape(5, 3, 2)
    np.testing.assert_allclose(d2[:-1, :, 1], d2[1:, :, 0], atol=1e-6)
    # not-a-knot: the first two intervals are the same cubic (third derivative continuous at knot 1)
    left = np.polyfit(t[0:21], curve[0:21, 0], 3)
    right = np.polyfit(t[20:41], curve[20:41, 0], 3)
    np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-9)


def test_magnitude_warping_multiplies_per_channel_mean_one_and_smooth():
    x = np.ones((500, 2000), np.float32)  # 2000 channels -> 2000 curves
    y = MagnitudeWarping(sigma=0.2, knots=4, rng=1)(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert abs(y.mean() - 1.0) < 0.01
    assert 0.15 < y[0].std() < 0.25  # at a knot the spread is sigma
    assert np.abs(np.diff(y, axis=0)).max() < 0.1  # no jumps between samples
    assert np.unique(y[:, :10], axis=1).shape[1] == 10  # every channel has its own curve
    signal = np.random.default_rng(2).standard_normal((500, 3))
    warp = MagnitudeWarping(sigma=0.3, rng=4)
    curve, _, _ = MagnitudeWarping(sigma=0.3, rng=4).curve(500, (3,))
    np.testing.assert_allclose(warp(signal), signal * curve)


def test_magnitude_warping_shared_curve_scales_every_channel_alike():
    from scipy.interpolate import CubicSpline

    x = np.random.default_rng(7).standard_normal((400, 2, 16))
    y = MagnitudeWarping(sigma=0.2, knots=3, time_dim=0, rng=3, shared_curve=True)(x)
    values = np.random.default_rng(3).normal(1.0, 0.2, 5)  # knots + 2 values, drawn as the augmentation draws them
    curve = CubicSpline(np.linspace(0, 399, 5), values)(np.arange(400))
    np.testing.assert_allclose(y, x * curve[:, None, None])
    ratio = y / x
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1], ratio.shape))  # one curve for all 32


def test_magnitude_warping_zero_sigma_is_identity_and_torch():
    x = np.random.default_rng(5).standard_normal((300, 2, 16))
    np.testing.assert_array_equal(MagnitudeWarping(sigma=0.0, rng=0)(x), x)
    t = MagnitudeWarping(rng=6)(torch.from_numpy(x).float())
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), MagnitudeWarping(rng=6)(x.astype(np.float32)), rtol=1e-6)
    with pytest.raises(InputError, match="sigma"):
        MagnitudeWarping(sigma=-1.0)


# ----------------------------------------------------------------------------- Compose and reproducibility


def test_compose_applies_in_order():
    calls = []
    f = Compose([lambda x: calls.append("a") or x + 1, lambda x: calls.append("b") or x * 10])
    assert f(1) == 20 and calls == ["a", "b"]
    assert Compose([lambda x: x * 10, lambda x: x + 1])(1) == 11
    assert Compose([])(5) == 5


def pipeline(seed):
    rng = np.random.default_rng(seed)  # one generator shared by all steps
    return Compose(
        [
            BandRotation(band_dim=1, rng=rng),
            TemporalJitter(20, band_dim=1, rng=rng),
            MagnitudeWarping(rng=rng),
            SpecAugment(2, 10, 2, 3, time_dim=0, freq_dim=-1, rng=rng),
        ]
    )


def test_same_seed_same_output_different_seed_different_output():
    x = np.random.default_rng(0).standard_normal((400, 2, 16)).astype(np.float32)
    a, b = pipeline(11)(x), pipeline(11)(x)
    np.testing.assert_array_equal(a, b)
    outputs = [pipeline(s)(x) for s in range(12, 16)]
    assert any(o.shape != a.shape or not np.array_equal(o, a) for o in outputs)
    # a transform keeps drawing: two calls differ, a fresh one with the seed repeats the first
    p = pipeline(11)
    first, second = p(x), p(x)
    np.testing.assert_array_equal(first, a)
    assert first.shape != second.shape or not np.array_equal(first, second)


def test_bad_rng_and_input_types():
    with pytest.raises(InputError, match="rng"):
        BandRotation(rng="seed")
    with pytest.raises(InputError, match="numpy array or a torch tensor"):
        BandRotation()([1, 2, 3])
