"""Every stateful stage fed a recording in random chunks (1 sample to the whole) equals the offline causal
computation over the whole recording: scipy's sosfilt, myovision.signals' moving RMS, sliding windows, features,
z-score and min-max."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps

from myovision import signals
from myovision.errors import InputError
from myovision.stream import (CausalSOSFilter, FrozenMinMax, FrozenZScore, MovingRMS, OnlineFeatures, WindowBuffer,
                              butter_sos, notch_sos)

SIGNAL = np.random.default_rng(0).normal(size=(600, 3)) * np.array([1.0, 30.0, 0.01])  # (T, C), unequal gains


def chunkings(n: int = len(SIGNAL)):
    """Cut points 0 < ... < n: chunk sizes from 1 sample to the whole recording."""
    return st.lists(st.integers(1, n - 1), max_size=40).map(lambda cuts: [0, *sorted(set(cuts)), n])


def pushed(stage, cuts, x=SIGNAL):
    """Outputs of `stage.push` over the chunks, as a list."""
    return [stage.push(x[a:b]) for a, b in zip(cuts, cuts[1:])]


@settings(max_examples=40, deadline=None)
@given(chunkings())
def test_butterworth_and_notch_sections_equal_sosfilt_of_the_whole(cuts):
    sos = np.vstack([butter_sos(200.0, (20.0, 90.0), "band", 4), notch_sos(200.0, 50.0, 30.0)])
    online = np.concatenate(pushed(CausalSOSFilter(sos, 3), cuts))
    np.testing.assert_allclose(online, sps.sosfilt(sos, SIGNAL, axis=0), rtol=1e-12, atol=1e-12)


def test_designs_are_the_offline_filters_causal_forms():
    b, a = sps.butter(4, 20.0, btype="highpass", fs=200.0)
    np.testing.assert_allclose(sps.sosfilt(butter_sos(200.0, 20.0, "high", 4), SIGNAL, axis=0),
                               signals.butter_filter(SIGNAL, 200.0, 20.0, "high", 4, zero_phase=False), atol=1e-9)
    np.testing.assert_allclose(sps.sosfilt(notch_sos(200.0), SIGNAL, axis=0),
                               signals.notch(SIGNAL, 200.0, zero_phase=False), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(chunkings(), st.integers(1, 64))
def test_moving_rms_is_the_centred_offline_rms_behind_zeros_delayed(cuts, window):
    online = np.concatenate(pushed(MovingRMS(window, 3), cuts))
    padded = np.concatenate([np.zeros((window - 1, 3)), SIGNAL])  # (window - 1 + T, C)
    offline = signals.moving_rms(padded, window, mode="constant")[window // 2: window // 2 + len(SIGNAL)]
    np.testing.assert_allclose(online, offline, rtol=1e-10, atol=1e-12)


def test_moving_rms_by_hand():
    rms = MovingRMS(2, 1)
    np.testing.assert_allclose(rms.push(np.array([[3.0], [4.0]])), [[np.sqrt(4.5)], [np.sqrt(12.5)]])
    np.testing.assert_allclose(rms.push(np.array([[0.0]])), [[np.sqrt(8.0)]])


@settings(max_examples=60, deadline=None)
@given(chunkings(), st.integers(1, 80), st.integers(1, 100))
def test_window_buffer_yields_the_offline_sliding_windows(cuts, size, step):
    buffer = WindowBuffer(size, step, 3, dtype=np.float64)
    online = np.concatenate(pushed(buffer, cuts))
    np.testing.assert_array_equal(online, signals.sliding_windows(SIGNAL, size, step))
    assert buffer.windows_out == len(online)


@settings(max_examples=10, deadline=None)
@given(chunkings(), st.sampled_from([(40, 10), (50, 50), (20, 35)]))
def test_online_features_equal_offline_features(cuts, window):
    size, step = window
    names = ["MAV", "WL", "ZC", "SSC", "AR", "MNF", "SKEW"]
    parts = pushed(OnlineFeatures(names, size, step, 3, fs=200.0), cuts)
    offline = signals.features(SIGNAL, names, window=size, step=step, fs=200.0)
    for name in names:
        # rounding only: offline, overlapping windows may share running sums
        np.testing.assert_allclose(np.concatenate([p[name] for p in parts]), offline[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@settings(max_examples=20, deadline=None)
@given(chunkings())
def test_frozen_normalisers_on_their_own_calibration_equal_the_offline_ones(cuts):
    z = np.concatenate(pushed(FrozenZScore.from_calibration(SIGNAL), cuts))
    np.testing.assert_allclose(z, signals.zscore(SIGNAL), rtol=1e-12, atol=1e-12)
    m = np.concatenate(pushed(FrozenMinMax.from_calibration(SIGNAL, (-1.0, 1.0)), cuts))
    np.testing.assert_allclose(m, signals.minmax_normalise(SIGNAL, feature_range=(-1.0, 1.0)), atol=1e-12)


def test_frozen_statistics_stay_frozen_and_flat_channels_map_to_zero():
    z = FrozenZScore(np.array([1.0, 0.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(z.push(np.array([[5.0, 7.0]])), [[2.0, 0.0]])
    np.testing.assert_array_equal(z.push(np.array([[5.0, 7.0]])), [[2.0, 0.0]])


def test_a_chunk_with_the_wrong_channel_count_is_one_line():
    with pytest.raises(InputError, match=r"shape \(samples, 3\)"):
        WindowBuffer(4, 2, 3).push(np.zeros((5, 2)))
    with pytest.raises(InputError, match=r"shape \(samples, 3\)"):
        CausalSOSFilter(notch_sos(200.0), 3).push(np.zeros((5, 4)))


def test_window_features_equal_features_of_each_window_for_every_name():
    """The per-window kernels (one vectorised reduction per windowed sum) give every feature of
    myovision.signals.features on each window, to rounding."""
    from myovision.signals.features import FEATURE_NAMES
    from myovision.stream.windows import window_features

    windows = signals.sliding_windows(SIGNAL, 50, 25)  # (k, 50, 3)
    online = window_features(windows, list(FEATURE_NAMES), 200.0)
    offline = signals.features(windows, list(FEATURE_NAMES), window=50, step=50, fs=200.0)  # (k, 1, ...)
    for name in FEATURE_NAMES:
        np.testing.assert_allclose(online[name], offline[name][:, 0], rtol=1e-9, atol=1e-12, err_msg=name)


def test_online_feature_matrix_equals_the_classifiers_transform():
    from myovision.gestures.classifiers import BASELINE_FEATURES, RICH_FEATURES, feature_matrix
    from myovision.gestures.online import online_feature_matrix

    windows = signals.sliding_windows(SIGNAL.astype(np.float32), 40, 10)  # (k, 40, 3)
    for names in (BASELINE_FEATURES, RICH_FEATURES):
        np.testing.assert_allclose(online_feature_matrix(windows, 200.0, names), feature_matrix(windows, 200.0, names),
                                   rtol=1e-5, atol=1e-6)
