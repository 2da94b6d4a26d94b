"""Window layout shared by the sEMG feature modules (``features_*.py``).

Most classic sEMG features are windowed sums of a per-sample quantity (``|x|``, ``x**2``, ``|x[t+1] - x[t]|``,
``x[t] * x[t+k]``, ...). :class:`WindowedSignal` computes such a quantity once over the whole signal and
reads it through a strided ``sliding_window_view``, so overlapping windows share memory instead of copying.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

# Offset added to x**2 before the log in the TDPSD features (MATLAB's ``eps``, the spacing of doubles at 1).
EPS = float(np.spacing(1.0))


class WindowedSignal:
    """A float64 signal ``(..., T, C)`` seen through windows of ``window`` samples every ``step`` samples.

    ``n_windows = 1 + (T - window) // step``; window ``i`` covers samples ``[i * step, i * step + window)``.
    """

    def __init__(self, x: np.ndarray, window: int, step: int):
        self.x = x  # (..., T, C) float64
        self.window = window
        self.step = step
        self.n_windows = 1 + (x.shape[-2] - window) // step

    def view(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Windows of a per-sample quantity ``q`` that is ``lag`` samples shorter than ``x``.

        (..., T - lag, C) -> (..., n_windows, C, window - lag), a read-only view: window ``i`` holds
        ``q[i * step : i * step + window - lag]``, i.e. every term whose samples all lie inside window ``i``.
        """
        v = np.lib.stride_tricks.sliding_window_view(q, self.window - lag, axis=-2)  # (..., T-window+1, C, window-lag)
        return v[..., :: self.step, :, :]  # (..., n_windows, C, window - lag)

    def sum(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Per-window sum of ``q``: (..., T - lag, C) -> (..., n_windows, C)."""
        return self.view(q, lag).sum(axis=-1)

    def mean(self, q: np.ndarray, lag: int = 0) -> np.ndarray:
        """Per-window mean of ``q`` over its ``window - lag`` terms: (..., n_windows, C)."""
        return self.view(q, lag).mean(axis=-1)

    @cached_property
    def windows(self) -> np.ndarray:
        """The raw windows, (..., n_windows, C, window) (a view)."""
        return self.view(self.x)

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
    def log_power(self) -> WindowedSignal:
        """The same layout over ``log(x**2 + eps)``: the second, nonlinear view used by the TDPSD features."""
        return WindowedSignal(np.log(self.sq + EPS), self.window, self.step)

    def materialised(self) -> np.ndarray:
        """The windows as one contiguous array, (..., n_windows, C, window): for sorts, FFTs and pairwise work."""
        return np.ascontiguousarray(self.windows)
