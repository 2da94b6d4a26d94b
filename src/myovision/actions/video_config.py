"""The configuration of `myovision video finetune` (options generated from it; its defaults are the library's)."""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.training.options import OPTIMIZERS, TrainerOptions


@dataclass
class VideoFinetuneConfig:
    """I3D fine-tuning on labelled video lists. Defaults follow pytorch-i3d's Charades fine-tuning (SGD,
    momentum 0.9, weight decay 1e-7) at a lower learning rate."""

    train: str | None = option(None, "video list CSV for training (path,label[,start_frame,stop_frame]); required")
    val: str | None = option(None, "video list CSV for model selection (the best epoch's weights are kept)")
    checkpoint: str | None = option(None, "starting I3D weights, pytorch-i3d layout (default: random initialisation)")
    frames: int = option(16, "frames per clip")
    stride: int = option(1, "frame step inside a clip")
    short_side: int = option(256, "resize the shorter side of every frame to this many pixels")
    crop: int = option(224, "crop size (multi-scale random crop in training, centre crop in validation)")
    epochs: int = option(5, "passes over the training videos")
    batch_size: int = option(8, "clips per batch")
    lr: float = option(0.01, "learning rate")
    weight_decay: float = option(1e-7, "weight decay")
    optimizer: str = option("sgd", "optimiser (sgd: momentum 0.9, constant lr; adam/adamw: cosine schedule)",
                            choices=OPTIMIZERS)
    freeze_backbone: bool = option(False, "train the new logits layer only (backbone weights and BatchNorm fixed)")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="hardware, precision, seed")
