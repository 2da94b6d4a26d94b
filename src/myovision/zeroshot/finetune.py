"""Fine-tuning a CLIP video model (`myovision.models.clip_video`) with Lightning, visual and text encoders both:

- `mil_finetune`: MAXI (Lin et al., ICCV 2023): unlabelled videos, each with its best dictionary match and
  text bag; every step samples N_bag texts per video, prompts "a photo of <match>, <text>", MIL-NCE loss.
- `few_shot_finetune`: ViFi-CLIP's supervised fine-tuning on K labelled videos per class: cross-entropy of
  the video-to-class-prompt logits.
- `pretrain_image_text`: CLIP's symmetric contrastive loss on image-caption pairs (the demo's stand-in for
  the web-scale pretraining a real CLIP checkpoint brings).
"""

from __future__ import annotations

from typing import Callable, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from myovision.errors import InputError
from myovision.training.harness import quiet_lightning
from myovision.zeroshot.mil import mil_nce_loss
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, fill
from myovision.zeroshot.textbags import mil_prompts, sample_text_bag


class TextBagDataset(Dataset):
    """Video i (T, 3, H, W) with `n_bag` prompts sampled afresh from its bag at every access, tokenised by
    `tokenize` (the model's):
    {"video", "input_ids" (N_bag, L), "attention_mask" (N_bag, L)}. An empty bag falls back to the match."""

    def __init__(self, videos: torch.Tensor, matches: Sequence[str], bags: Sequence[Sequence[str]],
                 tokenize: Callable[[Sequence[str]], tuple[torch.Tensor, torch.Tensor]], n_bag: int = 4, seed: int = 0):
        if not len(videos) == len(matches) == len(bags):
            raise InputError(f"{len(videos)} videos, {len(matches)} matches and {len(bags)} bags must agree")
        self.videos, self.matches, self.bags = videos, list(matches), [list(b) for b in bags]
        self.tokenize, self.n_bag = tokenize, n_bag
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        texts = sample_text_bag(self.bags[i] or [self.matches[i]], self.n_bag, self.rng)
        ids, mask = self.tokenize(mil_prompts(self.matches[i], texts))
        return {"video": self.videos[i], "input_ids": ids, "attention_mask": mask}


class _FineTuning(L.LightningModule):
    def __init__(self, model, lr: float, weight_decay: float):
        super().__init__()
        self.model, self.lr, self.weight_decay = model, lr, weight_decay
        self.losses: list[float] = []

    def configure_optimizers(self):
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2]
        other = [p for n, p in self.model.named_parameters() if p.ndim < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                  {"params": other, "weight_decay": 0.0}], lr=self.lr)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


class MILFineTuning(_FineTuning):
    """MIL-NCE over text bags (`myovision.zeroshot.mil`)."""

    def training_step(self, batch, batch_idx):
        b, n, length = batch["input_ids"].shape
        text = self.model.encode_text(batch["input_ids"].view(b * n, length), batch["attention_mask"].view(b * n, length))
        loss = mil_nce_loss(self.model.encode_video(batch["video"]), text.view(b, n, -1), self.model.logit_scale)
        return {"loss": loss}


class FewShotFineTuning(_FineTuning):
    """Cross-entropy of video-to-class-prompt logits; class prompts are re-encoded every step."""

    def __init__(self, model, class_names: Sequence[str], template: str, lr: float, weight_decay: float):
        super().__init__(model, lr, weight_decay)
        prompts = [row[0] for row in fill(template, class_names)]
        self.ids, self.mask = model.tokenize(prompts)

    def training_step(self, batch, batch_idx):
        text = self.model.encode_text(self.ids.to(self.device), self.mask.to(self.device))
        logits = self.model.logits(self.model.encode_video(batch["video"]), text)
        return {"loss": F.cross_entropy(logits, batch["label"])}


class ContrastiveImageText(_FineTuning):
    """CLIP's symmetric InfoNCE on image-caption pairs; repeated captions in a batch count as positives."""

    def training_step(self, batch, batch_idx):
        image = F.normalize(self.model.visual_projection(
            self.model.vision_model(pixel_values=batch["image"]).pooler_output), dim=-1)
        text = self.model.encode_text(batch["input_ids"], batch["attention_mask"])
        logits = self.model.logits(image, text)
        same = (batch["input_ids"][:, None] == batch["input_ids"][None]).all(-1).float()  # (B, B) same caption
        target = same / same.sum(1, keepdim=True)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        return {"loss": loss}


class _Dicts(Dataset):
    def __init__(self, **columns):
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, i: int):
        return {k: v[i] for k, v in self.columns.items()}


def _fit(module: _FineTuning, data: Dataset, epochs: int, batch_size: int, seed: int) -> list[float]:
    L.seed_everything(seed, workers=True, verbose=False)
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=len(data) > batch_size,
                        generator=torch.Generator().manual_seed(seed))
    module.model.train()
    with quiet_lightning():
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0)
        trainer.fit(module, loader)
    module.model.eval()
    return module.losses


def mil_finetune(model, videos: torch.Tensor, matches: Sequence[str], bags: Sequence[Sequence[str]], *,
                 n_bag: int = 4, epochs: int = 10, batch_size: int = 32, lr: float = 1e-4,
                 weight_decay: float = 0.01, seed: int = 0) -> list[float]:
    """MAXI fine-tuning of `model` in place on videos (N, T, 3, H, W); returns the loss of every step."""
    data = TextBagDataset(videos, matches, bags, model.tokenize, n_bag, seed)
    return _fit(MILFineTuning(model, lr, weight_decay), data, epochs, batch_size, seed)


def few_shot_finetune(model, videos: torch.Tensor, labels: Sequence[int], class_names: Sequence[str], *,
                      template: str = SINGLE_TEMPLATE, epochs: int = 10, batch_size: int = 8, lr: float = 2e-5,
                      weight_decay: float = 0.001, seed: int = 0) -> list[float]:
    """Supervised few-shot fine-tuning in place on labelled videos (N, T, 3, H, W); returns the step losses."""
    data = _Dicts(video=videos, label=torch.as_tensor(labels, dtype=torch.long))
    return _fit(FewShotFineTuning(model, class_names, template, lr, weight_decay), data, epochs, batch_size, seed)


def pretrain_image_text(model, images: torch.Tensor, captions: Sequence[str], *, epochs: int = 10,
                        batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.05, seed: int = 0) -> list[float]:
    """Contrastive image-text training in place on images (N, 3, H, W) and their captions."""
    ids, mask = model.tokenize(list(captions))
    data = _Dicts(image=images, input_ids=ids, attention_mask=mask)
    return _fit(ContrastiveImageText(model, lr, weight_decay), data, epochs, batch_size, seed)
