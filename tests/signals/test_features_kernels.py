"""The one-pass kernels behind signals.features: block-shared window reductions, stable central moments, one
shared FFT per call. Checked against direct per-window numpy on the materialised windows."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from myovision.signals import features_spectral
from myovision.signals.features import FEATURE_NAMES, features
from myovision.signals.features_windowing import WindowedSignal


@st.composite
def reductions(draw):
    """(x, window, step, start, length) with ``start + length <= window``."""
    n_time = draw(st.integers(4, 60))
    x = draw(hnp.arrays(np.float64, (n_time, draw(st.integers(1, 3))), elements=st.floats(-1e3, 1e3)))
    window = draw(st.integers(1, n_time))
    step = draw(st.integers(1, 15))
    start = draw(st.integers(0, window - 1))
    length = draw(st.integers(1, window - start))
    return x, window, step, start, length


@settings(max_examples=60, deadline=None)
@given(reductions())
def test_block_reduction_equals_direct_reduction(case):
    x, window, step, start, length = case
    s = WindowedSignal(x, window, step)
    direct = s.windows[..., start : start + length]  # (n_windows, C, length)
    np.testing.assert_allclose(s.reduce(x, start, length), direct.sum(axis=-1), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(s.reduce(x, start, length, np.maximum), direct.max(axis=-1))


def _two_pass(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and kurtosis by the textbook two-pass formula, (..., N) -> (...)."""
    c = windows - windows.mean(axis=-1, keepdims=True)
    m2, m3, m4 = (np.mean(c**k, axis=-1) for k in (2, 3, 4))
    return m3 / m2**1.5, m4 / m2**2


@pytest.mark.parametrize("window, step", [(200, 25), (64, 10), (30, 30), (20, 50)])
def test_central_moments_survive_offset_and_drift(window, step):
    """A 1e6 offset and a slow drift under unit-scale noise: raw power sums cancel their digits, merged blocks do not."""
    rng = np.random.default_rng(0)
    t = np.arange(4000)
    x = 1e6 + 0.05 * t[:, None] + rng.standard_normal((4000, 2)) ** 3  # (T, 2), skewed noise on a slow ramp
    f = features(x, ["SKEW", "KURT"], window, step)
    windows = WindowedSignal(x, window, step).windows
    skew, kurt = _two_pass(windows)
    np.testing.assert_allclose(f["SKEW"], skew, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(f["KURT"], kurt, rtol=1e-6)
    # The test can fail: moments from raw power sums (one running sum per power) are far off here.
    n = window
    s1, s2, s3 = ((windows**k).sum(axis=-1) / n for k in (1, 2, 3))
    raw_m2 = s2 - s1 * s1
    raw_skew = (s3 - 3 * s1 * s2 + 2 * s1**3) / np.abs(raw_m2) ** 1.5
    assert not np.allclose(raw_skew, skew, rtol=1e-2, atol=1e-2)


def test_float32_input_is_accumulated_in_float64():
    rng = np.random.default_rng(2)
    x = (1000.0 + rng.standard_normal((3000, 2))).astype(np.float32)  # float32 sums would lose ~4 digits
    f = features(x, ["MAV", "VAR", "SKEW"], 200, 25)
    g = features(x.astype(np.float64), ["MAV", "VAR", "SKEW"], 200, 25)
    for name in f:
        assert f[name].dtype == np.float64
        np.testing.assert_array_equal(f[name], g[name])


def test_spectral_features_share_one_fft_per_chunk(monkeypatch):
    calls = []
    real_rfft = np.fft.rfft

    def counting_rfft(*args, **kwargs):
        calls.append(1)
        return real_rfft(*args, **kwargs)

    monkeypatch.setattr(features_spectral.np.fft, "rfft", counting_rfft)
    x = np.random.default_rng(3).standard_normal((2000, 4))
    features(x, ["MNF", "MDF", "MNP", "SM"], 200, 25, fs=200.0)
    assert len(calls) == 1  # 73 windows x 4 channels fit one chunk


def test_every_feature_is_linear_in_the_window_count():
    """Each window's values depend only on its samples: a long signal gives the concatenated short results."""
    x = np.random.default_rng(4).standard_normal((1000, 3))
    names = [n for n in FEATURE_NAMES if n not in ("FUZZYEN",)]  # FUZZYEN's tolerance is per recording
    whole = features(x, names, 100, 25, fs=200.0)
    first = features(x[:500], names, 100, 25, fs=200.0)
    second = features(x[500:], names, 100, 25, fs=200.0)
    for name in names:
        expected = np.concatenate([first[name], second[name]])  # windows starting at 0..400 and 500..900
        got = np.concatenate([whole[name][:17], whole[name][20:]])
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=name)


def test_time_chunks_do_not_change_results(monkeypatch):
    """features() works through the recording in time chunks; one window per chunk gives the same values."""
    features_module = importlib.import_module("myovision.signals.features")  # the package re-exports the function
    x = np.random.default_rng(5).standard_normal((2, 700, 3))  # (batch, T, C)
    names = list(FEATURE_NAMES)
    whole = features(x, names, 120, 20, fs=200.0)
    monkeypatch.setattr(features_module, "CHUNK_VALUES", 1)
    chunked = features(x, names, 120, 20, fs=200.0)
    for name in names:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-12, atol=1e-15, err_msg=name)
