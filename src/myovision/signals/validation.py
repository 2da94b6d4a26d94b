"""Input checks shared by the sEMG signal modules: one rule and one message per kind of bad input.

Every check raises :class:`myovision.errors.InputError` naming the argument and the value it got:

* :func:`as_signal`: a ``(time, channels)`` / ``(..., time, channels)`` numpy array or torch tensor of real
  numbers, as float64 numpy plus a function giving results back as the input's type;
* :func:`check_finite`: no NaN/Inf, reported as ``"<name> has <n> non-finite value(s) (NaN/Inf); first at
  time <t>, channel <c>"`` (the earliest time index holding one, then its lowest channel);
* :func:`check_int`, :func:`check_number`, :func:`check_positive`, :func:`check_nonnegative`,
  :func:`check_fs`: scalar settings;
* :func:`check_array`, :func:`check_signal_shape`: a numpy array or a torch tensor with at least 2 axes.

torch is never imported here: a tensor implies torch is already loaded.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Callable

import numpy as np

from myovision.errors import InputError


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")  # a tensor implies torch is already imported
    return torch is not None and isinstance(x, torch.Tensor)


# --------------------------------------------------------------------------- scalars


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int, refusing bools, floats and anything below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str) -> float:
    """``value`` as a float (NaN and Inf pass: the caller decides); refuses bools and strings."""
    if isinstance(value, (bool, str, bytes)):
        raise InputError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0."""
    v = check_number(value, name)
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_nonnegative(value: Any, name: str) -> float:
    """A finite number >= 0."""
    v = check_number(value, name)
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_fs(fs: Any, name: str = "sampling rate fs") -> float:
    """A sample rate in Hz: a positive finite number."""
    return check_positive(fs, f"{name} (Hz)")


# --------------------------------------------------------------------------- arrays


def check_array(x: Any, name: str = "signal") -> None:
    """Refuse anything but a numpy array or a torch tensor (lists, scalars, ...)."""
    if not (isinstance(x, np.ndarray) or is_torch(x)):
        raise InputError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def check_signal_shape(shape: tuple[int, ...], name: str = "signal") -> None:
    """Refuse a shape with fewer than 2 axes: signals are ``(time, channels)`` or ``(..., time, channels)``."""
    if len(shape) < 2:
        hint = "; for one channel use x[:, None]" if len(shape) == 1 else ""
        raise InputError(f"{name} must be shaped (time, channels) or (..., time, channels), got shape {tuple(shape)}{hint}")


def check_finite(x: Any, name: str = "signal", *, time_axis: int = -2, channel_axis: int | None = -1) -> None:
    """Raise InputError if the numpy array or tensor ``x`` holds NaN or +-Inf.

    The message names how many, the first time index (along ``time_axis``) holding one and, at that time,
    the lowest channel (along ``channel_axis``; None for a signal without one) and index of any other axes.
    A tensor on any device is checked where it lives; only a failing one is copied to the CPU.
    """
    if is_torch(x):
        torch = sys.modules["torch"]
        finite = torch.isfinite(x)
        if bool(finite.all()):
            return
        bad = (~finite).cpu().numpy()
    else:
        axis = time_axis % x.ndim if x.ndim else 0
        rows = max(1, FINITE_CHUNK // max(1, x.size // max(1, x.shape[axis]))) if x.ndim else 1
        index = [slice(None)] * x.ndim
        for start in range(0, x.shape[axis] if x.ndim else 1, rows):  # a bounded bool temporary per chunk
            if x.ndim:
                index[axis] = slice(start, start + rows)
            if not np.isfinite(x[tuple(index)]).all():
                break
        else:
            return
        bad = ~np.isfinite(x)
    raise InputError(_non_finite_message(bad, name, time_axis, channel_axis))


#: Values per chunk of the NaN/Inf scan of a numpy array (its bool temporary stays this small).
FINITE_CHUNK = 1 << 22

_check_finite = check_finite  # as_signal's keyword of the same name hides the function


def _non_finite_message(bad: np.ndarray, name: str, time_axis: int, channel_axis: int | None) -> str:
    nd = bad.ndim
    t_ax = time_axis % nd
    c_ax = None if channel_axis is None or nd < 2 else channel_axis % nd
    rows = np.moveaxis(bad, t_ax, 0).reshape(bad.shape[t_ax], -1).any(axis=1)  # (T,): any bad value at time t
    t = int(np.argmax(rows))
    rest_axes = [a for a in range(nd) if a != t_ax]
    where = np.argwhere(np.take(bad, t, axis=t_ax))[0] if rest_axes else np.empty(0, int)  # index over rest_axes
    msg = f"{name} has {int(bad.sum())} non-finite value(s) (NaN/Inf); first at time {t}"
    if c_ax is not None and c_ax != t_ax:
        msg += f", channel {int(where[rest_axes.index(c_ax)])}"
    others = tuple(int(i) for i, a in zip(where, rest_axes) if a != c_ax)
    if others:
        msg += f", other axes at {others}"
    return msg


def as_signal(
    x: Any, name: str = "signal", *, check_finite: bool = True, keep_float: bool = False
) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """Validate a ``(..., time, channels)`` signal; return it as float64 numpy and a function restoring the type.

    ``keep_float=True``: a float32 (or float16) array comes back as it is, not as a float64 copy (for the
    chunked kernels that convert one chunk at a time and keep memory near the input's size).

    Numpy in -> numpy out (float dtypes kept, integers -> float64); torch in -> torch out on the input's
    device (float dtypes kept, integers -> torch's default dtype; no autograd). Raises InputError for
    non-real dtypes, fewer than 2 dimensions, an empty time or channel axis, or (unless
    ``check_finite=False``) NaN/Inf samples (:func:`check_finite`).
    """
    if is_torch(x):
        torch = sys.modules["torch"]
        device, dtype = x.device, x.dtype
        if dtype.is_complex:
            raise InputError(f"{name} must hold real numbers, got dtype {dtype}")
        out_dtype = dtype if dtype.is_floating_point else torch.get_default_dtype()
        arr = x.detach().cpu()
        arr = (arr if dtype in (torch.float32, torch.float64) else arr.double()).numpy()  # numpy has no bfloat16

        def restore(y: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(y)).to(device=device, dtype=out_dtype)

    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        out_np = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)

        def restore(y: np.ndarray) -> Any:
            return y.astype(out_np, copy=False)

    check_signal_shape(arr.shape, name)
    if arr.shape[-2] == 0 or arr.shape[-1] == 0:
        raise InputError(f"{name} is empty: shape {tuple(arr.shape)} (time axis -2, channels -1)")
    if not (keep_float and arr.dtype.kind == "f"):
        arr = arr.astype(np.float64, copy=False)
    if check_finite:
        _check_finite(arr, name)
    return arr, restore


__all__ = [
    "is_torch", "check_int", "check_number", "check_positive", "check_nonnegative", "check_fs",
    "check_array", "check_signal_shape", "check_finite", "as_signal",
]
