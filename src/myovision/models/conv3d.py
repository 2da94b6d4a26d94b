"""Single 3D convolution units of the lip-reading front-ends (Zeng, Du, Wang, "HMM-based Lip Reading with
Stingy Residual 3D Convolution", section 2.1 and Figure 2).

Every unit maps (B, C_in, T, H, W) -> (B, C_out, T, H / stride, W / stride) with "same" padding and temporal
stride 1, so a front-end keeps one feature vector per video frame. They fill the place of one 3x3 convolution
of a ResNet basic block, which adds the batch norm and ReLU after it.

| name             | unit                                                       | multiply-adds, stride 1 |
|------------------|------------------------------------------------------------|-------------------------|
| `conv3d_block`   | one T_k x K x K convolution (T_k = 1: 2D, per frame)       | eq. (4)                 |
| `p3d_block`      | P3D-A (Qiu et al. 2017): 1 x K x K, BN, ReLU, T_k x 1 x 1  | eq. (5)                 |
| `sti3d_block`    | Stingy 3D: shuffle, split, point-wise / separable halves   | eq. (6) - T D^2 C_in C_out |
| `stires3d_block` | Sti3D plus a point-wise C_in -> C_out shortcut             | eq. (6)                 |

On a T x D x D input: (4) T T_k D^2 K^2 C_in C_out; (5) T D^2 K^2 C_in C_out + T T_k D^2 C_out^2;
(6) T D^2 C_in ((3 + omega) / 2 C_out + omega / 4 C_in + omega / 2 T_k K^2).

Batch norm placement (the paper gives none; it credits StiRes3D's lower overfitting to "more batch
normalization layers" from the decomposition): inside the Stingy unit a BN follows every convolution that
is not the last of its path, with a ReLU only after the first point-wise one (no ReLU after the depth-wise
convolution, as in ShuffleNet and MobileNetV2); the summed output is normalised by the enclosing block.
Convolutions carry no bias (a BN follows each, directly or after the sum). BN and shuffles add no multiply-adds.
"""

from __future__ import annotations

import torch
from torch import nn

from myovision.registry import register_model


def conv3d_same(c_in: int, c_out: int, kernel: tuple[int, int, int], stride: int = 1, groups: int = 1) -> nn.Conv3d:
    """A bias-free Conv3d with "same" padding, spatial `stride`, temporal stride 1."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Conv3d(c_in, c_out, kernel, stride=(1, stride, stride), padding=padding, groups=groups, bias=False)


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al. 2018): (B, C, ...) -> (B, C, ...), channel g*n + i -> i*groups + g.

    >>> channel_shuffle(torch.arange(6.).reshape(1, 6, 1, 1, 1), 2).flatten().tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    b, c = x.shape[:2]
    rest = x.shape[2:]
    x = x.reshape(b, groups, c // groups, *rest)  # (B, groups, C / groups, ...)
    return x.transpose(1, 2).reshape(b, c, *rest)  # (B, C, ...), groups interleaved


class P3DUnit(nn.Sequential):
    """P3D-A: a 1 x K x K spatial convolution C_in -> C_out, BN, ReLU, then a T_k x 1 x 1 temporal one."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int = 3, kernel: int = 3, stride: int = 1):
        super().__init__(
            conv3d_same(in_channels, out_channels, (1, kernel, kernel), stride),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
            conv3d_same(out_channels, out_channels, (temporal_kernel, 1, 1)),
        )


class StingyUnit(nn.Module):
    """Sti3D / StiRes3D (the paper's Figure 2b): x (B, C_in, T, H, W) -> (B, C_out, T, H', W').

    The input channels are shuffled and split in halves. Half A: point-wise to C_out. Half B: point-wise to
    omega * C_in / 2 maps, BN, ReLU, a depth-wise T_k x K x K convolution, BN, point-wise to C_out. The two
    are summed; with `residual` (StiRes3D) a point-wise C_in -> C_out shortcut of the whole input is added.
    """

    def __init__(self, in_channels: int, out_channels: int, omega: float = 2.0, temporal_kernel: int = 3,
                 kernel: int = 3, stride: int = 1, residual: bool = True):
        super().__init__()
        if in_channels % 2:
            raise ValueError(f"a Stingy unit splits its input channels in halves; got an odd in_channels={in_channels}")
        half = in_channels // 2
        wide = round(omega * half)
        if wide < 1:
            raise ValueError(f"omega={omega} leaves no channel for the depth-wise path of {in_channels} inputs")
        self.omega = omega
        self.pointwise = conv3d_same(half, out_channels, (1, 1, 1), stride)
        self.separable = nn.Sequential(
            conv3d_same(half, wide, (1, 1, 1)),
            nn.BatchNorm3d(wide),
            nn.ReLU(inplace=True),
            conv3d_same(wide, wide, (temporal_kernel, kernel, kernel), stride, groups=wide),
            nn.BatchNorm3d(wide),
            conv3d_same(wide, out_channels, (1, 1, 1)),
        )
        self.shortcut = conv3d_same(in_channels, out_channels, (1, 1, 1), stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = channel_shuffle(x, 2).chunk(2, dim=1)  # each (B, C_in / 2, T, H, W)
        y = self.pointwise(a) + self.separable(b)  # (B, C_out, T, H', W')
        return y if self.shortcut is None else y + self.shortcut(x)


@register_model("conv3d_block")
def conv3d_block(*, in_channels: int, out_channels: int, temporal_kernel: int = 3, kernel: int = 3,
                 stride: int = 1) -> nn.Conv3d:
    """A full T_k x K x K convolution (All3D's unit; temporal_kernel=1 is ResNet-18's 2D one), eq. (4)."""
    return conv3d_same(in_channels, out_channels, (temporal_kernel, kernel, kernel), stride)


@register_model("p3d_block")
def p3d_block(*, in_channels: int, out_channels: int, temporal_kernel: int = 3, kernel: int = 3,
              stride: int = 1) -> P3DUnit:
    """P3D-A: spatial 1 x K x K then temporal T_k x 1 x 1 convolution, eq. (5)."""
    return P3DUnit(in_channels, out_channels, temporal_kernel, kernel, stride)


@register_model("sti3d_block")
def sti3d_block(*, in_channels: int, out_channels: int, omega: float = 2.0, temporal_kernel: int = 3,
                kernel: int = 3, stride: int = 1) -> StingyUnit:
    """Stingy 3D unit without shortcut (the paper's Sti3D)."""
    return StingyUnit(in_channels, out_channels, omega, temporal_kernel, kernel, stride, residual=False)


@register_model("stires3d_block")
def stires3d_block(*, in_channels: int, out_channels: int, omega: float = 2.0, temporal_kernel: int = 3,
                   kernel: int = 3, stride: int = 1) -> StingyUnit:
    """Stingy Residual 3D unit: Sti3D plus a point-wise C_in -> C_out shortcut, eq. (6)."""
    return StingyUnit(in_channels, out_channels, omega, temporal_kernel, kernel, stride, residual=True)
