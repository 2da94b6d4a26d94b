"""Training windows served from each session's spectrogram computed once: equal to the per-window spectrogram
for hop-aligned windows, the same labels, the cache memory-mapped and reused, and the cached training
augmentation the same for the same (seed, epoch, window)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.data.emg2qwerty import SpectrogramWindows, WindowedSessions, read_session, session_spectrogram
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import AugmentOptions, TypingConfig
from myovision.emg_typing.training import CachedTrainingWindows
from myovision.errors import InputError
from myovision.signals.spectrogram import log_spectrogram


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return write_synthetic_typing(tmp_path_factory.mktemp("specs"), n_sessions=2, duration_s=15, seed=2,
                                  words=("as", "sad"), punctuation=False)


def test_session_spectrogram_equals_the_whole_sessions_and_is_cached(sessions, tmp_path):
    session = read_session(sessions[0])
    whole = log_spectrogram(session.emg())
    spec = session_spectrogram(session, chunk=4000)  # several chunks
    np.testing.assert_allclose(spec, whole, atol=1e-5)
    mapped = session_spectrogram(session, tmp_path)
    assert isinstance(mapped, np.memmap) and len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(session_spectrogram(session, tmp_path), mapped)


@pytest.mark.parametrize("padding", [(1792, 208), (0, 0)])
def test_hop_aligned_windows_equal_the_per_window_spectrogram(sessions, padding):
    raw = WindowedSessions(sessions, window=4000, padding=padding)
    cached = SpectrogramWindows(sessions, window=4000, padding=padding)
    assert len(raw) == len(cached) > 4
    for idx in range(len(raw)):
        (x, y), (xc, yc) = raw[idx], cached[idx]
        assert x.shape == xc.shape and torch.equal(y, yc)
        torch.testing.assert_close(xc, x, atol=1e-5, rtol=0)


def test_cached_training_windows_are_a_function_of_seed_epoch_and_index(sessions):
    windows = SpectrogramWindows(sessions, window=4000, padding=(1792, 208), jitter=True)
    ds = CachedTrainingWindows(windows, seed=3, augment=AugmentOptions())
    x, labels = ds[(1, 2)]
    assert x.shape[1:] == (2, 16, 33)
    again, labels_again = CachedTrainingWindows(windows, seed=3, augment=AugmentOptions())[(1, 2)]
    assert torch.equal(x, again) and torch.equal(labels, labels_again)
    assert not torch.equal(x, ds[(2, 2)][0])


def test_cached_spectrograms_refuse_magnitude_warping():
    with pytest.raises(InputError, match="magnitude warping"):
        TypingConfig(cached_spectrograms=True, augment=AugmentOptions(magnitude_warping=True))


@pytest.mark.parametrize("shift", [2, -3, 0])
def test_rotation_and_band_shift_match_the_raw_augmentations(sessions, shift):
    windows = SpectrogramWindows(sessions, window=4000, padding=(1792, 208))
    plain, _ = windows.spectrogram_window(1)
    out, _ = windows.spectrogram_window(1, rotation=(1, -1), band_shift=shift)
    m = abs(shift)
    first, second = (plain[m:, 0], plain[:len(plain) - m, 1]) if shift >= 0 else (plain[:len(plain) - m, 0], plain[m:, 1])
    np.testing.assert_array_equal(out[:, 0], np.roll(first, 1, axis=1))  # electrode c moves to c + 1
    np.testing.assert_array_equal(out[:, 1], np.roll(second, -1, axis=1))
