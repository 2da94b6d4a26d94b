"""The batched training loader over cached spectrograms (``--cached-spectrograms``): each window equals the
per-window augmentation of its raw EMG (band rotation, left/right jitter, log spectrogram, SpecAugment) for the
same generator draws, depends only on (seed, epoch, index) (not on its batch or the worker count), and a resumed
run trains as the uninterrupted one."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from myovision.data.emg2qwerty import read_split
from myovision.data.spectrogram_windows import SpectrogramWindows
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import AugmentOptions, TypingConfig
from myovision.emg_typing.training import EpochWindows, SpectrogramBatches, augment_batch, fit_typing
from myovision.signals.augment import SpecAugment
from myovision.signals.spectrogram import log_spectrogram

WINDOW, PADDING, SEED = 4000, (1792, 208), 5


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("typing-loader")
    write_synthetic_typing(out, n_sessions=3, duration_s=15, seed=4, words=("sad", "as", "lad"), punctuation=False)
    return out


@pytest.fixture(scope="module")
def windows(data):
    return SpectrogramWindows(read_split(data / "split.yaml")["train"], window=WINDOW, padding=PADDING, jitter=True)


def per_window_reference(windows: SpectrogramWindows, epoch: int, idx: int, a: AugmentOptions):
    """Window ``idx`` as the per-window path makes it from raw EMG, drawing in SpectrogramBatches' order: band
    rotation (np.roll of each band's electrodes), left/right jitter of 16 m samples (TemporalJitter's pairing),
    log spectrogram of the jittered EMG, SpecAugment's mask on it."""
    rng = np.random.default_rng((SEED, epoch, idx))
    rotation = rng.integers(-1, 2, size=2) if a.band_rotation else (0, 0)
    k = 16 * int(rng.integers(-(a.jitter // 16), a.jitter // 16 + 1))
    session_index = int(np.searchsorted(windows.offsets, idx, side="right")) - 1
    session = windows.sessions[session_index]
    start = (idx - int(windows.offsets[session_index])) * WINDOW
    leftover = session.n_samples - (start + WINDOW)
    if leftover >= 16:
        start += 16 * int(rng.integers(0, min(WINDOW, leftover) // 16))
    emg = session.emg(max(start - PADDING[0], 0), min(start + WINDOW + PADDING[1], session.n_samples))
    emg = np.stack([np.roll(emg[:, b], rotation[b], axis=1) for b in range(2)], axis=1)  # (T, 2, 16)
    first, second = emg[:, 0], emg[:, 1]
    if k > 0:
        first, second = first[k:], second[:-k]
    elif k < 0:
        first, second = first[:k], second[-k:]
    spec = log_spectrogram(np.stack([first, second], axis=1))  # (T', 2, 16, 33)
    masked = SpecAugment(a.time_masks, a.time_mask_width, a.freq_masks, a.freq_mask_width, time_dim=0,
                         independent_dims=(1, 2), rng=rng).mask(spec.shape)
    labels = session.labels_between(session.time[start], session.time[start + WINDOW - 1])
    return torch.from_numpy(np.where(masked, np.float32(0), spec)), torch.from_numpy(labels)


@pytest.mark.parametrize("augment", [AugmentOptions(), AugmentOptions(band_rotation=False, jitter=0, time_masks=1,
                                                                        time_mask_width=200, freq_masks=4)])
def test_batched_windows_equal_the_per_window_augmentation_of_the_raw_emg(windows, augment):
    batches = SpectrogramBatches(windows, SEED, augment)
    for epoch, indices in ((0, [0, 5, 3, 1]), (3, [2, len(windows) - 1, 0])):
        batch = augment_batch(batches[(epoch, indices)])
        assert set(batch) == {"inputs", "targets", "input_lengths", "target_lengths"}
        for n, idx in enumerate(indices):
            x, y = per_window_reference(windows, epoch, idx, augment)
            length = int(batch["input_lengths"][n])
            assert length == len(x) and torch.equal(batch["targets"][n, :batch["target_lengths"][n]], y)
            torch.testing.assert_close(batch["inputs"][:length, n], x, atol=1e-5, rtol=0)
            assert not batch["inputs"][length:, n].any()


def test_a_window_depends_on_seed_epoch_and_index_only(windows):
    batches = SpectrogramBatches(windows, SEED)
    together = augment_batch(batches[(2, [4, 1, 5])])
    alone = augment_batch(batches[(2, [1])])
    assert torch.equal(alone["inputs"][:, 0], together["inputs"][:len(alone["inputs"]), 1])
    assert not torch.equal(alone["inputs"], augment_batch(batches[(3, [1])])["inputs"])
    assert not torch.equal(alone["inputs"], augment_batch(SpectrogramBatches(windows, SEED + 1)[(2, [1])])["inputs"])


def test_workers_serve_the_same_batches_as_the_main_process(windows):
    batches = SpectrogramBatches(windows, SEED)

    def epoch_batches(workers):
        sampler = EpochWindows(len(batches), SEED, batch_size=4)
        sampler.set_epoch(1)
        loader = DataLoader(batches, batch_size=None, sampler=sampler, num_workers=workers)
        return [{k: v.clone() for k, v in augment_batch(b).items()} for b in loader]

    main, workers = epoch_batches(0), epoch_batches(2)
    assert len(main) == len(workers) == -(-len(batches) // 4)
    for a, b in zip(main, workers):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class StopAfterFirstEpoch(L.Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True  # before the epoch's checkpoint is written, as a run killed after it


def test_resume_with_cached_spectrograms_continues_exactly(data, tmp_path):
    split = read_split(data / "split.yaml")
    config = TypingConfig(model_kwargs={"mlp_features": [16], "block_channels": [8], "kernel_width": 4}, epochs=2,
                          batch_size=4, window=2000, warmup_epochs=1, cached_spectrograms=True)

    def train(run, **kwargs):
        return fit_typing(config, split["train"], split["val"], out=tmp_path / run, **kwargs)

    straight, _, resumed = train("a"), train("b", callbacks=[StopAfterFirstEpoch()]), train("b", resume=True)
    assert resumed.history == straight.history and len(straight.history) == 2
    weights = zip(straight.model.state_dict().values(), resumed.model.state_dict().values())
    assert all(torch.equal(a, b) for a, b in weights)
