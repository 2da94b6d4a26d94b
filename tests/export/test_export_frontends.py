"""The torch-module front-ends compute what myovision.signals computes (itself held to a per-frame DFT and to
torchaudio's definitions) and what torch.stft computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.gestures.classifiers import BASELINE_FEATURES, feature_matrix, log_power_windows
from myovision.models.frontends import HudginsFeatures, LogPowerSpectrogram, LogSpectrogram, MelSpectrogram, StftPower
from myovision.signals.spectrogram import log_spectrogram, mel_spectrogram, stft_power

rng = np.random.default_rng(0)


@pytest.mark.parametrize("center, pad_mode, power, normalized", [
    (True, "reflect", 2.0, False), (False, "constant", 2.0, True), (True, "constant", 1.0, True)])
def test_stft_power_equals_signals_and_torch_stft(center, pad_mode, power, normalized):
    x = rng.standard_normal((3, 2, 203))
    ours = StftPower(32, 8, center=center, pad_mode=pad_mode, power=power, normalized=normalized)(
        torch.from_numpy(x).float()).double().numpy()
    reference = stft_power(x, 32, 8, center=center, pad_mode=pad_mode, power=power, normalized=normalized)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    window = torch.hann_window(32, periodic=True, dtype=torch.float64)
    spec = torch.stft(torch.from_numpy(x).reshape(-1, 203), 32, 8, window=window, center=center, pad_mode=pad_mode,
                      return_complex=True).abs() ** power  # (6, freq, frames)
    if normalized:
        spec = spec / window.square().sum() ** (power / 2)
    np.testing.assert_allclose(ours.reshape(spec.shape), spec.numpy(), rtol=1e-4, atol=1e-4 * float(spec.max()))


def test_log_spectrogram_is_emg2qwertys_time_first_layout():
    x = 50.0 * rng.standard_normal((1000, 2, 16))  # (T, bands, C)
    ours = LogSpectrogram()(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(ours, log_spectrogram(x), atol=2e-3)  # (T', bands, C, 33) in log10 units
    assert ours.shape == (1 + (1000 - 64) // 16, 2, 16, 33)


def test_mel_spectrogram_is_the_fusion_papers():
    x = rng.standard_normal((4, 160, 16))  # (N, time, C)
    settings = dict(n_mels=10, n_fft=16, hop_length=2, f_min=0.0, f_max=80.0, power=2.0, normalized=True)
    ours = MelSpectrogram(160.0, **settings)(torch.from_numpy(x).float()).double().numpy()
    reference = mel_spectrogram(x, fs=160.0, **settings)
    assert ours.shape == reference.shape == (4, 16, 10, 81)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5 * reference.max())


def test_gesture_front_ends_equal_the_classifiers_representations():
    windows = rng.standard_normal((5, 40, 8)).astype(np.float32)  # (N, W, C) as the library cuts them
    as_libemg = torch.from_numpy(np.swapaxes(windows, 1, 2).copy())  # (N, C, W)
    np.testing.assert_allclose(LogPowerSpectrogram(16, 4)(as_libemg).numpy(), log_power_windows(windows, 200.0),
                               atol=2e-4)
    ours = HudginsFeatures()(as_libemg).numpy()
    np.testing.assert_allclose(ours, feature_matrix(windows, 200.0, BASELINE_FEATURES), rtol=1e-5, atol=1e-5)
