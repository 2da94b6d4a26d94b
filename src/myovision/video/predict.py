"""Classifying one video with a clip model (I3D): evaluation clips, softmax per clip, averaged.

The evaluation recipe of the I3D paper (Carreira and Zisserman 2017, section 3.1): the shorter side
resized (256), a 224 x 224 centre crop, pixels in [-1, 1], class probabilities averaged over the clips.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import torch
from torch import nn

from myovision.progress import Heartbeat
from myovision.video.clips import ClipSpec, ClipTask, decode_action
from myovision.video.io import open_video
from myovision.video.transforms import CenterCrop, Compose, ScaleToSymmetric, ToChannelsFirst


def eval_spec(clips: int = 1, frames: int = 64, short_side: int = 256, crop: int = 224, **kwargs) -> ClipSpec:
    """Dense evaluation clips, shorter side resized while decoding, centre-cropped."""
    return ClipSpec(clips=clips, frames=frames, sampling="dense", short_side=short_side,
                    transform=CenterCrop(crop), **kwargs)


@torch.inference_mode()
def predict_video(path: str | PathLike, model: nn.Module, spec: ClipSpec | None = None,
                  progress: bool = False) -> torch.Tensor:
    """Class probabilities (num_classes,) of the video at `path`, averaged over the clips of `spec`.

    The clips are sampled over the whole video (frames 0 .. num_frames - 1) and go through the model one
    at a time. `progress`: show progress on stderr, counted in the model's top-level layers run per clip
    (one I3D clip on a CPU takes about a minute).
    """
    spec = spec or eval_spec()
    model.eval()
    layers = list(model.children()) or [model]
    with Heartbeat(spec.clips * len(layers), desc=f"decoding {Path(path).name}", unit="layer",
                   disable=not progress) as beat:
        with open_video(path, fps=spec.fps, threads=spec.threads) as reader:
            task = ClipTask("video", reader.path, 0, reader.info.num_frames - 1)
            clips = decode_action(reader, task, spec).clips  # uint8 (clips, T, H, W, C)
        x = Compose([ScaleToSymmetric(), ToChannelsFirst()])(clips).contiguous()  # (clips, C, T, H, W)
        hooks = [layer.register_forward_hook(lambda *_: beat.update()) for layer in layers]
        try:
            probs = []
            for i in range(len(x)):
                beat.set_description(f"{Path(path).name}: clip {i + 1}/{len(x)}")
                probs.append(model(x[i:i + 1]).softmax(dim=-1))  # (1, num_classes)
        finally:
            for hook in hooks:
                hook.remove()
    return torch.cat(probs).mean(dim=0)


def top_k(probs: torch.Tensor, labels: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The `k` most probable (label, probability) pairs, most probable first.

    >>> top_k(torch.tensor([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2)
    [('b', 0.6000000238418579), ('c', 0.30000001192092896)]
    """
    values, order = probs.topk(min(k, len(labels)))
    return [(labels[i], float(v)) for v, i in zip(values.tolist(), order.tolist())]
