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
    return s.sum_abs / s.window


def iav(s: WindowedSignal) -> np.ndarray:
    """Integrated absolute value (also IEMG): ``IAV = sum |x_n| = N * MAV``."""
    return s.sum_abs


def rms(s: WindowedSignal) -> np.ndarray:
    """Root mean square: ``RMS = sqrt((1/N) sum x_n^2)``."""
    return np.sqrt(s.sum_sq / s.window)


def var(s: WindowedSignal) -> np.ndarray:
    """Variance of EMG: ``VAR = (1/N) sum x_n^2``.

    The EMG literature takes the signal as zero-mean, so the mean is not subtracted; the MATLAB reference
    also divides by ``N`` (Phinyomark et al. write ``N - 1``). Hence ``VAR == RMS**2`` exactly.
    """
    return s.sum_sq / s.window


def wl(s: WindowedSignal) -> np.ndarray:
    """Waveform length: ``WL = sum_{n<N-1} |x_{n+1} - x_n|``."""
    return s.sum_abs_d1


def mavfd(s: WindowedSignal) -> np.ndarray:
    """Mean absolute value of the first difference: ``MAVFD = WL / (N - 1)``."""
    return s.sum_abs_d1 / (s.window - 1)


def mfl(s: WindowedSignal) -> np.ndarray:
    """Maximum fractal length: ``MFL = log10(sum |x_{n+1} - x_n|) = log10(WL)``."""
    return np.log10(wl(s))


def dasdv(s: WindowedSignal) -> np.ndarray:
    """Difference absolute standard deviation value: ``DASDV = sqrt((1/(N-1)) sum d_n^2)``."""
    return np.sqrt(s.sum_sq_d1 / (s.window - 1))


def mzp(s: WindowedSignal) -> np.ndarray:
    """Multiplication of power and peaks term: ``MZP = sqrt((1/N) sum d_n^2)`` (divided by ``N``, not ``N-1``)."""
    return np.sqrt(s.sum_sq_d1 / s.window)


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
    return s.sum((s.abs_d1 > WAMP_THRESHOLD).astype(np.float64), lag=1)


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
    weights = (2.0 * np.arange(1, n + 1) - n - 1) / (n * (n - 1))  # (N,)
    return s.map_chunks(lambda w: np.sort(w, axis=-1) @ weights)  # sorted (..., rows, C, N) -> (..., rows, C)


def skew(s: WindowedSignal) -> np.ndarray:
    """Skewness (biased): ``m3 / m2^1.5`` with central moments ``m_k = (1/N) sum (x_n - mean)^k``."""
    m2, m3, _ = central_moments(s)
    return m3 / (m2 * np.sqrt(m2))


def kurt(s: WindowedSignal) -> np.ndarray:
    """Kurtosis (biased, Pearson, not excess): ``m4 / m2^2`` (3 for a Gaussian)."""
    m2, _, m4 = central_moments(s)
    return m4 / (m2 * m2)


def central_moments(s: WindowedSignal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central moments ``m_k = (1/N) sum (x_n - mean)^k``, k = 2, 3, 4, of every window, each (..., n_windows, C).

    Stable one-pass form: each block of ``step`` samples gets its mean and centred power sums (two passes
    inside the block), and a window's blocks are merged with the pairwise update of Pebay (2008), "Formulas
    for robust, one-pass parallel computation of covariances and arbitrary-order statistical moments"
    (Sandia SAND2008-6212). Raw power sums would cancel catastrophically on an offset or drifting signal.
    """
    if "central_moments" in s.cache:
        return s.cache["central_moments"]
    n, step = s.n_windows, s.step
    whole, rest = divmod(s.window, step)
    parts = []  # (count, mean, M2, M3, M4) of each part of a window, arrays (..., n_windows, C)
    if whole:
        n_blocks = n - 1 + whole
        blocks = s.x[..., : n_blocks * step, :].reshape(*s.x.shape[:-2], n_blocks, step, s.x.shape[-1])
        stats = _power_sums(blocks, axis=-2)  # each (..., n_blocks, C)
        parts = [(step, *(v[..., j : j + n, :] for v in stats)) for j in range(whole)]
    if rest:
        tail = np.lib.stride_tricks.sliding_window_view(s.x[..., whole * step :, :], rest, axis=-2)
        parts.append((rest, *_power_sums(tail[..., ::step, :, :][..., :n, :, :], axis=-1)))
    count, mean, m2, m3, m4 = parts[0]
    for count_b, mean_b, m2_b, m3_b, m4_b in parts[1:]:
        total = count + count_b
        delta = mean_b - mean
        dn = delta / total
        ab = count * count_b
        m4 = (m4 + m4_b + delta * dn**3 * ab * (count**2 - ab + count_b**2)
              + 6 * dn * dn * (count**2 * m2_b + count_b**2 * m2) + 4 * dn * (count * m3_b - count_b * m3))
        m3 = m3 + m3_b + delta * dn * dn * ab * (count - count_b) + 3 * dn * (count * m2_b - count_b * m2)
        m2 = m2 + m2_b + delta * dn * ab
        mean = mean + count_b * dn
        count = total
    s.cache["central_moments"] = result = (m2 / count, m3 / count, m4 / count)
    return result


def _power_sums(values: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Mean and centred power sums ``sum c^2, sum c^3, sum c^4`` along ``axis`` (two-pass, no pow)."""
    mean = values.mean(axis=axis)
    centred = values - np.expand_dims(mean, axis)
    c2 = centred * centred
    return mean, c2.sum(axis=axis), (c2 * centred).sum(axis=axis), (c2 * c2).sum(axis=axis)


def ld(s: WindowedSignal) -> np.ndarray:
    """Log detector: ``LD = exp((1/N) sum log(|x_n| + 1))`` (the +1 keeps zero samples finite)."""
    return np.exp(s.mean(np.log1p(s.abs)))


def mavslp(s: WindowedSignal) -> np.ndarray:
    """Mean absolute value slope, two segments: ``MAV(second half) - MAV(first half)``.

    The segment length is ``m = round(N / 2)`` (halves rounded away from zero, as MATLAB's ``round``);
    the second segment is samples ``[m, min(2m, N))``.
    """
    m = int(np.floor(s.window / 2 + 0.5))
    second = min(2 * m, s.window) - m
    return s.reduce(s.abs, m, second) / second - s.reduce(s.abs, 0, m) / m


def mpk(s: WindowedSignal) -> np.ndarray:
    """Maximum peak: the largest sample value ``max_n x_n`` (signed, not ``max |x_n|``)."""
    return s.reduce(s.x, 0, s.window, np.maximum)


def tm(s: WindowedSignal) -> np.ndarray:
    """Absolute temporal moment of order 3: ``TM = (1/N) sum |x_n|^3``."""
    a = s.abs
    return s.mean(a * a * a)  # TM_ORDER == 3, without libm pow


def pap(s: WindowedSignal) -> np.ndarray:
    """Peak average power: ``PAP = m0 / (m4 / m2)`` with ``m0 = sqrt(sum x^2)``, ``m2 = sqrt(sum d^2)``,
    ``m4 = sqrt(sum dd^2)``."""
    return np.sqrt(s.sum_sq) * np.sqrt(s.sum_sq_d1) / np.sqrt(s.sum_sq_d2)


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
    return _phasor(wl(s), s.sum_abs_d2)
