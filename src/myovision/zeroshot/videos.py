"""Reading clips for CLIP: T frames spread uniformly over a video (sparse temporal sampling, as ViFi-CLIP and
MAXI evaluate), shorter side resized to the model's input size, centre crop, CLIP's mean and std; and MAXI's
training augmentation (its code's `datasets/build.py` train pipeline: shorter side to 256/224 of the input size,
multi-scale crop, flip, colour jitter, grayscale)."""

from __future__ import annotations

from os import PathLike
from typing import Callable

import numpy as np
import torch

from myovision.video.augment_clip import ColorJitter, RandomGrayscale
from myovision.video.io import check_complete, open_video
from myovision.video.sampling import uniform_clip_indices
from myovision.video.transforms import CenterCrop, Compose, HorizontalFlip, MultiScaleCrop, Normalize, ResizeShorterSide


def clip_transform(size: int) -> Compose:
    """uint8 (T, H, W, 3) -> float (T, size, size, 3) in CLIP's normalisation."""
    return Compose([ResizeShorterSide(size), CenterCrop(size), Normalize()])


def train_side(size: int) -> int:
    """The shorter side training frames are resized to before the multi-scale crop: 256 for 224 (MAXI)."""
    return round(size * 256 / 224)


def maxi_augmentation(size: int) -> Callable[[torch.Tensor, np.random.Generator], torch.Tensor]:
    """MAXI's training augmentation: uint8 (T, H, W, 3) and a generator -> float (T, 3, size, size), every draw
    from the generator (one per clip: crop, flip, jitter, grayscale)."""

    def augment(clip: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        pipeline = Compose([ResizeShorterSide(train_side(size)), MultiScaleCrop(size, rng=rng),
                            HorizontalFlip(rng=rng), ColorJitter(rng=rng), RandomGrayscale(rng=rng), Normalize()])
        return pipeline(clip).permute(0, 3, 1, 2).contiguous()  # (T, 3, size, size)

    return augment


def read_frames(path: str | PathLike, frames: int, short_side: int) -> torch.Tensor:
    """`frames` frames spread uniformly over the video at `path`, uint8 (T, H, W, 3) with the shorter side
    `short_side`. A video file holding fewer frames than its container declares is an InputError (`check_complete`)."""
    with open_video(path) as reader:
        check_complete(reader)
        n = reader.info.num_frames
        idx = uniform_clip_indices(0, n - 1, clips=1, frames=frames, last=n - 1)[0]
        return ResizeShorterSide(short_side)(reader.read(idx, short_side=short_side))


def read_clip(path: str | PathLike, frames: int = 8, size: int = 224, *, start: int | None = None,
              stop: int | None = None) -> torch.Tensor:
    """`frames` frames of the video at `path` (or of its span [start, stop]) as float (T, 3, size, size).

    A video file holding fewer frames than its container declares is an InputError (`check_complete`)."""
    with open_video(path) as reader:
        check_complete(reader)
        n = reader.info.num_frames
        idx = uniform_clip_indices(start or 0, n - 1 if stop is None else stop, clips=1, frames=frames, last=n - 1)[0]
        raw = reader.read(idx, short_side=size)  # (T, H, W, 3) uint8
    return clip_transform(size)(raw).permute(0, 3, 1, 2).contiguous()  # (T, 3, size, size)
