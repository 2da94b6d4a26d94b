"""Stateful causal sEMG processing: the online forms of `myovision.signals.filters`.

Each object takes a signal chunk by chunk, ``push(chunk (n, C)) -> (n, C)``, and carries what the next chunk
needs (filter state, the last samples, ...), so a recording fed in chunks of any sizes gives exactly the
offline causal result over the whole recording:

- `CausalSOSFilter`: ``scipy.signal.sosfilt`` with the state ``zi`` carried between chunks (from rest, as
  ``scipy.signal.sosfilt(sos, x, axis=0)``); `butter_sos` and `notch_sos` design the sections with the same
  scipy calls as `myovision.signals.butter_filter` / `notch`.
- `MovingRMS`: causal RMS of the last ``window`` samples (zeros before the start):
  ``y[t] = sqrt(mean(x[t - window + 1 : t + 1] ** 2))``, the centred `myovision.signals.moving_rms` of the
  recording behind ``window - 1`` zeros, delayed by ``window // 2``.
- `FrozenZScore`, `FrozenMinMax`: z-score / min-max scaling with statistics fixed beforehand (a calibration
  recording's, `from_calibration`), since an online stream cannot see its own future to compute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from myovision.errors import InputError
from myovision.signals.filters import FILTER_KINDS
from myovision.signals.validation import check_fs, check_int


def _as_chunk(chunk, channels: int | None) -> np.ndarray:
    """A chunk as float64 (n, C); InputError when its channel count is not `channels`."""
    x = np.asarray(chunk, dtype=np.float64)
    if x.ndim != 2 or (channels is not None and x.shape[1] != channels):
        raise InputError(f"expected a chunk of shape (samples, {channels if channels else 'channels'}), got {x.shape}")
    return x


def butter_sos(fs: float, cutoff: float | tuple[float, float], kind: str = "low", order: int = 4) -> np.ndarray:
    """Second-order sections (n_sections, 6) of a Butterworth filter, as `myovision.signals.butter_filter`
    designs it (``kind``: low | high | band | stop; ``cutoff`` in Hz, a pair for band and stop)."""
    if kind not in FILTER_KINDS:
        raise InputError(f"unknown filter kind {kind!r}; valid: {', '.join(FILTER_KINDS)}")
    return sps.butter(check_int(order, "filter order"), cutoff, btype=FILTER_KINDS[kind], fs=check_fs(fs), output="sos")


def notch_sos(fs: float, freq: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """The second-order IIR notch of `myovision.signals.notch` (``scipy.signal.iirnotch``) as one section (1, 6)."""
    b, a = sps.iirnotch(freq, quality, fs=check_fs(fs))
    return sps.tf2sos(b, a)


class CausalSOSFilter:
    """``scipy.signal.sosfilt`` over a stream: ``push(chunk (n, C)) -> (n, C)`` with ``zi`` carried over.

    Starts from rest (zero state), so the concatenated outputs equal ``sosfilt(sos, x, axis=0)`` of the whole
    recording. ``sos``: (n_sections, 6), e.g. from `butter_sos` or `notch_sos`; several filters in a row can
    be stacked into one ``np.vstack([sos1, sos2])``.
    """

    def __init__(self, sos: np.ndarray, channels: int):
        self.sos = np.atleast_2d(np.asarray(sos, dtype=np.float64))
        if self.sos.ndim != 2 or self.sos.shape[1] != 6:
            raise InputError(f"second-order sections must have shape (n_sections, 6), got {self.sos.shape}")
        self.channels = check_int(channels, "channels")
        self.reset()

    def reset(self) -> None:
        """Back to rest."""
        self.zi = np.zeros((len(self.sos), 2, self.channels))  # (sections, 2, C): scipy's state layout, axis 0 = time

    def push(self, chunk) -> np.ndarray:
        x = _as_chunk(chunk, self.channels)
        if len(x) == 0:
            return x
        y, self.zi = sps.sosfilt(self.sos, x, axis=0, zi=self.zi)
        return y


class MovingRMS:
    """Causal moving RMS over the last ``window`` samples: ``push(chunk (n, C)) -> (n, C)``.

    The first ``window - 1`` outputs average over zeros before the start (see the module docstring). Each
    output is a float64 sum of ``window`` squares of the samples it covers, so it does not depend on how the
    stream was cut.
    """

    def __init__(self, window: int, channels: int):
        self.window = check_int(window, "RMS window")
        self.channels = check_int(channels, "channels")
        self.reset()

    def reset(self) -> None:
        self.tail = np.zeros((self.window - 1, self.channels))  # squares of the last window - 1 samples

    def push(self, chunk) -> np.ndarray:
        x = _as_chunk(chunk, self.channels)
        if len(x) == 0:
            return x
        squares = np.concatenate([self.tail, x * x])  # (window - 1 + n, C)
        self.tail = squares[len(squares) - (self.window - 1):]
        sums = np.lib.stride_tricks.sliding_window_view(squares, self.window, axis=0).sum(axis=-1)  # (n, C)
        return np.sqrt(sums / self.window)


@dataclass
class FrozenZScore:
    """``(x - mean) / std`` per channel (or per feature) with statistics fixed beforehand; stateless per chunk.

    Works in the input's float dtype (float64 for integers); a flat channel (std 0) maps to 0, as
    `myovision.signals.zscore`.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def from_calibration(cls, x, eps: float = 0.0) -> "FrozenZScore":
        """Mean and population std (plus `eps`) of a calibration signal or feature matrix (time or windows, C)."""
        x = _float(x)
        return cls(x.mean(axis=0), x.std(axis=0) + x.dtype.type(eps))

    def push(self, chunk) -> np.ndarray:
        x = _float(chunk)
        mean, std = np.asarray(self.mean, x.dtype), np.asarray(self.std, x.dtype)
        return np.divide(x - mean, std, out=np.zeros(np.broadcast_shapes(x.shape, std.shape), x.dtype), where=std > 0)


def _float(x) -> np.ndarray:
    """`x` as a float array (float64 unless it is float already)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


@dataclass
class FrozenMinMax:
    """Min-max scaling to ``feature_range`` with a minimum and maximum per channel fixed beforehand.

    Samples beyond the calibration's range map outside ``feature_range`` (nothing is clipped); a flat
    channel maps to ``feature_range[0]``, as `myovision.signals.minmax_normalise`.
    """

    low: np.ndarray
    high: np.ndarray
    feature_range: tuple[float, float] = (0.0, 1.0)

    @classmethod
    def from_calibration(cls, x, feature_range: tuple[float, float] = (0.0, 1.0)) -> "FrozenMinMax":
        x = np.asarray(x, dtype=np.float64)
        return cls(x.min(axis=0), x.max(axis=0), feature_range)

    def push(self, chunk) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float64)
        lo, hi = self.feature_range
        span = self.high - self.low
        gain = np.divide(hi - lo, span, out=np.zeros_like(span, dtype=np.float64), where=span > 0)
        return (x - self.low) * gain + lo
