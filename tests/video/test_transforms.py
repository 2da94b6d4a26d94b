"""Clip transforms over (T, H, W, C) uint8."""

import numpy as np
import torch

from myovision.video.transforms import (CLIP_MEAN, CLIP_STD, CenterCrop, Compose, HorizontalFlip, MultiScaleCrop,
                                        Normalize, ResizeShorterSide, ScaleToSymmetric, ToChannelsFirst)


def coordinates(t=2, h=6, w=8):
    """Pixel (t, y, x) holds (y, x, t) in its channels: crops and flips can be checked by value."""
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    clip = np.stack([np.stack([y, x, np.full_like(y, i)], axis=-1) for i in range(t)])
    return torch.from_numpy(clip.astype(np.uint8))  # (T, H, W, 3)


def test_resize_shorter_side_keeps_aspect_and_flat_values():
    clip = torch.full((3, 256, 340, 3), 77, dtype=torch.uint8)
    out = ResizeShorterSide(128)(clip)
    assert out.shape == (3, 128, 170, 3) and out.dtype == torch.uint8 and bool((out == 77).all())
    assert ResizeShorterSide(64)(torch.zeros(1, 300, 100, 3, dtype=torch.uint8)).shape == (1, 192, 64, 3)
    batch = torch.zeros(2, 4, 20, 30, 3, dtype=torch.uint8)  # (B, T, H, W, C)
    assert ResizeShorterSide(10)(batch).shape == (2, 4, 10, 15, 3)


def test_center_crop_takes_the_middle():
    out = CenterCrop((2, 4))(coordinates())
    assert out[0, :, :, 0].tolist() == [[2] * 4, [3] * 4] and out[0, 0, :, 1].tolist() == [2, 3, 4, 5]


def test_flip_mirrors_width_only():
    clip = coordinates()
    out = HorizontalFlip(p=1.0)(clip)
    assert out[1, 0, :, 1].tolist() == list(range(7, -1, -1)) and out[1, :, 0, 0].tolist() == list(range(6))
    assert HorizontalFlip(p=0.0)(clip) is clip


def test_multiscale_crop_size_and_seeded_choice():
    clip = torch.randint(0, 256, (4, 64, 80, 3), dtype=torch.uint8)
    a = MultiScaleCrop(32, rng=np.random.default_rng(3))(clip)
    b = MultiScaleCrop(32, rng=np.random.default_rng(3))(clip)
    assert a.shape == (4, 32, 32, 3) and torch.equal(a, b)
    crops = {tuple(MultiScaleCrop(32, scales=(1.0, 0.5), max_distort=0, rng=np.random.default_rng(s))
                   (coordinates(1, 64, 80))[0, 0, 0].tolist()) for s in range(40)}
    assert len(crops) > 3  # corners and centre of two scales


def test_value_scaling_for_i3d_and_clip():
    x = torch.tensor([0, 127, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    np.testing.assert_allclose(ScaleToSymmetric()(x).flatten(), [-1.0, 127 / 127.5 - 1, 1.0])
    y = Normalize()(torch.full((1, 1, 1, 3), 255, dtype=torch.uint8))
    np.testing.assert_allclose(y.flatten(), [(1 - m) / s for m, s in zip(CLIP_MEAN, CLIP_STD)], rtol=1e-6)


def test_pipeline_to_model_layout_is_channels_last_3d_for_a_batch():
    batch = torch.zeros(2, 8, 40, 50, 3, dtype=torch.uint8)
    x = Compose([CenterCrop(32), ScaleToSymmetric(), ToChannelsFirst()])(batch)
    assert x.shape == (2, 3, 8, 32, 32) and x.is_contiguous(memory_format=torch.channels_last_3d)
