"""Clip sampling over an action span [start, stop] (frame indices, both included).

Two schemes (the fusion paper, section 4.2, uses 5 dense clips of 16 frames):

- **dense**: each clip is `frames` frames `stride` apart, a window of L = (frames - 1) * stride + 1 frames.
  The span is cut into `clips` equal segments; a clip's window is centred on a point of its segment:
  the segment's centre for evaluation, a uniformly random point for training (random offsets).
- **uniform** (TSN-style): each clip spreads `frames` frames over the whole span, one per equal part;
  for evaluation clip k takes the point (k + 1/2) / clips of the way into every part (one clip: the
  centres), for training each frame a random point of its part.

Windows stay inside the span when it is long enough; a short span lets a dense window run on past `stop`
into the following frames. Indices past `last` (the video's last frame; `stop` by default) clamp to it.
Both return int64 (clips, frames), in time order.
"""

from __future__ import annotations

import numpy as np

from myovision.errors import InputError

SAMPLINGS = ("dense", "uniform")


def _check(start: int, stop: int, clips: int, frames: int, last: int | None) -> int:
    if clips < 1 or frames < 1:
        raise InputError(f"clips and frames must be >= 1, got clips={clips}, frames={frames}")
    if start < 0 or stop < start:
        raise InputError(f"span [{start}, {stop}] must have 0 <= start <= stop")
    last = stop if last is None else last
    if start > last:
        raise InputError(f"span [{start}, {stop}] starts after the last frame {last}")
    return last


def _points(train: bool, rng: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
    """Positions in [0, 1) within each segment: 1/2 for evaluation, uniform random for training."""
    if not train:
        return np.full(shape, 0.5)
    return (rng or np.random.default_rng()).random(shape)


def dense_clip_indices(start: int, stop: int, clips: int, frames: int, stride: int = 1, *, train: bool = False,
                       rng: np.random.Generator | None = None, last: int | None = None) -> np.ndarray:
    """Dense clips over [start, stop]: int64 (clips, frames).

    >>> dense_clip_indices(0, 99, clips=5, frames=4, stride=2)[:, 0].tolist()  # centres 10, 30, ..., 90
    [6, 26, 46, 66, 86]
    >>> dense_clip_indices(10, 13, clips=1, frames=8, last=15)[0].tolist()  # short span: runs on, clamps
    [10, 11, 12, 13, 14, 15, 15, 15]
    """
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    last = _check(start, stop, clips, frames, last)
    n, window = stop - start + 1, (frames - 1) * stride + 1
    centres = start + (np.arange(clips) + _points(train, rng, (clips,))) * n / clips  # continuous positions
    first = np.floor(centres - window / 2).astype(np.int64)
    first = np.clip(first, start, max(start, stop - window + 1))  # inside the span when it fits
    idx = first[:, None] + stride * np.arange(frames)[None, :]  # (clips, frames)
    return np.minimum(idx, last)


def uniform_clip_indices(start: int, stop: int, clips: int, frames: int, *, train: bool = False,
                         rng: np.random.Generator | None = None, last: int | None = None) -> np.ndarray:
    """Uniform clips over [start, stop]: int64 (clips, frames), frame j of a clip in part j of the span.

    >>> uniform_clip_indices(0, 99, clips=1, frames=4).tolist()  # part centres 12.5, 37.5, 62.5, 87.5
    [[12, 37, 62, 87]]
    >>> uniform_clip_indices(0, 99, clips=2, frames=2).tolist()  # phases 1/4 and 3/4 of each part
    [[12, 62], [37, 87]]
    """
    last = _check(start, stop, clips, frames, last)
    n = stop - start + 1
    if train:
        offsets = _points(True, rng, (clips, frames))
    else:
        offsets = np.broadcast_to((np.arange(clips)[:, None] + 0.5) / clips, (clips, frames))
    idx = start + np.floor((np.arange(frames)[None, :] + offsets) * n / frames).astype(np.int64)  # (clips, frames)
    return np.minimum(np.minimum(idx, stop), last)


def clip_indices(start: int, stop: int, clips: int, frames: int, sampling: str = "dense", stride: int = 1, *,
                 train: bool = False, rng: np.random.Generator | None = None, last: int | None = None) -> np.ndarray:
    """`dense_clip_indices` or `uniform_clip_indices` by name (`stride` is used by dense sampling only)."""
    if sampling == "dense":
        return dense_clip_indices(start, stop, clips, frames, stride, train=train, rng=rng, last=last)
    if sampling == "uniform":
        return uniform_clip_indices(start, stop, clips, frames, train=train, rng=rng, last=last)
    raise InputError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
