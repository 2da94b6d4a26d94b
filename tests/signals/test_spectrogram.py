"""Spectrograms checked against direct implementations written from the definitions in this file.

References used here (no torchaudio): the HTK mel triangle formula evaluated bin by bin, and a naive STFT
that windows each (reflect-padded) frame with ``0.5 - 0.5 cos(2 pi n / N)`` and takes ``np.fft.fft``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.errors import InputError
from myovision.signals import spectrogram as spec_mod
from myovision.signals.spectrogram import log_spectrogram, mel_filterbank, mel_spectrogram, stft_power
from myovision.signals.stft_blocked import BLOCK_FRAMES

# ----------------------------------------------------------------------------- direct references


def direct_mel_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate):
    """Bin-by-bin loop straight from the HTK triangle definition."""

    def mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    lo_mel, hi_mel = mel(f_min), mel(f_max)
    corners = [hz(lo_mel + i * (hi_mel - lo_mel) / (n_mels + 1)) for i in range(n_mels + 2)]
    fb = np.zeros((n_freqs, n_mels))
    for k in range(n_freqs):
        f = k * (sample_rate / 2.0) / (n_freqs - 1)
        for m in range(n_mels):
            left, centre, right = corners[m], corners[m + 1], corners[m + 2]
            if left <= f <= centre:
                fb[k, m] = (f - left) / (centre - left)
            elif centre < f <= right:
                fb[k, m] = (right - f) / (right - centre)
    return fb


def hann(n):
    return np.array([0.5 - 0.5 * math.cos(2.0 * math.pi * i / n) for i in range(n)])


def naive_stft_power(x, n_fft, hop, center=True, power=2.0, normalized=False, pad_mode="reflect"):
    """1-D signal -> (n_fft // 2 + 1, frames), one np.fft.fft per frame."""
    x = np.asarray(x, dtype=np.float64)
    w = hann(n_fft)
    if center:
        x = np.pad(x, n_fft // 2, mode={"reflect": "reflect", "constant": "constant", "replicate": "edge", "circular": "wrap"}[pad_mode])
    n_frames = 1 + (len(x) - n_fft) // hop
    out = np.empty((n_fft // 2 + 1, n_frames))
    for f in range(n_frames):
        spectrum = np.fft.fft(x[f * hop : f * hop + n_fft] * w)[: n_fft // 2 + 1]
        if normalized:
            spectrum = spectrum / math.sqrt(np.sum(w**2))
        out[:, f] = np.abs(spectrum) ** power
    return out


def naive_log_spectrogram(x2d, n_fft=64, hop=16):
    """emg2qwerty's definition on (time, channels) -> (frames, channels, freq)."""
    per_channel = [naive_stft_power(x2d[:, c], n_fft, hop, center=False, normalized=True) for c in range(x2d.shape[1])]
    return np.log10(np.stack(per_channel) + 1e-6).transpose(2, 0, 1)  # (C, freq, frames) -> (frames, C, freq)


# ----------------------------------------------------------------------------- mel filterbank

FILTERBANK_SETTINGS = [
    (9, 0.0, 80.0, 10, 160),  # fusion paper, n_fft 16
    (17, 0.0, 80.0, 10, 160),  # fusion paper, n_fft 32
    (257, 20.0, 900.0, 40, 2000),
    (513, 100.0, 6000.0, 64, 16000),
]


@pytest.mark.parametrize("n_freqs, f_min, f_max, n_mels, fs", FILTERBANK_SETTINGS)
def test_mel_filterbank_matches_direct_loop(n_freqs, f_min, f_max, n_mels, fs):
    fb = mel_filterbank(n_freqs, f_min, f_max, n_mels, fs)
    assert fb.shape == (n_freqs, n_mels)
    np.testing.assert_allclose(fb, direct_mel_filterbank(n_freqs, f_min, f_max, n_mels, fs), atol=1e-12)


def test_mel_filterbank_known_fusion_values():
    # fs 160, n_fft 16: bins every 10 Hz; corner 1 at hz(mel(80) / 11) = 6.3158 Hz, corner 2 at 12.716 Hz
    fb = mel_filterbank(9, 0.0, 80.0, 10, 160)
    c1 = 700 * (10 ** (2595 * math.log10(1 + 80 / 700) / 11 / 2595) - 1)
    c2 = 700 * (10 ** (2 * 2595 * math.log10(1 + 80 / 700) / 11 / 2595) - 1)
    assert fb[0, 0] == 0.0  # 0 Hz is filter 0's left corner
    assert fb[1, 0] == pytest.approx((c2 - 10.0) / (c2 - c1))  # 10 Hz on filter 0's falling edge
    assert fb[1, 1] == pytest.approx((10.0 - c1) / (c2 - c1))  # and on filter 1's rising edge


def test_mel_filters_peak_at_centres_cross_linearly_and_respect_band():
    fs, f_min, f_max, n_mels, n_freqs = 2000.0, 30.0, 700.0, 12, 20001  # 0.05 Hz bins
    fb = mel_filterbank(n_freqs, f_min, f_max, n_mels, fs)
    freqs = np.linspace(0, fs / 2, n_freqs)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    corners = hz(np.linspace(mel(f_min), mel(f_max), n_mels + 2))
    assert (fb >= 0).all() and fb.max() <= 1.0 + 1e-12
    for m in range(n_mels):
        peak = freqs[np.argmax(fb[:, m])]
        assert abs(peak - corners[m + 1]) <= 0.05  # peak at the centre frequency
        assert fb[:, m].max() == pytest.approx(1.0, abs=1e-3)
        support = freqs[fb[:, m] > 0]
        assert support.min() >= corners[m] - 1e-9 and support.max() <= corners[m + 2] + 1e-9
    # neighbours cross linearly: between two centres the two filters sum to 1 and meet at 0.5 at the midpoint
    inner = (freqs >= corners[1]) & (freqs <= corners[-2])
    np.testing.assert_allclose(fb[inner].sum(axis=1), 1.0, atol=1e-9)
    for m in range(n_mels - 1):
        mid = 0.5 * (corners[m + 1] + corners[m + 2])
        k = np.argmin(np.abs(freqs - mid))
        assert fb[k, m] == pytest.approx(0.5, abs=1e-3) and fb[k, m + 1] == pytest.approx(0.5, abs=1e-3)
    # nothing outside [f_min, f_max]
    assert (fb[(freqs <= f_min) | (freqs >= f_max)] == 0).all()


@pytest.mark.parametrize(
    "args, message",
    [
        ((17, 0.0, 81.0, 10, 160), "Nyquist"),
        ((17, 50.0, 40.0, 10, 160), "below"),
        ((17, -1.0, 40.0, 10, 160), "f_min"),
        ((5, 0.0, 80.0, 40, 160), "no FFT bin"),
        ((1, 0.0, 80.0, 4, 160), "n_freqs"),
        ((17, 0.0, 80.0, 0, 160), "n_mels"),
    ],
)
def test_mel_filterbank_bad_settings(args, message):
    with pytest.raises(InputError, match=message):
        mel_filterbank(*args)


# ----------------------------------------------------------------------------- STFT power


def on_path(x, path):
    """numpy input takes the blocked CPU engine; a tensor that requires grad takes the torch.stft path."""
    return x if path == "blocked" else torch.tensor(x, requires_grad=True)


def as_numpy(y):
    return y.detach().numpy() if isinstance(y, torch.Tensor) else y


@pytest.mark.parametrize("path", ["blocked", "torch"])
@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_fft, hop", [(16, 4), (15, 5), (64, 16)])
def test_stft_power_matches_naive_dft(path, power, normalized, center, n_fft, hop):
    x = np.random.default_rng(n_fft + hop).standard_normal(203)
    got = as_numpy(stft_power(on_path(x, path), n_fft, hop, center=center, power=power, normalized=normalized))
    want = naive_stft_power(x, n_fft, hop, center=center, power=power, normalized=normalized)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("path", ["blocked", "torch"])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate", "circular"])
def test_stft_power_other_powers_and_pad_modes(path, pad_mode):
    x = np.random.default_rng(3).standard_normal(100)
    np.testing.assert_allclose(
        as_numpy(stft_power(on_path(x, path), 16, 4, power=0.5, pad_mode=pad_mode)),
        naive_stft_power(x, 16, 4, power=0.5, pad_mode=pad_mode),
        rtol=1e-9,
        atol=1e-12,
    )


def test_stft_power_long_signal_blocks_and_threads():
    # several blocks of frames, several columns; one thread and the default give the same numbers
    x = np.random.default_rng(15).standard_normal((3, 16 * (2 * BLOCK_FRAMES + 9)))
    got = stft_power(x, 32, 16, normalized=True)
    assert got.shape == (3, 17, 1 + x.shape[1] // 16)
    for row in range(3):
        np.testing.assert_allclose(got[row], naive_stft_power(x[row], 32, 16, normalized=True), rtol=1e-9, atol=1e-12)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        np.testing.assert_array_equal(stft_power(x, 32, 16, normalized=True), got)
    finally:
        torch.set_num_threads(threads)


def test_stft_power_parseval_per_frame():
    # two-sided |X|^2 summed over bins = n_fft * sum((w x)^2) for each frame (normalized=False, no padding)
    n_fft, hop = 32, 8
    x = np.random.default_rng(4).standard_normal(300)
    p = stft_power(x, n_fft, hop, center=False)
    two_sided = p[0] + 2 * p[1:-1].sum(axis=0) + p[-1]
    w = hann(n_fft)
    energy = np.array([np.sum((x[f * hop : f * hop + n_fft] * w) ** 2) for f in range(p.shape[1])])
    np.testing.assert_allclose(two_sided, n_fft * energy, rtol=1e-10)
    # normalized=True divides by sum(w^2): a white signal's mean power per bin is ~ its variance
    pn = stft_power(np.random.default_rng(5).standard_normal(20000), n_fft, hop, normalized=True)
    assert pn[1:-1].mean() == pytest.approx(1.0, rel=0.05)


def test_stft_power_batched_equals_loop_and_types():
    x = np.random.default_rng(6).standard_normal((3, 2, 150)).astype(np.float32)
    got = stft_power(x, 16, 4)
    assert got.shape == (3, 2, 9, 1 + 150 // 4) and got.dtype == np.float32
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(got[i, j], stft_power(x[i, j], 16, 4), rtol=1e-6)
    t = stft_power(torch.from_numpy(x), 16, 4)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), got, rtol=1e-6)


# ----------------------------------------------------------------------------- mel spectrogram


@pytest.mark.parametrize("path", ["blocked", "torch"])
def test_mel_spectrogram_is_filterbank_times_naive_power(path):
    fs, n_fft, hop, n_mels = 160, 32, 4, 10
    x = np.random.default_rng(7).standard_normal((800, 3))
    got = as_numpy(mel_spectrogram(on_path(x, path), fs, n_mels, n_fft, hop, normalized=True))
    fb = direct_mel_filterbank(n_fft // 2 + 1, 0.0, fs / 2, n_mels, fs)
    for c in range(3):
        want = fb.T @ naive_stft_power(x[:, c], n_fft, hop, normalized=True)
        np.testing.assert_allclose(got[c], want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_time, n_fft, hop, frames", [(800, 32, 4, 201), (160, 16, 2, 81)])
def test_mel_spectrogram_fusion_paper_shapes(n_time, n_fft, hop, frames):
    x = np.random.default_rng(8).standard_normal((n_time, 16)).astype(np.float32)
    s = mel_spectrogram(x, fs=160, n_mels=10, n_fft=n_fft, hop_length=hop, f_max=80.0, normalized=True)
    assert s.shape == (16, 10, frames) and s.dtype == np.float32
    batched = mel_spectrogram(np.stack([x, 2 * x]), fs=160, n_mels=10, n_fft=n_fft, hop_length=hop, normalized=True)
    assert batched.shape == (2, 16, 10, frames)
    np.testing.assert_allclose(batched[0], s, rtol=1e-5)
    np.testing.assert_allclose(batched[1], 4 * s, rtol=1e-5)


def test_mel_spectrogram_sine_lands_in_its_band():
    fs, n_fft, hop, n_mels = 2000, 256, 64, 24
    fb = mel_filterbank(n_fft // 2 + 1, 20.0, 1000.0, n_mels, fs)
    t = np.arange(4000) / fs
    for k in (10, 37, 80, 120):  # sine exactly on FFT bin k
        f = k * fs / n_fft
        s = mel_spectrogram(np.sin(2 * np.pi * f * t)[:, None], fs, n_mels, n_fft, hop, f_min=20.0)
        per_band = s[0, :, 5:-5].mean(axis=1)
        assert np.argmax(per_band) == np.argmax(fb[k])  # the band whose triangle is highest at f
        bands_with_f = np.flatnonzero(fb[k] > 0)
        assert per_band[bands_with_f].sum() > 0.99 * per_band.sum()


def test_mel_spectrogram_torch_in_torch_out_with_gradient():
    x = torch.randn(2, 200, 4, dtype=torch.float64, requires_grad=True)
    s = mel_spectrogram(x, 160, 10, 32, 4)
    assert isinstance(s, torch.Tensor) and s.shape == (2, 4, 10, 51) and s.dtype == torch.float64
    s.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    np.testing.assert_allclose(s.detach().numpy(), mel_spectrogram(x.detach().numpy(), 160, 10, 32, 4), rtol=1e-12)


def test_mel_spectrogram_integer_input_becomes_float64():
    s = mel_spectrogram(np.arange(400).reshape(200, 2) % 7, 160, 10, 32, 4)
    assert s.dtype == np.float64


@pytest.mark.parametrize(
    "x, kwargs, message",
    [
        (np.full((100, 2), np.nan), {}, "NaN/Inf"),
        (np.r_[np.zeros((50, 2)), [[np.inf, 0.0]], np.zeros((49, 2))], {}, r"1 non-finite value\(s\) \(NaN/Inf\); first at time 50, channel 0"),
        (np.zeros((16, 2)), {}, "reflect padding"),
        (np.zeros((100, 2)), {"f_max": 100.0}, "Nyquist"),
        (np.zeros(100), {}, "time, channels"),
        (np.zeros((100, 2)), {"pad_mode": "mirror"}, "pad_mode"),
        (np.zeros((100, 2)), {"hop_length": 0}, "hop_length"),
        (np.zeros((100, 2)), {"n_mels": 40}, "no FFT bin"),
        (np.zeros((100, 2), dtype=complex), {}, "real numbers"),
    ],
)
def test_mel_spectrogram_bad_input(x, kwargs, message):
    args = {"fs": 160, "n_mels": 10, "n_fft": 32, "hop_length": 4} | kwargs
    with pytest.raises(InputError, match=message):
        mel_spectrogram(x, **args)


# ----------------------------------------------------------------------------- log spectrogram (emg2qwerty)


def test_log_spectrogram_equals_naive_definition_float64():
    x = np.random.default_rng(9).standard_normal((8000, 3))
    got = log_spectrogram(x)
    assert got.shape == (1 + (8000 - 64) // 16, 3, 33) == (497, 3, 33) and got.dtype == np.float64
    np.testing.assert_allclose(got, naive_log_spectrogram(x), atol=1e-9)


def test_log_spectrogram_float32_fast_path_close_to_definition():
    x = (50 * np.random.default_rng(10).standard_normal((6000, 4))).astype(np.float32)
    got = log_spectrogram(x)
    assert got.dtype == np.float32 and got.shape == (372, 4, 33)
    want = naive_log_spectrogram(x.astype(np.float64))
    # float32 power has ~1e-7 relative error; log10 turns that into ~1e-6 absolute except near the 1e-6 floor
    np.testing.assert_allclose(got, want, atol=2e-4)
    assert np.median(np.abs(got - want)) < 1e-6


def test_log_spectrogram_layouts_time_first():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1000, 2, 16)).astype(np.float32)  # emg2qwerty (T, bands, electrodes)
    got = log_spectrogram(x)
    assert got.shape == (59, 2, 16, 33)  # (T', bands, electrodes, freq)
    for b in range(2):
        np.testing.assert_array_equal(got[:, b], log_spectrogram(np.ascontiguousarray(x[:, b])))
    batched = rng.standard_normal((500, 3, 2, 4)).astype(np.float32)  # (T, N, bands, C)
    out = log_spectrogram(batched)
    assert out.shape == (28, 3, 2, 4, 33)
    np.testing.assert_allclose(out[:, 1, 0], naive_log_spectrogram(batched[:, 1, 0].astype(np.float64)), atol=2e-4)
    one = log_spectrogram(x[:, 0, 0])
    assert one.shape == (59, 33)
    np.testing.assert_allclose(one, got[:, 0, 0], atol=1e-6)


def test_log_spectrogram_fast_path_equals_torch_path_and_threads():
    rng = np.random.default_rng(12)
    n_frames = 3 * BLOCK_FRAMES + 17  # several blocks and a partial one
    x = rng.standard_normal((64 + 16 * (n_frames - 1) + 5, 2, 8)).astype(np.float32)
    fast = log_spectrogram(x)
    reference = spec_mod._log_spectrogram_torch(torch.from_numpy(x), 64, 16).numpy()
    np.testing.assert_allclose(fast, reference, atol=2e-4)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = log_spectrogram(x)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(single, fast)
    # torch in -> torch out; a tensor that needs grad takes the differentiable path
    t = torch.from_numpy(x).requires_grad_()
    out = log_spectrogram(t)
    assert isinstance(out, torch.Tensor) and out.requires_grad and out.shape == fast.shape
    np.testing.assert_allclose(out.detach().numpy(), fast, atol=2e-4)
    np.testing.assert_allclose(log_spectrogram(torch.from_numpy(x)).numpy(), fast)


def test_log_spectrogram_other_sizes_and_strided_input():
    x = np.random.default_rng(13).standard_normal((700, 6))
    np.testing.assert_allclose(
        log_spectrogram(x, n_fft=32, hop_length=10), naive_log_spectrogram(x, 32, 10), atol=1e-9
    )
    np.testing.assert_allclose(log_spectrogram(x, n_fft=15, hop_length=4), naive_log_spectrogram(x, 15, 4), atol=1e-9)
    strided = np.random.default_rng(14).standard_normal((800, 10))[::2, ::3]  # not contiguous
    np.testing.assert_allclose(log_spectrogram(strided), naive_log_spectrogram(strided), atol=1e-9)


@pytest.mark.parametrize("where", [0, 3000, 8007])  # first sample, middle, tail after the last frame (ends at 8000)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_log_spectrogram_non_finite_input(where, value):
    x = np.zeros((8010, 4), np.float32)
    x[where, 2] = value
    with pytest.raises(InputError, match=rf"1 non-finite value\(s\) \(NaN/Inf\); first at time {where}, channel 2$"):
        log_spectrogram(x)


def test_log_spectrogram_too_short_and_bad_sizes():
    with pytest.raises(InputError, match="fewer than n_fft"):
        log_spectrogram(np.zeros((63, 2)))
    assert log_spectrogram(np.zeros((64, 2))).shape == (1, 2, 33)
    with pytest.raises(InputError, match="n_fft"):
        log_spectrogram(np.zeros((100, 2)), n_fft=1)
    with pytest.raises(InputError, match="non-empty"):
        log_spectrogram(np.zeros((100, 0)))


def test_log_spectrogram_large_finite_values_are_not_reported_as_nan():
    x = np.full((200, 2), 3e37, np.float32)  # block sums overflow float32, samples are finite
    out = log_spectrogram(x)
    assert out.shape == (9, 2, 33)


# ----------------------------------------------------------------------------- properties (hypothesis)

signals = st.integers(min_value=0, max_value=2**32 - 1).map(lambda s: np.random.default_rng(s).standard_normal(260))


@settings(max_examples=30, deadline=None)
@given(x=signals, a=st.floats(min_value=1e-3, max_value=1e3), center=st.booleans(), normalized=st.booleans())
def test_power_scales_with_amplitude_squared(x, a, center, normalized):
    p = stft_power(x, 32, 8, center=center, normalized=normalized)
    np.testing.assert_allclose(stft_power(a * x, 32, 8, center=center, normalized=normalized), a * a * p, rtol=1e-9, atol=1e-12 * a * a)
    np.testing.assert_allclose(stft_power(a * x, 32, 8, center=center, power=1.0, normalized=normalized), a * np.sqrt(p), rtol=1e-9, atol=1e-9 * a)


@settings(max_examples=30, deadline=None)
@given(x=signals, shift=st.integers(min_value=1, max_value=8))
def test_shifting_by_hops_shifts_frames(x, shift):
    hop = 8
    p = stft_power(x, 32, hop, center=False)
    np.testing.assert_allclose(stft_power(x[shift * hop :], 32, hop, center=False), p[:, shift:], rtol=1e-9, atol=1e-12)
    logs = log_spectrogram(x[:, None], n_fft=32, hop_length=hop)
    np.testing.assert_allclose(log_spectrogram(x[shift * hop :, None], n_fft=32, hop_length=hop), logs[shift:], atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(x=signals, a=st.floats(min_value=1e-2, max_value=1e2))
def test_mel_power_is_additive_over_bins_and_quadratic(x, a):
    m = mel_spectrogram(x[:, None], 160, 6, 32, 4)
    np.testing.assert_allclose(mel_spectrogram(a * x[:, None], 160, 6, 32, 4), a * a * m, rtol=1e-9, atol=1e-12)
    assert (m >= 0).all()
