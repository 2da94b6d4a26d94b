"""sEMG amplitude processing: rectification, moving RMS, normalisation, Butterworth and notch filters.

Every function takes a signal shaped ``(time, channels)`` or batched ``(..., time, channels)`` (time axis
-2, channels -1), as a numpy array or a torch tensor, and returns the same type. Float inputs keep their
dtype; integer inputs come back as float64 (numpy) or torch's default float dtype. Work goes through the
recording in chunks of :data:`CHUNK_SAMPLES` samples, each converted to float64 and back, so memory stays
near the input's size plus the output's (a float32 hour stays float32): moving sums read a
``window - 1`` sample overlap, IIR filters carry their state ``zi`` from chunk to chunk (forward, then
backward for zero-phase), which gives the same numbers as one call over the whole signal. Torch inputs go through numpy (no autograd) and come back on their device.
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
#: Samples (time steps) per chunk of the chunked kernels.
CHUNK_SAMPLES = 1 << 15
# numpy.pad modes whose edge values depend only on the samples next to the edge.
_LOCAL_PAD_MODES = ("symmetric", "reflect", "edge", "constant", "linear_ramp")


def _chunks(n: int, size: int = 0) -> list[tuple[int, int]]:
    size = size or CHUNK_SAMPLES
    return [(a, min(a + size, n)) for a in range(0, n, size)]


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
    arr, restore = as_signal(x, keep_float=True)
    out = np.empty(arr.shape, dtype=arr.dtype)
    _moving_rms_into(arr, out, check_int(window, "RMS window"), mode)
    return restore(out)


def _moving_rms_into(arr: np.ndarray, out: np.ndarray, window: int, mode: str) -> None:
    """:func:`moving_rms` of ``arr`` written into ``out`` (same shape, not the same memory), chunk by chunk."""
    if mode not in PAD_MODES:
        raise InputError(f"unknown RMS pad mode {mode!r}; valid: {', '.join(PAD_MODES)}")
    n_time = arr.shape[-2]
    if window > n_time:
        raise InputError(f"RMS window of {window} samples is longer than the signal ({n_time} samples)")
    before = window // 2
    pad = [(0, 0)] * (arr.ndim - 2) + [(before, before), (0, 0)]
    if mode in _LOCAL_PAD_MODES:  # the edges from the samples next to them (np.pad of a short head / tail)
        k = min(n_time, before + 1)
        left = np.pad(arr[..., :k, :].astype(np.float64), pad, mode=mode)[..., :before, :]
        right = np.pad(arr[..., n_time - k :, :].astype(np.float64), pad, mode=mode)[..., k + before :, :]
    else:  # statistics of, or wrapping around, the whole recording
        full = np.pad(arr.astype(np.float64), pad, mode=mode)
        left, right = full[..., :before, :], full[..., before + n_time :, :]
    for a, b in _chunks(n_time):
        # padded samples [a, b + window - 1) = signal samples [a - before, b + window - 1 - before)
        lo, hi = a - before, b + window - 1 - before
        parts = [left[..., before + lo :, :]] if lo < 0 else []
        parts.append(arr[..., max(lo, 0) : min(hi, n_time), :].astype(np.float64))
        if hi > n_time:
            parts.append(right[..., : hi - n_time, :])
        segment = np.concatenate(parts, axis=-2) if len(parts) > 1 else parts[0]  # (..., b - a + window - 1, C)
        out[..., a:b, :] = np.sqrt(_window_sums(segment * segment, window) / window)


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
    arr, restore = as_signal(x, keep_float=True)
    if np.ndim(feature_range) != 1 or len(feature_range) != 2:
        raise InputError(f"feature_range must be two numbers (low, high), got {feature_range!r}")
    low, high = (check_number(v, "feature_range bound") for v in feature_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InputError(f"feature_range must be finite with low < high, got {feature_range!r}")
    work = arr.copy()
    _minmax_in_place(work, per_channel, low, high)
    return restore(work)


def _minmax_in_place(work: np.ndarray, per_channel: bool, low: float = 0.0, high: float = 1.0) -> None:
    """:func:`minmax_normalise` of the float array ``work`` in place (float64 arithmetic per chunk)."""
    axes = -2 if per_channel else (-2, -1)
    lo = work.min(axis=axes, keepdims=True).astype(np.float64)
    span = work.max(axis=axes, keepdims=True) - lo
    gain = np.divide(high - low, span, out=np.zeros_like(span), where=span > 0)  # 0 for flat channels
    for a, b in _chunks(work.shape[-2]):
        chunk = work[..., a:b, :] - lo
        chunk *= gain
        chunk += low
        work[..., a:b, :] = chunk


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


_EXTENSIONS = {"odd": sps._arraytools.odd_ext, "even": sps._arraytools.even_ext, "constant": sps._arraytools.const_ext}


def _filter_in_place(work: np.ndarray, coeffs: Any, form: str, zero_phase: bool, padtype: Any, padlen: int) -> None:
    """IIR-filter the float array ``work`` (..., T, C) along time, in place, chunk by chunk.

    Causal: ``lfilter`` / ``sosfilt`` from rest, the state ``zi`` carried between chunks. Zero-phase: the
    algorithm of scipy's ``filtfilt`` / ``sosfiltfilt`` (extend both ends by ``padlen`` samples of
    ``padtype``, filter forward from the steady state scaled by the first sample, then backward from the
    state scaled by the last forward output, drop the extensions) with the forward output stored in
    ``work`` between the passes: bit-identical to scipy for float64 input.
    """
    if form == "sos":
        n_state = 2

        def run(chunk: np.ndarray, state: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            if state is None:
                state = np.zeros((coeffs.shape[0], *chunk.shape[:-2], n_state, chunk.shape[-1]))
            return sps.sosfilt(coeffs, chunk, axis=-2, zi=state)

        steady = sps.sosfilt_zi(coeffs).reshape(coeffs.shape[0], *[1] * (work.ndim - 2), n_state, 1)
    else:
        b, a = coeffs
        n_state = max(len(a), len(b)) - 1

        def run(chunk: np.ndarray, state: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
            if state is None:
                state = np.zeros((*chunk.shape[:-2], n_state, chunk.shape[-1]))
            return sps.lfilter(b, a, chunk, axis=-2, zi=state)

        steady = sps.lfilter_zi(b, a).reshape(*[1] * (work.ndim - 2), n_state, 1)
    n_time = work.shape[-2]
    if not zero_phase:
        state = None
        for lo, hi in _chunks(n_time):
            y, state = run(work[..., lo:hi, :].astype(np.float64), state)
            work[..., lo:hi, :] = y
        return
    if padtype not in PADTYPES:
        raise InputError(f"unknown padtype {padtype!r}; valid: 'odd', 'even', 'constant', None")
    edge = 0 if padtype is None else padlen
    if n_time <= edge:
        raise InputError(f"signal of {n_time} samples is too short for zero-phase filtering with padlen {edge}: need more than {edge}")
    head = work[..., : edge + 1, :].astype(np.float64)
    tail = work[..., n_time - edge - 1 :, :].astype(np.float64)
    if edge:
        extend = _EXTENSIONS[padtype]
        left = extend(head, edge, axis=-2)[..., :edge, :]  # (..., edge, C)
        right = extend(tail, edge, axis=-2)[..., 2 * edge + 1 :, :]  # after the tail's own left extension and itself
        state = steady * left[..., :1, :]
        _, state = run(left, state)
    else:
        state = steady * head[..., :1, :]
    y = head
    for lo, hi in _chunks(n_time):  # forward
        y, state = run(work[..., lo:hi, :].astype(np.float64), state)
        work[..., lo:hi, :] = y
    if edge:
        y, state = run(right, state)
        state = steady * y[..., -1:, :]
        _, state = run(y[..., ::-1, :], state)
    else:
        state = steady * y[..., -1:, :]
    for lo, hi in reversed(_chunks(n_time)):  # backward
        y, state = run(work[..., lo:hi, :][..., ::-1, :].astype(np.float64), state)
        work[..., lo:hi, :] = y[..., ::-1, :]


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
    arr, restore = as_signal(x, keep_float=True)
    coeffs, form, padlen = butter_design(check_fs(fs), cutoff, kind, order, form, padlen)
    work = arr.copy()
    _filter_in_place(work, coeffs, form, zero_phase, padtype, padlen)
    return restore(work)


def butter_design(fs: float, cutoff: Any, kind: str, order: int, form: str, padlen: Any) -> tuple[Any, str, int]:
    """Checked Butterworth design for :func:`butter_filter`: ``(coefficients, "ba" | "sos", padlen in samples)``."""
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
    return coeffs, form, _resolve_padlen(padlen, n_poles)


def notch(x: Any, fs: float, freq: float = 50.0, quality: float = 30.0, zero_phase: bool = True) -> Any:
    """Second-order IIR notch (scipy.signal.iirnotch) removing mains hum at ``freq`` Hz: (..., T, C) -> same.

    Bandwidth ``freq / quality``. Zero-phase uses ``filtfilt`` with scipy's default odd padding of
    9 samples; otherwise a causal ``lfilter``.
    """
    arr, restore = as_signal(x, keep_float=True)
    b, a = notch_coefficients(check_fs(fs), freq, quality)
    work = arr.copy()
    _filter_in_place(work, (b, a), "ba", zero_phase, "odd", 3 * len(a))
    return restore(work)


def notch_coefficients(fs: float, freq: float, quality: float) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``scipy.signal.iirnotch`` design for :func:`notch`: ``(b, a)``."""
    freq = check_number(freq, "notch frequency")
    quality = check_positive(quality, "notch quality factor")
    if not (np.isfinite(freq) and 0 < freq < fs / 2):
        raise InputError(f"notch frequency {freq} Hz must lie strictly between 0 and fs/2 = {fs / 2} Hz")
    return sps.iirnotch(freq, quality, fs=fs)
