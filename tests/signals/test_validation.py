"""The shared input checks: one rule and one message for every signal module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.errors import InputError
from myovision.signals import (
    butter_filter,
    features,
    interpolate_to_length,
    log_spectrogram,
    mel_spectrogram,
    moving_rms,
    notch,
    preprocess,
    rectify,
    resample_to_rate,
    stft_power,
    zscore,
)
from myovision.signals.validation import (
    as_signal,
    check_finite,
    check_fs,
    check_int,
    check_nonnegative,
    check_number,
    check_positive,
)

T, C = 400, 4


def bad_signal() -> np.ndarray:
    """(T, C) with an Inf at (300, 0) and a NaN at (120, 2): the first in time is the NaN, not the first in memory."""
    x = np.random.default_rng(0).standard_normal((T, C))
    x[300, 0] = np.inf
    x[120, 2] = np.nan
    return x


MESSAGE = r"signal has 2 non-finite value\(s\) \(NaN/Inf\); first at time 120, channel 2$"

TIME_CHANNEL_CALLS = {
    "rectify": lambda x: rectify(x),
    "moving_rms": lambda x: moving_rms(x, 5),
    "zscore": lambda x: zscore(x),
    "butter_filter": lambda x: butter_filter(x, 160.0, 10.0),
    "notch": lambda x: notch(x, 160.0, 50.0),
    "preprocess": lambda x: preprocess(x, 160.0, preset="paper"),
    "resample_to_rate": lambda x: resample_to_rate(x, np.arange(T) / 160.0, 100.0),
    "interpolate_to_length": lambda x: interpolate_to_length(x, 100),
    "features": lambda x: features(x, ["MAV"], window=50, step=25),
    "mel_spectrogram": lambda x: mel_spectrogram(x, fs=160, n_mels=6, n_fft=32, hop_length=8),
    "log_spectrogram": lambda x: log_spectrogram(x, n_fft=32, hop_length=8),
    "stft_power": lambda x: stft_power(x.T, n_fft=32, hop_length=8),  # (channels, time)
}


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("call", TIME_CHANNEL_CALLS.values(), ids=TIME_CHANNEL_CALLS.keys())
def test_every_module_reports_non_finite_samples_the_same_way(call, as_tensor):
    x = bad_signal()
    with pytest.raises(InputError, match=MESSAGE):
        call(torch.from_numpy(x) if as_tensor else x)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: mel_spectrogram(t, fs=160, n_mels=6, n_fft=32, hop_length=8),
        lambda t: log_spectrogram(t, n_fft=32, hop_length=8),
        lambda t: stft_power(t.T, n_fft=32, hop_length=8),
    ],
    ids=["mel_spectrogram", "log_spectrogram", "stft_power"],
)
def test_the_differentiable_spectrogram_path_reports_the_same_way(call):
    t = torch.from_numpy(bad_signal()).requires_grad_()  # the torch.stft path, not the blocked engine
    with pytest.raises(InputError, match=MESSAGE):
        call(t)


def test_batched_signal_names_the_earliest_time_and_the_batch_index():
    x = np.zeros((3, T, C))
    x[0, 250, 1] = np.nan  # first in memory order, but later in time
    x[2, 90, 3] = -np.inf
    x[1, 90, 3] = np.nan
    with pytest.raises(InputError, match=r"3 non-finite value\(s\).*first at time 90, channel 3, other axes at \(1,\)$"):
        rectify(x)
    with pytest.raises(InputError, match=r"first at time 90, channel 3, other axes at \(1,\)$"):
        features(x, ["MAV"], window=50, step=25)


def test_check_finite_layouts():
    x = np.zeros((10, 2, 5))  # (time, bands, channels): log_spectrogram's layout
    x[4, 1, 3] = np.nan
    with pytest.raises(InputError, match=r"first at time 4, channel 3, other axes at \(1,\)$"):
        check_finite(x, time_axis=0, channel_axis=-1)
    with pytest.raises(InputError, match=r"^timestamps has 1 non-finite value\(s\) \(NaN/Inf\); first at time 4$"):
        check_finite(x[:, 1, 3], "timestamps", time_axis=0, channel_axis=None)
    check_finite(np.ones((3, 3)))  # finite: no error
    check_finite(torch.ones(3, 3))


def test_scalar_checks():
    assert check_int(np.int64(3), "n") == 3 and isinstance(check_int(np.int64(3), "n"), int)
    assert check_int(0, "n", minimum=0) == 0
    for bad in (True, 2.0, "2", None, 0):
        with pytest.raises(InputError, match=r"^n must be an integer >= 1, got "):
            check_int(bad, "n")
    assert check_number(np.float32(2.5), "x") == 2.5 and check_number(3, "x") == 3.0
    for bad in (True, "2", None, [1.0]):
        with pytest.raises(InputError, match="x must be a number"):
            check_number(bad, "x")
    assert check_positive(0.5, "p") == 0.5
    for bad in (0, -1.0, np.inf, np.nan):
        with pytest.raises(InputError, match=r"p must be a positive finite number"):
            check_positive(bad, "p")
    assert check_nonnegative(0, "s") == 0.0
    with pytest.raises(InputError, match=r"s must be a finite number >= 0"):
        check_nonnegative(-0.1, "s")
    assert check_fs(np.float64(200)) == 200.0
    with pytest.raises(InputError, match=r"^sampling rate fs \(Hz\) must be a positive finite number, got 0$"):
        check_fs(0)


def test_as_signal_conversions_and_refusals():
    arr, restore = as_signal(np.arange(6, dtype=np.int16).reshape(3, 2))
    assert arr.dtype == np.float64 and restore(arr).dtype == np.float64
    t, restore = as_signal(torch.ones(3, 2, dtype=torch.bfloat16))
    assert t.dtype == np.float64 and restore(t).dtype == torch.bfloat16
    with pytest.raises(InputError, match=r"shaped \(time, channels\).*for one channel use x\[:, None\]"):
        as_signal(np.ones(5))
    with pytest.raises(InputError, match="is empty"):
        as_signal(np.ones((0, 3)))
    with pytest.raises(InputError, match="real numbers"):
        as_signal(np.ones((3, 2), dtype=complex))
    as_signal(np.full((3, 2), np.nan), check_finite=False)  # the caller opts out of the scan
