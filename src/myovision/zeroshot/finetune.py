"""Fine-tuning a CLIP video model (`myovision.models.clip_video`) on the training harness, visual and text
encoders both:

- `mil_finetune`: MAXI (Lin et al., ICCV 2023): unlabelled videos, each with its best dictionary match and
  text bag; every step samples N_bag texts per video, prompts "a photo of <match>, <text>", the MIL loss of
  `myovision.zeroshot.mil` (MAXI's by default, videos with the same match positive); optional per-clip
  augmentation (MAXI's: `myovision.zeroshot.videos.maxi_augmentation`); AdamW with a linear warm-up and a cosine
  decay per optimiser step (X-CLIP's and MAXI's scheduler).
- `few_shot_finetune`: ViFi-CLIP's supervised fine-tuning on K labelled videos per class: cross-entropy of
  the video-to-class-prompt logits.
- `pretrain_image_text`: CLIP's symmetric contrastive loss on image-caption pairs (the demo's stand-in for
  the web-scale pretraining a real CLIP checkpoint brings).

Each takes `trainer` (`TrainerOptions`: devices, precision, gradient accumulation, workers, seed) and an optional
run folder `out` (logs, a checkpoint every epoch, `resume` continues from it). Shuffling is keyed by (seed, epoch)
and each video's text-bag and augmentation draws by (seed, epoch, video) (`KeyedShuffle`), so a resumed run draws what the
uninterrupted run drew, whatever the number of workers. (Not torch's global random state: the harness re-seeds
it every epoch, but Lightning creates the first epoch's DataLoader iterator, which takes a draw from it, before
that re-seeding and later epochs' after it, so a resumed epoch would see the draws shifted by one.)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import math

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from myovision.errors import InputError
from myovision.training.harness import EpochShuffle, SystemModule, build_trainer, epoch_to_run, fit
from myovision.training.options import TrainerOptions
from myovision.zeroshot.mil import mil_loss
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, fill
from myovision.zeroshot.textbags import mil_prompts, sample_text_bag


class KeyedShuffle(EpochShuffle):
    """`EpochShuffle` yielding (index, epoch): a dataset that draws at random per item keys its draw by
    (its seed, epoch, index) instead of a random state that depends on what ran before."""

    def __iter__(self):
        return ((i, self.epoch) for i in super().__iter__())


class TextBagDataset(Dataset):
    """Video i with `n_bag` prompts sampled afresh from its bag at every access, tokenised by `tokenize` (the
    model's): {"video" (T, 3, H, W), "input_ids" (N_bag, L), "attention_mask" (N_bag, L), "pseudo_label" ()}.
    An empty bag falls back to the match. `augment(clip, rng)` turns a stored clip into a training clip (T, 3, H, W)
    (e.g. uint8 (T, H, W, 3) frames through MAXI's augmentation); without it the stored clips are used as they are.
    Indexed by i or by (i, epoch) (`KeyedShuffle`): the draws are keyed by (seed, epoch, i)."""

    def __init__(self, videos: torch.Tensor, matches: Sequence[str], bags: Sequence[Sequence[str]],
                 tokenize: Callable[[Sequence[str]], tuple[torch.Tensor, torch.Tensor]], n_bag: int = 16,
                 seed: int = 0, augment: Callable[[torch.Tensor, np.random.Generator], torch.Tensor] | None = None):
        if not len(videos) == len(matches) == len(bags):
            raise InputError(f"{len(videos)} videos, {len(matches)} matches and {len(bags)} bags must agree")
        self.videos, self.matches, self.bags = videos, list(matches), [list(b) for b in bags]
        self.tokenize, self.n_bag, self.seed, self.augment = tokenize, n_bag, seed, augment
        index = {m: k for k, m in enumerate(dict.fromkeys(self.matches))}
        self.pseudo_labels = torch.tensor([index[m] for m in self.matches], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng([self.seed, epoch, i])
        texts = sample_text_bag(self.bags[i] or [self.matches[i]], self.n_bag, rng)
        ids, mask = self.tokenize(mil_prompts(self.matches[i], texts))
        video = self.videos[i] if self.augment is None else self.augment(self.videos[i], rng)
        return {"video": video, "input_ids": ids, "attention_mask": mask, "pseudo_label": self.pseudo_labels[i]}


class Columns(Dataset):
    """Item i of equally long tensors, as a dict keyed by column name."""

    def __init__(self, **columns: torch.Tensor):
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, key: int | tuple[int, int]):
        i = key[0] if isinstance(key, tuple) else key
        return {k: v[i] for k, v in self.columns.items()}


class TrainData(L.LightningDataModule):
    """One training set, shuffled per (seed, epoch); no validation set (the demo selects no epoch)."""

    def __init__(self, data: Dataset, batch_size: int, seed: int, num_workers: int = 0):
        super().__init__()
        self.data, self.batch_size, self.seed, self.num_workers = data, batch_size, seed, num_workers

    def train_dataloader(self) -> DataLoader:
        sampler = KeyedShuffle(len(self.data), self.seed)
        if self.trainer is not None:  # workers prefetch before Lightning's set_epoch (see EpochShuffle)
            sampler.set_epoch(epoch_to_run(self.trainer))
        return DataLoader(self.data, batch_size=self.batch_size, sampler=sampler,
                          drop_last=len(self.data) > self.batch_size, num_workers=self.num_workers)


class CLIPFineTuning(SystemModule):
    """AdamW (no decay on biases and norms) on `self.model`, a CLIPVideo; subclasses give the `loss` of a batch.
    `losses` holds the training loss of every batch (kept in checkpoints, so a resumed run has the whole list).
    warmup_epochs: a linear warm-up over that many epochs' optimiser steps, then a cosine decay to lr / 100
    (`warmup_cosine`); None: a constant learning rate."""

    def __init__(self, model, lr: float, weight_decay: float, warmup_epochs: float | None = None):
        super().__init__()
        self.model, self.lr, self.weight_decay, self.warmup_epochs = model, lr, weight_decay, warmup_epochs
        self.losses: list[float] = []

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, batch, phase: str):
        loss = self.loss(batch)
        self.log(f"{phase}_loss", loss, prog_bar=True, batch_size=len(next(iter(batch.values()))))
        if phase == "train":
            self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self):
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        other = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                       {"params": other, "weight_decay": 0.0}], lr=self.lr)
        if self.warmup_epochs is None:
            return optimiser
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = round(total * self.warmup_epochs / max(1, self.trainer.max_epochs))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["losses"] = list(self.losses)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.losses = list(checkpoint.get("losses", []))


def warmup_cosine(step: int, warmup: int, total: int, final: float = 0.01) -> float:
    """The learning-rate factor at optimiser step `step` of `total`: linear from 0 over `warmup` steps, then a
    cosine from 1 to `final` (timm's CosineLRScheduler as X-CLIP, ViFi-CLIP and MAXI use it, per step).

    >>> [round(warmup_cosine(s, 2, 6), 3) for s in range(6)]
    [0.0, 0.5, 1.0, 0.855, 0.505, 0.155]
    """
    if step < warmup:
        return step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))


class MILFineTuning(CLIPFineTuning):
    """A MIL loss over text bags (`myovision.zeroshot.mil`, named by `loss`)."""

    def __init__(self, model, lr: float, weight_decay: float, warmup_epochs: float | None = None, loss: str = "maxi"):
        super().__init__(model, lr, weight_decay, warmup_epochs)
        self.mil_loss = mil_loss(loss)

    def loss(self, batch):
        b, n, length = batch["input_ids"].shape
        text = self.model.encode_text(batch["input_ids"].view(b * n, length), batch["attention_mask"].view(b * n, length))
        return self.mil_loss(self.model.encode_video(batch["video"]), text.view(b, n, -1), self.model.logit_scale,
                             batch["pseudo_label"])


class FewShotFineTuning(CLIPFineTuning):
    """Cross-entropy of video-to-class-prompt logits; class prompts are re-encoded every step."""

    def __init__(self, model, class_names: Sequence[str], template: str, lr: float, weight_decay: float):
        super().__init__(model, lr, weight_decay)
        prompts = [row[0] for row in fill(template, class_names)]
        ids, mask = model.tokenize(prompts)
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("mask", mask, persistent=False)

    def loss(self, batch):
        text = self.model.encode_text(self.ids, self.mask)
        return F.cross_entropy(self.model.logits(self.model.encode_video(batch["video"]), text), batch["label"])


class ContrastiveImageText(CLIPFineTuning):
    """CLIP's symmetric InfoNCE on image-caption pairs; repeated captions in a batch count as positives."""

    def loss(self, batch):
        image = F.normalize(self.model.visual_projection(
            self.model.vision_model(pixel_values=batch["image"]).pooler_output), dim=-1)
        text = self.model.encode_text(batch["input_ids"], batch["attention_mask"])
        logits = self.model.logits(image, text)
        same = (batch["input_ids"][:, None] == batch["input_ids"][None]).all(-1).float()  # (B, B) same caption
        target = same / same.sum(1, keepdim=True)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _fit(module: CLIPFineTuning, data: Dataset, epochs: int, batch_size: int, seed: int,
         trainer: TrainerOptions | None, out: str | Path | None, resume: bool, progress: bool) -> list[float]:
    options = replace(trainer, seed=seed) if trainer is not None else TrainerOptions(seed=seed)
    run = build_trainer(options, out, max_epochs=epochs, progress=progress, gradient_clip_val=1.0,
                        log_every_n_steps=1)
    module.model.train()
    fit(run, module, datamodule=TrainData(data, batch_size, options.seed, options.num_workers),
        resume_from=out if resume else None)
    module.model.eval()
    return module.losses


def mil_finetune(model, videos: torch.Tensor, matches: Sequence[str], bags: Sequence[Sequence[str]], *,
                 loss: str = "maxi", n_bag: int = 16, epochs: int = 10, batch_size: int = 32, lr: float = 5e-6,
                 weight_decay: float = 0.001, warmup_epochs: float | None = 5,
                 augment: Callable[[torch.Tensor, np.random.Generator], torch.Tensor] | None = None, seed: int = 0,
                 trainer: TrainerOptions | None = None, out: str | Path | None = None, resume: bool = False,
                 progress: bool = False) -> list[float]:
    """MAXI fine-tuning of `model` in place on videos (N, T, 3, H, W) (or, with `augment`, whatever it takes:
    uint8 (N, T, H, W, 3)); returns the loss of every batch. Defaults: MAXI's recipe (`config.MAXI`).

    trainer: hardware, precision and gradient accumulation (effective batch = batch_size x accumulate_grad_batches
    x devices; its seed is replaced by `seed`); out: a run folder for logs and checkpoints (`resume` continues)."""
    data = TextBagDataset(videos, matches, bags, model.tokenize, n_bag, seed, augment)
    return _fit(MILFineTuning(model, lr, weight_decay, warmup_epochs, loss), data, epochs, batch_size, seed, trainer,
                out, resume, progress)


def few_shot_finetune(model, videos: torch.Tensor, labels: Sequence[int], class_names: Sequence[str], *,
                      template: str = SINGLE_TEMPLATE, epochs: int = 10, batch_size: int = 8, lr: float = 2e-5,
                      weight_decay: float = 0.001, seed: int = 0, trainer: TrainerOptions | None = None,
                      out: str | Path | None = None, resume: bool = False, progress: bool = False) -> list[float]:
    """Supervised few-shot fine-tuning in place on labelled videos (N, T, 3, H, W); returns the batch losses."""
    data = Columns(video=videos, label=torch.as_tensor(labels, dtype=torch.long))
    return _fit(FewShotFineTuning(model, class_names, template, lr, weight_decay), data, epochs, batch_size, seed,
                trainer, out, resume, progress)


def pretrain_image_text(model, images: torch.Tensor, captions: Sequence[str], *, epochs: int = 10,
                        batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.05, seed: int = 0,
                        trainer: TrainerOptions | None = None, out: str | Path | None = None, resume: bool = False,
                        progress: bool = False) -> list[float]:
    """Contrastive image-text training in place on images (N, 3, H, W) and their captions."""
    ids, mask = model.tokenize(list(captions))
    data = Columns(image=images, input_ids=ids, attention_mask=mask)
    return _fit(ContrastiveImageText(model, lr, weight_decay), data, epochs, batch_size, seed, trainer, out, resume,
                progress)
