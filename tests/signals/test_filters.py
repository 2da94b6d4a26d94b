"""Tests for myovision.signals.filters, written from the definitions (naive loops, DTFT, scipy reference calls)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as sps
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from myovision.errors import InputError
from myovision.signals.filters import (
    PAD_MODES,
    butter_filter,
    minmax_normalise,
    moving_rms,
    notch,
    rectify,
    zscore,
)

RNG = np.random.default_rng(1234)


def naive_rms(x: np.ndarray, window: int, mode: str) -> np.ndarray:
    """Per-sample definition: pad floor(w/2) on both sides, output t = RMS of padded[t : t + w] (T outputs)."""
    half = window // 2
    padded = np.pad(x, ((half, half), (0, 0)), mode=mode)
    out = np.empty_like(x, dtype=np.float64)
    for t in range(x.shape[0]):
        out[t] = np.sqrt(np.mean(padded[t : t + window] ** 2, axis=0))
    return out


# ---------------------------------------------------------------- rectify / moving RMS


def test_rectify_is_absolute_value():
    x = np.array([[-1.5, 2.0], [0.0, -3.0]])
    np.testing.assert_array_equal(rectify(x), [[1.5, 2.0], [0.0, 3.0]])


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 8, 32])
def test_moving_rms_matches_naive_definition(mode, window):
    x = RNG.normal(size=(40, 3))
    np.testing.assert_allclose(moving_rms(x, window, mode=mode), naive_rms(x, window, mode), rtol=1e-10, atol=1e-12)


def test_moving_rms_even_window_takes_extra_sample_from_the_past():
    x = np.zeros((20, 1))
    x[10] = 1.0
    y = moving_rms(x, 4, mode="constant")[:, 0]
    # window for t covers x[t-2 .. t+1]: the impulse at 10 is seen by t = 9, 10, 11, 12
    np.testing.assert_array_equal(np.flatnonzero(y), [9, 10, 11, 12])
    np.testing.assert_allclose(y[9:13], 0.5)


def test_moving_rms_odd_window_is_centred():
    x = np.zeros((20, 1))
    x[10] = 1.0
    y = moving_rms(x, 5, mode="constant")[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(y), [8, 9, 10, 11, 12])


def test_moving_rms_symmetric_edges_use_mirrored_samples():
    x = np.arange(1.0, 7.0)[:, None]  # 1..6
    # window 4 at t=0 covers padded samples x[-2], x[-1], x[0], x[1] = 2, 1, 1, 2 under "symmetric"
    assert moving_rms(x, 4)[0, 0] == pytest.approx(np.sqrt((4 + 1 + 1 + 4) / 4))
    # at t=5 (last) it covers x[3], x[4], x[5], x[6] = 4, 5, 6, 6
    assert moving_rms(x, 4)[5, 0] == pytest.approx(np.sqrt((16 + 25 + 36 + 36) / 4))


signals = arrays(np.float64, st.tuples(st.integers(8, 60), st.integers(1, 4)), elements=st.floats(-1e3, 1e3))


@settings(max_examples=40, deadline=None)
@given(x=signals, window=st.integers(1, 8), scale=st.floats(-50, 50), mode=st.sampled_from(["symmetric", "reflect", "edge", "constant", "wrap"]))
def test_moving_rms_properties(x, window, scale, mode):
    y = moving_rms(x, window, mode=mode)
    assert y.shape == x.shape
    assert np.all(y >= 0)
    assert np.all(y <= np.abs(x).max() * (1 + 1e-9) + 1e-12)
    np.testing.assert_allclose(moving_rms(scale * x, window, mode=mode), abs(scale) * y, rtol=1e-8, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(c=st.floats(-1e4, 1e4), n=st.integers(1, 50), window=st.integers(1, 9), mode=st.sampled_from(["symmetric", "reflect", "edge", "wrap"]))
def test_moving_rms_of_constant_is_abs_constant(c, n, window, mode):
    window = min(window, n)
    y = moving_rms(np.full((n, 2), c), window, mode=mode)
    np.testing.assert_allclose(y, abs(c), rtol=1e-9, atol=1e-9)


def test_moving_rms_batched_torch_equals_numpy_loop():
    x = RNG.normal(size=(3, 50, 4)).astype(np.float32)
    y = moving_rms(torch.from_numpy(x), 6)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (3, 50, 4)
    for i in range(3):
        np.testing.assert_allclose(y[i].numpy(), moving_rms(x[i], 6), rtol=1e-6)


def test_moving_rms_keeps_float32_numpy():
    assert moving_rms(np.ones((10, 2), np.float32), 3).dtype == np.float32
    assert moving_rms(np.ones((10, 2), np.int16), 3).dtype == np.float64
    assert moving_rms(torch.ones(10, 2, dtype=torch.bfloat16), 3).dtype == torch.bfloat16
    assert moving_rms(torch.ones(10, 2, dtype=torch.int64), 3).dtype == torch.get_default_dtype()


# ---------------------------------------------------------------- normalisation


def test_minmax_per_channel_spans_unit_interval():
    x = RNG.normal(size=(100, 5)) * np.arange(1, 6) + np.arange(5)
    y = minmax_normalise(x)
    np.testing.assert_allclose(y.min(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(y.max(axis=0), 1.0)
    np.testing.assert_allclose(y, (x - x.min(0)) / (x.max(0) - x.min(0)))


def test_minmax_global_one_min_max_keeps_channel_ratios():
    x = np.abs(RNG.normal(size=(100, 4))) * np.array([1.0, 2.0, 5.0, 0.5]) + 0.1
    y = minmax_normalise(x, per_channel=False)
    assert y.min() == pytest.approx(0.0) and y.max() == pytest.approx(1.0)
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(y, (x - lo) / (hi - lo))
    # one shared affine map: the channels' amplitude ranges keep their ratios (per-channel would make them all 1)
    span = lambda a: a.max(axis=0) - a.min(axis=0)  # noqa: E731
    np.testing.assert_allclose(span(y) / span(y)[0], span(x) / span(x)[0])
    assert not np.allclose(span(y), 1.0)


def test_minmax_feature_range_and_flat_channel():
    x = np.stack([np.linspace(0, 4, 9), np.full(9, 3.0)], axis=1)
    y = minmax_normalise(x, feature_range=(-1.0, 1.0))
    np.testing.assert_allclose(y[:, 0], np.linspace(-1, 1, 9))
    np.testing.assert_array_equal(y[:, 1], -1.0)


def test_minmax_batched_is_per_recording():
    x = RNG.normal(size=(2, 30, 3))
    x[1] *= 10
    y = minmax_normalise(torch.from_numpy(x), per_channel=False)
    for i in range(2):
        np.testing.assert_allclose(y[i].numpy(), minmax_normalise(x[i], per_channel=False))


def test_zscore():
    x = RNG.normal(size=(200, 3)) * [1, 3, 9] + [0, 5, -2]
    y = zscore(x)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(0), 1)
    g = zscore(x, per_channel=False)
    np.testing.assert_allclose(g, (x - x.mean()) / x.std())
    np.testing.assert_array_equal(zscore(np.ones((5, 1))), 0.0)


# ---------------------------------------------------------------- Butterworth / notch


def dtft(h: np.ndarray, f: float, fs: float) -> complex:
    n = np.arange(len(h))  # the index origin only changes the phase, not |H|
    return complex(np.sum(h * np.exp(-2j * np.pi * f / fs * n)))


def impulse_response(fs, cutoff, kind, order, zero_phase, n=8192):
    x = np.zeros((n, 1))
    x[n // 2 if zero_phase else 0] = 1.0
    return butter_filter(x, fs, cutoff, kind, order, zero_phase=zero_phase, padtype=None)[:, 0]


@pytest.mark.parametrize("kind,cutoff,order", [("low", 5.0, 5), ("low", 1.0, 4), ("high", 20.0, 4), ("low", 30.0, 8)])
def test_butter_magnitude_at_cutoff(kind, cutoff, order):
    fs = 160.0
    causal = abs(dtft(impulse_response(fs, cutoff, kind, order, zero_phase=False), cutoff, fs))
    assert 20 * np.log10(causal) == pytest.approx(-3.0103, abs=0.01)
    zero = abs(dtft(impulse_response(fs, cutoff, kind, order, zero_phase=True), cutoff, fs))
    assert 20 * np.log10(zero) == pytest.approx(-6.0206, abs=0.02)


def sine(freq, fs=160.0, n=4000, phase=0.0):
    t = np.arange(n) / fs
    return np.sin(2 * np.pi * freq * t + phase)[:, None]


def test_butter_lowpass_passes_slow_and_blocks_fast_sines():
    mid = slice(1000, 3000)
    slow = butter_filter(sine(1.0), 160, 5.0, order=5)
    fast = butter_filter(sine(30.0), 160, 5.0, order=5)
    np.testing.assert_allclose(slow[mid], sine(1.0)[mid], atol=1e-3)
    assert np.abs(fast[mid]).max() < 1e-4


def test_band_and_stop():
    mid = slice(1000, 3000)
    band = lambda f: np.abs(butter_filter(sine(f), 160, (20.0, 40.0), "band", 3)[mid]).max()  # noqa: E731
    stop = lambda f: np.abs(butter_filter(sine(f), 160, (20.0, 40.0), "stop", 3)[mid]).max()  # noqa: E731
    assert band(30.0) > 0.99 and band(3.0) < 1e-3 and band(75.0) < 1e-3
    assert stop(30.0) < 1e-2 and stop(3.0) > 0.99


def test_zero_phase_has_no_lag_and_causal_lags():
    rng = np.random.default_rng(7)
    x = sps.sosfiltfilt(sps.butter(2, 3.0, fs=160, output="sos"), rng.normal(size=4000))[:, None]
    x -= x.mean()

    def lag(y):
        c = np.correlate(y[:, 0] - y.mean(), x[:, 0], mode="full")
        return int(np.argmax(c)) - (len(x) - 1)

    assert lag(butter_filter(x, 160, 8.0, order=4)) == 0
    assert lag(butter_filter(x, 160, 8.0, order=4, zero_phase=False)) > 0


def test_ba_form_is_bit_identical_to_scipy_filtfilt_and_padlen_conventions():
    x = RNG.normal(size=(500, 3))
    b, a = sps.butter(4, 1, fs=160)
    np.testing.assert_array_equal(butter_filter(x, 160, 1.0), sps.filtfilt(b, a, x, axis=0))  # scipy default padlen 15
    np.testing.assert_array_equal(butter_filter(x, 160, 1.0, padlen="matlab"), sps.filtfilt(b, a, x, axis=0, padlen=12))
    np.testing.assert_array_equal(butter_filter(x, 160, 1.0, padlen=40, padtype="even"), sps.filtfilt(b, a, x, axis=0, padlen=40, padtype="even"))
    np.testing.assert_array_equal(butter_filter(x, 160, 1.0, zero_phase=False), sps.lfilter(b, a, x, axis=0))
    # sos form agrees to rounding under the same padding
    np.testing.assert_allclose(butter_filter(x, 160, 1.0, form="sos"), sps.filtfilt(b, a, x, axis=0), atol=1e-8)


def test_high_order_uses_stable_sections():
    x = np.ones((3000, 1)) + 0.1 * RNG.normal(size=(3000, 1))
    y = butter_filter(x, 160, 0.5, order=10)  # (b, a) overflows here; sos does not
    assert np.isfinite(y).all()
    assert np.abs(y[1000:2000].mean() - x[1000:2000].mean()) < 0.05


def test_butter_batched_torch_equals_numpy_loop():
    x = RNG.normal(size=(2, 300, 3))
    y = butter_filter(torch.from_numpy(x), 160, 10.0, order=5)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float64
    for i in range(2):
        np.testing.assert_allclose(y[i].numpy(), butter_filter(x[i], 160, 10.0, order=5), rtol=1e-12, atol=1e-14)


def test_notch_removes_mains_and_keeps_signal():
    mid = slice(1000, 3000)
    fs = 500.0
    hum = notch(sine(50.0, fs), fs)
    keep = notch(sine(10.0, fs), fs)
    assert np.abs(hum[mid]).max() < 1e-3
    np.testing.assert_allclose(keep[mid], sine(10.0, fs)[mid], atol=1e-2)
    b, a = sps.iirnotch(50.0, 30.0, fs=fs)
    np.testing.assert_array_equal(notch(sine(7.0, fs), fs, zero_phase=False), sps.lfilter(b, a, sine(7.0, fs), axis=0))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: moving_rms(np.ones(10), 3), "shaped"),
        (lambda: moving_rms(np.ones((10, 2)), 11), "longer than the signal"),
        (lambda: moving_rms(np.ones((10, 2)), 0), "integer >= 1"),
        (lambda: moving_rms(np.ones((10, 2)), 3, mode="empty"), "valid: symmetric"),
        (lambda: moving_rms(np.array([[1.0], [np.nan]]), 1), "non-finite.*time 1, channel 0"),
        (lambda: rectify(np.array([[np.inf]])), "non-finite"),
        (lambda: minmax_normalise(np.ones((4, 1)), feature_range=(1, 0)), "low < high"),
        (lambda: zscore(np.zeros((0, 3))), "empty"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 80.0), "Nyquist"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 0.0), "Nyquist"),
        (lambda: butter_filter(np.ones((100, 1)), 160, (30.0, 10.0), "band"), "increasing"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 10.0, "band"), "two cut-off"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 10.0, "lowest"), "valid: low, high, band, stop"),
        (lambda: butter_filter(np.ones((100, 1)), -1, 10.0), "positive"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 10.0, padtype="zero"), "padtype"),
        (lambda: butter_filter(np.ones((10, 1)), 160, 10.0), "too short"),
        (lambda: butter_filter(np.ones((100, 1)), 160, 10.0, order=0), "order"),
        (lambda: notch(np.ones((100, 1)), 100, freq=50.0), "fs/2"),
        (lambda: notch(np.ones((100, 1)), 500, quality=0), "quality"),
    ],
)
def test_bad_input_raises_input_error(call, match):
    with pytest.raises(InputError, match=match):
        call()
