"""Training and evaluation of the sEMG typing models with CTC (emg2qwerty's recipe) in Lightning.

Training: 4 s windows with 0.9 s / 0.1 s context (:class:`~myovision.data.emg2qwerty.WindowedSessions`) for
emg2qwerty's TDS model, whose valid convolutions consume exactly that context (124 frames), so its emissions
cover the labelled window; other models get the context their receptive field consumes
(:func:`context_padding`), never unlabelled emission frames in which keys are pressed. Windows are
augmented as emg2qwerty (band rotation by -1/0/+1 electrodes, left/right jitter up to 120 samples, log
spectrogram, SpecAugment with up to 3 time masks of 25 frames and 2 frequency masks of 4 bins; magnitude
warping optional, as the follow-up study tried it); CTC loss (blank 98); Adam (lr 1e-3) with a linear
warm-up over the first ``warmup_epochs`` then cosine decay to ``min_lr``, stepped per batch. The weights of
the epoch with the lowest validation CER (greedy decoding) are kept. Evaluation feeds whole sessions.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import TypingSession, WindowedSessions, collate_windows, read_session
from myovision.decoding.ctc import CTCBeamDecoder, ctc_greedy
from myovision.metrics import character_error_rate
from myovision.signals.augment import BandRotation, Compose, MagnitudeWarping, SpecAugment, TemporalJitter
from myovision.signals.spectrogram import log_spectrogram
from myovision.training.harness import quiet_lightning


def train_transform(seed: int = 0, magnitude_warping: bool = False) -> Compose:
    """emg2qwerty's training augmentation: EMG ``(T, 2, 16)`` -> augmented log spectrogram ``(T', 2, 16, 33)``."""
    rng = np.random.default_rng(seed)
    steps = [BandRotation(band_dim=1, rng=rng), TemporalJitter(120, band_dim=1, rng=rng)]
    if magnitude_warping:
        steps.append(MagnitudeWarping(sigma=0.2, knots=4, time_dim=0, rng=rng))
    steps += [log_spectrogram, torch.from_numpy,
              SpecAugment(3, 25, 2, 4, time_dim=0, independent_dims=(1, 2), rng=rng)]
    return Compose(steps)


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


class TypingModule(L.LightningModule):
    """CTC training of a typing model ``(T, N, 2, 16, 33) -> (T', N, 99)`` log-probabilities."""

    def __init__(self, model: nn.Module, lr: float = 1e-3, warmup_epochs: int = 10, min_lr: float = 1e-6):
        super().__init__()
        self.model, self.lr, self.warmup_epochs, self.min_lr = model, lr, warmup_epochs, min_lr
        self.ctc = nn.CTCLoss(blank=CHARSET.blank, zero_infinity=True)
        self.best_cer, self.best_state = math.inf, None
        self.history: list[dict] = []
        self._hyps: list[str] = []
        self._refs: list[str] = []
        self._losses: list[float] = []
        self._val_cer: float | None = None

    def _emissions(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        emissions = self.model(batch["inputs"])  # (T', N, 99)
        return emissions, emission_lengths(batch["inputs"], emissions, batch["input_lengths"])

    def training_step(self, batch, batch_idx):
        emissions, lengths = self._emissions(batch)
        loss = self.ctc(emissions, batch["targets"], lengths, batch["target_lengths"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(lengths))
        self._losses.append(float(loss.detach()))
        return loss

    def on_train_epoch_end(self):
        row = {"epoch": self.current_epoch, "step": self.global_step, "train_loss": float(np.mean(self._losses))}
        self.history.append(row if self._val_cer is None else {**row, "val_CER": self._val_cer})
        self._losses, self._val_cer = [], None

    def validation_step(self, batch, batch_idx):
        emissions, lengths = self._emissions(batch)
        log_probs = emissions.detach().cpu().numpy()
        for i, (n, target, m) in enumerate(zip(lengths.tolist(), batch["targets"], batch["target_lengths"].tolist())):
            self._hyps.append(CHARSET.labels_to_str(ctc_greedy(log_probs[:n, i], CHARSET.blank)))
            self._refs.append(CHARSET.labels_to_str(target[:m].tolist()))

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking or not self._refs:
            self._hyps, self._refs = [], []
            return
        cer = character_error_rate(self._hyps, self._refs)["CER"]
        self._hyps, self._refs = [], []
        self.log("val_CER", cer, prog_bar=True)
        self._val_cer = cer
        if cer < self.best_cer:
            self.best_cer, self.best_state = cer, copy.deepcopy(self.model.state_dict())

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
    """What :func:`fit_typing` returns: the model (best validation epoch, eval mode) and the curve."""

    model: nn.Module
    best_val_cer: float
    history: list[dict] = field(default_factory=list)


def fit_typing(model: nn.Module, train: Sequence[str | Path], val: Sequence[str | Path] = (), *, epochs: int = 150,
               batch_size: int = 32, lr: float = 1e-3, warmup_epochs: int = 10, window: int = 8000,
               padding: tuple[int, int] | None = None, magnitude_warping: bool = False, seed: int = 0,
               blank_bias: float | None = None, max_steps: int = -1, progress: bool = False,
               log_dir: str | Path | None = None) -> TypingFit:
    """Train ``model`` on the windows of the ``train`` sessions; keep the weights with the lowest val CER.

    ``padding``: (past, future) context samples of each window; default :func:`context_padding` of ``model``.
    ``blank_bias``: when given, :func:`set_blank_bias` first (training from scratch).
    """
    L.seed_everything(seed, verbose=False)
    if blank_bias is not None:
        set_blank_bias(model, blank_bias)
    padding = context_padding(model) if padding is None else padding
    train_set = WindowedSessions(train, window=window, padding=padding, jitter=True, seed=seed,
                                 transform=train_transform(seed, magnitude_warping))
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, collate_fn=collate_windows,
                        generator=torch.Generator().manual_seed(seed))
    val_loader = None
    if len(val):
        val_loader = DataLoader(WindowedSessions(val, window=window, padding=padding), batch_size=batch_size,
                                collate_fn=collate_windows)
    module = TypingModule(model, lr=lr, warmup_epochs=warmup_epochs)
    with quiet_lightning():
        trainer = L.Trainer(max_epochs=epochs, max_steps=max_steps, accelerator="auto", enable_checkpointing=False,
                            logger=CSVLogger(str(log_dir), name="", version="") if log_dir else False,
                            enable_model_summary=False, enable_progress_bar=progress, num_sanity_val_steps=0,
                            log_every_n_steps=max(1, min(50, len(loader))))
        trainer.fit(module, loader, val_loader)
    if module.best_state is not None:
        model.load_state_dict(module.best_state)
    return TypingFit(model.eval(), module.best_cer, module.history)


@torch.inference_mode()
def session_log_probs(model: nn.Module, session: TypingSession) -> np.ndarray:
    """Emissions of a whole session in one pass: ``(T', 99)`` natural-log probabilities."""
    x = torch.from_numpy(log_spectrogram(session.emg()))[:, None]  # (T', 1, 2, 16, 33)
    param = next(model.parameters())
    return model.eval()(x.to(param.device, param.dtype))[:, 0].float().cpu().numpy()


def evaluate_typing(model: nn.Module, sessions: Sequence[str | Path | TypingSession],
                    decoders: dict[str, CTCBeamDecoder | None]) -> dict:
    """CER of each decoder (None: greedy) over whole ``sessions``, with the decoded text per session.

    Returns ``{name: {"CER": .., substitution/insertion/deletion rates.., "frames_per_s": ..}, "sessions": [..]}``.
    """
    import time

    hyps: dict[str, list[str]] = {name: [] for name in decoders}
    seconds = dict.fromkeys(decoders, 0.0)
    refs, rows, frames = [], [], 0
    for s in sessions:
        session = s if isinstance(s, TypingSession) else read_session(s)
        log_probs = session_log_probs(model, session)
        frames += len(log_probs)
        refs.append(session.text)
        row = {"session": session.path.name, "reference": session.text}
        for name, decoder in decoders.items():
            start = time.perf_counter()
            labels = ctc_greedy(log_probs, CHARSET.blank) if decoder is None else decoder.decode(log_probs)
            seconds[name] += time.perf_counter() - start
            hyps[name].append(CHARSET.labels_to_str(labels))
            row[name] = hyps[name][-1]
        rows.append(row)
    result: dict = {"sessions": rows}
    for name in decoders:
        result[name] = {**character_error_rate(hyps[name], refs), "frames_per_s": frames / max(seconds[name], 1e-9)}
    return result
