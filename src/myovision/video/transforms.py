"""Clip transforms: dataclass callables over uint8 clips (T, H, W, C), composed with `Compose`.

Geometric transforms keep uint8 and act on the last three dims, so they also take a batch
(..., T, H, W, C); the value transforms end the chain: `ScaleToSymmetric` maps [0, 255] to [-1, 1] (I3D,
Carreira and Zisserman 2017), `Normalize` subtracts a mean and divides by a std in [0, 1] units (CLIP).
`ToChannelsFirst` gives the (C, T, H, W) layout 3D CNNs take. Random transforms draw from their own
`numpy.random.Generator` (`rng`), so a seeded pipeline is reproducible.

>>> clip = torch.zeros(16, 256, 340, 3, dtype=torch.uint8)
>>> pipeline = Compose([ResizeShorterSide(128), CenterCrop(112), ScaleToSymmetric(), ToChannelsFirst()])
>>> x = pipeline(clip)
>>> tuple(x.shape), x.dtype, float(x.min())
((3, 16, 112, 112), torch.float32, -1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's RGB mean and std in [0, 1] units
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def as_clip(x) -> torch.Tensor:
    """A numpy array or tensor as a tensor (no copy when possible)."""
    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x


@dataclass
class Compose:
    """Apply `transforms` in order."""

    transforms: Sequence[Callable]

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


@dataclass
class ResizeShorterSide:
    """Resize (..., T, H, W, C) uint8 so the shorter side is `size`, bilinear with antialiasing."""

    size: int

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        h, w, c = x.shape[-3:]
        oh, ow = (self.size, round(w * self.size / h)) if h <= w else (round(h * self.size / w), self.size)
        return x if (oh, ow) == (h, w) else resize(x, oh, ow)


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize uint8 (..., H, W, C) frames to (height, width): bilinear with antialiasing, rounded."""
    h, w, c = x.shape[-3:]
    lead = x.shape[:-3]
    y = x.reshape(-1, h, w, c).permute(0, 3, 1, 2).float()  # (N, C, H, W)
    y = F.interpolate(y, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    y = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (N, height, width, C)
    return y.reshape(*lead, height, width, c)


def _crop(x: torch.Tensor, top: int, left: int, h: int, w: int) -> torch.Tensor:
    if h > x.shape[-3] or w > x.shape[-2]:
        raise ValueError(f"crop {h}x{w} is larger than the frames {x.shape[-3]}x{x.shape[-2]}")
    return x[..., top:top + h, left:left + w, :]


@dataclass
class CenterCrop:
    """The centre `size` x `size` (or (h, w)) of every frame."""

    size: int | tuple[int, int]

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        h, w = (self.size, self.size) if isinstance(self.size, int) else self.size
        return _crop(x, (x.shape[-3] - h) // 2, (x.shape[-2] - w) // 2, h, w)


@dataclass
class MultiScaleCrop:
    """Training crop of TSN (Wang et al. 2016): a crop side from `scales` x the shorter side for height and
    width (differing by at most `max_distort` steps), placed at a corner or the centre, resized to `size`.
    """

    size: int
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    max_distort: int = 1
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        h, w = x.shape[-3:-1]
        sides = [int(min(h, w) * s) for s in self.scales]
        pairs = [(a, b) for i, a in enumerate(sides) for j, b in enumerate(sides) if abs(i - j) <= self.max_distort]
        ch, cw = pairs[self.rng.integers(len(pairs))]
        places = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
        top, left = places[self.rng.integers(len(places))]
        return resize(_crop(x, top, left, ch, cw), self.size, self.size)


@dataclass
class HorizontalFlip:
    """Mirror every frame left-right with probability `p` (the whole clip at once)."""

    p: float = 0.5
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        return x.flip(-2) if self.rng.random() < self.p else x


@dataclass
class ScaleToSymmetric:
    """uint8 [0, 255] -> float32 [-1, 1] (x / 127.5 - 1), the input range of I3D."""

    def __call__(self, x) -> torch.Tensor:
        return as_clip(x).float().div_(127.5).sub_(1.0)


@dataclass
class Normalize:
    """uint8 -> float32 (x / 255 - mean) / std per channel (last dim); CLIP's statistics by default."""

    mean: Sequence[float] = CLIP_MEAN
    std: Sequence[float] = CLIP_STD

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        mean = torch.tensor(self.mean, dtype=torch.float32)
        std = torch.tensor(self.std, dtype=torch.float32)
        return (x.float() / 255.0 - mean) / std


@dataclass
class ToChannelsFirst:
    """(..., T, H, W, C) -> (..., C, T, H, W), a view (no copy): for a batch it is channels_last_3d memory."""

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        return x.movedim(-1, -4)
