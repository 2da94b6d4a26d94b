"""The configuration of `myovision zeroshot demo` (options generated from it; its defaults are the demo's)."""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.training.options import TrainerOptions


@dataclass
class DemoConfig:
    """Sizes of the demo run (defaults: about a minute per seed on one CPU thread)."""

    seeds: list[int] = option(factory=lambda: [0, 1, 2], help="seeds to average over (each seed is the trainer "
                              "seed of its run, replacing --seed)")
    frames: int = option(6, "frames per synthetic video")
    size: int = option(32, "frame height and width in pixels")
    pretrain_videos: int = option(300, "videos whose frames and static captions pretrain the tiny CLIP")
    pretrain_epochs: int = option(4, "epochs of image-text pretraining")
    train_videos: int = option(240, "unlabelled videos (every motion) for MIL fine-tuning")
    test_videos: int = option(150, "videos of the 12 held-out classes for zero-shot top-1")
    n_bag: int = option(4, "texts sampled from a video's bag per step")
    p: float = option(0.5, "fraction of each text bag kept by similarity filtering")
    epochs: int = option(10, "epochs of MIL fine-tuning")
    lr: float = option(3e-4, "learning rate of MIL fine-tuning")
    batch_size: int = option(32, "videos per MIL fine-tuning batch")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="hardware, precision, seed")


#: `--quick`: a tiny run that checks the path (numbers not meaningful)
QUICK = {"pretrain_videos": 24, "pretrain_epochs": 1, "train_videos": 32, "test_videos": 24, "epochs": 1}
