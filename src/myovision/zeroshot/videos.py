"""Reading clips for CLIP: T frames spread uniformly over a video (sparse temporal sampling, as ViFi-CLIP and
MAXI evaluate), shorter side resized to the model's input size, centre crop, CLIP's mean and std."""

from __future__ import annotations

from os import PathLike

import torch

from myovision.video.io import open_video
from myovision.video.sampling import uniform_clip_indices
from myovision.video.transforms import CenterCrop, Compose, Normalize, ResizeShorterSide


def clip_transform(size: int) -> Compose:
    """uint8 (T, H, W, 3) -> float (T, size, size, 3) in CLIP's normalisation."""
    return Compose([ResizeShorterSide(size), CenterCrop(size), Normalize()])


def read_clip(path: str | PathLike, frames: int = 8, size: int = 224, *, start: int | None = None,
              stop: int | None = None) -> torch.Tensor:
    """`frames` frames of the video at `path` (or of its span [start, stop]) as float (T, 3, size, size)."""
    with open_video(path) as reader:
        n = reader.info.num_frames
        idx = uniform_clip_indices(start or 0, n - 1 if stop is None else stop, clips=1, frames=frames, last=n - 1)[0]
        raw = reader.read(idx, short_side=size)  # (T, H, W, 3) uint8
    return clip_transform(size)(raw).permute(0, 3, 1, 2).contiguous()  # (T, 3, size, size)
