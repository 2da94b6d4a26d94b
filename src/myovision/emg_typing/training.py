"""CTC training of the sEMG typing models (emg2qwerty's recipe) on the training harness.

Training: 4 s windows with 0.9 s / 0.1 s context (:class:`~myovision.data.emg2qwerty.WindowedSessions`) for
emg2qwerty's TDS model, whose valid convolutions consume exactly that context (124 frames), so its emissions
cover the labelled window; other models get the context their receptive field consumes
(:func:`context_padding`), never unlabelled emission frames in which keys are pressed. Windows are
augmented as ``config.augment`` says (default emg2qwerty's: band rotation by -1/0/+1 electrodes, left/right
jitter up to 120 samples, log spectrogram, SpecAugment with up to 3 time masks of 25 frames and 2 frequency
masks of 4 bins; magnitude warping optional, as the CNN+BiLSTM study's Table 1 tried it); CTC loss (blank 98); Adam (lr 1e-3) with a linear
warm-up over the first ``warmup_epochs`` then cosine decay to ``min_lr``, stepped per batch. The weights of
the epoch with the lowest validation CER (greedy decoding, errors summed over devices) are kept.
With ``config.cached_spectrograms`` windows come in whole batches from each session's spectrogram computed
once (:class:`SpectrogramBatches`), and their band rotation and SpecAugment run on the batch's device
(:meth:`TypingData.on_after_batch_transfer`).

Resume is exact: the order of the windows comes from (seed, epoch) (:class:`EpochWindows`), and each window's
jitter and augmentation from a generator seeded by (seed, epoch, window index) (:class:`TrainingWindows`,
:class:`SpectrogramBatches`), so neither depends on what was drawn before, on the number of data-loading workers
or on the device count.
Evaluation (whole sessions, several decoders) is :mod:`myovision.emg_typing.evaluate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import WindowedSessions, collate_windows
from myovision.data.spectrogram_windows import HOP, N_FFT, SpectrogramWindows
from myovision.decoding.ctc import ctc_greedy
from myovision.emg_typing.config import AugmentOptions, TypingConfig
from myovision.metrics import character_error_rate
from myovision.signals.augment import (BandRotation, Compose, MagnitudeWarping, SpecAugment, TemporalJitter,
                                      rotate_and_mask)
from myovision.signals.spectrogram import log_spectrogram
from myovision.training.harness import EpochShuffle, SystemModule, best_score, build_trainer, epoch_to_run, fit


def train_transform(rng: np.random.Generator | int = 0, augment: AugmentOptions | None = None) -> Compose:
    """The training augmentation ``augment`` (default: emg2qwerty's): EMG ``(T, 2, 16)`` -> augmented log
    spectrogram ``(T', 2, 16, 33)``.

    rng: the generator every random step draws from (or an int seed for a new one).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    a = augment or AugmentOptions()
    steps: list = [BandRotation(band_dim=1, rng=rng)] if a.band_rotation else []
    if a.jitter:
        steps.append(TemporalJitter(a.jitter, band_dim=1, rng=rng))
    if a.magnitude_warping:
        steps.append(MagnitudeWarping(sigma=a.warp_sigma, knots=a.warp_knots, time_dim=0, rng=rng, shared_curve=True))
    steps += [log_spectrogram, torch.from_numpy,
              SpecAugment(a.time_masks, a.time_mask_width, a.freq_masks, a.freq_mask_width, time_dim=0,
                          independent_dims=(1, 2), rng=rng)]
    return Compose(steps)


class TrainingWindows(Dataset):
    """Augmented training windows indexed by ``(epoch, index)``: ``(inputs (T', 2, 16, 33), labels (S,))``.

    The window's jitter and its augmentation (:func:`train_transform`) draw from a generator seeded by (seed,
    epoch, index): what an item is depends on nothing drawn before it (exact resume; any worker count).
    A plain ``index`` means epoch 0.
    """

    def __init__(self, windows: WindowedSessions, seed: int = 0, augment: AugmentOptions | None = None):
        self.windows, self.seed, self.augment = windows, seed, augment

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, idx = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng((self.seed, epoch, idx))
        emg, labels = self.windows.window_emg(idx, rng)  # (T, 2, 16) with context
        return train_transform(rng, self.augment)(emg), torch.from_numpy(labels.copy())


class SpectrogramBatches(Dataset):
    """Training batches from precomputed session spectrograms (:class:`SpectrogramWindows`), indexed by
    ``(epoch, [window indices])``: a CTC batch (:meth:`SpectrogramWindows.gather`) plus each window's band
    rotation ``rotation (N, 2)`` and SpecAugment masks ``time_masks (N, 2, 16, M, 2)``, ``freq_masks (N, 2, 16,
    M', 2)`` (``[start, end)`` frames / bins, ``[0, 0)`` padding), which :func:`augment_batch` applies on the
    batch's device.

    Each window draws from a generator seeded by (seed, epoch, index), in this order: rotation (-1/0/+1 per
    band), band jitter in whole 16-sample frames, start jitter in whole frames, SpecAugment's masks; so a window
    is what the per-window augmentation (band rotation, left/right jitter, log spectrogram, SpecAugment) gives
    for those draws when its start is hop-aligned, and depends on no other window. No magnitude warping (it
    acts on the raw EMG).
    """

    def __init__(self, windows: SpectrogramWindows, seed: int = 0, augment: AugmentOptions | None = None):
        self.windows, self.seed, self.augment = windows, seed, augment or AugmentOptions()
        a = self.augment
        self.spec_augment = SpecAugment(a.time_masks, a.time_mask_width, a.freq_masks, a.freq_mask_width,
                                        time_dim=0, independent_dims=(1, 2))  # drawn from each window's generator

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: tuple[int, Sequence[int]]) -> dict[str, torch.Tensor]:
        epoch, indices = key
        a = self.augment
        frames, rotations, rngs = [], [], []
        for idx in indices:
            rng = np.random.default_rng((self.seed, epoch, idx))
            rotations.append(rng.integers(-1, 2, size=2) if a.band_rotation else np.zeros(2, np.int64))
            shift = int(rng.integers(-(a.jitter // HOP), a.jitter // HOP + 1))
            frames.append(self.windows.locate(idx, rng, shift))
            rngs.append(rng)
        time, freq = self.spec_augment.batch_intervals([(w.length, 2, 16, N_FFT // 2 + 1) for w in frames],
                                                       rngs)  # each (N, M, 1, 2, 16, 1, 2): masks drawn last
        batch = self.windows.gather(frames)
        batch["rotation"] = torch.from_numpy(np.stack(rotations))  # (N, 2)
        batch["time_masks"] = torch.from_numpy(time[:, :, 0, :, :, 0].transpose(0, 2, 3, 1, 4))  # (N, 2, 16, M, 2)
        batch["freq_masks"] = torch.from_numpy(freq[:, :, 0, :, :, 0].transpose(0, 2, 3, 1, 4))
        return batch


def augment_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A :class:`SpectrogramBatches` batch with its band rotation and SpecAugment masks applied to ``inputs``
    (:func:`~myovision.signals.augment.rotate_and_mask`, on the batch's device) and their entries removed;
    any other batch as it is."""
    if "rotation" not in batch:
        return batch
    batch = dict(batch)
    rotation, time_masks, freq_masks = batch.pop("rotation"), batch.pop("time_masks"), batch.pop("freq_masks")
    batch["inputs"] = rotate_and_mask(batch["inputs"], rotation, time_masks, freq_masks)
    return batch


class EpochWindows(EpochShuffle):
    """:class:`~myovision.training.harness.EpochShuffle` yielding ``(epoch, index)`` keys for
    :class:`TrainingWindows`, or with ``batch_size`` ``(epoch, [indices])`` keys for :class:`SpectrogramBatches`
    (under DDP, Lightning shards these keys across ranks)."""

    def __iter__(self):  # a generator: the epoch is read at the first key, after Lightning's set_epoch
        epoch = self.epoch
        yield from ((epoch, i) for i in super().__iter__())


class TypingData(L.LightningDataModule):
    """Training windows (augmented, shuffled per (seed, epoch)) and validation windows (plain) of sessions."""

    def __init__(self, config: TypingConfig, train: Sequence[str | Path], val: Sequence[str | Path],
                 padding: tuple[int, int], cache_dir: str | Path | None = None):
        super().__init__()
        self.config, self.padding = config, padding
        if config.cached_spectrograms:
            windows = SpectrogramWindows(train, window=config.window, padding=padding, jitter=True, cache_dir=cache_dir)
            self.train_set = SpectrogramBatches(windows, config.trainer.seed, config.augment)
        else:
            windows = WindowedSessions(train, window=config.window, padding=padding, jitter=True)
            self.train_set = TrainingWindows(windows, config.trainer.seed, config.augment)
        self.val_set = WindowedSessions(val, window=config.window, padding=padding) if len(val) else None

    def train_dataloader(self) -> DataLoader:
        batched = isinstance(self.train_set, SpectrogramBatches)  # the dataset makes whole batches
        sampler = EpochWindows(len(self.train_set), self.config.trainer.seed,
                               batch_size=self.config.batch_size if batched else None)
        if self.trainer is not None:  # workers prefetch before Lightning's set_epoch (see EpochShuffle)
            sampler.set_epoch(epoch_to_run(self.trainer))
        return DataLoader(self.train_set, batch_size=None if batched else self.config.batch_size, sampler=sampler,
                          collate_fn=None if batched else collate_windows,
                          num_workers=self.config.trainer.num_workers)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """Band rotation and SpecAugment of cached-spectrogram batches, on the device (:func:`augment_batch`)."""
        return augment_batch(batch)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return DataLoader(self.val_set, batch_size=self.config.batch_size, collate_fn=collate_windows,
                          num_workers=self.config.trainer.num_workers)


def emission_lengths(inputs: torch.Tensor, emissions: torch.Tensor, input_lengths: torch.Tensor) -> torch.Tensor:
    """Valid emission frames per item: the model drops ``T - T'`` frames (its valid convolutions) from each."""
    return input_lengths - (inputs.shape[0] - emissions.shape[0])


#: emg2qwerty's past / future context (samples) for its TDS model, which drops ``TDS_FRAMES_CONSUMED`` frames.
EMG2QWERTY_PADDING = (1800, 200)
TDS_FRAMES_CONSUMED = 124


@torch.no_grad()
def context_padding(model: nn.Module) -> tuple[int, int]:
    """Past and future context (samples) for training windows of ``model``: emg2qwerty's (1800, 200) scaled by
    the frames the model consumes (``T - T'``) over the 124 of emg2qwerty's TDS model.

    The labels of a window are only the keys pressed inside it, so the emissions must cover the window and
    not the context: with too much context a model that keeps more frames than the window is trained to
    emit blank over keys pressed in the context (CTC then learns little beyond the label prior). A model
    that keeps the length (``T' = T``) gets no context.

    >>> from myovision.models.tds import tds_conv_ctc
    >>> context_padding(tds_conv_ctc()), context_padding(tds_conv_ctc(kernel_width=8, block_channels=(16,)))
    ((1800, 200), (102, 11))
    """
    param = next(model.parameters())
    was_training = model.training
    frames = 256
    out = model.eval()(torch.zeros(frames, 1, 2, 16, 33, device=param.device, dtype=param.dtype))
    model.train(was_training)
    consumed = frames - out.shape[0]
    return tuple(round(p * consumed / TDS_FRAMES_CONSUMED) for p in EMG2QWERTY_PADDING)


@torch.no_grad()
def set_blank_bias(model: nn.Module, value: float) -> None:
    """Start ``model`` emitting mostly blank: its output layer (the last ``nn.Linear`` to 99 classes) gets bias
    ``value`` on the blank and 0 elsewhere.

    From a random start CTC first spends its steps learning that most frames are blank; starting there
    lets the first steps go to the keys (a common CTC initialisation; about 100 steps saved on the
    synthetic sessions).
    """
    heads = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == CHARSET.num_classes]
    if not heads or heads[-1].bias is None:
        raise ValueError("no output nn.Linear with a bias to the 99 classes found in the model")
    heads[-1].bias.zero_()
    heads[-1].bias[CHARSET.blank] = value




def init_weights(model: nn.Module, source: str | Path) -> nn.Module:
    """Load the weights of ``source`` into ``model`` (every key, every shape: a one-line InputError otherwise):
    Meta's emg2qwerty ``.ckpt``, a ``.safetensors`` file, or a run folder (its ``model.safetensors``).
    emg2qwerty's personalisation fine-tunes its generic model on each test user this way."""
    from myovision.errors import InputError
    from myovision.registry import load_checkpoint
    from myovision.runs import WEIGHTS

    source = Path(source)
    if source.is_dir():
        if not (source / WEIGHTS).is_file():
            raise InputError(f"--init-from: no {WEIGHTS} in this folder (not a finished typing run)", source)
        source = source / WEIGHTS
    return load_checkpoint(model, source)


class TypingModule(SystemModule):
    """CTC training of a typing model ``(T, N, 2, 16, 33) -> (T', N, 99)`` log-probabilities; logs ``train_loss``
    and ``val_cer`` (greedy decoding; errors and reference characters summed over devices, a fraction).

    ``history``: one row per epoch (epoch, step, train_loss, val_cer), kept in Lightning checkpoints.
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, warmup_epochs: int = 10, min_lr: float = 1e-6):
        super().__init__()
        self.model, self.lr, self.warmup_epochs, self.min_lr = model, lr, warmup_epochs, min_lr
        self.ctc = nn.CTCLoss(blank=CHARSET.blank, zero_infinity=True)
        self.history: list[dict] = []
        self._loss = torch.zeros(2)  # sum, batches
        self._val = torch.zeros(2)  # errors, reference characters
        self._val_cer: float | None = None

    def _step(self, batch: dict, phase: str) -> torch.Tensor | None:
        emissions = self.model(batch["inputs"])  # (T', N, 99)
        lengths = emission_lengths(batch["inputs"], emissions, batch["input_lengths"])
        if phase == "train":
            loss = self.ctc(emissions, batch["targets"], lengths, batch["target_lengths"])
            self.log("train_loss", loss, prog_bar=True, batch_size=len(lengths))
            self._loss += torch.tensor([float(loss.detach()), 1.0])
            return loss
        log_probs = emissions.detach().float().cpu().numpy()  # (T', N, 99)
        hyps, refs = [], []
        for i, (n, target, m) in enumerate(zip(lengths.tolist(), batch["targets"], batch["target_lengths"].tolist())):
            hyps.append(CHARSET.labels_to_str(ctc_greedy(log_probs[:n, i], CHARSET.blank)))
            refs.append(CHARSET.labels_to_str(target[:m].tolist()))
        counts = character_error_rate(hyps, refs)
        self._val += torch.tensor([float(counts["errors"]), float(counts["reference_chars"])])
        return None

    def on_validation_epoch_end(self):
        counts = self.trainer.strategy.reduce(self._val.to(self.device), reduce_op="sum")
        self._val = torch.zeros(2)
        if counts[1] > 0:
            self._val_cer = float(counts[0] / counts[1])
            self.log("val_cer", self._val_cer, prog_bar=True, sync_dist=True)  # equal on every rank

    def on_train_epoch_end(self):
        loss = self.trainer.strategy.reduce(self._loss.to(self.device), reduce_op="sum")
        row = {"epoch": self.current_epoch, "step": self.global_step, "train_loss": float(loss[0] / max(loss[1], 1))}
        self.history.append(row if self._val_cer is None else {**row, "val_cer": self._val_cer})
        self._loss, self._val_cer = torch.zeros(2), None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["typing_history"] = [dict(row) for row in self.history]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = [dict(row) for row in checkpoint.get("typing_history", [])]

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = min(total - 1, round(total * self.warmup_epochs / epochs)) if self.warmup_epochs else 0
        floor = self.min_lr / self.lr

        def factor(step: int) -> float:  # linear warm-up, then cosine from lr to min_lr
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return [opt], [{"scheduler": sched, "interval": "step"}]


@dataclass
class TypingFit:
    """What :func:`fit_typing` returns: the model (best validation epoch, eval mode), the curve, the context
    padding its windows had, and whether this process is global rank 0 (the one that writes outputs)."""

    model: nn.Module
    best_val_cer: float | None
    history: list[dict] = field(default_factory=list)
    padding: tuple[int, int] = (0, 0)
    is_global_zero: bool = True
    epochs: int = 0
    steps: int = 0


def fit_typing(config: TypingConfig, train: Sequence[str | Path], val: Sequence[str | Path] = (), *,
               model: nn.Module | None = None, out: str | Path | None = None, resume: bool = False,
               progress: bool = False, max_steps: int = -1, callbacks: Sequence[L.Callback] = ()) -> TypingFit:
    """Train ``config.model`` (or ``model``) on the windows of the ``train`` sessions with ``config``'s recipe and
    hardware (``config.trainer``); keep the weights of the epoch with the lowest validation CER on ``val``.

    out: the run folder (Lightning checkpoints every epoch, CSV + TensorBoard logs); resume: continue its last
    checkpoint. ``config.padding`` None: :func:`context_padding` of the model. ``config.init_from``: start from
    those weights (:func:`init_weights`); otherwise ``config.blank_bias``, when given, :func:`set_blank_bias`
    first (training from scratch). progress: a bar on a terminal, lines otherwise.
    callbacks: more Lightning callbacks for the trainer.
    """
    from myovision.registry import create_model

    torch.manual_seed(config.trainer.seed)
    if model is None:
        model = create_model(config.model, **config.model_kwargs)
    if config.init_from is not None:
        init_weights(model, config.init_from)
    elif config.blank_bias is not None:
        set_blank_bias(model, config.blank_bias)
    padding = context_padding(model) if config.padding is None else tuple(config.padding)
    data = TypingData(config, train, val, padding, cache_dir=None if out is None else Path(out) / "cache")
    processes = config.trainer.devices * config.trainer.num_nodes
    batches = -(-len(data.train_set) // (config.batch_size * processes))  # per process
    trainer = build_trainer(config.trainer, out, max_epochs=config.epochs, max_steps=max_steps,
                            monitor="val_cer" if data.val_set is not None else None, mode="min",
                            checkpoints=out is not None, progress=None if progress else False,
                            limit_val_batches=None if data.val_set is not None else 0,
                            log_every_n_steps=max(1, min(50, batches)),
                            callbacks=callbacks)
    module = TypingModule(model, lr=config.lr, warmup_epochs=config.warmup_epochs, min_lr=config.min_lr)
    fit(trainer, module, datamodule=data, resume_from=out if resume else None)
    return TypingFit(model.eval(), best_score(trainer), module.history, padding, trainer.is_global_zero,
                     trainer.current_epoch, trainer.global_step)
