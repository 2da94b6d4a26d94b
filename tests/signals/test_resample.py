"""Tests for myovision.signals.resample on synthetic Myo-like streams of known signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.errors import InputError
from myovision.signals.resample import interpolate_to_length, resample_to_rate

T0 = 1_650_000_000.0  # epoch seconds, as ActionSense stores time_s


def truth(t: np.ndarray) -> np.ndarray:
    """The known 2-channel signal: 3 Hz sine and 1.5 Hz cosine."""
    return np.stack([np.sin(2 * np.pi * 3.0 * t), 0.5 * np.cos(2 * np.pi * 1.5 * t)], axis=-1)


def myo_stream(seed: int = 0, seconds: float = 4.0, rate: float = 200.0):
    """Jittered 200 Hz timestamps; about 10% of rows are repeated (same timestamp, same values)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    rel = np.arange(n) / rate + rng.uniform(-1.5e-3, 1.5e-3, n)
    rel = np.sort(rel)
    x = truth(rel)
    reps = np.where(rng.random(n) < 0.1, rng.integers(2, 4, n), 1)  # some rows appear 2-3 times
    return np.repeat(x, reps, axis=0), np.repeat(T0 + rel, reps), rel


def test_resampled_stream_matches_true_signal_at_new_times():
    x, t, rel = myo_stream()
    assert len(np.unique(t)) < len(t)  # the stream really repeats rows
    y, t_new = resample_to_rate(x, t, 160.0)
    np.testing.assert_allclose(np.diff(t_new), 1 / 160.0, atol=1e-6)  # epoch seconds: ~2e-7 s resolution
    assert t_new[0] == t[0] and t_new[-1] <= t[-1] + 1e-9
    assert len(t_new) == int(np.floor((t[-1] - t[0]) * 160.0)) + 1
    assert y.shape == (len(t_new), 2)
    # linear interpolation of samples 5 ms apart: error <= (2*pi*3*0.0065)^2 / 8 ~ 0.0019
    np.testing.assert_allclose(y, truth(t_new - T0), atol=3e-3)


def test_output_rate_and_grid_end():
    t = np.array([0.0, 0.1, 0.2, 0.3])
    x = np.arange(8.0).reshape(4, 2)
    y, t_new = resample_to_rate(x, t, 160)
    assert len(t_new) == 49  # 0.3 s at 160 Hz, both ends included (0.3 * 160 = 48 despite rounding)
    np.testing.assert_allclose(y[-1], x[-1])
    np.testing.assert_allclose(y[8], x[0] + (x[1] - x[0]) * (8 / 160) / 0.1)


def test_duplicate_timestamp_rules():
    t = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    x = np.array([[0.0], [3.0], [6.0], [9.0], [0.0]])
    y_mean, _ = resample_to_rate(x, t, 2.0)
    y_first, _ = resample_to_rate(x, t, 2.0, duplicates="first")
    np.testing.assert_allclose(y_mean[:, 0], [0.0, 3.0, 6.0, 3.0, 0.0])
    np.testing.assert_allclose(y_first[:, 0], [0.0, 1.5, 3.0, 1.5, 0.0])


def test_batched_torch_and_column_timestamps():
    x, t, _ = myo_stream(seed=3, seconds=1.0)
    xb = np.stack([x, 2 * x]).astype(np.float32)
    yb, t_new = resample_to_rate(torch.from_numpy(xb), t[:, None], 100.0)
    assert isinstance(yb, torch.Tensor) and yb.dtype == torch.float32 and yb.shape[0] == 2
    y0, t0 = resample_to_rate(x, t, 100.0)
    np.testing.assert_array_equal(t_new, t0)
    np.testing.assert_allclose(yb[1].numpy(), 2 * y0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "x,t,match",
    [
        (np.ones((3, 1)), np.array([0.0, 2.0, 1.0]), "decrease.*row 2"),
        (np.ones((3, 1)), np.array([0.0, np.nan, 1.0]), "timestamps has 1 non-finite.*first at time 1"),
        (np.ones((3, 1)), np.array([0.0, 1.0]), "lengths must match"),
        (np.ones((3, 1)), np.array([5.0, 5.0, 5.0]), "two distinct"),
        (np.array([[1.0], [np.inf], [0.0]]), np.array([0.0, 1.0, 2.0]), "non-finite"),
        (np.ones(3), np.array([0.0, 1.0, 2.0]), "shaped"),
        (np.ones((3, 1)), np.array([["a"], ["b"], ["c"]]), "numbers"),
    ],
)
def test_resample_bad_input(x, t, match):
    with pytest.raises(InputError, match=match):
        resample_to_rate(x, t, 160.0)


def test_resample_bad_rate_and_rule():
    with pytest.raises(InputError, match="positive"):
        resample_to_rate(np.ones((3, 1)), np.arange(3.0), 0)
    with pytest.raises(InputError, match="valid: mean, first"):
        resample_to_rate(np.ones((3, 1)), np.arange(3.0), 10, duplicates="last")


# ---------------------------------------------------------------- interpolate_to_length


def test_interpolate_to_length_matches_np_interp_per_channel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(797, 8))
    y = interpolate_to_length(x, 800)
    ref = np.stack([np.interp(np.linspace(0, 796, 800), np.arange(797), x[:, c]) for c in range(8)], axis=1)
    assert y.shape == (800, 8)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_interpolate_keeps_ends_and_lines():
    x = np.stack([np.linspace(2.0, 5.0, 37), np.linspace(-1.0, 1.0, 37)], axis=1)
    y = interpolate_to_length(torch.from_numpy(x)[None], 10)[0].numpy()
    np.testing.assert_allclose(y, np.stack([np.linspace(2.0, 5.0, 10), np.linspace(-1.0, 1.0, 10)], axis=1))
    np.testing.assert_array_equal(interpolate_to_length(np.array([[4.0, 2.0]]), 3), [[4.0, 2.0]] * 3)


def test_interpolate_bad_input():
    with pytest.raises(InputError, match="target length"):
        interpolate_to_length(np.ones((5, 2)), 0)
    with pytest.raises(InputError, match="non-finite"):
        interpolate_to_length(np.array([[np.nan]]), 4)


def test_resample_onto_puts_two_jittered_streams_on_one_grid():
    from myovision.signals.resample import resample_onto

    rng = np.random.default_rng(3)
    f = 1.5
    streams = []
    for rate in (170.0, 195.0):
        t = 1.7e9 + np.cumsum(rng.uniform(0.6, 1.4, 900) / rate)
        t[100:103] = t[100]  # a repeated timestamp, as Myo streams have
        streams.append((np.sin(2 * np.pi * f * (t - 1.7e9))[:, None], t))
    start = max(s[1][0] for s in streams)
    stop = min(s[1][-1] for s in streams)
    grid = start + np.arange(int((stop - start) * 160)) / 160
    both = np.concatenate([resample_onto(x, t, grid) for x, t in streams], axis=1)  # (K, 2)
    truth = np.sin(2 * np.pi * f * (grid - 1.7e9))
    assert np.max(np.abs(both - truth[:, None])) < 1e-2


def test_resample_onto_rejects_a_grid_outside_the_stream():
    from myovision.signals.resample import resample_onto

    t = np.arange(10, dtype=float)
    with pytest.raises(InputError, match="inside the stream"):
        resample_onto(np.zeros((10, 2)), t, np.array([5.0, 10.5]))
