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
import torch.nn.functional as F
from torch import nn

from myovision.models.conv3d_kernel import compiled_depthwise_weight_grad
from myovision.registry import register_model


CHANNELS_LAST = torch.channels_last_3d
LARGE_MAP = 256  # H x W from which oneDNN's depth-wise weight gradient beats the per-tap one (measured, 1 thread)
_NUMBA_DTYPES = (torch.float32, torch.float64)  # the compiled weight gradient's inputs


class _DepthwiseConv3dFunction(torch.autograd.Function):
    """Depth-wise "same" convolution, spatial stride s, temporal stride 1, with a backward pass built from
    the fast kernels: oneDNN's channels-last depth-wise forward for the output and the input gradient (a
    correlation of the gradient, zero-filled between strided positions, with the flipped kernel), and
    `_depthwise_weight_grad` for the weight gradient. PyTorch's own depth-wise 3D backward takes 3-15x longer
    on CPU."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
        x = x.contiguous(memory_format=CHANNELS_LAST)
        ctx.save_for_backward(x, weight)
        ctx.stride = stride
        padding = tuple(k // 2 for k in weight.shape[2:])
        return F.conv3d(x, weight, None, (1, stride, stride), padding, 1, weight.shape[0])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        x_dtype, weight_dtype = x.dtype, weight.dtype
        x, weight = x.to(grad.dtype), weight.to(grad.dtype)  # under autocast the forward ran in grad's precision
        kernel = tuple(weight.shape[2:])
        padding = tuple(k // 2 for k in kernel)
        grad = grad.contiguous(memory_format=CHANNELS_LAST)
        if ctx.stride != 1:  # the stride-1 output subsampled: put the gradient back on its positions
            full = torch.zeros_like(x, memory_format=CHANNELS_LAST)  # (B, C, T, H, W)
            full[:, :, :, ::ctx.stride, ::ctx.stride] = grad
            grad = full
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv3d(grad, weight.flip(2, 3, 4), None, 1, padding, 1, weight.shape[0]).to(x_dtype)
        if ctx.needs_input_grad[1]:
            grad_w = _depthwise_weight_grad(x, grad, kernel).to(weight_dtype)
        return grad_x, grad_w, None


def _depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel: tuple[int, ...]) -> torch.Tensor:
    """dL/dw[c, i, j, l] = sum over (b, t, h, w) of x_padded[b, c, t+i, h+j, w+l] grad[b, c, t, h, w]:
    x and grad (B, C, T, H, W) of one dtype, stride 1, channels-last -> (C, 1, *kernel). On CPU with numba, in
    float32 / float64, outside a double backward: one compiled pass (`myovision.models.conv3d_kernel`);
    otherwise oneDNN's on maps of LARGE_MAP positions or more, and one multiply-reduce per kernel tap on
    smaller ones (both differentiable)."""
    pad = [k // 2 for k in kernel]
    numba_ok = x.device.type == "cpu" and x.dtype in _NUMBA_DTYPES and not torch.is_grad_enabled()
    compiled = compiled_depthwise_weight_grad() if numba_ok else None
    if compiled is None and x.shape[3] * x.shape[4] >= LARGE_MAP:  # oneDNN's, on the default layout
        weight = torch.empty(x.shape[1], 1, *kernel, dtype=x.dtype, device=x.device)
        return torch.ops.aten.convolution_backward(
            grad.contiguous(), x.contiguous(), weight, None, [1, 1, 1], pad, [1, 1, 1], False, [0, 0, 0],
            x.shape[1], [False, True, False])[1]
    x = F.pad(x.permute(0, 2, 3, 4, 1), (0, 0, pad[2], pad[2], pad[1], pad[1], pad[0], pad[0]))  # (B, T+, H+, W+, C)
    grad = grad.permute(0, 2, 3, 4, 1)  # (B, T, H, W, C), contiguous when grad is channels-last
    if compiled is not None:
        taps = compiled(x.numpy(), grad.contiguous().numpy(), *kernel)  # (T_k, K, K, C) float64
        return torch.from_numpy(taps).permute(3, 0, 1, 2).unsqueeze(1)  # (C, 1, T_k, K, K)
    b, t, h, w, c = grad.shape
    taps = torch.empty(kernel[1], kernel[2], kernel[0], c, dtype=grad.dtype, device=grad.device)
    for j in range(kernel[1]):
        for m in range(kernel[2]):
            shifted = x[:, :, j:j + h, m:m + w].contiguous()  # (B, T+, H, W, C): each frame one contiguous run
            for i in range(kernel[0]):
                taps[j, m, i] = (shifted[:, i:i + t] * grad).sum((0, 1, 2, 3))
    return taps.permute(3, 2, 0, 1).unsqueeze(1)  # (C, 1, T_k, K, K)


class DepthwiseConv3d(nn.Conv3d):
    """Depth-wise (groups = channels) T_k x K x K convolution, odd kernel sizes, "same" padding (MobileNet,
    Howard et al. 2017), bias-free: (B, C, T, H, W) -> (B, C, T, H / stride, W / stride), channels-last out. Same
    parameters and outputs as nn.Conv3d(groups=C) (up to float rounding); its training step is the fast one."""

    def __init__(self, channels: int, kernel: tuple[int, int, int], stride: int = 1):
        super().__init__(channels, channels, kernel, stride=(1, stride, stride), padding=tuple(k // 2 for k in kernel),
                         groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _exporting():
            return super().forward(x)
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            return _DepthwiseConv3dFunction.apply(x, self.weight, self.stride[1])
        return super().forward(x.contiguous(memory_format=CHANNELS_LAST))


def _exporting() -> bool:
    """Traced for ONNX / TorchScript or compiled: plain operators, no memory formats, no Python autograd."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export() or \
        torch.compiler.is_compiling()


def _is_channels_last(x: torch.Tensor) -> bool:
    """Channels innermost (channels-last, or a channel slice of a channels-last tensor), more than one of them."""
    return x.stride(1) == 1 and x.shape[1] > 1


class PointwiseConv3d(nn.Conv3d):
    """1 x 1 x 1 convolution (spatial stride s) as one matrix product over channels, bias-free:
    (B, C_in, T, H, W) -> (B, C_out, T, H / s, W / s) in the layout of the input. Same parameters and
    outputs as nn.Conv3d; PyTorch runs small 1x1x1 Conv3d and their backward through slow im2col loops."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride[1]
        weight = self.weight.flatten(1)  # (C_out, C_in)
        if _is_channels_last(x):
            return F.linear(x.movedim(1, -1)[:, :, ::s, ::s], weight).movedim(-1, 1)  # channels-last in and out
        if s != 1:
            x = x[:, :, :, ::s, ::s]
        b, _, t, h, w = x.shape
        return (weight @ x.reshape(b, weight.shape[1], t * h * w)).view(b, -1, t, h, w)  # (B, C_out, T, H, W)


def conv3d_same(c_in: int, c_out: int, kernel: tuple[int, int, int], stride: int = 1, groups: int = 1) -> nn.Conv3d:
    """A bias-free Conv3d with "same" padding, spatial `stride`, temporal stride 1 (a `PointwiseConv3d` for
    1 x 1 x 1 kernels, a `DepthwiseConv3d` for odd kernels with groups = c_in = c_out > 1)."""
    if tuple(kernel) == (1, 1, 1) and groups == 1:
        return PointwiseConv3d(c_in, c_out, stride)
    if groups == c_in == c_out > 1 and all(k % 2 for k in kernel):
        return DepthwiseConv3d(c_in, tuple(kernel), stride)
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
        shuffled = torch.arange(in_channels).view(2, half).t().reshape(in_channels)  # input channel of each shuffled one
        self.register_buffer("half_a", shuffled[:half].clone(), persistent=False)  # (C_in / 2,) input channels of A
        self.register_buffer("half_b", shuffled[half:].clone(), persistent=False)  # (C_in / 2,) input channels of B

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last rows throughout (the layout the depth-wise kernel runs fast in). The shuffle and split
        are folded into the point-wise weights: half A's point-wise conv and the shortcut become one C_in -> C_out
        product (A's weights placed at its channels' columns, zeros elsewhere, plus the shortcut's), half B's
        first point-wise one C_in -> wide product with zeros at A's columns, and B's last one is added by the
        same matrix multiply-add. The sum is the definition's up to float rounding; no activation is copied."""
        if _exporting():
            return self._by_definition(x)
        x = x.contiguous(memory_format=CHANNELS_LAST)
        rows = x.movedim(1, -1)  # (B, T, H, W, C_in), contiguous
        s = self.pointwise.stride[1]
        first, last = self.separable[0], self.separable[-1]
        wide = first.weight.shape[0]
        to_b = first.weight.new_zeros(wide, x.shape[1]).index_copy(1, self.half_b, first.weight.flatten(1))
        h = self.separable[1:5](F.linear(rows, to_b).movedim(-1, 1))  # (B, wide, T, H', W'), channels-last
        direct = self.pointwise.weight.new_zeros(last.weight.shape[0], x.shape[1]).index_copy(
            1, self.half_a, self.pointwise.weight.flatten(1))  # (C_out, C_in)
        if self.shortcut is not None:
            direct = direct + self.shortcut.weight.flatten(1)
        h_rows = h.movedim(1, -1)  # (B, T, H', W', wide), contiguous
        n_rows = h_rows.shape[:-1].numel()
        x_rows = rows[:, :, ::s, ::s].reshape(n_rows, -1)  # (N', C_in); a copy only when strided
        y = torch.addmm(F.linear(x_rows, direct), h_rows.reshape(n_rows, wide), last.weight.flatten(1).t())
        return y.view(*h_rows.shape[:-1], -1).movedim(-1, 1)  # (B, C_out, T, H', W'), channels-last

    def own_macs(self, x: torch.Tensor, out: torch.Tensor) -> int:
        """Multiply-adds of the point-wise products `forward` runs from the modules' weights (their hooks never
        fire), as the paper's Figure 2b defines them: the zeros the folded weights multiply are not the model's
        work. B's first product runs at input resolution, the others at the output's; the depth-wise
        convolution runs as a module and is counted by its own hook (`myovision.profiling.OwnMacs`)."""
        c_in, wide = x.shape[1], self.separable[0].out_channels
        per_output = c_in // 2 + wide + (c_in if self.shortcut is not None else 0)  # A, B's last, the shortcut
        return x.numel() // c_in * (c_in // 2) * wide + out.numel() * per_output

    def _by_definition(self, x: torch.Tensor) -> torch.Tensor:
        """The paper's Figure 2b with the modules as written: shuffle, split, A point-wise, B separable, plus the
        shortcut (plain operators, for ONNX export, tracing and torch.compile)."""
        a, b = channel_shuffle(x, 2).chunk(2, dim=1)  # each (B, C_in / 2, T, H, W)
        y = self.pointwise(a) + self.separable(b)
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
