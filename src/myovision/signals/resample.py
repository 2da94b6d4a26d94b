"""Resampling sEMG: irregular Myo timestamps onto a uniform grid, and stretching to a fixed length.

Signals are ``(time, channels)`` or batched ``(..., time, channels)`` numpy arrays or torch tensors;
the result has the input's type (see :func:`myovision.signals.validation.as_signal`). Both functions
interpolate linearly with one vectorised gather over all channels (no loop over channels or samples).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from myovision.errors import InputError
from myovision.signals.validation import as_signal, check_finite, check_fs, check_int, is_torch

DUPLICATE_RULES = ("mean", "first")


def _lerp(arr: np.ndarray, pos: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``arr`` (..., M, C) sampled at increasing ``knots`` (M,) at ``pos`` (K,).

    ``pos`` must lie within [knots[0], knots[-1]]; M >= 2. Returns (..., K, C).
    """
    left = np.clip(np.searchsorted(knots, pos, side="right") - 1, 0, len(knots) - 2)  # (K,)
    frac = (pos - knots[left]) / (knots[left + 1] - knots[left])  # (K,), in [0, 1]
    frac = frac[:, None]  # (K, 1): broadcast over channels
    return arr[..., left, :] * (1.0 - frac) + arr[..., left + 1, :] * frac


def _timestamps(t: Any, n_rows: int) -> np.ndarray:
    if is_torch(t):
        t = t.detach().cpu().numpy()
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]  # ActionSense stores time_s as (N, 1)
    if t.ndim != 1 or t.dtype.kind not in "iuf":
        raise InputError(f"timestamps must be a 1-D array of numbers, got shape {tuple(t.shape)} dtype {t.dtype}")
    if len(t) != n_rows:
        raise InputError(f"{len(t)} timestamps for {n_rows} samples: lengths must match")
    t = t.astype(np.float64)
    check_finite(t, "timestamps", time_axis=0, channel_axis=None)
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        i = int(back[0])
        raise InputError(
            f"timestamps decrease at {len(back)} places; first at row {i + 1} ({t[i + 1]!r} after {t[i]!r}); "
            "sort the stream (or drop the out-of-order rows) before resampling"
        )
    return t


def _merge_duplicates(arr: np.ndarray, rel: np.ndarray, duplicates: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows sharing one timestamp merged (mean or first): (values (..., M, C), distinct times (M,))."""
    if duplicates not in DUPLICATE_RULES:
        raise InputError(f"unknown duplicates rule {duplicates!r}; valid: {', '.join(DUPLICATE_RULES)}")
    starts = np.concatenate(([0], np.flatnonzero(np.diff(rel) > 0) + 1))  # first row of each distinct time
    if len(starts) < 2:
        raise InputError("need at least two distinct timestamps to resample")
    if len(starts) < len(rel):
        if duplicates == "first":
            arr = arr[..., starts, :]
        else:
            counts = np.diff(np.append(starts, len(rel)))  # rows per distinct timestamp
            arr = np.add.reduceat(arr, starts, axis=-2) / counts[:, None]
    return arr, rel[starts]


def resample_to_rate(x: Any, t: Any, fs: float, duplicates: str = "mean") -> tuple[Any, np.ndarray]:
    """Resample an irregularly timed stream onto a uniform grid at ``fs`` Hz by linear interpolation.

    x: (N, C) or (..., N, C) samples; t: (N,) (or (N, 1)) timestamps in seconds, non-decreasing (a
    decreasing step raises InputError naming the row; nothing is sorted silently). Rows sharing one
    timestamp (a Myo stream repeats them) are merged first: ``duplicates="mean"`` averages them (identical
    repeated rows stay as they are), ``"first"`` keeps the first. Rows repeated under distinct timestamps are
    kept: they cannot be told apart from a genuinely flat signal.
    Returns ``(y, t_new)``: ``t_new = t[0] + k / fs`` for k = 0 .. floor((t[-1] - t[0]) * fs) (so the last
    grid point is at or before t[-1]; numpy float64), and y: (..., len(t_new), C), same type as x.
    """
    arr, restore = as_signal(x)
    fs = check_fs(fs)
    t = _timestamps(t, arr.shape[-2])
    arr, knots = _merge_duplicates(arr, t - t[0], duplicates)  # relative time keeps precision for epoch times
    n_new = int(np.floor(knots[-1] * fs * (1 + 1e-12))) + 1  # tolerance: 0.3 * 160 must count as 48
    grid = np.arange(n_new) / fs
    y = _lerp(arr, np.minimum(grid, knots[-1]), knots)
    return restore(y), t[0] + grid


def resample_onto(x: Any, t: Any, grid: Any, duplicates: str = "mean") -> Any:
    """Values of a stream x (..., N, C) with timestamps t (N,) at the times `grid` (K,): (..., K, C).

    Linear interpolation after merging repeated timestamps as in `resample_to_rate`; use it to put
    several streams (the two Myo arms) on one common grid. Every grid time must lie in [t[0], t[-1]].
    """
    arr, restore = as_signal(x)
    t = _timestamps(t, arr.shape[-2])
    grid = np.asarray(grid, dtype=np.float64).reshape(-1)
    if len(grid) and (grid[0] < t[0] or grid[-1] > t[-1] or np.any(np.diff(grid) < 0)):
        raise InputError(f"grid must be increasing and inside the stream's time span [{t[0]!r}, {t[-1]!r}]")
    arr, knots = _merge_duplicates(arr, t - t[0], duplicates)
    return restore(_lerp(arr, grid - t[0], knots))


def interpolate_to_length(x: Any, n: int) -> Any:
    """Stretch or shrink each channel to exactly ``n`` samples by linear interpolation: (..., T, C) -> (..., n, C).

    Sample k of the output sits at position ``k * (T - 1) / (n - 1)`` of the input (first and last
    samples kept), i.e. ``np.interp(np.linspace(0, T - 1, n), np.arange(T), channel)``: how the fusion
    paper's code brings each 5-second sub-action to 800 samples. A 1-sample input is repeated.
    """
    arr, restore = as_signal(x)
    n = check_int(n, "target length n")
    n_time = arr.shape[-2]
    if n_time == 1:
        return restore(np.repeat(arr, n, axis=-2))
    pos = np.linspace(0.0, n_time - 1, n)
    return restore(_lerp(arr, pos, np.arange(n_time, dtype=np.float64)))
