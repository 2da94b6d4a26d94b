"""The depth-wise 3D convolution's weight gradient as one compiled loop (`compiled_depthwise_weight_grad`).

`myovision.models.conv3d.DepthwiseConv3d` calls it on CPU when numba is installed: it reads the padded input
and the output gradient once per position, channels innermost, where the per-tap torch formulation writes and
re-reads a product tensor for each of the T_k K K taps (4-9x slower on the lip-reading front-ends' maps, and
4-7x faster than oneDNN's own depth-wise weight gradient on 11 x 11 to 22 x 22 maps; one thread).
"""

from __future__ import annotations

import numpy as np

from myovision.jit import compiled


def depthwise_weight_grad(x_padded: np.ndarray, grad: np.ndarray, kt: int, kh: int, kw: int) -> np.ndarray:
    """dL/dw[i, j, m, c] = sum over (b, t, h, w) of x_padded[b, t+i, h+j, w+m, c] * grad[b, t, h, w, c].

    x_padded (B, T + kt - 1, H + kh - 1, W + kw - 1, C) and grad (B, T, H, W, C), both channels innermost
    (stride 1) -> (kt, kh, kw, C) float64. Each frame's products are summed in the input's precision, the
    frames' sums in float64 (a float32 sum over a whole batch of videos would lose digits).
    """
    n_batch, n_time, height, width, channels = grad.shape
    total = np.zeros((kt, kh, kw, channels), np.float64)
    frame = np.empty((kt, kh, kw, channels), grad.dtype)
    for b in range(n_batch):
        for t in range(n_time):
            frame[:] = 0
            for h in range(height):
                for w in range(width):
                    for i in range(kt):
                        for j in range(kh):
                            for m in range(kw):
                                for c in range(channels):
                                    frame[i, j, m, c] += x_padded[b, t + i, h + j, w + m, c] * grad[b, t, h, w, c]
            total += frame
    return total


def compiled_depthwise_weight_grad():
    """The numba-compiled :func:`depthwise_weight_grad` (cached on disk), or None when numba is not installed."""
    return compiled(depthwise_weight_grad)
