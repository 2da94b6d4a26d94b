"""Windows across chunk boundaries, and the online form of the window features.

`WindowBuffer` keeps the samples a stream has not yet used up and yields every window of ``size`` samples
that starts at a multiple of ``step`` as soon as its last sample arrives, so the windows of a recording fed
in any chunks are exactly `myovision.signals.sliding_windows` of the whole recording.

`OnlineFeatures` computes `myovision.signals.features` on those windows with `window_features`: the offline
feature functions applied to a batch of whole windows without `features`' per-call validation and with each
windowed sum as one vectorised reduction (`WholeWindows`), so its rows equal
``signals.features(x, names, window=size, step=step)`` to rounding (pairwise instead of sequential sums).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from myovision.errors import InputError
from myovision.signals.features import _FEATURES, features
from myovision.signals.features_windowing import WindowedSignal
from myovision.signals.validation import check_int


class WholeWindows(WindowedSignal):
    """A batch of windows (k, size, C), float64, as `myovision.signals.features_windowing.WindowedSignal` sees one
    window per batch element (``window = step = size``, one window each), with every windowed reduction done by one
    vectorised ``ufunc.reduce`` over the window's samples instead of the block-and-remainder loop that pays off
    only when many overlapping windows share blocks."""

    def __init__(self, windows: np.ndarray, wanted: frozenset[str] | None = None):
        super().__init__(windows, windows.shape[-2], windows.shape[-2], wanted)

    def reduce(self, q: np.ndarray, start: int, length: int, ufunc: np.ufunc = np.add) -> np.ndarray:
        """``ufunc`` over ``q[..., start:start + length, :]``: (k, T', C) -> (k, 1, C)."""
        return ufunc.reduce(q[..., start:start + length, :], axis=-2, keepdims=True)


def window_features(windows: np.ndarray, names: list[str], fs: float | None) -> dict[str, np.ndarray]:
    """``{name: (k, C[, ...])}`` of each window of a batch (k, size, C): `myovision.signals.features` of the window,
    to rounding. `names` must be valid for the window (checked once by the caller, e.g. through `OnlineFeatures`):
    nothing is validated here."""
    windowed = WholeWindows(np.asarray(windows, dtype=np.float64), frozenset(names))
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in names:
            spec = _FEATURES[name]
            value = spec.fn(windowed, fs) if spec.uses_fs else spec.fn(windowed)  # (k, 1, C[, ...])
            out[name] = np.asarray(value, dtype=np.float64)[:, 0]
    return out


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
        probe = features(np.ones((1, size, channels)), self.names, window=size, step=size, fs=fs)  # validates names
        self.names = list(probe)  # each once
        self._empty = {name: np.zeros((0, *v.shape[2:])) for name, v in probe.items()}

    def push(self, chunk) -> dict[str, np.ndarray]:
        w = self.windows.push(chunk)  # (k, size, C)
        if len(w) == 0:
            return dict(self._empty)
        return window_features(w, self.names, self.fs)
