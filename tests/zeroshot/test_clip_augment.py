"""MAXI's training augmentation (video/augment_clip.py, zeroshot/videos.py): hand-checked colour operations and
seeded draws."""

import colorsys

import numpy as np
import torch

from myovision.video.augment_clip import ColorJitter, RandomGrayscale, adjust
from myovision.zeroshot.videos import maxi_augmentation


def test_adjust_matches_the_formulas_and_colorsys_hue():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (2, 4, 5, 3), dtype=torch.uint8)
    y = x.float() / 255
    assert torch.equal(adjust(x, brightness=0.5), (y * 0.5 * 255).round().to(torch.uint8))
    gray = (y * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
    assert torch.equal(adjust(x, saturation=0.0), (gray.expand_as(y) * 255).round().to(torch.uint8))
    mean = gray.mean(dim=(-3, -2, -1), keepdim=True)  # per frame
    assert torch.equal(adjust(x, contrast=0.0), (mean.expand_as(y) * 255).round().to(torch.uint8))
    shifted = adjust(x, hue=0.25)
    for pixel, out in zip(y.reshape(-1, 3).tolist(), shifted.reshape(-1, 3).tolist()):
        h, s, v = colorsys.rgb_to_hsv(*pixel)
        expected = [round(c * 255) for c in colorsys.hsv_to_rgb((h + 0.25) % 1.0, s, v)]
        assert max(abs(a - b) for a, b in zip(out, expected)) <= 1


def test_jitter_and_grayscale_draw_once_per_clip_from_their_generator():
    x = torch.randint(0, 256, (3, 4, 4, 3), dtype=torch.uint8)
    assert torch.equal(ColorJitter(p=0.0)(x), x) and torch.equal(RandomGrayscale(p=0.0)(x), x)
    g = RandomGrayscale(p=1.0)(x)
    assert torch.equal(g[..., 0], g[..., 1]) and torch.equal(g[..., 1], g[..., 2])
    a = ColorJitter(p=1.0, rng=np.random.default_rng(4))(x)
    b = ColorJitter(p=1.0, rng=np.random.default_rng(4))(x)
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_maxi_augmentation_shape_and_seeded_repeat():
    clip = torch.randint(0, 256, (5, 40, 50, 3), dtype=torch.uint8)
    augment = maxi_augmentation(32)
    a, b = augment(clip, np.random.default_rng(1)), augment(clip, np.random.default_rng(1))
    assert a.shape == (5, 3, 32, 32) and a.dtype == torch.float32 and torch.equal(a, b)
    draws = {tuple(augment(clip, np.random.default_rng(s)).flatten()[:50].tolist()) for s in range(6)}
    assert len(draws) > 1
