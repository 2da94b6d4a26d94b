"""Frequency-domain and model-based sEMG features: spectral statistics, TDPSD moments, AR and cepstrum.

Shapes as in :mod:`myovision.signals.features_time`. Only MNF, MDF and SM read a frequency axis and so
take the sample rate ``fs`` (Hz); the others take the windowed signal alone. The power spectrum follows
the LibEMG MATLAB reference (Eddy et al. 2023): ``P_k = |FFT_nfft(x)_k / N|^2`` for ``k < nfft/2`` with ``nfft`` the next
power of two ``>= N`` and the frequency axis ``f_k = k * (fs/2) / (nfft/2 - 1)``, i.e.
``linspace(0, fs/2, nfft/2)`` (not ``k * fs / nfft``: the top bin is labelled exactly ``fs/2``).
"""

from __future__ import annotations

import numpy as np

from myovision.signals.features_windowing import WindowedSignal

AR_ORDER = 4  # autoregressive model order of AR and CC
SM_ORDER = 2  # power of the frequency in the spectral moment SM


def _spectrum_summary(s: WindowedSignal) -> np.ndarray:
    """Per-window sums of the one-sided power ``P_k``: ``(..., n_windows, C, 4)`` holding ``sum P``,
    ``sum k P``, ``sum k^2 P`` and the median bin (the first ``k`` whose cumulative power exceeds half of
    the total; computed only when MDF is requested). One batched FFT per chunk of windows serves every
    spectral feature of a call.
    """
    if "spectrum" not in s.cache:
        nfft = 1 << (s.window - 1).bit_length()  # next power of two >= N
        bins = nfft // 2
        k = np.arange(bins, dtype=np.float64)  # bin index
        moments = np.stack([np.ones(bins), k, k * k], axis=-1) / float(s.window) ** 2  # (nfft/2, 3); P = |X / N|^2
        with_median = s.wanted is None or "MDF" in s.wanted

        def summary(w: np.ndarray) -> np.ndarray:  # (..., rows, C, N) -> (..., rows, C, 4)
            spectrum = np.fft.rfft(w, n=nfft, axis=-1)  # (..., rows, C, nfft/2 + 1)
            re, im = spectrum.real[..., :bins], spectrum.imag[..., :bins]  # views, (..., rows, C, nfft/2)
            power = re * re
            power += im * im  # |X_k|^2
            out = np.empty((*power.shape[:-1], 4))
            out[..., :3] = power @ moments
            if with_median:
                cumulative = np.cumsum(power, axis=-1)
                out[..., 3] = np.argmax(cumulative > cumulative[..., -1:] / 2, axis=-1)
            return out

        s.cache["spectrum"] = s.map_chunks(summary, tail=(4,))
    return s.cache["spectrum"]


def _bin_hz(s: WindowedSignal, fs: float) -> tuple[int, float]:
    """Number of one-sided bins ``nfft/2`` and the spacing of the frequency axis ``linspace(0, fs/2, nfft/2)``."""
    bins = (1 << (s.window - 1).bit_length()) // 2
    return bins, (fs / 2) / (bins - 1)


def mnf(s: WindowedSignal, fs: float) -> np.ndarray:
    """Mean frequency: ``MNF = sum_k f_k P_k / sum_k P_k`` (Hz)."""
    summary = _spectrum_summary(s)
    return _bin_hz(s, fs)[1] * summary[..., 1] / summary[..., 0]


def mdf(s: WindowedSignal, fs: float) -> np.ndarray:
    """Median frequency: the first ``f_k`` whose cumulative power exceeds half of the total (Hz)."""
    summary = _spectrum_summary(s)
    freq = np.linspace(0.0, fs / 2, _bin_hz(s, fs)[0])
    median = freq[summary[..., 3].astype(np.intp)]
    return np.where(summary[..., 0] > 0, median, np.nan)  # undefined (like MNF) for an all-zero window


def mnp(s: WindowedSignal) -> np.ndarray:
    """Mean power: ``MNP = (1 / (nfft/2)) sum_k P_k`` (no frequency axis, so no sample rate)."""
    bins = (1 << (s.window - 1).bit_length()) // 2
    return _spectrum_summary(s)[..., 0] / bins


def sm(s: WindowedSignal, fs: float) -> np.ndarray:
    """Spectral moment of order 2: ``SM = sum_k P_k f_k^2`` (power times Hz^2)."""
    df = _bin_hz(s, fs)[1]
    return df**SM_ORDER * _spectrum_summary(s)[..., 2]  # SM_ORDER == 2: the summary holds sum k^2 P


# --- TDPSD (Al-Timemy et al. 2016): spectral moments from the time domain, via Parseval ---------------


def _moments(s: WindowedSignal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power-compressed root moments ``m0, m2, m4`` of each window, ``v -> v**0.1 / 0.1``.

    ``m0 = sqrt(sum x^2) / (N-1)``, ``m2 = sqrt(sum d^2 / (N-1))``, ``m4 = sqrt(sum dd^2 / (N-1))``
    (the reference divides ``m0`` outside the root and ``m2``, ``m4`` inside; kept as is).
    """
    if "tdpsd_moments" not in s.cache:
        n1 = s.window - 1
        m0 = np.sqrt(s.sum_sq) / n1
        m2 = np.sqrt(s.sum_sq_d1 / n1)
        m4 = np.sqrt(s.sum_sq_d2 / n1)
        s.cache["tdpsd_moments"] = (m0**0.1 / 0.1, m2**0.1 / 0.1, m4**0.1 / 0.1)
    return s.cache["tdpsd_moments"]


def _tdpsd(s: WindowedSignal, quantity) -> np.ndarray:
    """Combine ``a = quantity(x)`` and ``b = quantity(log(x^2 + eps))`` as ``-2ab / (a^2 + b^2)``.

    Both terms are logs of a moment statistic; the ratio lies in [-1, 1] and is invariant to the scale
    of ``a`` and ``b`` together (the "orientation" of the two spectra in the TDPSD paper).
    """
    a, b = quantity(s), quantity(s.log_power)
    return -2.0 * a * b / (a * a + b * b)


def m0(s: WindowedSignal) -> np.ndarray:
    """TDPSD zeroth moment: ``log|m0|`` of ``x`` and of ``log(x^2+eps)``, combined by ``-2ab/(a^2+b^2)``."""
    return _tdpsd(s, lambda w: np.log(np.abs(_moments(w)[0])))


def m2(s: WindowedSignal) -> np.ndarray:
    """TDPSD second moment: ``log|m0 - m2|``, combined as in :func:`m0`."""

    def q(w: WindowedSignal) -> np.ndarray:
        a0, a2, _ = _moments(w)
        return np.log(np.abs(a0 - a2))

    return _tdpsd(s, q)


def m4(s: WindowedSignal) -> np.ndarray:
    """TDPSD fourth moment: ``log|m0 - m4|``, combined as in :func:`m0`."""

    def q(w: WindowedSignal) -> np.ndarray:
        a0, _, a4 = _moments(w)
        return np.log(np.abs(a0 - a4))

    return _tdpsd(s, q)


def sparsi(s: WindowedSignal) -> np.ndarray:
    """Sparseness: ``log| sqrt(|(m0 - m2)(m0 - m4)|) / m0 |``, combined as in :func:`m0`."""

    def q(w: WindowedSignal) -> np.ndarray:
        a0, a2, a4 = _moments(w)
        return np.log(np.abs(np.sqrt(np.abs((a0 - a2) * (a0 - a4))) / a0))

    return _tdpsd(s, q)


def irf(s: WindowedSignal) -> np.ndarray:
    """Irregularity factor: ``log| m2 / sqrt(m0 m4) |``, combined as in :func:`m0`."""

    def q(w: WindowedSignal) -> np.ndarray:
        a0, a2, a4 = _moments(w)
        return np.log(np.abs(a2 / np.sqrt(a0 * a4)))

    return _tdpsd(s, q)


def wlf(s: WindowedSignal) -> np.ndarray:
    """Waveform length factor: ``log sqrt(sum|d| / sum|dd|)``, combined as in :func:`m0`."""

    def q(w: WindowedSignal) -> np.ndarray:
        return 0.5 * np.log(w.sum_abs_d1 / w.sum_abs_d2)

    return _tdpsd(s, q)


# --- autoregressive model and cepstrum ---------------------------------------------------------------


def ar(s: WindowedSignal) -> np.ndarray:
    """Autoregressive coefficients of order 4 by the autocorrelation (Yule-Walker) method.

    With the biased autocorrelation ``r_k = sum_n x_n x_{n+k}`` of the window (no mean removed), solve the
    Toeplitz system ``R phi = r_{1..p}``, ``R_ij = r_|i-j|``, for the predictor
    ``x_n ~ sum_k phi_k x_{n-k}``, by the Levinson-Durbin recursion (exact for this system; Durbin 1960).
    Returned as the prediction-error filter ``a_k = -phi_k`` (the sign of MATLAB's ``lpc``:
    ``x_n + a_1 x_{n-1} + ... + a_p x_{n-p} = e_n``). Output (..., n_windows, C, 4).
    An all-zero window gets ``a = 0``.
    """
    if "ar" in s.cache:
        return s.cache["ar"]
    p = AR_ORDER
    x = s.x
    r = [s.sum_sq] + [s.sum(x[..., k:, :] * x[..., :-k, :], lag=k) for k in range(1, p + 1)]
    # The biased autocorrelation matrix of a window is positive definite unless the window is all zeros
    # (its spectrum |X(f)|^2 vanishes at finitely many f only); those get r_0 = 1, so a = 0.
    error = np.where(r[0] == 0, 1.0, r[0])  # prediction error power E, (..., n_windows, C)
    a: list[np.ndarray] = []  # a_1 .. a_k of the order-k prediction-error filter
    for k in range(1, p + 1):
        reflection = -(r[k] + sum(a[j - 1] * r[k - j] for j in range(1, k))) / error
        a = [a[j - 1] + reflection * a[k - j - 1] for j in range(1, k)] + [reflection]
        error = error * (1.0 - reflection * reflection)
    s.cache["ar"] = result = np.stack(a, axis=-1)  # (..., n_windows, C, p)
    return result


def cc(s: WindowedSignal) -> np.ndarray:
    """Cepstral coefficients of order 4 from the AR coefficients ``a_k`` of :func:`ar`.

    ``c_1 = -a_1``; ``c_p = -a_p - sum_{l=1}^{p-1} (1 - l/p) a_p c_{p-l}`` as printed in Phinyomark et al.
    (2012) and computed by the MATLAB reference. Note the factor ``a_p`` (not the textbook LPC-cepstrum
    ``a_l``). Output (..., n_windows, C, 4).
    """
    a = ar(s)
    c = np.zeros_like(a)
    for p in range(1, AR_ORDER + 1):
        acc = np.zeros_like(a[..., 0])
        for lag in range(1, p):
            acc += (1 - lag / p) * a[..., p - 1] * c[..., p - lag - 1]
        c[..., p - 1] = -a[..., p - 1] - acc
    return c
