"""Training-time augmentation of normalised mouth crops (T, h, w), as lip-reading recipes use on small corpora:
a horizontal flip (faces are near-symmetric), a random translation of a few pixels (the fixed box or the
landmark track is never exact), and time masking (Ma, Petridis, Pantic 2022: spans of frames replaced by the
video's mean, which is 0 after per-video standardisation), so the back-end learns to read from context.
`SpeedPerturbation` plays a video faster or slower by dropping or repeating frames (nearest frame, as speed
perturbation does for audio: Ko et al. 2015), returning the frame indices so per-frame targets follow.

Draws come from the callable's own `numpy.random.Generator`, so a seeded run is reproducible.

>>> aug = MouthAugment(flip=False, max_shift=0, time_masks=1, max_mask_frames=3, rng=np.random.default_rng(0))
>>> out = aug(torch.ones(10, 4, 6))
>>> tuple(out.shape), 7 <= int(out.sum(dim=(1, 2)).gt(0).sum()) <= 10
((10, 4, 6), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class MouthAugment:
    """crops (T, h, w) -> augmented crops (T, h, w): flip with p = 0.5, shift by up to `max_shift` pixels in each
    direction (edges replicated), then `time_masks` spans of up to `max_mask_frames` frames set to 0."""

    flip: bool = True
    max_shift: int = 2
    time_masks: int = 1
    max_mask_frames: int = 8
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __post_init__(self):
        if min(self.max_shift, self.time_masks, self.max_mask_frames) < 0:
            raise ValueError(f"augmentation sizes must be >= 0, got {self}")

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        t, h, w = video.shape
        if self.flip and self.rng.random() < 0.5:
            video = video.flip(-1)
        s = self.max_shift
        if s:
            padded = F.pad(video[None], (s, s, s, s), mode="replicate")[0]  # (T, h + 2s, w + 2s)
            dy, dx = self.rng.integers(0, 2 * s + 1, size=2)
            video = padded[:, dy:dy + h, dx:dx + w]
        if self.time_masks and self.max_mask_frames:
            video = video.clone()
            for _ in range(self.time_masks):
                length = int(self.rng.integers(0, min(self.max_mask_frames, t) + 1))
                start = int(self.rng.integers(0, t - length + 1))
                video[start:start + length] = 0.0
        return video


@dataclass
class SpeedPerturbation:
    """num_frames -> indices (T',) of the frames of a video played at a rate drawn uniformly in
    [1 - max_change, 1 + max_change]: T' = round(T / rate), frame i of the output is input frame
    min(floor(i * rate), T - 1). Index the crops (T, h, w) and their per-frame targets (T,) alike."""

    max_change: float = 0.1
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def __post_init__(self):
        if not 0 <= self.max_change < 1:
            raise ValueError(f"max_change must be in [0, 1), got {self.max_change}")

    def __call__(self, num_frames: int) -> np.ndarray:
        rate = 1.0 + self.rng.uniform(-self.max_change, self.max_change)
        length = max(1, round(num_frames / rate))
        return np.minimum(np.floor(np.arange(length) * rate).astype(np.int64), num_frames - 1)
