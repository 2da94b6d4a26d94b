"""Fine-tuning a clip model (I3D) on a labelled list of videos with Lightning.

A video list is a CSV with columns `path,label` and optionally `start_frame,stop_frame` (0-based frame
indices; the whole video without them); relative paths are relative to the CSV's folder. Each training
step decodes one random dense clip per video (random offset), a multi-scale crop (TSN) and a random
horizontal flip; validation takes the centre clip and the centre crop. The loss, the optimiser and the
best-validation-epoch restore are those of `myovision.training.classifier.ClassifierModule`.

`finetune_i3d` is `myovision video finetune`: it takes a `VideoFinetuneConfig` (the one statement of the
defaults) and a run folder, and writes the model (`create_model(checkpoint=RUN)` rebuilds it, class names in
model.json and labels.txt), metrics.json (validation accuracy of the restored best epoch, with counts, overall
and per class) and report.html (training curves).
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

from myovision.actions.video_config import VideoFinetuneConfig
from myovision.data.epic import read_annotation_csv
from myovision.errors import InputError
from myovision.training.classifier import ClassifierModule
from myovision.training.harness import EpochShuffle, best_score, build_trainer, fit
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


def finetune_video_classifier(model: nn.Module, train: Dataset, val: Dataset | None = None,
                              config: VideoFinetuneConfig | None = None, *, progress: bool = False,
                              out: str | Path | None = None, resume: bool = False,
                              stats: dict | None = None) -> tuple[nn.Module, float | None]:
    """Fine-tune `model` (clips -> class scores) on `train`; keep the epoch with the best `val` accuracy.

    config: epochs, batch size, optimiser, lr, weight decay, freezing and `trainer` (hardware, precision,
    accumulation, workers, seed); defaults: `VideoFinetuneConfig()`. `out`: the run folder (logs, a checkpoint
    every epoch that `resume` continues). stats: a dict that receives "epochs", "steps", "best_epoch" and
    "is_global_zero". Returns the model in eval mode and its best validation accuracy (None without `val`).
    """
    config = config or VideoFinetuneConfig()
    options = config.trainer
    module = VideoClassifierModule(model, freeze_backbone=config.freeze_backbone, lr=config.lr,
                                   weight_decay=config.weight_decay, optimizer=config.optimizer)
    loader = DataLoader(train, batch_size=config.batch_size, sampler=EpochShuffle(len(train), options.seed),
                        num_workers=options.num_workers, drop_last=len(train) > config.batch_size)
    val_loader = None
    if val is not None and len(val):
        val_loader = DataLoader(val, batch_size=config.batch_size, num_workers=options.num_workers)
    run = build_trainer(options, out, max_epochs=config.epochs, progress=progress,
                        monitor="val_accuracy" if val_loader is not None else None,
                        log_every_n_steps=max(1, min(50, len(loader))))
    fit(run, module, train_dataloaders=loader, val_dataloaders=val_loader, resume_from=out if resume else None)
    if stats is not None:
        best = next((c.best_epoch for c in run.callbacks if hasattr(c, "best_epoch")), None)
        stats.update(epochs=run.current_epoch, steps=run.global_step, best_epoch=best,
                     is_global_zero=run.is_global_zero)
    return model.eval(), best_score(run)


@torch.no_grad()
def evaluate_video_classifier(model: nn.Module, data: Dataset, names: Sequence[str], *, batch_size: int = 8,
                              num_workers: int = 0) -> dict:
    """Accuracy of `model` (on its own device) over `data`'s clips: overall and per class, counts beside rates."""
    from myovision.progress import progress

    device = next(model.parameters()).device
    model.eval()
    correct, total = np.zeros(len(names), dtype=int), np.zeros(len(names), dtype=int)
    loader = DataLoader(data, batch_size=batch_size, num_workers=num_workers)
    for x, y in progress(loader, desc="validation videos", unit="batch"):
        hit = (model(x.to(device)).argmax(1).cpu() == y).numpy()
        np.add.at(correct, y.numpy(), hit)
        np.add.at(total, y.numpy(), 1)
    return {"val_accuracy": float(correct.sum() / max(total.sum(), 1)), "val_correct": int(correct.sum()),
            "val_videos": int(total.sum()),
            "per_class": {n: {"accuracy": float(c / t) if t else None, "correct": int(c), "videos": int(t)}
                          for n, c, t in zip(names, correct, total)}}


def finetune_i3d(config: VideoFinetuneConfig, out: str | Path, *, resume: bool = False,
                 progress: bool = True) -> dict | None:
    """`myovision video finetune`: I3D on `config.train` (model selection on `config.val`) into the run folder
    `out` (model, labels.txt, metrics.json, report.html). Returns the metrics (None on ranks other than 0)."""
    from myovision.fileio import atomic_write_text
    from myovision.models.i3d import i3d, load_i3d
    from myovision.runs import save_model, write_metrics

    if not config.train:
        raise InputError("--train is required (a video list CSV)")
    train_videos, names = read_video_list(config.train)
    val_videos = read_video_list(config.val, labels=names)[0] if config.val else []
    model = load_i3d(config.checkpoint) if config.checkpoint else i3d(num_classes=len(names))
    model.replace_logits(len(names))
    clips = dict(frames=config.frames, stride=config.stride, short_side=config.short_side, crop=config.crop)
    train = VideoClipDataset(train_videos, train=True, **clips)
    val = VideoClipDataset(val_videos, **clips) if val_videos else None
    print(f"{len(train_videos)} training videos, {len(val_videos)} validation videos, {len(names)} classes")
    stats: dict = {}
    finetune_video_classifier(model, train, val, config, progress=progress, out=out, resume=resume, stats=stats)
    if not stats["is_global_zero"]:
        return None
    metrics = {"classes": len(names), "train_videos": len(train_videos), "epochs": stats["epochs"],
               "steps": stats["steps"], "best_epoch": stats["best_epoch"]}
    if val is not None:
        metrics |= evaluate_video_classifier(model, val, names, batch_size=config.batch_size,
                                             num_workers=config.trainer.num_workers)
    kwargs = {"num_classes": len(names), "in_channels": model.Conv3d_1a_7x7.conv3d.in_channels,
              "dropout": model.dropout.p}
    save_model(out, model, "i3d", kwargs, extra={"class_names": names})
    atomic_write_text(Path(out) / "labels.txt", "\n".join(names) + "\n")
    write_metrics(out, metrics)
    video_finetune_report(out, config, metrics, names)
    return metrics


def video_finetune_report(out: str | Path, config: VideoFinetuneConfig, metrics: dict, names: Sequence[str]) -> Path:
    """report.html of a fine-tuning run: data line, results, per-class validation accuracy, training curves."""
    from myovision.report.html import figure, page, table, training_curves_png, write_page

    data = f"video list {config.train} ({metrics['train_videos']} videos, {len(names)} classes)"
    if config.val:
        data += f"; validation list {config.val} ({metrics['val_videos']} videos)"
    summary = {"classes": len(names), "training videos": metrics["train_videos"], "epochs": metrics["epochs"],
               "best epoch": "" if metrics["best_epoch"] is None else metrics["best_epoch"] + 1}
    if "val_accuracy" in metrics:
        summary |= {"validation accuracy": metrics["val_accuracy"],
                    "correct": f"{metrics['val_correct']} / {metrics['val_videos']}"}
    sections = [("results", "results", "<h2>Results</h2>" + table([summary], first_left=False))]
    if "per_class" in metrics:
        rows = [{"class": n, "accuracy": "" if v["accuracy"] is None else v["accuracy"], "correct": v["correct"],
                 "videos": v["videos"]} for n, v in metrics["per_class"].items()]
        sections.append(("classes", "per class", "<h2>Validation accuracy per class</h2>" + table(rows)))
    png = training_curves_png(Path(out) / "logs")
    if png is not None:
        sections.append(("curves", "training curves", "<h2>Training curves</h2>" + figure(
            png, "training curves", "training loss per step and validation accuracy per epoch")))
    start = f"from {config.checkpoint}" if config.checkpoint else "from random initialisation"
    return write_page(out, page("I3D fine-tuning", data_note=data, sections=sections,
                                subtitle=f"I3D {start}, {config.optimizer} lr {config.lr}, {config.epochs} epochs"
                                         f"{', backbone frozen' if config.freeze_backbone else ''}"))
