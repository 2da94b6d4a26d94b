"""Spectrograms for sEMG: HTK mel filterbank, STFT power, mel spectrogram, emg2qwerty's log spectrogram.

Definitions (all windows are periodic Hann of length ``n_fft``, as ``torch.hann_window``):

* :func:`mel_filterbank` is torchaudio's ``melscale_fbanks(norm=None, mel_scale="htk")``: ``n_mels + 2``
  points equally spaced on the HTK mel scale ``2595 log10(1 + f / 700)`` between ``f_min`` and ``f_max``,
  triangles evaluated at the FFT bin frequencies ``k fs / n_fft``, no area normalisation.
* :func:`stft_power` is torchaudio's ``Spectrogram``: ``|STFT|**power``; ``center=True`` pads ``n_fft // 2``
  samples each side (reflect by default), ``normalized=True`` divides the STFT by ``sqrt(sum(window**2))``.
* :func:`mel_spectrogram` is torchaudio's ``MelSpectrogram`` (the fusion paper's front end).
* :func:`log_spectrogram` is emg2qwerty's ``LogSpectrogram``: ``log10(power + 1e-6)`` of the
  ``normalized=True``, ``center=False`` (no padding) power STFT, time-first layout ``(T', ..., C, freq)``.

Layouts (numpy in -> numpy out, torch in -> torch out, on the input's device):

=====================  ==========================================  ==============================================
function               input                                       output
=====================  ==========================================  ==============================================
``stft_power``         ``(..., time)``                             ``(..., n_fft // 2 + 1, frames)``
``mel_spectrogram``    ``(time, channels)`` / ``(..., time, ch)``   ``(channels, n_mels, frames)`` / ``(..., ch, n_mels, frames)``
``log_spectrogram``    ``(time, channels)`` / ``(time, ..., ch)``   ``(frames, channels, freq)`` / ``(frames, ..., ch, freq)``
=====================  ==========================================  ==============================================

``log_spectrogram`` keeps emg2qwerty's time-first layout (its models read ``(T, N, bands, C, freq)``);
the other two follow torchaudio (time last). Float inputs keep their dtype; integers become float64
(numpy) or torch's default dtype. Bad input raises :class:`myovision.errors.InputError`.

Two implementations of the same definitions: numpy arrays and CPU float32/float64 tensors that do
not require grad go through a blocked engine (frames as strided views, scipy's pocketfft on
cache-sized blocks of frames, several threads, results written in place; 4-7x faster than
``torch.stft`` here, see ``benchmarks/bench_log_spectrogram.py``); tensors on other devices or that
require grad go through ``torch.stft`` and stay differentiable. The tests hold both to a per-frame DFT.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from myovision.errors import InputError
from myovision.signals.stft_blocked import fast_path_ok, hann_window, power_blocks, stft_power_blocked
from myovision.signals.validation import check_finite, check_fs, check_int, check_number, check_positive

#: Padding modes of :func:`stft_power` with ``center=True`` (those of ``torch.stft``).
PAD_MODES = ("reflect", "constant", "replicate", "circular")
#: emg2qwerty adds this before ``log10``.
LOG_EPS = 1e-6


# --------------------------------------------------------------------------- mel filterbank


def hz_to_mel(f: Any) -> Any:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: Any) -> Any:
    """Inverse of :func:`hz_to_mel`: ``700 (10 ** (m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: float) -> np.ndarray:
    """Triangular HTK mel filters, shape ``(n_freqs, n_mels)``, float64 (torchaudio ``melscale_fbanks``).

    ``n_freqs`` is ``n_fft // 2 + 1``: bin ``k`` sits at ``k * (sample_rate / 2) / (n_freqs - 1)`` Hz.
    Filter ``m`` rises linearly from corner ``m`` to ``m + 1`` (weight 1 at its centre) and falls to
    corner ``m + 2``, where the ``n_mels + 2`` corners are equally spaced in mel from ``f_min`` to
    ``f_max``. Weights are not area-normalised. (torchaudio places the bins at ``sample_rate // 2``,
    which differs only for odd integer or fractional rates; this uses the exact Nyquist frequency.)

    Raises InputError for ``f_max > sample_rate / 2``, ``f_min >= f_max``, and for settings where some
    filter falls between two FFT bins and has no weight at all (torchaudio only warns there; such a band
    is always 0 and its log is -inf): use fewer mels or a larger ``n_fft``.

    >>> fb = mel_filterbank(17, 0.0, 80.0, 10, 160)
    >>> fb.shape
    (17, 10)
    """
    n_freqs = check_int(n_freqs, "n_freqs", minimum=2)
    n_mels = check_int(n_mels, "n_mels", minimum=1)
    sample_rate = check_fs(sample_rate, "sample_rate")
    f_min, f_max = check_number(f_min, "f_min"), check_number(f_max, "f_max")
    nyquist = sample_rate / 2.0
    if not (math.isfinite(f_min) and math.isfinite(f_max)) or f_min < 0:
        raise InputError(f"f_min and f_max must be finite and f_min >= 0, got f_min={f_min}, f_max={f_max}")
    if f_max > nyquist * (1 + 1e-12):
        raise InputError(f"f_max={f_max} Hz is above the Nyquist frequency {nyquist} Hz (sample_rate {sample_rate})")
    if f_min >= f_max:
        raise InputError(f"f_min={f_min} Hz must be below f_max={f_max} Hz")

    bin_hz = np.linspace(0.0, nyquist, n_freqs)  # (n_freqs,)
    corners = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # (n_mels + 2,)
    width = np.diff(corners)  # (n_mels + 1,)
    rel = corners[None, :] - bin_hz[:, None]  # (n_freqs, n_mels + 2): corner minus bin frequency
    rising = -rel[:, :-2] / width[:-1]  # (bin - lower) / (centre - lower)
    falling = rel[:, 2:] / width[1:]  # (upper - bin) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rising, falling))  # (n_freqs, n_mels)

    empty = np.flatnonzero(fb.max(axis=0) <= 0.0)
    if empty.size:
        raise InputError(
            f"{empty.size} of {n_mels} mel filters get no FFT bin (filters {empty.tolist()[:8]}): "
            f"{n_freqs} bins over 0-{nyquist:g} Hz are too coarse for {n_mels} mels in {f_min:g}-{f_max:g} Hz; "
            "use fewer mels or a larger n_fft"
        )
    return fb


# --------------------------------------------------------------------------- STFT power


def stft_power(
    x: Any,
    n_fft: int,
    hop_length: int,
    center: bool = True,
    pad_mode: str = "reflect",
    power: float = 2.0,
    normalized: bool = False,
) -> Any:
    """``|STFT(x)| ** power`` with a periodic Hann window of length ``n_fft``: ``(..., time) -> (..., n_fft // 2 + 1, frames)``.

    ``center=True`` pads ``n_fft // 2`` samples on each side with ``pad_mode`` (frames = ``1 + time //
    hop_length`` for even ``n_fft``); ``center=False`` does not pad (frames = ``1 + (time - n_fft) //
    hop_length``). ``normalized=True`` divides the STFT by the window's L2 norm ``sqrt(sum(w ** 2))``
    (torchaudio's meaning, not ``torch.stft``'s ``sqrt(n_fft)``). ``power`` 1 gives the magnitude, 2 the
    power.

    >>> stft_power(np.ones(100), n_fft=16, hop_length=4).shape
    (9, 26)
    """
    t, restore = _as_tensor(x, "signal", min_ndim=1)
    n_fft, hop_length = _check_fft_sizes(n_fft, hop_length)
    power = check_positive(power, "power")
    _check_frames_possible(t.shape[-1], n_fft, center, pad_mode)
    if fast_path_ok(t):
        a = t.numpy()
        lead, n_time = a.shape[:-1], a.shape[-1]
        spec = _stft_power_blocked([a.reshape(-1, n_time).T], n_fft, hop_length, center, pad_mode, power, normalized,
                                   source=a, time_axis=-1, channel_axis=-2)
        return restore(torch.from_numpy(spec.reshape(*lead, *spec.shape[-2:])))  # (..., freq, frames)
    check_finite(t, time_axis=-1, channel_axis=-2)
    return restore(_stft_power_torch(t, n_fft, hop_length, center, pad_mode, power, normalized))


def _stft_power_torch(t: torch.Tensor, n_fft: int, hop: int, center: bool, pad_mode: str, power: float, normalized: bool) -> torch.Tensor:
    """``torch.stft`` path (any device, differentiable) on a float tensor ``(..., time)``."""
    lead, n_time = t.shape[:-1], t.shape[-1]
    window = torch.hann_window(n_fft, periodic=True, dtype=t.dtype, device=t.device)
    spec = torch.stft(
        t.reshape(-1, n_time),  # (batch, time)
        n_fft,
        hop_length=hop,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )  # (batch, freq, frames), complex
    if power == 2.0:
        out = spec.real.square() + spec.imag.square()
        scale = 1.0 / float(window.square().sum()) if normalized else None
    else:
        out = spec.abs()
        if power != 1.0:
            out = out.pow(power)
        scale = float(window.square().sum()) ** (-power / 2.0) if normalized else None
    if scale is not None:
        out = out * scale
    return out.reshape(*lead, *out.shape[-2:])  # (..., freq, frames)


# --------------------------------------------------------------------------- mel spectrogram


def mel_spectrogram(
    x: Any,
    fs: float,
    n_mels: int,
    n_fft: int,
    hop_length: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    power: float = 2.0,
    normalized: bool = False,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
) -> Any:
    """Mel spectrogram per channel: ``(time, channels) -> (channels, n_mels, frames)``, batched ``(..., time, channels) -> (..., channels, n_mels, frames)``.

    torchaudio ``MelSpectrogram`` semantics: :func:`stft_power` (Hann window of ``n_fft``, centred with
    reflect padding by default, frames = ``1 + time // hop_length``) projected on :func:`mel_filterbank`
    (HTK, no normalisation); no log. ``f_max=None`` means ``fs / 2``.

    The fusion paper (fs 160 Hz, 10 mels, normalized=True): n_fft 32, hop 4 on 800 samples gives
    10 x 201 per channel; n_fft 16, hop 2 on 160 samples gives 10 x 81.

    >>> mel_spectrogram(np.zeros((800, 8)), fs=160, n_mels=10, n_fft=32, hop_length=4).shape
    (8, 10, 201)
    """
    t, restore = _as_tensor(x, "signal", min_ndim=2)
    fs = check_fs(fs)
    n_fft, hop_length = _check_fft_sizes(n_fft, hop_length)
    power = check_positive(power, "power")
    fb = mel_filterbank(n_fft // 2 + 1, f_min, fs / 2.0 if f_max is None else f_max, n_mels, fs)
    _check_frames_possible(t.shape[-2], n_fft, center, pad_mode)
    if fast_path_ok(t):
        a = t.numpy()
        lead, (n_time, n_ch) = a.shape[:-2], a.shape[-2:]
        spec = _stft_power_blocked(list(a.reshape(-1, n_time, n_ch)), n_fft, hop_length, center, pad_mode, power,
                                   normalized, source=a, time_axis=-2, channel_axis=-1)
        spec = torch.from_numpy(spec.reshape(*lead, n_ch, *spec.shape[-2:]))  # (..., C, freq, frames)
    else:
        check_finite(t, time_axis=-2, channel_axis=-1)
        spec = _stft_power_torch(t.transpose(-1, -2), n_fft, hop_length, center, pad_mode, power, normalized)  # (..., C, freq, frames)
    fb_t = torch.as_tensor(fb.T, dtype=spec.dtype, device=spec.device)  # (n_mels, freq)
    return restore(torch.matmul(fb_t, spec))  # (..., C, n_mels, frames)


# --------------------------------------------------------------------------- emg2qwerty log spectrogram


def log_spectrogram(x: Any, n_fft: int = 64, hop_length: int = 16) -> Any:
    """emg2qwerty's ``LogSpectrogram``: ``log10(|STFT|**2 + 1e-6)``, time first.

    ``(time, channels) -> (frames, channels, n_fft // 2 + 1)``; more generally ``(time, ..., channels) ->
    (frames, ..., channels, freq)`` (e.g. emg2qwerty's ``(T, bands=2, 16)`` -> ``(T', 2, 16, 33)``, or
    batched ``(T, N, 2, 16)`` -> ``(T', N, 2, 16, 33)``); a 1-D ``(time,)`` gives ``(frames, freq)``.
    As in emg2qwerty: periodic Hann window of ``n_fft``, ``normalized=True`` (STFT divided by the
    window's L2 norm), ``center=False`` (no padding: frames = ``1 + (time - n_fft) // hop_length``, the
    first frame covers samples ``0 .. n_fft - 1``), power 2. With the defaults a 2 kHz signal gives
    125 frames/s and 33 bins.

    Threads: ``torch.get_num_threads()``. Cost against plain memory passes:
    ``benchmarks/bench_log_spectrogram.py``.

    >>> log_spectrogram(np.zeros((8000, 16), np.float32)).shape
    (497, 16, 33)
    """
    t, restore = _as_tensor(x, "signal", min_ndim=1)
    n_fft, hop_length = _check_fft_sizes(n_fft, hop_length)
    n_time = t.shape[0]
    _check_frames_possible(n_time, n_fft, center=False, pad_mode="reflect")
    if t.ndim == 1:
        return restore(_log_spectrogram_any(t[:, None], n_fft, hop_length)[:, 0])  # (frames, freq)
    return restore(_log_spectrogram_any(t, n_fft, hop_length))


def _log_spectrogram_any(t: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    if fast_path_ok(t):
        return torch.from_numpy(_log_spectrogram_fast(t.numpy(), n_fft, hop_length))
    return _log_spectrogram_torch(t, n_fft, hop_length)


def _log_spectrogram_torch(t: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Reference path (any device, differentiable): ``(T, ..., C) -> (T', ..., C, freq)``."""
    check_finite(t, time_axis=0, channel_axis=-1)
    spec = _stft_power_torch(t.movedim(0, -1), n_fft, hop, False, "constant", 2.0, True)  # (..., C, freq, T')
    return torch.log10(spec + LOG_EPS).movedim(-1, 0)  # (T', ..., C, freq)


def _log_spectrogram_fast(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """CPU log spectrogram of a float32/float64 array ``(T, ..., C)`` -> ``(T', ..., C, freq)``.

    :func:`~myovision.signals.stft_blocked.power_blocks` writes ``power + 1e-6`` straight into the output, then one in-place
    ``torch.log10_`` over the whole output, threaded by torch. (torch's MKL log10 called from the block
    threads starts an OpenMP team per thread and cost 30% more CPU.)
    """
    n_time, rest = x.shape[0], x.shape[1:]
    n_ch = rest[-1]
    groups = int(np.prod(rest[:-1], dtype=np.int64))
    xg = x.reshape(n_time, groups, n_ch)  # (T, groups, C); a view unless x was oddly strided
    n_frames = 1 + (n_time - n_fft) // hop
    n_bins = n_fft // 2 + 1
    out = np.empty((n_frames, groups, n_ch, n_bins), dtype=x.dtype)  # (T', groups, C, freq)
    jobs = [(xg[:, g], out[:, g]) for g in range(groups)]  # (T, C) -> (T', C, freq)
    if power_blocks(jobs, n_fft, hop, hann_window(n_fft, x.dtype, True), 2.0, time_last=False, add=LOG_EPS):
        check_finite(x, time_axis=0, channel_axis=-1)  # raises unless a finite sum overflowed
    torch.from_numpy(out).log10_()  # in place: log10(power + 1e-6)
    return out.reshape(n_frames, *rest[:-1], n_ch, n_bins)


def _stft_power_blocked(signals: list[np.ndarray], n_fft: int, hop: int, center: bool, pad_mode: str, power: float,
                        normalized: bool, *, source: np.ndarray, time_axis: int, channel_axis: int) -> np.ndarray:
    """The blocked engine on ``signals`` (views of ``source``), with NaN/Inf reported at positions of ``source``.

    The engine only flags blocks whose sum is not finite; ``source`` is scanned only then (a finite sum can
    also overflow, in which case nothing is raised).
    """
    out, suspect = stft_power_blocked(signals, n_fft, hop, center, pad_mode, power, normalized)
    if suspect:
        check_finite(source, time_axis=time_axis, channel_axis=channel_axis)
    return out


# --------------------------------------------------------------------------- input conversion, STFT size checks
# (shared checks: myovision.signals.validation)


def _as_tensor(x: Any, name: str, min_ndim: int) -> tuple[torch.Tensor, Any]:
    """``x`` as a real float tensor (numpy shares memory) and a function giving results back as x's type."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise InputError(f"{name} must hold real numbers, got dtype {x.dtype}")
        t = x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()  # torch.stft has no half-precision CPU kernel

        def restore(y: torch.Tensor) -> torch.Tensor:
            return y

    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "iuf":
            raise InputError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)
        if not arr.flags.writeable or any(s < 0 for s in arr.strides):
            arr = np.array(arr)  # torch.from_numpy refuses negative strides and read-only memory
        t = torch.from_numpy(arr)

        def restore(y: torch.Tensor) -> np.ndarray:
            return y.detach().numpy()

    if t.ndim < min_ndim or t.numel() == 0:
        want = "(time,)" if min_ndim == 1 else "(time, channels) or (..., time, channels)"
        raise InputError(f"{name} must be a non-empty array shaped {want}, got shape {tuple(t.shape)}")
    return t, restore


def _check_fft_sizes(n_fft: Any, hop_length: Any) -> tuple[int, int]:
    return check_int(n_fft, "n_fft", minimum=2), check_int(hop_length, "hop_length", minimum=1)


def _check_frames_possible(n_time: int, n_fft: int, center: bool, pad_mode: str) -> None:
    if pad_mode not in PAD_MODES:
        raise InputError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    if not center:
        if n_time < n_fft:
            raise InputError(f"signal has {n_time} samples, fewer than n_fft={n_fft} (center=False does not pad)")
    elif pad_mode == "reflect" and n_time <= n_fft // 2:
        raise InputError(
            f"signal has {n_time} samples: reflect padding of n_fft // 2 = {n_fft // 2} needs more than that "
            "(use a smaller n_fft or pad_mode='constant')"
        )
    elif pad_mode == "circular" and n_time < n_fft // 2:
        raise InputError(f"signal has {n_time} samples: circular padding of {n_fft // 2} needs at least that many")


__all__ = ["PAD_MODES", "LOG_EPS", "hz_to_mel", "mel_to_hz", "mel_filterbank", "stft_power", "mel_spectrogram", "log_spectrogram"]
