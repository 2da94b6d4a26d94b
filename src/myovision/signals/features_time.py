"""Time-domain sEMG features: amplitude, counts, waveform shape, and the channel-pair phasor features.

Each function maps a :class:`WindowedSignal` over ``(..., T, C)`` to ``(..., n_windows, C)`` (or a wider
last axis where stated). ``x_n`` is sample ``n`` of one window of ``N`` samples, ``d_n = x_{n+1} - x_n`` and
``dd_n = d_{n+1} - d_n``. Definitions follow Phinyomark et al. (2012), "Feature reduction and selection for
EMG signal classification", and where those leave a choice open, the MATLAB reference of LibEMG
(Eddy et al. 2023) that ``tests/signals/test_features.py`` checks against.
"""

from __future__ import annotations

import numpy as np

from myovision.signals.features_windowing import WindowedSignal

# Willison amplitude threshold, in signal units (LibEMG's default; any value in (0, 1) counts every
# non-zero step of integer-valued Myo data).
WAMP_THRESHOLD = 2e-3
# Order of the absolute temporal moment TM.
TM_ORDER = 3


def mav(s: WindowedSignal) -> np.ndarray:
    """Mean absolute value: ``MAV = (1/N) sum |x_n|``."""
    return s.mean(np.abs(s.x))


def iav(s: WindowedSignal) -> np.ndarray:
    """Integrated absolute value (also IEMG): ``IAV = sum |x_n| = N * MAV``."""
    return s.sum(np.abs(s.x))


def rms(s: WindowedSignal) -> np.ndarray:
    """Root mean square: ``RMS = sqrt((1/N) sum x_n^2)``."""
    return np.sqrt(s.mean(s.sq))


def var(s: WindowedSignal) -> np.ndarray:
    """Variance of EMG: ``VAR = (1/N) sum x_n^2``.

    The EMG literature takes the signal as zero-mean, so the mean is not subtracted; the MATLAB reference
    also divides by ``N`` (Phinyomark et al. write ``N - 1``). Hence ``VAR == RMS**2`` exactly.
    """
    return s.mean(s.sq)


def wl(s: WindowedSignal) -> np.ndarray:
    """Waveform length: ``WL = sum_{n<N-1} |x_{n+1} - x_n|``."""
    return s.sum(np.abs(s.d1), lag=1)


def mavfd(s: WindowedSignal) -> np.ndarray:
    """Mean absolute value of the first difference: ``MAVFD = WL / (N - 1)``."""
    return s.mean(np.abs(s.d1), lag=1)


def mfl(s: WindowedSignal) -> np.ndarray:
    """Maximum fractal length: ``MFL = log10(sum |x_{n+1} - x_n|) = log10(WL)``."""
    return np.log10(wl(s))


def dasdv(s: WindowedSignal) -> np.ndarray:
    """Difference absolute standard deviation value: ``DASDV = sqrt((1/(N-1)) sum d_n^2)``."""
    return np.sqrt(s.mean(s.d1 * s.d1, lag=1))


def mzp(s: WindowedSignal) -> np.ndarray:
    """Multiplication of power and peaks term: ``MZP = sqrt((1/N) sum d_n^2)`` (divided by ``N``, not ``N-1``)."""
    return np.sqrt(s.sum(s.d1 * s.d1, lag=1) / s.window)


def zc(s: WindowedSignal) -> np.ndarray:
    """Zero crossings: number of ``n`` with ``sign(x_n)`` and ``sign(x_{n+1})`` strictly opposite.

    No amplitude threshold; a sample exactly at zero breaks a crossing (``+, 0, -`` counts none).
    """
    sign = np.sign(s.x)
    return s.sum((sign[..., 1:, :] * sign[..., :-1, :] < 0).astype(np.float64), lag=1)


def ssc(s: WindowedSignal) -> np.ndarray:
    """Slope sign changes: number of ``n`` with ``(x_n - x_{n-1}) * (x_n - x_{n+1}) >= 0`` (threshold 0).

    The comparison is ``>=``, so flat stretches (equal neighbours) count as slope changes.
    """
    x = s.x
    turn = (x[..., 1:-1, :] - x[..., :-2, :]) * (x[..., 1:-1, :] - x[..., 2:, :]) >= 0  # (..., T - 2, C)
    return s.sum(turn.astype(np.float64), lag=2)


def wamp(s: WindowedSignal) -> np.ndarray:
    """Willison amplitude: number of ``n`` with ``|x_{n+1} - x_n| > WAMP_THRESHOLD``."""
    return s.sum((np.abs(s.d1) > WAMP_THRESHOLD).astype(np.float64), lag=1)


def msr(s: WindowedSignal) -> np.ndarray:
    """Mean square root: ``MSR = |(1/N) sum sqrt(x_n)|`` with the complex root (``sqrt(-a) = i sqrt(a)``).

    Computed without complex numbers as ``hypot(sum sqrt(max(x, 0)), sum sqrt(max(-x, 0))) / N``.
    """
    real = s.sum(np.sqrt(np.maximum(s.x, 0.0)))
    imag = s.sum(np.sqrt(np.maximum(-s.x, 0.0)))
    return np.hypot(real, imag) / s.window


def ls(s: WindowedSignal) -> np.ndarray:
    """L-scale (LS): the second sample L-moment, ``l2 = 2 b1 - b0`` of the sorted window.

    With ``x_(1) <= ... <= x_(N)``: ``b0 = mean(x)``, ``b1 = (1/N) sum_i (i-1)/(N-1) x_(i)``, i.e.
    ``LS = (1/(N(N-1))) sum_i (2i - N - 1) x_(i)`` (half the mean absolute difference between samples).
    """
    n = s.window
    ordered = np.sort(s.windows, axis=-1)  # (..., n_windows, C, N)
    weights = (2.0 * np.arange(1, n + 1) - n - 1) / (n * (n - 1))  # (N,)
    return ordered @ weights


def skew(s: WindowedSignal) -> np.ndarray:
    """Skewness (biased): ``m3 / m2^1.5`` with central moments ``m_k = (1/N) sum (x_n - mean)^k``."""
    centred = s.windows - s.windows.mean(axis=-1, keepdims=True)  # (..., n_windows, C, N)
    m2 = np.mean(centred**2, axis=-1)
    return np.mean(centred**3, axis=-1) / m2**1.5


def kurt(s: WindowedSignal) -> np.ndarray:
    """Kurtosis (biased, Pearson, not excess): ``m4 / m2^2`` (3 for a Gaussian)."""
    centred = s.windows - s.windows.mean(axis=-1, keepdims=True)  # (..., n_windows, C, N)
    m2 = np.mean(centred**2, axis=-1)
    return np.mean(centred**4, axis=-1) / m2**2


def ld(s: WindowedSignal) -> np.ndarray:
    """Log detector: ``LD = exp((1/N) sum log(|x_n| + 1))`` (the +1 keeps zero samples finite)."""
    return np.exp(s.mean(np.log1p(np.abs(s.x))))


def mavslp(s: WindowedSignal) -> np.ndarray:
    """Mean absolute value slope, two segments: ``MAV(second half) - MAV(first half)``.

    The segment length is ``m = round(N / 2)`` (halves rounded away from zero, as MATLAB's ``round``);
    the second segment is samples ``[m, min(2m, N))``.
    """
    m = int(np.floor(s.window / 2 + 0.5))
    a = np.abs(s.windows)  # (..., n_windows, C, N) view of a full-signal array
    return a[..., m : 2 * m].mean(axis=-1) - a[..., :m].mean(axis=-1)


def mpk(s: WindowedSignal) -> np.ndarray:
    """Maximum peak: the largest sample value ``max_n x_n`` (signed, not ``max |x_n|``)."""
    return s.windows.max(axis=-1)


def tm(s: WindowedSignal) -> np.ndarray:
    """Absolute temporal moment of order 3: ``TM = (1/N) sum |x_n|^3``."""
    return s.mean(np.abs(s.x) ** TM_ORDER)


def pap(s: WindowedSignal) -> np.ndarray:
    """Peak average power: ``PAP = m0 / (m4 / m2)`` with ``m0 = sqrt(sum x^2)``, ``m2 = sqrt(sum d^2)``,
    ``m4 = sqrt(sum dd^2)``."""
    m0 = np.sqrt(s.sum(s.sq))
    m2 = np.sqrt(s.sum(s.d1 * s.d1, lag=1))
    m4 = np.sqrt(s.sum(s.d2 * s.d2, lag=2))
    return m0 * m2 / m4


def _phasor(magnitude: np.ndarray, magnitude_delta: np.ndarray) -> np.ndarray:
    """Channel-pair phasor distances: (..., n_windows, C) twice -> (..., n_windows, n_pairs, 2)."""
    n_channels = magnitude.shape[-1]
    angle = np.exp(2j * np.pi * np.arange(n_channels) / n_channels)  # channel c sits at angle 2 pi c / C
    first, second = np.triu_indices(n_channels, k=1)  # pairs (0,1), (0,2), ..., (1,2), ...
    z, z_delta = magnitude * angle, magnitude_delta * angle
    dist = np.abs(z[..., first] - z[..., second])  # (..., n_windows, n_pairs)
    dist_delta = np.abs(z_delta[..., first] - z_delta[..., second])
    return np.stack([np.log(dist), np.log(dist / dist_delta)], axis=-1)  # (..., n_windows, n_pairs, 2)


def rmsphasor(s: WindowedSignal) -> np.ndarray:
    """RMS phasor: each channel ``c`` becomes ``RMS_c * exp(2 pi i c / C)`` (and ``DASDV_c * ...``).

    Output (..., n_windows, n_pairs, 2) over the channel pairs ``i < j`` in ``numpy.triu_indices`` order:
    ``[..., 0] = log |z_i - z_j|`` for the RMS phasors, ``[..., 1] = log(|z_i - z_j| / |w_i - w_j|)`` with
    ``w`` the phasors of the first-difference RMS (DASDV).
    """
    return _phasor(rms(s), dasdv(s))


def wlphasor(s: WindowedSignal) -> np.ndarray:
    """Waveform-length phasor: as :func:`rmsphasor` with ``WL`` of ``x`` and ``WL`` of its first difference."""
    return _phasor(wl(s), s.sum(np.abs(s.d2), lag=2))
