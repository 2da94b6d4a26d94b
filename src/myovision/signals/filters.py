"""sEMG amplitude processing: rectification, moving RMS, normalisation, Butterworth and notch filters.

Every function takes a signal shaped ``(time, channels)`` or batched ``(..., time, channels)`` (time axis
-2, channels -1), as a numpy array or a torch tensor, and returns the same type. Float inputs keep their
dtype (work is done in float64 and cast back); integer inputs come back as float64 (numpy) or torch's
default float dtype. Torch inputs go through numpy (no autograd) and come back on their device.
Bad input raises :class:`myovision.errors.InputError` (the checks live in
:mod:`myovision.signals.validation`; :func:`as_signal` is re-exported here for existing callers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import signal as sps

from myovision.errors import InputError
from myovision.signals.validation import as_signal, check_fs, check_int, check_number, check_positive

#: ``numpy.pad`` modes accepted by :func:`moving_rms` ("empty" is refused: its values are undefined).
PAD_MODES = ("symmetric", "reflect", "edge", "constant", "wrap", "linear_ramp", "maximum", "mean", "median", "minimum")
FILTER_KINDS = {"low": "lowpass", "high": "highpass", "band": "bandpass", "stop": "bandstop"}
PADTYPES = ("odd", "even", "constant", None)


def rectify(x: Any) -> Any:
    """Full-wave rectification ``|x|``: (..., T, C) -> (..., T, C)."""
    arr, restore = as_signal(x)
    return restore(np.abs(arr))


def moving_rms(x: Any, window: int, mode: str = "symmetric") -> Any:
    """Centred moving root-mean-square over ``window`` samples: (..., T, C) -> (..., T, C).

    ``y[t] = sqrt(mean(p[t : t + window] ** 2))`` where ``p`` is ``x`` padded along time by
    ``numpy.pad(mode=mode)`` with ``window // 2`` samples at EACH end. An odd window is centred exactly;
    an even window uses ``window // 2`` samples before ``t`` and ``window // 2 - 1`` after it (one more from
    the past; the last padded sample is never used). This is what the RGB+sEMG fusion authors' code does
    (pad ``floor(window/2)`` on both sides with numpy "symmetric", one window starting at each of the first
    T padded positions), so ``mode="symmetric"`` with ``window=32`` reproduces it. Padding both ends by the
    same amount also keeps size-dependent modes ("linear_ramp") identical to that construction.
    Mode "constant" pads zeros. Float64 window sums by binary doubling: O(T log window), no loop over samples.
    """
    arr, restore = as_signal(x)
    window = check_int(window, "RMS window")
    if mode not in PAD_MODES:
        raise InputError(f"unknown RMS pad mode {mode!r}; valid: {', '.join(PAD_MODES)}")
    n_time = arr.shape[-2]
    if window > n_time:
        raise InputError(f"RMS window of {window} samples is longer than the signal ({n_time} samples)")
    before = window // 2
    pad = [(0, 0)] * (arr.ndim - 2) + [(before, before), (0, 0)]
    padded = np.pad(arr, pad, mode=mode)[..., : n_time + window - 1, :]  # (..., T + window - 1, C)
    return restore(np.sqrt(_window_sums(padded * padded, window) / window))


def _window_sums(a: np.ndarray, window: int) -> np.ndarray:
    """Sums of ``window`` consecutive samples along axis -2: (..., L, C) -> (..., L - window + 1, C).

    Binary doubling (sums of 1, 2, 4, ... samples, combined by the bits of ``window``): O(L log window)
    and, unlike a running cumulative sum, no cancellation, so quiet stretches keep full relative precision.
    """
    n_out = a.shape[-2] - window + 1
    result = None
    offset, size, block = 0, 1, a  # block[..., i, :] = sum of a[..., i : i + size, :]
    while True:
        if window & size:
            part = block[..., offset : offset + n_out, :]
            result = part.copy() if result is None else np.add(result, part, out=result)
            offset += size
        if 2 * size > window:
            return result
        block = block[..., :-size, :] + block[..., size:, :]  # sums of 2 * size samples
        size *= 2


def minmax_normalise(x: Any, per_channel: bool = True, feature_range: tuple[float, float] = (0.0, 1.0)) -> Any:
    """Min-max scaling to ``feature_range`` over time: (..., T, C) -> (..., T, C).

    ``per_channel=True``: each channel of each recording gets its own min and max (the fusion paper's
    text). ``per_channel=False``: ONE min and max over all channels and samples of each recording (each
    leading batch index is one recording), as the fusion authors' code does per arm; ratios between
    channels are kept. A flat channel (or recording) with max == min maps to ``feature_range[0]``.
    """
    arr, restore = as_signal(x)
    if np.ndim(feature_range) != 1 or len(feature_range) != 2:
        raise InputError(f"feature_range must be two numbers (low, high), got {feature_range!r}")
    low, high = (check_number(v, "feature_range bound") for v in feature_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InputError(f"feature_range must be finite with low < high, got {feature_range!r}")
    axes = -2 if per_channel else (-2, -1)
    lo = arr.min(axis=axes, keepdims=True)
    span = arr.max(axis=axes, keepdims=True) - lo
    gain = np.divide(high - low, span, out=np.zeros_like(span), where=span > 0)  # 0 for flat channels
    out = arr - lo
    out *= gain
    out += low
    return restore(out)


def zscore(x: Any, per_channel: bool = True) -> Any:
    """Standardise to zero mean and unit (population, ddof=0) standard deviation over time.

    (..., T, C) -> (..., T, C); statistics per channel, or over all channels of a recording when
    ``per_channel=False``. A flat channel (std 0) maps to 0.
    """
    arr, restore = as_signal(x)
    axes = -2 if per_channel else (-2, -1)
    mean = arr.mean(axis=axes, keepdims=True)
    std = arr.std(axis=axes, keepdims=True)
    out = arr - mean
    out *= np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)  # 0 for flat channels
    return restore(out)


def _check_cutoff(cutoff: Any, fs: float, kind: str) -> float | tuple[float, float]:
    nyquist = fs / 2
    if kind in ("low", "high"):
        if np.ndim(cutoff) != 0:
            raise InputError(f"a {kind}-pass filter takes one cut-off frequency, got {cutoff!r}")
        edges = (check_number(cutoff, "cut-off"),)
    else:
        if np.ndim(cutoff) != 1 or len(cutoff) != 2:
            raise InputError(f"a {kind} filter takes two cut-off frequencies (low_hz, high_hz), got {cutoff!r}")
        edges = tuple(check_number(c, "cut-off") for c in cutoff)
        if not edges[0] < edges[1]:
            raise InputError(f"{kind} filter edges must be increasing, got {cutoff!r}")
    for edge in edges:
        if not (np.isfinite(edge) and 0 < edge < nyquist):
            raise InputError(f"cut-off {edge} Hz must lie strictly between 0 and the Nyquist frequency fs/2 = {nyquist} Hz")
    return edges[0] if len(edges) == 1 else edges  # type: ignore[return-value]


def _resolve_padlen(padlen: Any, n_poles: int) -> int | None:
    if padlen is None:
        return 3 * (n_poles + 1)  # scipy filtfilt / sosfiltfilt default: 3 * max(len(a), len(b))
    if padlen == "matlab":
        return 3 * n_poles  # 3 * (max(len(a), len(b)) - 1): MATLAB's filtfilt, the fusion authors' code
    return check_int(padlen, "padlen", minimum=0)


def _zero_phase(arr: np.ndarray, coeffs: Any, form: str, padtype: Any, padlen: int) -> np.ndarray:
    if padtype not in PADTYPES:
        raise InputError(f"unknown padtype {padtype!r}; valid: 'odd', 'even', 'constant', None")
    edge = 0 if padtype is None else padlen
    if arr.shape[-2] <= edge:
        raise InputError(f"signal of {arr.shape[-2]} samples is too short for zero-phase filtering with padlen {edge}: need more than {edge}")
    if form == "sos":
        return sps.sosfiltfilt(coeffs, arr, axis=-2, padtype=padtype, padlen=padlen)
    b, a = coeffs
    return sps.filtfilt(b, a, arr, axis=-2, padtype=padtype, padlen=padlen)


def butter_filter(
    x: Any,
    fs: float,
    cutoff: float | tuple[float, float],
    kind: str = "low",
    order: int = 4,
    zero_phase: bool = True,
    padtype: str | None = "odd",
    padlen: int | str | None = None,
    form: str = "auto",
) -> Any:
    """Butterworth filter along time: (..., T, C) -> (..., T, C).

    ``kind``: "low" | "high" (``cutoff`` in Hz) or "band" | "stop" (``cutoff = (low_hz, high_hz)``),
    all strictly inside (0, fs/2). ``zero_phase=True``: forward-backward filtering (scipy.signal
    ``filtfilt`` / ``sosfiltfilt``; magnitude squared, -6 dB at the cut-off, no lag), with the signal
    extended by ``padlen`` samples of ``padtype`` ("odd", "even", "constant" or None = no extension) at
    each end. ``padlen=None`` is scipy's default ``3 * max(len(a), len(b))``; ``padlen="matlab"`` is
    ``3 * (max(len(a), len(b)) - 1)`` (MATLAB's filtfilt; the fusion authors pass it explicitly); an int is
    used as is. ``zero_phase=False``: causal ``lfilter`` / ``sosfilt`` from rest (-3 dB at the cut-off).
    ``form``: "ba" (transfer function, bit-identical to ``filtfilt(b, a, ...)``), "sos" (second-order
    sections, numerically safer for many poles or very low cut-offs) or "auto" ("ba" up to 4 poles,
    i.e. order <= 4 low/high or order <= 2 band/stop, else "sos").
    """
    arr, restore = as_signal(x)
    fs = check_fs(fs)
    if kind not in FILTER_KINDS:
        raise InputError(f"unknown filter kind {kind!r}; valid: {', '.join(FILTER_KINDS)}")
    order = check_int(order, "filter order")
    edges = _check_cutoff(cutoff, fs, kind)
    n_poles = order if kind in ("low", "high") else 2 * order
    if form not in ("auto", "ba", "sos"):
        raise InputError(f"unknown filter form {form!r}; valid: 'auto', 'ba', 'sos'")
    if form == "auto":
        form = "ba" if n_poles <= 4 else "sos"
    output = "sos" if form == "sos" else "ba"
    coeffs = sps.butter(order, edges, btype=FILTER_KINDS[kind], fs=fs, output=output)
    if zero_phase:
        return restore(_zero_phase(arr, coeffs, form, padtype, _resolve_padlen(padlen, n_poles)))
    if form == "sos":
        return restore(sps.sosfilt(coeffs, arr, axis=-2))
    return restore(sps.lfilter(coeffs[0], coeffs[1], arr, axis=-2))


def notch(x: Any, fs: float, freq: float = 50.0, quality: float = 30.0, zero_phase: bool = True) -> Any:
    """Second-order IIR notch (scipy.signal.iirnotch) removing mains hum at ``freq`` Hz: (..., T, C) -> same.

    Bandwidth ``freq / quality``. Zero-phase uses ``filtfilt`` with scipy's default odd padding of
    9 samples; otherwise a causal ``lfilter``.
    """
    arr, restore = as_signal(x)
    fs = check_fs(fs)
    freq = check_number(freq, "notch frequency")
    quality = check_positive(quality, "notch quality factor")
    if not (np.isfinite(freq) and 0 < freq < fs / 2):
        raise InputError(f"notch frequency {freq} Hz must lie strictly between 0 and fs/2 = {fs / 2} Hz")
    b, a = sps.iirnotch(freq, quality, fs=fs)
    if zero_phase:
        return restore(_zero_phase(arr, (b, a), "ba", "odd", 3 * len(a)))
    return restore(sps.lfilter(b, a, arr, axis=-2))
