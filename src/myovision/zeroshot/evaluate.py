"""Zero-shot evaluation over a class list: top-1 / top-5 accuracy (UCF101, HMDB51, K600 splits) and mean
average precision for multi-label sets (Charades), with class text embeddings computed once per
(model text weights, class names, templates) and cached in memory and, optionally, on disk (safetensors).

A video list is a CSV with columns `path,label` (relative paths from the CSV's folder); a multi-label list
separates a video's labels with ";".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from myovision.errors import InputError
from myovision.metrics import top_k_accuracy
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, class_embeddings, clean_class_name

_MEMORY: dict[str, torch.Tensor] = {}


def text_fingerprint(model) -> str:
    """SHA-256 over the text tower's weights (text_model, text_projection): changes when they change."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith(("text_model.", "text_projection.")):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cached_class_embeddings(model, names: Sequence[str], templates: str | Sequence[str] = SINGLE_TEMPLATE,
                            cache_dir: str | PathLike | None = None) -> torch.Tensor:
    """`class_embeddings` (C, D), computed once per (text weights, names, templates); kept in memory and, with
    `cache_dir`, in `<cache_dir>/text-<key>.safetensors` for later runs."""
    from myovision.registry import read_state_dict
    from myovision.runs import save_weights

    key = hashlib.sha256(json.dumps([text_fingerprint(model), list(names), templates]).encode()).hexdigest()[:20]
    if key in _MEMORY:
        return _MEMORY[key]
    path = Path(cache_dir) / f"text-{key}.safetensors" if cache_dir is not None else None
    if path is not None and path.is_file():
        embeds = read_state_dict(path)["class_embeddings"]
    else:
        embeds = class_embeddings(model, names, templates).cpu()
        if path is not None:
            save_weights(path, {"class_embeddings": embeds})
    _MEMORY[key] = embeds
    return embeds


@torch.no_grad()
def zero_shot_scores(model, clips: Iterable[torch.Tensor], class_embeds: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """Cosine scores (N, C), on the CPU, of clips (each (T, 3, H, W), or batches (B, T, 3, H, W)) against class
    embeddings; clips go to the model's device."""
    device = model_device(model)
    class_embeds = class_embeds.to(device)
    rows, batch = [], []

    def flush():
        if batch:
            rows.append((model.encode_video(torch.cat(batch).to(device)) @ class_embeds.T).cpu())  # (B, C)
            batch.clear()

    for clip in clips:
        batch.append(clip[None] if clip.ndim == 4 else clip)
        if sum(len(b) for b in batch) >= batch_size:
            flush()
    flush()
    return torch.cat(rows) if rows else torch.zeros(0, len(class_embeds))


def model_device(model) -> torch.device:
    """The device of a model's parameters (the CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def mean_average_precision(scores, targets) -> float:
    """Mean over classes (with at least one positive) of the average precision; scores and multi-hot targets (N, C).

    >>> mean_average_precision([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]], [[1, 0], [1, 1], [0, 1]])  # (5/6 + 1) / 2
    0.9166666666666666
    """
    scores, targets = np.asarray(scores, dtype=float), np.asarray(targets, dtype=bool)
    aps = []
    for c in range(scores.shape[1]):
        if not targets[:, c].any():
            continue
        order = np.argsort(-scores[:, c], kind="stable")
        hits = targets[order, c]
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(float(precision[hits].mean()))
    return float(np.mean(aps)) if aps else float("nan")


TOP_K = 5


def top_k_shown(num_classes: int, k: int = TOP_K) -> bool:
    """Whether top-k says anything over `num_classes` classes: k <= num_classes / 4."""
    return k <= num_classes / 4


def classification_metrics(scores: torch.Tensor, labels: Sequence[int]) -> dict:
    """top1 (and top5 where `top_k_shown`) of scores (N, C) against class indices (N,), with the counts of
    videos right ("correct", "top5_correct") and "num_videos"."""
    s, y = scores.numpy(), np.asarray(labels)
    top1 = top_k_accuracy(s, y, 1)
    metrics = {"top1": top1, "correct": round(top1 * len(y)), "num_videos": len(y)}
    if top_k_shown(s.shape[1]):
        top = top_k_accuracy(s, y, TOP_K)
        metrics |= {f"top{TOP_K}": top, f"top{TOP_K}_correct": round(top * len(y))}
    return metrics


@dataclass(frozen=True)
class VideoList:
    """Videos of a list file with their class indices (a list of indices per video when multi-label)."""

    paths: list[Path]
    labels: list[list[int]]
    multi_label: bool

    def targets(self, num_classes: int) -> np.ndarray:
        t = np.zeros((len(self.paths), num_classes), dtype=bool)
        for i, labels in enumerate(self.labels):
            t[i, labels] = True
        return t


def read_video_list(path: str | PathLike, class_names: Sequence[str], *, multi_label: bool = False,
                    skip_bad: bool = False, allow_outside_root: bool = False) -> VideoList:
    """A `path,label` CSV against a class list; labels may use underscores for spaces. Listed videos that are
    missing are an InputError naming them, or left out with `skip_bad`; a listed path resolving outside the
    CSV's folder is an InputError unless `allow_outside_root`."""
    from myovision.zeroshot.splits import check_exist

    from myovision.data.epic import read_annotation_csv

    path = Path(path)
    table = read_annotation_csv(path, {"path": "str", "label": "str"}, unique=None)
    index = {n: i for i, n in enumerate(class_names)}
    labels = []
    for row in table.itertuples(index=False):
        names = [clean_class_name(n) for n in (row.label.split(";") if multi_label else [row.label])]
        unknown = [n for n in names if n not in index]
        if unknown:
            raise InputError(f"label {unknown[0]!r} of {row.path} is not in the class list", path)
        labels.append([index[n] for n in names])
    paths = [path.parent / p for p in table["path"]]
    keep = set(check_exist(paths, path, skip_bad, root=path.parent, allow_outside_root=allow_outside_root))
    rows = [(p, y) for p, y in zip(paths, labels) if p in keep]
    return VideoList([p for p, _ in rows], [y for _, y in rows], multi_label)


def evaluate_video_list(model, videos: VideoList, class_names: Sequence[str], *,
                        read: Callable[[Path], torch.Tensor], template: str | Sequence[str] = SINGLE_TEMPLATE,
                        cache_dir: str | PathLike | None = None, batch_size: int = 8) -> tuple[dict, torch.Tensor]:
    """(metrics, scores (N, C)) of the videos of a list: top1 (top5 where shown), or mAP ("map") for a
    multi-label list."""
    model.eval()
    embeds = cached_class_embeddings(model, class_names, template, cache_dir)
    scores = zero_shot_scores(model, (read(p) for p in videos.paths), embeds, batch_size)
    if videos.multi_label:
        metrics = {"map": mean_average_precision(scores.numpy(), videos.targets(len(class_names))),
                   "num_videos": len(videos.paths)}
    else:
        metrics = classification_metrics(scores, [labels[0] for labels in videos.labels])
    return metrics | {"num_classes": len(class_names), "chance_top1": 1.0 / len(class_names)}, scores
