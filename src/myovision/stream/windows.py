"""Windows across chunk boundaries, and the online form of the window features.

`WindowBuffer` keeps the samples a stream has not yet used up and yields every window of ``size`` samples
that starts at a multiple of ``step`` as soon as its last sample arrives, so the windows of a recording fed
in any chunks are exactly `myovision.signals.sliding_windows` of the whole recording.

`OnlineFeatures` computes `myovision.signals.features` on those windows (the offline feature functions,
called on each emitted batch), so its rows equal ``signals.features(x, names, window=size, step=step)``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from myovision.errors import InputError
from myovision.signals.features import features
from myovision.signals.validation import check_int


class WindowBuffer:
    """``push(chunk (n, C)) -> (k, size, C)`` windows completed by the chunk (k may be 0).

    Window j covers samples ``j * step .. j * step + size - 1`` of the stream. Memory: at most
    ``max(size, step) + n`` samples.
    """

    def __init__(self, size: int, step: int, channels: int, dtype=np.float32):
        self.size = check_int(size, "window size")
        self.step = check_int(step, "window step")
        self.channels = check_int(channels, "channels")
        self.dtype = dtype
        self.reset()

    def reset(self) -> None:
        self.buffer = np.zeros((0, self.channels), dtype=self.dtype)  # samples from the next window's start on
        self.skip = 0  # samples still to drop before the next window starts (step > size)
        self.windows_out = 0  # windows emitted so far

    def push(self, chunk) -> np.ndarray:
        x = np.asarray(chunk, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise InputError(f"expected a chunk of shape (samples, {self.channels}), got {x.shape}")
        drop = min(self.skip, len(x))
        self.skip -= drop
        buf = np.concatenate([self.buffer, x[drop:]])  # (m, C)
        n = 0 if len(buf) < self.size else (len(buf) - self.size) // self.step + 1
        windows = np.zeros((0, self.size, self.channels), self.dtype)
        if n:
            view = np.lib.stride_tricks.sliding_window_view(buf, self.size, axis=0)[::self.step][:n]  # (n, C, size)
            windows = np.ascontiguousarray(view.swapaxes(1, 2))  # (n, size, C)
        consumed = n * self.step
        self.skip += max(0, consumed - len(buf))
        self.buffer = buf[consumed:].copy()
        self.windows_out += n
        return windows


class OnlineFeatures:
    """sEMG features of every ``size``-sample window every ``step`` samples of a stream.

    ``push(chunk (n, C)) -> {name: (k, C[, ...])}`` for the k windows the chunk completes, each the value
    `myovision.signals.features` gives for that window (``fs`` as there: needed for MNF, MDF, SM).
    """

    def __init__(self, names: str | Iterable[str], size: int, step: int, channels: int, *, fs: float | None = None):
        self.names = [names] if isinstance(names, str) else list(names)
        self.fs = fs
        self.windows = WindowBuffer(size, step, channels, dtype=np.float64)
        probe = features(np.ones((1, size, channels)), self.names, window=size, step=size, fs=fs)  # (1, 1, C[, ...])
        self._empty = {name: np.zeros((0, *v.shape[2:])) for name, v in probe.items()}

    def push(self, chunk) -> dict[str, np.ndarray]:
        w = self.windows.push(chunk)  # (k, size, C)
        if len(w) == 0:
            return dict(self._empty)
        values = features(w, self.names, window=self.windows.size, step=self.windows.size, fs=self.fs)  # (k, 1, ...)
        return {name: v[:, 0] for name, v in values.items()}
