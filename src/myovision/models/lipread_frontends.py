"""Visual front-ends for lip reading: a 3D stem, then a ResNet-18 trunk whose 3x3 convolutions are one of the
units of `myovision.models.conv3d` (Zeng, Du, Wang, section 3 and Figure 2a; the stem and trunk follow
Stafylakis and Tzimiropoulos 2017, the lip-reading standard).

Input: mouth crops (B, 1, T, H, W), 88 x 88 in the paper's setting. Output: per-frame features (B, T, 512).
The stem is a 5 x 7 x 7 convolution (64 maps, spatial stride 2), BN, ReLU and a 1 x 3 x 3 max-pool (stride 2);
the trunk has four stages of two basic blocks (64, 128, 256, 512 maps; stages 2-4 halve H and W); features are
averaged over space. Time is never strided. `widths` (the four stage widths) makes narrower trunks for small
budgets; the paper's are the default.

| name              | 3x3 convolution of the trunk replaced by                 |
|-------------------|----------------------------------------------------------|
| `resnet18_3dstem` | nothing: a 1 x 3 x 3 (2D, per frame) convolution          |
| `all3d`           | a full 3 x 3 x 3 convolution                               |
| `p3d`             | P3D-A: 1 x 3 x 3 then 3 x 1 x 1                            |
| `sti3d`           | Sti3D with width factor `omega`                            |
| `stires3d`        | StiRes3D with width factor `omega` (the paper's best: 2)   |
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from myovision.errors import InputError
from myovision.models.conv3d import P3DUnit, StingyUnit, conv3d_same
from myovision.registry import register_model

STEM_TEMPORAL_KERNEL = 5
WIDTHS = (64, 128, 256, 512)

ConvUnit = Callable[[int, int, int], nn.Module]  # (in_channels, out_channels, stride) -> module


class BasicBlock(nn.Module):
    """ResNet basic block with a pluggable unit in place of each 3x3 convolution: unit, BN, ReLU, unit, BN,
    plus the identity (or a strided 1 x 1 x 1 convolution + BN when the shape changes), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, unit: ConvUnit):
        super().__init__()
        self.body = nn.Sequential(
            unit(in_channels, out_channels, stride),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
            unit(out_channels, out_channels, 1),
            nn.BatchNorm3d(out_channels),
        )
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv3d_same(in_channels, out_channels, (1, 1, 1), stride),
                                            nn.BatchNorm3d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.body(x) + identity)


class LipFrontend(nn.Module):
    """3D stem + ResNet-18 trunk of `unit`s: video (B, C, T, H, W) -> per-frame features (B, T, 512)."""

    def __init__(self, unit: ConvUnit, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS,
                 blocks_per_stage: int = 2):
        super().__init__()
        self.in_channels, self.out_dim = in_channels, widths[-1]
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, widths[0], (STEM_TEMPORAL_KERNEL, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3),
                      bias=False),
            nn.BatchNorm3d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        stages, c_in = [], widths[0]
        for i, c_out in enumerate(widths):
            for j in range(blocks_per_stage):
                stages.append(BasicBlock(c_in, c_out, 2 if i > 0 and j == 0 else 1, unit))
                c_in = c_out
        self.trunk = nn.Sequential(*stages)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.dim() != 5 or video.shape[1] != self.in_channels:
            raise InputError(f"expected video of shape (batch, {self.in_channels}, frames, height, width), "
                             f"got {tuple(video.shape)}")
        if video.shape[2] < STEM_TEMPORAL_KERNEL:
            raise InputError(f"video of {video.shape[2]} frames is shorter than the stem's temporal kernel "
                             f"of {STEM_TEMPORAL_KERNEL} frames")
        x = self.trunk(self.stem(video))  # (B, 512, T, H / 32, W / 32)
        return x.mean(dim=(3, 4)).transpose(1, 2)  # (B, T, 512)


def _stingy(omega: float, residual: bool) -> ConvUnit:
    return lambda c_in, c_out, stride: StingyUnit(c_in, c_out, omega, 3, 3, stride, residual)


@register_model("resnet18_3dstem")
def resnet18_3dstem(*, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS) -> LipFrontend:
    """5x7x7 3D stem + 2D ResNet-18 applied per frame: (B, 1, T, H, W) -> (B, T, widths[-1] = 512)."""
    return LipFrontend(lambda c_in, c_out, stride: conv3d_same(c_in, c_out, (1, 3, 3), stride), in_channels,
                       tuple(widths))


@register_model("all3d")
def all3d(*, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS) -> LipFrontend:
    """Every 3x3 kernel of the ResNet-18 trunk made 3x3x3: (B, 1, T, H, W) -> (B, T, widths[-1] = 512)."""
    return LipFrontend(lambda c_in, c_out, stride: conv3d_same(c_in, c_out, (3, 3, 3), stride), in_channels,
                       tuple(widths))


@register_model("p3d")
def p3d(*, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS) -> LipFrontend:
    """Every 3x3 convolution of the trunk replaced by P3D-A: (B, 1, T, H, W) -> (B, T, widths[-1] = 512)."""
    return LipFrontend(lambda c_in, c_out, stride: P3DUnit(c_in, c_out, 3, 3, stride), in_channels, tuple(widths))


@register_model("sti3d")
def sti3d(*, omega: float = 2.0, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS) -> LipFrontend:
    """Every 3x3 convolution of the trunk replaced by Sti3D(omega): (B, 1, T, H, W) -> (B, T, widths[-1] = 512)."""
    return LipFrontend(_stingy(omega, residual=False), in_channels, tuple(widths))


@register_model("stires3d")
def stires3d(*, omega: float = 2.0, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS) -> LipFrontend:
    """Every 3x3 convolution of the trunk replaced by StiRes3D(omega): (B, 1, T, H, W) -> (B, T, widths[-1] = 512)."""
    return LipFrontend(_stingy(omega, residual=True), in_channels, tuple(widths))


FRONTENDS = ("resnet18_3dstem", "all3d", "p3d", "sti3d", "stires3d")
