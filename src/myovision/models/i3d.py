"""I3D: the Inflated 3D ConvNet of Carreira and Zisserman, "Quo Vadis, Action Recognition? A New Model and
the Kinetics Dataset" (CVPR 2017), RGB stream: Inception-v1 (Szegedy et al. 2015) with every 2D kernel
inflated to 3D.

Layout (end points, as in the paper's Figure 3 and DeepMind's release):
Conv3d_1a_7x7 (64, stride 2) - MaxPool3d_2a_3x3 (1x3x3, stride 1x2x2) - Conv3d_2b_1x1 (64) -
Conv3d_2c_3x3 (192) - MaxPool3d_3a_3x3 (1x3x3, stride 1x2x2) - Mixed_3b, Mixed_3c -
MaxPool3d_4a_3x3 (3x3x3, stride 2) - Mixed_4b ... Mixed_4f - MaxPool3d_5a_2x2 (2x2x2, stride 2) -
Mixed_5b, Mixed_5c (1024 channels) - 2x7x7 average pool (stride 1) - dropout - 1x1x1 logits conv.
Every convolution is Conv3d (no bias) + BatchNorm3d (eps 1e-3, TensorFlow's) + ReLU, except the logits
(bias, no BatchNorm, no ReLU). Convolutions and max-pools use TensorFlow "SAME" padding: the output has
ceil(size / stride) positions and the padding, computed from the input size, puts the odd pixel at the
end. Parameter and buffer names follow the de-facto PyTorch port (pytorch-i3d: `Conv3d_1a_7x7.conv3d.weight`,
`Mixed_3b.b1b.bn.running_var`, `logits.conv3d.bias`), so its checkpoints load as-is.

The average pool is the paper's 2x7x7 at 224 x 224 inputs (a 7x7 Mixed_5c map); for smaller inputs its
kernel is clamped to the map's size (a global average), and whatever positions remain are averaged, so
`forward` always returns (B, num_classes) and `features` (B, 1024).
"""

from __future__ import annotations

import math

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from myovision.errors import InputError
from myovision.registry import create_model, read_state_dict, register_model

# Inception branch widths (b0, b1a, b1b, b2a, b2b, b3b) of each Mixed block, Inception-v1's Table 1
INCEPTION_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
FEATURE_DIM = 1024
POOL = (2, 7, 7)


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[tuple[int, int]]:
    """TensorFlow "SAME" padding (front, back) per dim: total max(k - s, 0) when s divides the size, else
    max(k - size % s, 0); the odd one goes to the back.

    >>> same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2))
    [(2, 3), (2, 3), (2, 3)]
    >>> same_padding((8, 57, 57), (1, 3, 3), (1, 2, 2))
    [(0, 0), (1, 1), (1, 1)]
    """
    pads = []
    for n, k, s in zip(size, kernel, stride):
        total = max(k - s, 0) if n % s == 0 else max(k - n % s, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _flat(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """(T, H, W) (front, back) pairs -> F.pad's order: W front, W back, H front, ... T back."""
    return tuple(p for pair in reversed(pads) for p in pair)


class Unit3D(nn.Module):
    """Conv3d with "SAME" padding, then BatchNorm3d (eps 1e-3) and ReLU (each optional)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), *, batch_norm: bool = True, relu: bool = True,
                 bias: bool = False):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None
        self.relu = relu

    def folded(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The convolution's weight and bias with the eval-mode BatchNorm folded in (Ioffe and Szegedy 2015's
        affine map w * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)): (C_out, C_in, kT, kH,
        kW) and (C_out,) or None."""
        weight, bias = self.conv3d.weight, self.conv3d.bias
        if self.bn is None:
            return weight, bias
        scale = self.bn.weight * torch.rsqrt(self.bn.running_var + self.bn.eps)  # (C_out,)
        shift = self.bn.bias - self.bn.running_mean * scale
        return weight * scale.view(-1, 1, 1, 1, 1), shift if bias is None else shift + bias * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _inference(self, x):
            weight, bias = self.folded()
            if self.kernel == (1, 1, 1) and self.stride == (1, 1, 1):
                x = pointwise_conv3d(x, weight, bias)
            else:
                x = self._conv_same(x, weight, bias)
            return F.relu(x, inplace=True) if self.relu else x
        x = self._conv_same(x, self.conv3d.weight, self.conv3d.bias)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x

    def own_macs(self, x: torch.Tensor, out: torch.Tensor) -> int:
        """Multiply-adds of the convolution, which runs through F.conv3d on `conv3d`'s weight (its own "SAME"
        padding), so `conv3d`'s hook never fires: counted from the output (`myovision.profiling.OwnMacs`)."""
        return out.numel() * self.conv3d.in_channels * math.prod(self.kernel)

    def _conv_same(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """F.conv3d with self's kernel and stride and "SAME" padding."""
        pads = same_padding(tuple(x.shape[-3:]), self.kernel, self.stride)
        if all(a == b for a, b in pads):  # symmetric: let the convolution pad (no copy of x)
            return F.conv3d(x, weight, bias, self.stride, tuple(a for a, _ in pads))
        return F.conv3d(F.pad(x, _flat(pads)), weight, bias, self.stride)


def _inference(module: nn.Module, x: torch.Tensor) -> bool:
    """Eval mode and nothing to differentiate: the folded, fused inference path applies."""
    return not module.training and not (torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in module.parameters())))


def pointwise_conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1x1x1 convolution, stride 1, as one matrix product over channels: x (B, C_in, T, H, W), weight
    (C_out, C_in, 1, 1, 1) -> (B, C_out, T, H, W) in x's layout (contiguous or channels-last). PyTorch's
    Conv3d copies x once (im2col) first."""
    b, c, t, h, w = x.shape
    weight = weight.view(weight.shape[0], c)  # (C_out, C_in)
    if x.stride(1) == 1 and c > 1:  # channels innermost
        return F.linear(x.movedim(1, -1), weight, bias).movedim(-1, 1)  # (B, C_out, T, H, W), channels-last
    columns = x.reshape(b, c, t * h * w)  # (B, C_in, T H W)
    if bias is None:
        out = weight @ columns
    elif b == 1:
        out = torch.addmm(bias[:, None], weight, columns[0])[None]
    else:
        out = torch.baddbmm(bias[None, :, None], weight.expand(b, -1, -1), columns)
    return out.view(b, -1, t, h, w)


def separable_max_pool3d(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """``F.max_pool3d(x, kernel, stride)`` (no padding) as three 1-D maxima over strided shifted views.

    (B, C, T, H, W) -> (B, C, T', H', W'). A maximum is exact, so the order of the axes does not change a
    bit; one elementwise ``torch.maximum`` per kernel tap replaces oneDNN's index-tracking pool (15-20x
    faster per pool on the default layout). Inference only: on ties the gradient of ``torch.maximum`` is
    shared, not routed to one input as max_pool3d's is.
    """
    for dim, k, s in zip((2, 3, 4), kernel, stride):
        n_out = (x.shape[dim] - k) // s + 1
        span = s * (n_out - 1) + 1  # samples covered by one strided view
        out = x.narrow(dim, 0, span)[(slice(None),) * dim + (slice(None, None, s),)]
        for j in range(1, k):
            out = torch.maximum(out, x.narrow(dim, j, span)[(slice(None),) * dim + (slice(None, None, s),)])
        x = out
    return x


class MaxPool3dSame(nn.Module):
    """Max-pooling with "SAME" padding; padded positions never win (TensorFlow's semantics)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = same_padding(tuple(x.shape[-3:]), self.kernel, self.stride)
        if not (torch.is_grad_enabled() and x.requires_grad):
            return separable_max_pool3d(F.pad(x, _flat(pads), value=float("-inf")), self.kernel, self.stride)
        if all(a == b and 2 * a <= k for (a, b), k in zip(pads, self.kernel)):
            return F.max_pool3d(x, self.kernel, self.stride, tuple(a for a, _ in pads))  # pads with -inf itself
        return F.max_pool3d(F.pad(x, _flat(pads), value=float("-inf")), self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four branches concatenated on channels: 1x1x1 | 1x1x1 -> 3x3x3 | 1x1x1 -> 3x3x3 | 3x3x3 max-pool -> 1x1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _inference(self, x):
            return self._fused(x)
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: the three 1x1x1 convolutions that read x (b0, b1a, b2a) as one matrix product with
        their BatchNorms folded in, then each branch's rest."""
        heads = (self.b0, self.b1a, self.b2a)
        weights, biases = zip(*(unit.folded() for unit in heads))
        y = pointwise_conv3d(x, torch.cat(weights), torch.cat(biases)).relu_()  # (B, w0 + w1a + w2a, T, H, W)
        b0, b1, b2 = y.split([w.shape[0] for w in weights], dim=1)
        return torch.cat([b0, self.b1b(b1), self.b2b(b2), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """x (B, in_channels, T, H, W) RGB in [-1, 1] -> class scores (B, num_classes), averaged over positions.

    `features(x)` -> the average-pooled Mixed_5c feature (B, 1024); `feature_map(x)` -> Mixed_5c itself
    (B, 1024, T/8, H/32, W/32); `replace_logits(n)` swaps in a new logits layer for n classes.
    """

    def __init__(self, num_classes: int = 400, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.end_points: list[str] = []
        self._add("Conv3d_1a_7x7", Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2)))
        self._add("MaxPool3d_2a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2)))
        self._add("Conv3d_2b_1x1", Unit3D(64, 64))
        self._add("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3)))
        self._add("MaxPool3d_3a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2)))
        channels = 192
        for name, widths in INCEPTION_WIDTHS.items():
            if name == "Mixed_4b":
                self._add("MaxPool3d_4a_3x3", MaxPool3dSame((3, 3, 3), (2, 2, 2)))
            elif name == "Mixed_5b":
                self._add("MaxPool3d_5a_2x2", MaxPool3dSame((2, 2, 2), (2, 2, 2)))
            block = InceptionModule(channels, widths)
            self._add(name, block)
            channels = block.out_channels
        self.dropout = nn.Dropout(dropout)
        self.logits = self._logits(num_classes)

    def _add(self, name: str, module: nn.Module) -> None:
        self.add_module(name, module)
        self.end_points.append(name)

    @staticmethod
    def _logits(num_classes: int) -> Unit3D:
        return Unit3D(FEATURE_DIM, num_classes, batch_norm=False, relu=False, bias=True)

    def replace_logits(self, num_classes: int) -> None:
        """A freshly initialised logits layer for `num_classes` (fine-tuning on new classes)."""
        device = self.logits.conv3d.weight.device
        self.logits = self._logits(num_classes).to(device)
        self.num_classes = num_classes

    def feature_map(self, x: torch.Tensor, end_point: str = "Mixed_5c") -> torch.Tensor:
        """The activations after `end_point` (B, channels, T', H', W')."""
        if x.dim() != 5:
            raise ValueError(f"I3D takes (batch, channels, frames, height, width), got shape {tuple(x.shape)}")
        for name in self.end_points:
            x = getattr(self, name)(x)
            if name == end_point:
                return x
        raise ValueError(f"unknown end point {end_point!r}; one of {self.end_points}")

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        """The 2x7x7 average pool, stride 1, kernel clamped to the map: (B, C, T', H', W') -> (B, C, t, h, w)."""
        kernel = tuple(min(k, n) for k, n in zip(POOL, x.shape[-3:]))
        return F.avg_pool3d(x, kernel, stride=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c average-pooled, then averaged over the remaining positions: (B, 1024)."""
        return self._pool(self.feature_map(x)).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self._pool(self.feature_map(x))  # (B, 1024, t, h, w)
        return self.logits(self.dropout(pooled)).mean(dim=(2, 3, 4))  # (B, num_classes)


@register_model("i3d")
def i3d(*, num_classes: int = 400, in_channels: int = 3, dropout: float = 0.5) -> InceptionI3d:
    """I3D RGB (Carreira and Zisserman 2017); 12,697,264 trainable parameters at 400 classes."""
    return InceptionI3d(num_classes=num_classes, in_channels=in_channels, dropout=dropout)


def load_i3d(checkpoint: str | Path, *, num_classes: int | None = None, **kwargs) -> InceptionI3d:
    """I3D with the weights of `checkpoint` (pytorch-i3d layout; safetensors or a weights-only torch file).

    num_classes: read from the checkpoint's `logits.conv3d.weight` when not given.
    """
    if num_classes is None:
        weight = read_state_dict(checkpoint).get("logits.conv3d.weight")
        if weight is None:
            raise InputError("not an I3D checkpoint: it has no logits.conv3d.weight", checkpoint)
        num_classes = int(weight.shape[0])
    return create_model("i3d", num_classes=num_classes, checkpoint=checkpoint, **kwargs)
