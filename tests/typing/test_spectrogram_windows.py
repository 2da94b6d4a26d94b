"""Training windows served from each session's spectrogram computed once: equal to the per-window spectrogram
for hop-aligned windows, the same labels, the cache memory-mapped and reused, band misalignment as a frame
offset, and batch memory reused only once nothing refers to it."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch

from myovision.data.emg2qwerty import WindowedSessions, read_session
from myovision.data.spectrogram_windows import SpectrogramWindows, session_spectrogram
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import AugmentOptions, TypingConfig
from myovision.errors import InputError
from myovision.signals.spectrogram import log_spectrogram


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return write_synthetic_typing(tmp_path_factory.mktemp("specs"), n_sessions=2, duration_s=15, seed=2,
                                  words=("as", "sad"), punctuation=False)


def test_session_spectrogram_equals_the_whole_sessions_and_is_cached(sessions, tmp_path):
    session = read_session(sessions[0])
    whole = log_spectrogram(session.emg())
    spec = session_spectrogram(session, chunk=4000)  # several chunks; (bands, frames, 16, 33)
    np.testing.assert_allclose(spec, whole.transpose(1, 0, 2, 3), atol=1e-5)
    mapped = session_spectrogram(session, tmp_path, chunk=4000)  # written chunk by chunk, band by band
    assert isinstance(mapped, np.memmap) and [p.suffix for p in tmp_path.iterdir()] == [".npy"]
    np.testing.assert_array_equal(mapped, spec)
    np.testing.assert_array_equal(session_spectrogram(session, tmp_path), mapped)


def test_caching_a_session_needs_memory_for_one_chunk_whatever_its_length(tmp_path):
    """The cache is written chunk by chunk from the session file: numpy's peak allocation while caching a 120 s
    session (63 MB of spectrogram) is that of a 15 s one (one chunk and log_spectrogram's fixed scratch, 5-8 MB
    from run to run, as its threads overlap); building it in memory first peaked at 55.6 MB for 90 s."""
    peaks = []
    for seconds in (15, 120):
        (path,) = write_synthetic_typing(tmp_path / f"s{seconds}", n_sessions=1, duration_s=seconds, seed=1)
        session = read_session(path)
        tracemalloc.start()
        try:
            spec = session_spectrogram(session, tmp_path / f"cache{seconds}", chunk=4000)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] <= peaks[0] + (8 << 20) and spec.nbytes > 3 * peaks[1], (peaks, spec.nbytes)


@pytest.mark.parametrize("padding", [(1792, 208), (0, 0)])
def test_hop_aligned_windows_equal_the_per_window_spectrogram(sessions, padding):
    raw = WindowedSessions(sessions, window=4000, padding=padding)
    cached = SpectrogramWindows(sessions, window=4000, padding=padding)
    assert len(raw) == len(cached) > 4
    for idx in range(len(raw)):
        (x, y), (xc, yc) = raw[idx], cached[idx]
        assert x.shape == xc.shape and torch.equal(y, yc)
        torch.testing.assert_close(xc, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("copy_threads", [1, 3])
def test_a_batch_is_the_windows_zero_padded_as_collate_windows_pads_them(sessions, copy_threads):
    windows = SpectrogramWindows(sessions, window=4000, padding=(1792, 208), copy_threads=copy_threads)
    items = [windows[i] for i in (0, 3, 1)]  # window 0 has no past context: shorter
    batch = windows.gather([windows.locate(i) for i in (0, 3, 1)])
    assert batch["input_lengths"].tolist() == [len(x) for x, _ in items]
    assert torch.equal(batch["inputs"], torch.nn.utils.rnn.pad_sequence([x for x, _ in items]))
    assert batch["target_lengths"].tolist() == [len(y) for _, y in items]
    assert torch.equal(batch["targets"], torch.nn.utils.rnn.pad_sequence([y for _, y in items], batch_first=True))


@pytest.mark.parametrize("shift", [2, -3, 0])
def test_band_shift_pairs_the_frames_as_temporal_jitter_pairs_the_samples(sessions, shift):
    windows = SpectrogramWindows(sessions, window=4000, padding=(1792, 208))
    plain, _ = windows[1]
    out = windows.gather([windows.locate(1, band_shift=shift)])["inputs"][:, 0]
    m = abs(shift)
    first, second = (plain[m:, 0], plain[:len(plain) - m, 1]) if shift >= 0 else (plain[:len(plain) - m, 0], plain[m:, 1])
    assert torch.equal(out[:, 0], first) and torch.equal(out[:, 1], second)


def test_batch_memory_is_reused_only_when_no_batch_refers_to_it(sessions):
    windows = SpectrogramWindows(sessions, window=4000, padding=(1792, 208))
    located = [windows.locate(i) for i in (1, 2)]
    first = windows.gather(located)["inputs"]
    view, kept, addresses = first[:, 1], first.clone(), {first.data_ptr()}
    del first
    second = windows.gather([windows.locate(i, band_shift=1) for i in (3, 4)])["inputs"]
    assert torch.equal(view, kept[:, 1]) and second.data_ptr() not in addresses  # a held view is never written
    addresses.add(second.data_ptr())
    del view, second
    gc.collect()
    again = windows.gather(located)["inputs"]
    assert again.data_ptr() in addresses and torch.equal(again, kept)


def test_cached_spectrograms_refuse_magnitude_warping():
    with pytest.raises(InputError, match="magnitude warping"):
        TypingConfig(cached_spectrograms=True, augment=AugmentOptions(magnitude_warping=True))
