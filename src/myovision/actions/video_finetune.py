"""Fine-tuning a clip model (I3D) on a labelled list of videos with Lightning.

A video list is a CSV with columns `path,label` and optionally `start_frame,stop_frame` (0-based frame
indices; the whole video without them); relative paths are relative to the CSV's folder. Each training
step decodes one random dense clip per video (random offset), a multi-scale crop (TSN) and a random
horizontal flip; validation takes the centre clip and the centre crop. The loss, the optimiser and the
best-validation-epoch restore are those of `myovision.training.classifier.ClassifierModule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from myovision.data.epic import read_annotation_csv
from myovision.errors import InputError
from myovision.training.classifier import ClassifierModule
from myovision.training.harness import EpochShuffle, TrainerOptions, best_score, build_trainer, fit
from myovision.video.io import open_video
from myovision.video.sampling import dense_clip_indices
from myovision.video.transforms import (CenterCrop, Compose, HorizontalFlip, MultiScaleCrop, ScaleToSymmetric,
                                        ToChannelsFirst)


@dataclass(frozen=True)
class LabelledVideo:
    path: Path
    label: int
    start: int | None = None  # frame span, both ends included; None: the whole video
    stop: int | None = None


def read_video_list(path: str | PathLike, labels: Sequence[str] | None = None) -> tuple[list[LabelledVideo], list[str]]:
    """(videos, class names) of a video-list CSV; class names sorted unless `labels` fixes them (and their order)."""
    path = Path(path)
    table = read_annotation_csv(path, {"path": "str", "label": "str"}, unique=None)
    spans = {"start_frame", "stop_frame"} <= set(table.columns)
    if spans:
        columns = {"path": "str", "label": "str", "start_frame": "nonneg", "stop_frame": "nonneg"}
        table = read_annotation_csv(path, columns, unique=None, frame_pair=("start_frame", "stop_frame"))
    names = list(labels) if labels is not None else sorted(table["label"].unique())
    unknown = sorted(set(table["label"]) - set(names))
    if unknown:
        raise InputError(f"labels {unknown[:5]} are not among the {len(names)} class names given", path)
    index = {name: i for i, name in enumerate(names)}
    videos = [LabelledVideo(path.parent / r.path, index[r.label], *((int(r.start_frame), int(r.stop_frame)) if spans
                                                                     else (None, None)))
              for r in table.itertuples(index=False)]
    return videos, names


class VideoClipDataset(Dataset):
    """(clip float32 (C, T, H, W) in [-1, 1], label) per video; one random (train) or centre (eval) clip."""

    def __init__(self, videos: Sequence[LabelledVideo], *, frames: int = 16, stride: int = 1, short_side: int = 256,
                 crop: int = 224, train: bool = False):
        self.videos, self.frames, self.stride = list(videos), frames, stride
        self.short_side, self.crop, self.train = short_side, crop, train

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        video = self.videos[i]
        rng = np.random.default_rng(int(torch.randint(2**31, ())))  # torch's RNG: seeded, distinct per worker
        with open_video(video.path, threads=1) as reader:
            last = reader.info.num_frames - 1
            start = 0 if video.start is None else min(video.start, last)
            stop = last if video.stop is None else video.stop
            idx = dense_clip_indices(start, stop, 1, self.frames, self.stride, train=self.train, rng=rng, last=last)
            clip = torch.from_numpy(reader.read(idx[0], short_side=self.short_side))  # (T, H, W, C)
        crop = [MultiScaleCrop(self.crop, rng=rng), HorizontalFlip(0.5, rng=rng)] if self.train else \
            [CenterCrop(self.crop)]
        x = Compose([*crop, ScaleToSymmetric(), ToChannelsFirst()])(clip)  # (C, T, H, W)
        return x.contiguous(), video.label


class VideoClassifierModule(ClassifierModule):
    """`ClassifierModule` that can train the new logits only: the backbone's weights and BatchNorm
    statistics stay fixed (BatchNorm kept in eval mode)."""

    def __init__(self, model: nn.Module, *, freeze_backbone: bool = False, **kwargs):
        super().__init__(model, **kwargs)
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith("logits."))

    def on_train_epoch_start(self) -> None:
        if self.freeze_backbone:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()


def finetune_video_classifier(model: nn.Module, train: Dataset, val: Dataset | None = None, *, epochs: int = 5,
                              batch_size: int = 8, lr: float = 0.01, weight_decay: float = 1e-7,
                              optimizer: str = "sgd", freeze_backbone: bool = False,
                              trainer: TrainerOptions | None = None, progress: bool = False,
                              out: str | Path | None = None, resume: bool = False) -> tuple[nn.Module, float | None]:
    """Fine-tune `model` (clips -> class scores) on `train`; keep the epoch with the best `val` accuracy.

    Defaults follow pytorch-i3d's Charades fine-tuning (SGD, momentum 0.9, weight decay 1e-7) at a lower lr.
    `out`: the run folder (logs, a checkpoint every epoch that `resume` continues). Returns the model in eval
    mode and its validation accuracy (None without `val`).
    """
    options = trainer or TrainerOptions()
    module = VideoClassifierModule(model, freeze_backbone=freeze_backbone, lr=lr, weight_decay=weight_decay,
                                   optimizer=optimizer)
    loader = DataLoader(train, batch_size=batch_size, sampler=EpochShuffle(len(train), options.seed),
                        num_workers=options.num_workers, drop_last=len(train) > batch_size)
    val_loader = None
    if val is not None and len(val):
        val_loader = DataLoader(val, batch_size=batch_size, num_workers=options.num_workers)
    run = build_trainer(options, out, max_epochs=epochs, progress=progress,
                        monitor="val_accuracy" if val_loader is not None else None,
                        log_every_n_steps=max(1, min(50, len(loader))))
    fit(run, module, train_dataloaders=loader, val_dataloaders=val_loader, resume_from=out if resume else None)
    return model.eval(), best_score(run)
