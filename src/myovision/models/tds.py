"""emg2qwerty's TDS-conv CTC model (Sivakumar et al. 2024), loading Meta's released checkpoints as they are.

Input: log spectrograms ``(T, N, bands=2, electrodes=16, freq=33)`` (``myovision.signals.log_spectrogram``
of 2 kHz sEMG: 125 frames/s). Output: log-probabilities ``(T', N, 99)`` over the emg2qwerty character set
(blank = 98), ``T' = T - blocks * (kernel_width - 1)`` (valid temporal convolutions: 4 x 31 = 124 frames).

Layers (``model.0`` .. ``model.5``, the state-dict keys of Meta's Lightning checkpoints):

0. :class:`SpectrogramNorm`: BatchNorm2d over the 32 electrode channels (statistics over batch, freq, time);
1. :class:`MultiBandRotationInvariantMLP`: per band, Linear(16 x 33 = 528 -> 384) + ReLU applied to the
   electrodes rolled by -1, 0, +1 and averaged, so a band rotated by one electrode gives nearly the same
   features;
2. flatten the two bands: 768 features;
3. :class:`TDSConvEncoder`: 4 x (TDS conv block: 24 channels x 32 wide, temporal kernel 32, ReLU, residual,
   LayerNorm; then a fully connected block: Linear-ReLU-Linear, residual, LayerNorm) (Hannun et al. 2019);
4. Linear 768 -> 99; 5. log-softmax. 5,293,315 parameters.

>>> m = tds_conv_ctc()
>>> sum(p.numel() for p in m.parameters())
5293315
>>> tuple(m(torch.zeros(200, 1, 2, 16, 33)).shape)
(76, 1, 99)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from myovision.registry import register_model

NUM_CLASSES = 99  # 98 keys + CTC blank (myovision.data.charset)


class SpectrogramNorm(nn.Module):
    """BatchNorm2d per electrode channel of ``(T, N, bands, C, freq)``; statistics over (N, freq, T)."""

    def __init__(self, channels: int):
        super().__init__()
        self.batch_norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n, bands, c, freq = x.shape
        y = x.movedim(0, -1).reshape(n, bands * c, freq, t)  # (N, bands * C, freq, T)
        y = self.batch_norm(y)
        return y.reshape(n, bands, c, freq, t).movedim(-1, 0)  # (T, N, bands, C, freq)


class RotationInvariantMLP(nn.Module):
    """MLP on one band ``(T, N, C, ...)`` with electrodes rolled by each offset, pooled: ``(T, N, features)``."""

    def __init__(self, in_features: int, mlp_features: Sequence[int], offsets: Sequence[int] = (-1, 0, 1),
                 pooling: str = "mean"):
        super().__init__()
        layers: list[nn.Module] = []
        for width in mlp_features:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            in_features = width
        self.mlp = nn.Sequential(*layers)
        self.offsets, self.pooling = tuple(offsets) or (0,), pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rolled = torch.stack([x.roll(o, dims=2) for o in self.offsets], dim=2)  # (T, N, rotation, C, ...)
        y = self.mlp(rolled.flatten(start_dim=3))  # (T, N, rotation, features)
        return y.amax(dim=2) if self.pooling == "max" else y.mean(dim=2)


class MultiBandRotationInvariantMLP(nn.Module):
    """One :class:`RotationInvariantMLP` per band: ``(T, N, bands, C, freq) -> (T, N, bands, features)``."""

    def __init__(self, in_features: int, mlp_features: Sequence[int], num_bands: int = 2,
                 offsets: Sequence[int] = (-1, 0, 1)):
        super().__init__()
        self.mlps = nn.ModuleList(RotationInvariantMLP(in_features, mlp_features, offsets) for _ in range(num_bands))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != len(self.mlps):
            raise ValueError(f"expected {len(self.mlps)} bands in dim 2 of (T, N, bands, C, freq), got {tuple(x.shape)}")
        return torch.stack([mlp(band) for mlp, band in zip(self.mlps, x.unbind(2))], dim=2)


class TDSConv2dBlock(nn.Module):
    """Time-depth-separable conv over ``(T, N, channels * width)`` (Hannun et al. 2019): conv over time per
    width position, ReLU, residual (the last ``T'`` input frames), LayerNorm.

    dropout None: emg2qwerty's block, a valid convolution (``T' = T - kernel_width + 1``). A rate: the CNN+BiLSTM
    study's ``TDSConv2dBlockWithDropout``, dropout after the ReLU and the convolution padded by
    ``(kernel_width - 1) // 2`` frames each side (``T' = T - 1`` for an even kernel, ``T`` for an odd one).
    """

    def __init__(self, channels: int, width: int, kernel_width: int, dropout: float | None = None):
        super().__init__()
        self.channels, self.width = channels, width
        pad = 0 if dropout is None else (kernel_width - 1) // 2
        self.drop = kernel_width - 1 - 2 * pad  # frames the convolution drops: T - T'
        self.conv2d = nn.Conv2d(channels, channels, kernel_size=(1, kernel_width), padding=(0, pad))
        self.relu = nn.ReLU()
        self.dropout = nn.Identity() if dropout is None else nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(channels * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, features = x.shape[1:]
        y = x.movedim(0, -1).reshape(n, self.channels, self.width, -1)  # (N, channels, width, T)
        y = self.dropout(self.relu(self.conv2d(y)))  # (N, channels, width, T')
        y = y.reshape(n, features, -1).movedim(-1, 0)  # (T', N, features)
        return self.layer_norm(y + x[self.drop:])  # residual: the last T' input frames


class TDSFullyConnectedBlock(nn.Module):
    """Linear-ReLU-Linear with a residual and LayerNorm over ``(T, N, features)``; with ``dropout`` (the study's
    ``TDSFullyConnectedBlockWithDropout``) Linear-ReLU-Dropout-Linear."""

    def __init__(self, num_features: int, dropout: float | None = None):
        super().__init__()
        middle = [nn.ReLU()] if dropout is None else [nn.ReLU(), nn.Dropout(dropout)]
        self.fc_block = nn.Sequential(nn.Linear(num_features, num_features), *middle,
                                      nn.Linear(num_features, num_features))
        self.layer_norm = nn.LayerNorm(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_norm(self.fc_block(x) + x)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation over the features of ``(T, N, F)`` (Hu et al. 2018) as the CNN+BiLSTM study's
    ``SqueezeExcite``: gate = sigmoid(W2 relu(W1 mean_T(x))), bias-free ``W1: F -> max(F // reduction, 4)``,
    ``W2`` back to ``F``; each feature of every frame is scaled by its gate."""

    def __init__(self, features: int, reduction: int = 8):
        super().__init__()
        reduced = max(features // reduction, 4)
        self.fc = nn.Sequential(nn.Linear(features, reduced, bias=False), nn.ReLU(),
                                nn.Linear(reduced, features, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=0))  # (T, N, F) * (N, F)


class TDSConvEncoder(nn.Module):
    """Per entry of ``block_channels``: a :class:`TDSConv2dBlock`, with ``se_reduction`` a
    :class:`SqueezeExcitation` (the study's ``TDSConvEncoderWithDropoutSE``), then a
    :class:`TDSFullyConnectedBlock`. ``dropout`` None is emg2qwerty's encoder; a rate is the study's."""

    def __init__(self, num_features: int, block_channels: Sequence[int] = (24, 24, 24, 24), kernel_width: int = 32,
                 dropout: float | None = None, se_reduction: int | None = None):
        super().__init__()
        blocks: list[nn.Module] = []
        for channels in block_channels:
            if num_features % channels:
                raise ValueError(f"block channels {channels} must divide the {num_features} features")
            blocks.append(TDSConv2dBlock(channels, num_features // channels, kernel_width, dropout))
            if se_reduction is not None:
                blocks.append(SqueezeExcitation(num_features, se_reduction))
            blocks.append(TDSFullyConnectedBlock(num_features, dropout))
        self.tds_conv_blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tds_conv_blocks(x)


class CTCModel(nn.Module):
    """A typing model: ``model`` (an nn.Sequential) maps ``(T, N, 2, 16, freq)`` to log-probabilities ``(T', N, classes)``."""

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"expected log spectrograms (T, N, bands, electrodes, freq), got {tuple(x.shape)}")
        return self.model(x)


def tds_front(*, in_features: int = 528, mlp_features: Sequence[int] = (384,), electrode_channels: int = 16,
              num_bands: int = 2) -> list[nn.Module]:
    """Spectrogram norm, rotation-invariant MLP per band and flatten: ``(T, N, 2, 16, 33) -> (T, N, 2 * mlp)``."""
    return [SpectrogramNorm(num_bands * electrode_channels),
            MultiBandRotationInvariantMLP(in_features, mlp_features, num_bands),
            nn.Flatten(start_dim=2)]


@register_model("tds_conv_ctc")
def tds_conv_ctc(*, in_features: int = 528, mlp_features: Sequence[int] = (384,),
                 block_channels: Sequence[int] = (24, 24, 24, 24), kernel_width: int = 32,
                 electrode_channels: int = 16, num_bands: int = 2, num_classes: int = NUM_CLASSES) -> CTCModel:
    """emg2qwerty's TDSConvCTC (module docstring); the defaults are the released model's."""
    num_features = num_bands * mlp_features[-1]
    return CTCModel([*tds_front(in_features=in_features, mlp_features=mlp_features,
                                electrode_channels=electrode_channels, num_bands=num_bands),
                     TDSConvEncoder(num_features, block_channels, kernel_width),
                     nn.Linear(num_features, num_classes),
                     nn.LogSoftmax(dim=-1)])
