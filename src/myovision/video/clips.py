"""Decoding the clips of many actions in worker processes: `ClipTask` (one action), `ClipDataset` (an
iterable over decoded actions for a `torch.utils.data.DataLoader`).

Tasks are grouped by video and each worker takes whole videos, so a video is opened once per worker and
its actions, sorted by start frame, are decoded going forward through the file. A worker yields one
`DecodedAction` per task: the clips as uint8 (clips, T, H, W, C) (a tensor, which the DataLoader hands
over in shared memory), or the problem that stopped it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from myovision.errors import InputError
from myovision.video.io import open_video
from myovision.video.sampling import clip_indices


@dataclass(frozen=True)
class ClipTask:
    """One action: frames [start, stop] (0-based, both included) of the video at `source`."""

    uid: str
    source: Path
    start: int
    stop: int


@dataclass(frozen=True)
class ClipSpec:
    """How an action becomes clips: sampling (see `myovision.video.sampling`), decode size, transform."""

    clips: int = 5
    frames: int = 16
    sampling: str = "dense"
    stride: int = 1
    short_side: int | None = 256  # resize while decoding
    transform: Callable | None = None  # uint8 (clips, T, H, W, C) -> uint8, e.g. CenterCrop(224)
    on_error: str = "raise"  # for single frames: "skip" replaces an undecodable frame by its neighbour
    fps: float | None = None  # frame rate of frame folders
    threads: int = 1  # decoder threads per worker


@dataclass
class DecodedAction:
    uid: str
    clips: torch.Tensor | None  # uint8 (clips, T, H, W, C)
    problem: str | None = None
    path: str | None = None
    repaired: list[str] = field(default_factory=list)  # frames replaced by a neighbour (on_error="skip")


def decode_action(reader, task: ClipTask, spec: ClipSpec) -> DecodedAction:
    """The clips of one action from an open reader."""
    last = reader.info.num_frames - 1
    if task.start > last:
        raise InputError(f"spans frames [{task.start}, {task.stop}] but the video ends at frame {last}", task.source)
    idx = clip_indices(task.start, task.stop, spec.clips, spec.frames, spec.sampling, spec.stride, last=last)
    before = len(reader.problems)
    frames = reader.read(idx.reshape(-1), short_side=spec.short_side)  # (clips * T, H, W, C)
    clips = torch.from_numpy(frames).reshape(spec.clips, spec.frames, *frames.shape[1:])  # (clips, T, H, W, C)
    if spec.transform is not None:
        clips = spec.transform(clips)
    repaired = [f"frame {p.index} -> {p.replaced_by}: {p.problem}" for p in reader.problems[before:]]
    return DecodedAction(task.uid, clips.contiguous(), repaired=repaired)


def group_by_video(tasks: Sequence[ClipTask]) -> list[list[ClipTask]]:
    """Tasks grouped by source (first-seen order of videos), each group sorted by start frame."""
    groups: dict[Path, list[ClipTask]] = defaultdict(list)
    for t in tasks:
        groups[t.source].append(t)
    return [sorted(g, key=lambda t: (t.start, t.stop, t.uid)) for g in groups.values()]


def balance(groups: list[list[ClipTask]], parts: int) -> list[list[ClipTask]]:
    """Split video groups into `parts` lists of tasks with nearly equal task counts (largest first, greedy).

    Deterministic: every process computing it from the same groups gets the same split.
    """
    loads, out = [0] * parts, [[] for _ in range(parts)]
    for g in sorted(groups, key=lambda g: (-len(g), str(g[0].source))):
        k = int(np.argmin(loads))
        out[k].extend(g)
        loads[k] += len(g)
    return out


class ClipDataset(IterableDataset):
    """Iterates `DecodedAction`s for `tasks`; under DataLoader workers each worker takes its share of videos."""

    def __init__(self, tasks: Sequence[ClipTask], spec: ClipSpec):
        self.tasks, self.spec = list(tasks), spec

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[DecodedAction]:
        info = get_worker_info()
        groups = group_by_video(self.tasks)
        if info is not None:
            mine = balance(groups, info.num_workers)[info.id]
            groups = group_by_video(mine)
        for group in groups:
            yield from self._video(group)

    def _video(self, group: list[ClipTask]) -> Iterator[DecodedAction]:
        spec = self.spec
        try:
            reader = open_video(group[0].source, on_error=spec.on_error, threads=spec.threads, fps=spec.fps)
        except InputError as exc:
            for task in group:
                yield DecodedAction(task.uid, None, exc.problem, exc.path)
            return
        with reader:
            for task in group:
                try:
                    yield decode_action(reader, task, spec)
                except InputError as exc:
                    yield DecodedAction(task.uid, None, exc.problem, exc.path)


def keep_as_is(item):
    """The DataLoader's convert function for `DecodedAction`s (a module-level function, so workers can pickle it)."""
    return item
