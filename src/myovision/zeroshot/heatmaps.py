"""Patch-to-text heatmaps (MAXI supplementary, Sec. 3.1): the cosine between every patch token of the image
encoder and a text embedding, upsampled to the frame and drawn over it, one panel per frame; `compare_heatmaps_png`
puts several checkpoints side by side on the same frames (a row each, as the paper's CLIP / ViFi-CLIP / MAXI
figures)."""

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


def compare_heatmaps_png(models: dict, clip: torch.Tensor, text: str, path: str | PathLike,
                         alpha: float = 0.5) -> Path:
    """A PNG grid: the frames of `clip` (T, 3, H, W) in the first row, then one row per named model (`models`:
    name -> CLIP video model, each with its own min-max scaling) with its heatmap for `text` over the frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from myovision.fileio import atomic_path

    frames = unnormalise(clip)
    rows = [("frames", None)] + [(name, text_heatmaps(model, clip, text).numpy()) for name, model in models.items()]
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(1.6 * len(frames), 1.7 * len(rows)), squeeze=False)
    for r, (name, maps) in enumerate(rows):
        for t, ax in enumerate(axes[r]):
            ax.imshow(frames[t])
            if maps is not None:
                ax.imshow(maps[t], cmap="jet", alpha=alpha, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(name, fontsize=8)
    fig.suptitle(f'patch-to-text similarity: "{text}"', fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
