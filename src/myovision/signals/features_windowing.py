"""Window layout shared by the sEMG feature modules (``features_*.py``): one-pass windowed reductions.

Most classic sEMG features are windowed sums of a per-sample quantity (``|x|``, ``x**2``, ``|x[t+1] - x[t]|``,
``x[t] * x[t+k]``, ...). :class:`WindowedSignal` computes such a quantity once over the whole signal and
reduces it in blocks of ``step`` samples: every window is then a few whole blocks plus a short remainder,
so a sum costs about ``T + n_windows * (window // step + window % step)`` additions instead of
``n_windows * window`` (8x fewer for the usual window 200, step 25). No prefix sums are used (their
differences lose digits on long recordings): every window sum adds only its own terms, in float64.
Features that need whole windows (sorts, FFTs) read them through a strided view in chunks of windows
(:meth:`WindowedSignal.chunks`), so no overlapping copy of the recording is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property

import numpy as np

# Offset added to x**2 before the log in the TDPSD features (MATLAB's ``eps``, the spacing of doubles at 1).
EPS = float(np.spacing(1.0))
# Window values per chunk (4 Mi: a 32 MiB float64 copy) for the features that need whole windows.
CHUNK_ELEMENTS = 1 << 22


class WindowedSignal:
    """A float64 signal ``(..., T, C)`` seen through windows of ``window`` samples every ``step`` samples.

    ``n_windows = 1 + (T - window) // step``; window ``i`` covers samples ``[i * step, i * step + window)``.
    """

    def __init__(self, x: np.ndarray, window: int, step: int, wanted: frozenset[str] | None = None):
        self.x = x  # (..., T, C) float64
        self.window = window
        self.step = step
        self.n_windows = 1 + (x.shape[-2] - window) // step
        # Feature names requested in this call (None: any), so a shared pass computes only what is used.
        self.wanted = wanted

    def view(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Windows of a per-sample quantity ``q`` that is ``lag`` samples shorter than ``x``.

        (..., T - lag, C) -> (..., n_windows, C, window - lag), a read-only view: window ``i`` holds
        ``q[i * step : i * step + window - lag]``, i.e. every term whose samples all lie inside window ``i``.
        """
        v = np.lib.stride_tricks.sliding_window_view(q, self.window - lag, axis=-2)  # (..., T-window+1, C, window-lag)
        return v[..., :: self.step, :, :][..., : self.n_windows, :, :]  # (..., n_windows, C, window - lag)

    def reduce(self, q: np.ndarray, start: int, length: int, ufunc: np.ufunc = np.add) -> np.ndarray:
        """Per-window reduction of ``q[i * step + start : i * step + start + length]``: (..., T', C) -> (..., n_windows, C).

        ``ufunc`` is ``np.add`` (sum) or ``np.maximum`` / ``np.minimum``. Blocks of ``step`` samples are
        reduced once; window ``i`` combines its ``length // step`` whole blocks and the ``length % step``
        samples after them, so overlapping windows share the block work.
        """
        n, step = self.n_windows, self.step
        q = q[..., start:, :]
        whole, rest = divmod(length, step)
        out = None
        if whole:
            n_blocks = n - 1 + whole
            blocks = q[..., : n_blocks * step, :].reshape(*q.shape[:-2], n_blocks, step, q.shape[-1])  # (..., blocks, step, C)
            if ufunc is np.add:  # einsum sums the short middle axis 2-4x faster than ufunc.reduce
                block_values = np.einsum("...jc->...c", blocks)  # (..., n_blocks, C)
            else:
                block_values = ufunc.reduce(blocks, axis=-2)  # (..., n_blocks, C)
            out = block_values[..., :n, :].copy()
            for j in range(1, whole):
                ufunc(out, block_values[..., j : j + n, :], out=out)
        for j in range(rest):
            terms = q[..., whole * step + j :: step, :][..., :n, :]  # (..., n_windows, C): sample j of the remainder
            out = terms.copy() if out is None else ufunc(out, terms, out=out)
        return out

    def sum(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Per-window sum of ``q``: (..., T - lag, C) -> (..., n_windows, C)."""
        return self.reduce(q, 0, self.window - lag)

    def mean(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Per-window mean of ``q`` over its ``window - lag`` terms: (..., n_windows, C)."""
        return self.sum(q, lag) / (self.window - lag)

    @cached_property
    def windows(self) -> np.ndarray:
        """The raw windows, (..., n_windows, C, window) (a view)."""
        return self.view(self.x)

    def chunks(self) -> Iterator[tuple[slice, np.ndarray]]:
        """Consecutive windows: ``(rows, w)`` with ``w`` (..., len(rows), C, window), a strided view.

        Each chunk spans about :data:`CHUNK_ELEMENTS` values, so what a feature derives from it (a sorted
        copy, a spectrum) stays bounded on long recordings.
        """
        per_window = int(np.prod(self.windows.shape[:-3], dtype=np.int64)) * self.x.shape[-1] * self.window
        rows = max(1, CHUNK_ELEMENTS // max(per_window, 1))
        for begin in range(0, self.n_windows, rows):
            span = slice(begin, min(begin + rows, self.n_windows))
            yield span, self.windows[..., span, :, :]

    def map_chunks(self, fn: Callable[[np.ndarray], np.ndarray], tail: tuple[int, ...] = ()) -> np.ndarray:
        """``fn`` over :meth:`chunks`, (..., rows, C, window) -> (..., rows, C, *tail), assembled over all windows."""
        out = np.empty((*self.windows.shape[:-1], *tail))  # (..., n_windows, C, *tail)
        for span, w in self.chunks():
            out[..., span, :, *(slice(None),) * len(tail)] = fn(w)
        return out

    @cached_property
    def d1(self) -> np.ndarray:
        """First difference ``x[t+1] - x[t]`` over the whole signal, (..., T - 1, C)."""
        return np.diff(self.x, axis=-2)

    @cached_property
    def d2(self) -> np.ndarray:
        """Second difference, (..., T - 2, C)."""
        return np.diff(self.d1, axis=-2)

    @cached_property
    def sq(self) -> np.ndarray:
        """``x**2``, (..., T, C)."""
        return self.x * self.x

    @cached_property
    def abs(self) -> np.ndarray:
        """``|x|``, (..., T, C)."""
        return np.abs(self.x)

    @cached_property
    def abs_d1(self) -> np.ndarray:
        """``|x[t+1] - x[t]|``, (..., T - 1, C)."""
        return np.abs(self.d1)

    @cached_property
    def abs_d2(self) -> np.ndarray:
        """``|d[t+1] - d[t]|``, (..., T - 2, C)."""
        return np.abs(self.d2)

    @cached_property
    def sum_abs(self) -> np.ndarray:
        """Per-window ``sum |x|``, (..., n_windows, C)."""
        return self.sum(self.abs)

    @cached_property
    def sum_abs_d1(self) -> np.ndarray:
        """Per-window ``sum |d|`` over the ``N - 1`` first differences, (..., n_windows, C)."""
        return self.sum(self.abs_d1, lag=1)

    @cached_property
    def sum_abs_d2(self) -> np.ndarray:
        """Per-window ``sum |dd|`` over the ``N - 2`` second differences, (..., n_windows, C)."""
        return self.sum(self.abs_d2, lag=2)

    @cached_property
    def sum_sq(self) -> np.ndarray:
        """Per-window ``sum x^2``, (..., n_windows, C)."""
        return self.sum(self.sq)

    @cached_property
    def sum_sq_d1(self) -> np.ndarray:
        """Per-window ``sum d^2`` over the ``N - 1`` first differences, (..., n_windows, C)."""
        return self.sum(self.d1 * self.d1, lag=1)

    @cached_property
    def sum_sq_d2(self) -> np.ndarray:
        """Per-window ``sum dd^2`` over the ``N - 2`` second differences, (..., n_windows, C)."""
        return self.sum(self.d2 * self.d2, lag=2)

    @cached_property
    def log_power(self) -> WindowedSignal:
        """The same layout over ``log(x**2 + eps)``: the second, nonlinear view used by the TDPSD features."""
        return WindowedSignal(np.log(self.sq + EPS), self.window, self.step, self.wanted)

    @cached_property
    def cache(self) -> dict:
        """Results shared by several features of one call (the spectrum summaries, AR coefficients, ...)."""
        return {}

    def materialised(self) -> np.ndarray:
        """The windows as one contiguous array, (..., n_windows, C, window): for pairwise work."""
        return np.ascontiguousarray(self.windows)
