"""The chunked kernels of signals.filters give the numbers of one call over the whole signal.

Chunks are shrunk to a few samples so a short signal crosses many chunk borders; scipy's own filtfilt,
sosfiltfilt, lfilter and sosfilt on the whole signal are the reference (bit-identical in float64)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as sps

from myovision.signals import filters
from myovision.signals.filters import PAD_MODES, butter_filter, minmax_normalise, moving_rms, notch
from myovision.signals.preprocess import preprocess

RNG = np.random.default_rng(7)
X = RNG.normal(size=(2, 301, 3)).cumsum(axis=1)  # (batch, T, C): drifting, so edges and states matter


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(filters, "CHUNK_SAMPLES", 7)


@pytest.mark.parametrize("padtype, padlen", [("odd", None), ("even", 40), ("constant", "matlab"), (None, None)])
def test_chunked_filtfilt_is_bit_identical_to_scipy(small_chunks, padtype, padlen):
    b, a = sps.butter(4, 10.0, fs=160)
    scipy_padlen = {None: 15, "matlab": 12}.get(padlen, padlen) if padtype else None
    expected = sps.filtfilt(b, a, X, axis=-2, padtype=padtype, padlen=scipy_padlen)
    np.testing.assert_array_equal(butter_filter(X, 160, 10.0, padtype=padtype, padlen=padlen, form="ba"), expected)


def test_chunked_sosfiltfilt_and_causal_filters_are_bit_identical_to_scipy(small_chunks):
    sos = sps.butter(5, 5.0, fs=160, output="sos")
    np.testing.assert_array_equal(butter_filter(X, 160, 5.0, order=5, form="sos"), sps.sosfiltfilt(sos, X, axis=-2))
    np.testing.assert_array_equal(butter_filter(X, 160, 5.0, order=5, form="sos", zero_phase=False),
                                  sps.sosfilt(sos, X, axis=-2))
    b, a = sps.butter(2, (5.0, 20.0), btype="bandpass", fs=160)
    np.testing.assert_array_equal(butter_filter(X, 160, (5.0, 20.0), "band", 2, zero_phase=False),
                                  sps.lfilter(b, a, X, axis=-2))
    b, a = sps.iirnotch(50.0, 30.0, fs=160)
    np.testing.assert_array_equal(notch(X, 160), sps.filtfilt(b, a, X, axis=-2, padlen=9))


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("window", [1, 6, 32])
def test_chunked_moving_rms_is_bit_identical_to_one_pass(monkeypatch, mode, window):
    whole = moving_rms(X, window, mode)
    monkeypatch.setattr(filters, "CHUNK_SAMPLES", 5)
    np.testing.assert_array_equal(moving_rms(X, window, mode), whole)
    padded = np.pad(X, [(0, 0), (window // 2, window // 2), (0, 0)], mode=mode)  # the definition, directly
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[:, : X.shape[1]]
    np.testing.assert_allclose(whole, np.sqrt((windows**2).mean(axis=-1)), rtol=1e-12, atol=1e-12)


def test_float32_stays_float32_and_within_1e6_of_float64(small_chunks):
    x32 = X.astype(np.float32)
    for preset in ("paper", "authors-code"):
        out = preprocess(x32, 160, preset=preset)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, preprocess(x32.astype(np.float64), 160, preset=preset), atol=1e-6)
    y = minmax_normalise(x32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, minmax_normalise(x32.astype(np.float64)).astype(np.float32))


def test_preprocess_leaves_its_input_alone():
    x = X.astype(np.float32)
    before = x.copy()
    preprocess(x, 160, preset="paper", highpass_hz=2.0, notch_hz=50.0)
    np.testing.assert_array_equal(x, before)
