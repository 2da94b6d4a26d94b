"""Colour augmentation of clips as the CLIP video fine-tuning recipes of X-CLIP (Ni et al. 2022), ViFi-CLIP
(Rasheed et al. 2023) and MAXI (Lin et al. 2023) apply it after `MultiScaleCrop` and `HorizontalFlip`: a colour
jitter with probability 0.8 and grayscale with probability 0.2, one draw per clip (every frame alike).

Both take uint8 clips (..., T, H, W, 3) and return uint8, drawing from their own `numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from myovision.video.transforms import as_clip

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights, as PIL's convert("L")


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Float (..., 3) RGB -> float (..., 1) luminance."""
    return (x * torch.tensor(LUMA, dtype=x.dtype)).sum(-1, keepdim=True)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """Float RGB in [0, 1] (..., 3) -> HSV (..., 3), hue in [0, 1)."""
    r, g, b = x.unbind(-1)
    high, low = x.max(-1).values, x.min(-1).values
    delta = high - low
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(high == r, ((g - b) / safe) % 6, torch.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(delta > 0, hue / 6, torch.zeros_like(hue))
    sat = torch.where(high > 0, delta / torch.where(high > 0, high, torch.ones_like(high)), torch.zeros_like(high))
    return torch.stack([hue, sat, high], -1)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(-1)
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], -1)  # (..., 3): R, G, B
    return v[..., None] - (v * s)[..., None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def adjust(x: torch.Tensor, brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0,
           hue: float = 0.0) -> torch.Tensor:
    """torchvision's adjust_brightness, _contrast, _saturation and _hue, in that order, on uint8 (..., T, H, W, 3):
    brightness scales, contrast blends with the clip's mean luminance per frame, saturation with the grayscale
    frame, hue rotates by `hue` turns."""
    y = x.float() / 255.0
    y = (y * brightness).clamp(0, 1)
    mean = grayscale(y).mean(dim=(-3, -2, -1), keepdim=True)  # (..., T, 1, 1, 1)
    y = (contrast * y + (1 - contrast) * mean).clamp(0, 1)
    y = (saturation * y + (1 - saturation) * grayscale(y)).clamp(0, 1)
    if hue:
        hsv = _rgb_to_hsv(y)
        y = _hsv_to_rgb(torch.stack([(hsv[..., 0] + hue) % 1.0, hsv[..., 1], hsv[..., 2]], -1))
    return (y * 255.0).round().clamp(0, 255).to(torch.uint8)


@dataclass
class ColorJitter:
    """With probability `p`, brightness, contrast and saturation factors from [1 - a, 1 + a] and a hue shift from
    [-hue, hue], drawn once per clip (X-CLIP's defaults, which MAXI trains with)."""

    p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        if self.rng.random() >= self.p:
            return x
        b, c, s = (self.rng.uniform(max(0.0, 1 - a), 1 + a) for a in (self.brightness, self.contrast, self.saturation))
        return adjust(x, b, c, s, float(self.rng.uniform(-self.hue, self.hue)))


@dataclass
class RandomGrayscale:
    """With probability `p`, every frame as its luminance in all three channels."""

    p: float = 0.2
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __call__(self, x) -> torch.Tensor:
        x = as_clip(x)
        if self.rng.random() >= self.p:
            return x
        return grayscale(x.float()).round().clamp(0, 255).to(torch.uint8).expand(x.shape).contiguous()
