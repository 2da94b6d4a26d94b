"""Patch-to-text heatmaps (MAXI supplementary, Sec. 3.1): the cosine between every patch token of the image
encoder and a text embedding, upsampled to the frame and drawn over it, one panel per frame."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from myovision.video.transforms import CLIP_MEAN, CLIP_STD


@torch.no_grad()
def text_heatmaps(model, clip: torch.Tensor, text: str) -> torch.Tensor:
    """Similarity maps (T, H, W) in [0, 1] (min-max over the clip) of a clip (T, 3, H, W) to a text."""
    model.eval()
    embed = model.encode_texts([text])  # (1, D)
    sim = model.patch_text_similarity(clip[None], embed)[0, :, 0]  # (T, grid_h, grid_w)
    sim = F.interpolate(sim[:, None], size=clip.shape[-2:], mode="bilinear", align_corners=False)[:, 0]  # (T, H, W)
    return (sim - sim.min()) / (sim.max() - sim.min()).clamp_min(1e-12)


def unnormalise(clip: torch.Tensor) -> np.ndarray:
    """CLIP-normalised frames (T, 3, H, W) back to RGB in [0, 1], (T, H, W, 3)."""
    rgb = clip.permute(0, 2, 3, 1) * torch.tensor(CLIP_STD) + torch.tensor(CLIP_MEAN)  # (T, H, W, 3)
    return rgb.clamp(0, 1).numpy()


def save_heatmap_png(model, clip: torch.Tensor, text: str, path: str | PathLike, alpha: float = 0.5) -> Path:
    """Write a PNG of every frame of `clip` (T, 3, H, W) with its heatmap for `text` overlaid (jet colours)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from myovision.fileio import atomic_path

    maps = text_heatmaps(model, clip, text).numpy()
    frames = unnormalise(clip)
    fig, axes = plt.subplots(1, len(frames), figsize=(2 * len(frames), 2.3), squeeze=False)
    for ax, frame, heat in zip(axes[0], frames, maps):
        ax.imshow(frame)
        ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle(f'patch-to-text similarity: "{text}"', fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
