"""Entropy sEMG features: sample entropy (SAMPEN) and fuzzy entropy (FUZZYEN), embedding dimension 2.

Both compare every embedded pattern of a window with every other, so they cost ``O(N^2)`` per window
and channel. The pairwise work is vectorised over windows and channels and done in blocks of windows
that keep the temporaries near :data:`BLOCK_BYTES`. Definitions follow the LibEMG MATLAB reference
(Eddy et al. 2023); see each function for the choices it makes.
"""

from __future__ import annotations

import numpy as np

from myovision.signals.features_windowing import EPS, WindowedSignal

DIM = 2  # embedding dimension m; patterns of m and m + 1 samples are compared
TOLERANCE = 0.3  # similarity tolerance, in standard deviations
FUZZY_POWER = 2  # exponent of the distance in the fuzzy membership exp(-d^2 / r) (fixed)
BLOCK_BYTES = 2 * 2**20  # budget for the pairwise temporaries of one block (small: they stay in cache)


def _blocked(rows: np.ndarray, fn, *extra: np.ndarray) -> np.ndarray:
    """Apply ``fn(block, *extra_block)`` to blocks of rows of ``rows`` (M, N) -> (M,), bounded memory."""
    n = rows.shape[-1]
    per_block = max(1, BLOCK_BYTES // (8 * 4 * n * n))
    out = np.empty(rows.shape[0])
    for start in range(0, rows.shape[0], per_block):
        stop = start + per_block
        out[start:stop] = fn(rows[start:stop], *(e[start:stop] for e in extra))
    return out


def _pattern_parts(pair: np.ndarray, m: int, n: int) -> list[np.ndarray]:
    """Component ``k`` of a pairwise sample quantity, for every template/pattern pair of m-sample patterns.

    ``pair[b, i, j]`` relates samples ``i`` and ``j`` (e.g. ``x_i - x_j``), (B, N, N) -> m views
    (B, N - m, N - m + 1): the first ``N - m`` patterns (the templates) against all ``N - m + 1``;
    view ``k`` holds ``pair[b, i + k, j + k]``.
    """
    return [pair[:, k : k + n - m, k : k + n - m + 1] for k in range(m)]


def _sampen_rows(rows: np.ndarray) -> np.ndarray:
    n = rows.shape[-1]
    close = np.abs(rows[:, :, None] - rows[:, None, :]) <= TOLERANCE  # (B, N, N): samples within r
    means = []
    for m in (DIM, DIM + 1):
        parts = _pattern_parts(close, m, n)  # Chebyshev distance <= r  <=>  every component within r
        match = parts[0].copy()
        for part in parts[1:]:
            match &= part
        matches = match.sum(axis=(-1, -2)) / (n - m) - 1  # mean over templates, self-match removed
        means.append(matches / (n - DIM - 1))
    return np.log((means[0] + EPS) / (means[1] + EPS))


def sampen(s: WindowedSignal) -> np.ndarray:
    """Sample entropy, ``m = 2``, ``r = 0.3``, on each window standardised to zero mean and unit sample std.

    The sample std (``N - 1``) matters on integer-valued data: with a window std near 10, a step of 3
    is within ``0.3 * std`` under ``N - 1`` and outside it under ``N``; the MATLAB reference uses ``N - 1``.

    ``B`` (``A``) is the mean, over the first ``N - m`` (``N - m - 1``) templates of length ``m`` (``m+1``),
    of the number of other patterns within Chebyshev distance ``r``, both divided by ``N - m - 1``;
    ``SAMPEN = log((B + eps) / (A + eps))``.
    """
    w = s.windows
    z = (w - w.mean(axis=-1, keepdims=True)) / w.std(axis=-1, ddof=1, keepdims=True)  # (..., n_windows, C, N)
    return _blocked(z.reshape(-1, s.window), _sampen_rows).reshape(z.shape[:-1])


def _fuzzyen_rows(rows: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    n = rows.shape[-1]
    diff = rows[:, :, None] - rows[:, None, :]  # (B, N, N)
    scale = (-1.0 / tolerance)[:, None, None]  # (B, 1, 1)
    phis = []
    for m in (DIM, DIM + 1):
        parts = _pattern_parts(diff, m, n)  # m x (B, N-m, N-m+1)
        centre = sum(parts[1:], parts[0].copy()) / m  # removing each pattern's mean = removing this
        dist = np.abs(parts[0] - centre)  # Chebyshev distance of the mean-removed patterns
        for part in parts[1:]:
            np.maximum(dist, np.abs(part - centre), out=dist)
        np.square(dist, out=dist)  # FUZZY_POWER == 2
        np.exp(np.multiply(dist, scale, out=dist), out=dist)  # membership exp(-d^2 / r)
        mean_similarity = dist.sum(axis=(-1, -2)) / (n - m)  # mean over templates
        phis.append((mean_similarity - 1) / (n - m - 1))  # self-similarity removed
    return np.log((phis[0] + EPS) / (phis[1] + EPS))


def fuzzyen(s: WindowedSignal) -> np.ndarray:
    """Fuzzy entropy, ``m = 2``, membership ``exp(-d^2 / r)`` between mean-removed patterns.

    ``r = 0.3 * std(x)`` where ``std`` is the sample std (``N - 1``) of the whole input channel, not of
    the window: the MATLAB reference sets one tolerance per channel from the full recording, so a
    window's value depends on the signal around it. ``phi_m`` is the mean over the first ``N - m``
    templates of ``(sum_j exp(-d_ij^2 / r) - 1) / (N - m - 1)``; ``FUZZYEN = log((phi_m + eps) / (phi_{m+1} + eps))``.
    """
    tolerance = TOLERANCE * s.x.std(axis=-2, ddof=1)  # (..., C)
    tolerance = np.broadcast_to(tolerance[..., None, :], s.windows.shape[:-1])  # (..., n_windows, C)
    rows = s.materialised().reshape(-1, s.window)  # (M, N)
    return _blocked(rows, _fuzzyen_rows, tolerance.reshape(-1)).reshape(s.windows.shape[:-1])
