"""Cutting signals into windows and clips, as views where the memory layout allows.

Signals are ``(time, channels)`` or batched ``(..., time, channels)`` numpy arrays or torch tensors.
These functions only re-index (no arithmetic), so they do not scan values for NaN/Inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from myovision.errors import InputError
from myovision.signals.validation import check_array, check_int, check_signal_shape, is_torch


def _shape_of(x: Any) -> tuple[int, ...]:
    check_array(x)
    check_signal_shape(tuple(x.shape))
    return tuple(x.shape)


def sliding_windows(x: Any, size: int, step: int) -> Any:
    """Windows of ``size`` samples every ``step`` samples: (..., T, C) -> (..., n_windows, size, C).

    ``n_windows = (T - size) // step + 1``; window k is ``x[..., k * step : k * step + size, :]`` and a tail
    shorter than ``size`` is dropped. Zero-copy: a read-only numpy view
    (``numpy.lib.stride_tricks.sliding_window_view``) or a torch view (``Tensor.unfold``); copy before
    writing into it.
    """
    shape = _shape_of(x)
    size = check_int(size, "window size")
    step = check_int(step, "window step")
    if size > shape[-2]:
        raise InputError(f"window of {size} samples is longer than the signal ({shape[-2]} samples)")
    if is_torch(x):
        return x.unfold(-2, size, step).transpose(-1, -2)  # (..., n_windows, C, size) -> (..., n_windows, size, C)
    view = np.lib.stride_tricks.sliding_window_view(x, size, axis=-2)  # (..., T - size + 1, C, size)
    return view[..., ::step, :, :].swapaxes(-1, -2)  # (..., n_windows, size, C)


def split_clips(x: Any, n_clips: int) -> Any:
    """Cut a signal into ``n_clips`` consecutive equal clips: (..., T, C) -> (..., n_clips, T // n_clips, C).

    The last ``T % n_clips`` samples are dropped (as the fusion paper's code does when it cuts an
    800-sample sub-action into 5 clips of 160). A view when ``x`` is contiguous along time and channels.
    """
    shape = _shape_of(x)
    n_clips = check_int(n_clips, "number of clips")
    n_time = shape[-2]
    if n_clips > n_time:
        raise InputError(f"cannot cut {n_time} samples into {n_clips} clips of at least one sample")
    length = n_time // n_clips
    kept = x[..., : n_clips * length, :]  # (..., n_clips * length, C)
    return kept.reshape(*shape[:-2], n_clips, length, shape[-1])  # (..., n_clips, length, C)
