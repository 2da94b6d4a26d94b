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


def _power(s: WindowedSignal) -> np.ndarray:
    """One-sided power ``P_k``, ``(..., n_windows, C, nfft/2)``."""
    nfft = 1 << (s.window - 1).bit_length()  # next power of two >= N
    spectrum = np.fft.rfft(s.windows, n=nfft, axis=-1)[..., : nfft // 2] / s.window  # (..., n_windows, C, nfft/2)
    return spectrum.real**2 + spectrum.imag**2


def _power_spectrum(s: WindowedSignal, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power ``(..., n_windows, C, nfft/2)`` and its frequency axis ``(nfft/2,)`` in Hz."""
    power = _power(s)
    return power, np.linspace(0.0, fs / 2, power.shape[-1])


def mnf(s: WindowedSignal, fs: float) -> np.ndarray:
    """Mean frequency: ``MNF = sum_k f_k P_k / sum_k P_k`` (Hz)."""
    power, freq = _power_spectrum(s, fs)
    return power @ freq / power.sum(axis=-1)


def mdf(s: WindowedSignal, fs: float) -> np.ndarray:
    """Median frequency: the first ``f_k`` whose cumulative power exceeds half of the total (Hz)."""
    power, freq = _power_spectrum(s, fs)
    cumulative = np.cumsum(power, axis=-1)
    total = cumulative[..., -1]
    first = np.argmax(cumulative > total[..., None] / 2, axis=-1)  # (..., n_windows, C)
    return np.where(total > 0, freq[first], np.nan)  # undefined (like MNF) for an all-zero window


def mnp(s: WindowedSignal) -> np.ndarray:
    """Mean power: ``MNP = (1 / (nfft/2)) sum_k P_k`` (no frequency axis, so no sample rate)."""
    power = _power(s)
    return power.mean(axis=-1)


def sm(s: WindowedSignal, fs: float) -> np.ndarray:
    """Spectral moment of order 2: ``SM = sum_k P_k f_k^2`` (power times Hz^2)."""
    power, freq = _power_spectrum(s, fs)
    return power @ freq**SM_ORDER


# --- TDPSD (Al-Timemy et al. 2016): spectral moments from the time domain, via Parseval ---------------


def _moments(s: WindowedSignal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power-compressed root moments ``m0, m2, m4`` of each window, ``v -> v**0.1 / 0.1``.

    ``m0 = sqrt(sum x^2) / (N-1)``, ``m2 = sqrt(sum d^2 / (N-1))``, ``m4 = sqrt(sum dd^2 / (N-1))``
    (the reference divides ``m0`` outside the root and ``m2``, ``m4`` inside; kept as is).
    """
    n1 = s.window - 1
    m0 = np.sqrt(s.sum(s.sq)) / n1
    m2 = np.sqrt(s.sum(s.d1 * s.d1, lag=1) / n1)
    m4 = np.sqrt(s.sum(s.d2 * s.d2, lag=2) / n1)
    return m0**0.1 / 0.1, m2**0.1 / 0.1, m4**0.1 / 0.1


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
        return 0.5 * np.log(w.sum(np.abs(w.d1), lag=1) / w.sum(np.abs(w.d2), lag=2))

    return _tdpsd(s, q)


# --- autoregressive model and cepstrum ---------------------------------------------------------------


def ar(s: WindowedSignal) -> np.ndarray:
    """Autoregressive coefficients of order 4 by the autocorrelation (Yule-Walker) method.

    With the biased autocorrelation ``r_k = sum_n x_n x_{n+k}`` of the window (no mean removed), solve the
    Toeplitz system ``R phi = r_{1..p}``, ``R_ij = r_|i-j|``, for the predictor
    ``x_n ~ sum_k phi_k x_{n-k}``. Returned as the prediction-error filter ``a_k = -phi_k`` (the sign
    of MATLAB's ``lpc``: ``x_n + a_1 x_{n-1} + ... + a_p x_{n-p} = e_n``). Output (..., n_windows, C, 4).
    An all-zero window gets ``a = 0``.
    """
    p = AR_ORDER
    x = s.x
    lags = [s.sum(s.sq)] + [s.sum(x[..., k:, :] * x[..., :-k, :], lag=k) for k in range(1, p + 1)]
    r = np.stack(lags, axis=-1)  # (..., n_windows, C, p + 1)
    index = np.abs(np.arange(p)[:, None] - np.arange(p)[None, :])  # (p, p)
    toeplitz = r[..., index]  # (..., n_windows, C, p, p)
    rhs = r[..., 1:, None]  # (..., n_windows, C, p, 1)
    # The biased autocorrelation matrix of a window is positive definite unless the window is all zeros
    # (its spectrum |X(f)|^2 vanishes at finitely many f only); give those the identity and a zero
    # right-hand side, so every window is solved on its own terms whatever else is in the batch.
    silent = r[..., 0] == 0  # (..., n_windows, C)
    toeplitz = np.where(silent[..., None, None], np.eye(p), toeplitz)
    rhs = np.where(silent[..., None, None], 0.0, rhs)
    return -np.linalg.solve(toeplitz, rhs)[..., 0]  # (..., n_windows, C, p)


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
