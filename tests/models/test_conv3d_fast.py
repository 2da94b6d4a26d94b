"""The fast depth-wise and point-wise 3D convolutions against PyTorch's plain nn.Conv3d: same outputs and
gradients, same parameters (state dicts load both ways), and the Stingy unit against its definition
(shuffle, split, point-wise / separable halves, shortcut) written with F.conv3d."""

from contextlib import contextmanager
from unittest import mock

import hypothesis.strategies as st
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from torch import nn

import myovision as mv
from myovision.models import conv3d
from myovision.models.conv3d import (LARGE_MAP, DepthwiseConv3d, PointwiseConv3d, StingyUnit, channel_shuffle,
                                     conv3d_same)


def _weight_grad_engine(compiled: bool):
    """The compiled (numba) depth-wise weight gradient, which must then run, or the torch fallbacks a machine
    without numba runs."""
    if not compiled:
        return mock.patch.object(conv3d, "compiled_depthwise_weight_grad", lambda: None)
    kernel = conv3d.compiled_depthwise_weight_grad()
    if kernel is None:
        pytest.skip("numba is not installed: the compiled weight gradient is not used")
    return _asserting_called(mock.Mock(side_effect=kernel))


@contextmanager
def _asserting_called(spy):
    with mock.patch.object(conv3d, "compiled_depthwise_weight_grad", lambda: spy):
        yield
    assert spy.called, "the compiled weight gradient did not run"


def _grads(module, x, grad):
    x = x.detach().clone().requires_grad_()
    out = module(x)
    out.backward(grad)
    return out.detach(), x.grad, module.weight.grad


def _assert_close(fast, plain):
    for a, b in zip(fast, plain):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, b.abs().max().item()))


def _assert_same_as_plain(fast, plain, x, channels_last=False):
    """fast, loaded with plain's weights, gives plain's output, input gradient and weight gradient on x."""
    fast.load_state_dict(plain.state_dict())
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    grad = torch.randn_like(plain(x))
    _assert_close(_grads(fast, x, grad), _grads(plain, x, grad))


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), channels=st.integers(2, 9), frames=st.integers(1, 6), height=st.integers(1, 9),
       width=st.integers(1, 9), kernel=st.sampled_from([(3, 3, 3), (1, 3, 3), (3, 1, 1), (5, 3, 3), (3, 5, 5)]),
       stride=st.sampled_from([1, 2]), channels_last=st.booleans(), seed=st.integers(0, 1000))
def test_depthwise_conv3d_equals_grouped_conv3d_forward_and_backward(batch, channels, frames, height, width, kernel,
                                                                      stride, channels_last, seed, compiled):
    torch.manual_seed(seed)
    plain = nn.Conv3d(channels, channels, kernel, (1, stride, stride), tuple(k // 2 for k in kernel),
                      groups=channels, bias=False)
    x = torch.randn(batch, channels, frames, height, width)
    with _weight_grad_engine(compiled):
        _assert_same_as_plain(DepthwiseConv3d(channels, kernel, stride), plain, x, channels_last)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_depthwise_conv3d_on_large_maps_equals_grouped_conv3d(stride, compiled, dtype):
    """From LARGE_MAP positions per frame the fallback's weight gradient comes from oneDNN instead of the per-tap
    sums; the compiled one serves every map size and both float types."""
    torch.manual_seed(stride)
    height, width = 17, 18
    assert height * width >= LARGE_MAP
    plain = nn.Conv3d(6, 6, 3, (1, stride, stride), 1, groups=6, bias=False).to(dtype)
    with _weight_grad_engine(compiled):
        _assert_same_as_plain(DepthwiseConv3d(6, (3, 3, 3), stride).to(dtype), plain,
                              torch.randn(2, 6, 4, height, width, dtype=dtype))


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 3), c_in=st.integers(1, 9), c_out=st.integers(1, 9), frames=st.integers(1, 4),
       height=st.integers(1, 7), width=st.integers(1, 7), stride=st.sampled_from([1, 2]),
       channels_last=st.booleans(), seed=st.integers(0, 1000))
def test_pointwise_conv3d_equals_conv3d_forward_and_backward(batch, c_in, c_out, frames, height, width, stride,
                                                             channels_last, seed):
    torch.manual_seed(seed)
    plain = nn.Conv3d(c_in, c_out, 1, (1, stride, stride), bias=False)
    x = torch.randn(batch, c_in, frames, height, width)
    _assert_same_as_plain(PointwiseConv3d(c_in, c_out, stride), plain, x, channels_last)


def test_conv3d_same_picks_the_fast_modules_only_where_they_apply():
    assert type(conv3d_same(4, 8, (1, 1, 1), 2)) is PointwiseConv3d
    assert type(conv3d_same(6, 6, (3, 3, 3), groups=6)) is DepthwiseConv3d
    assert type(conv3d_same(4, 8, (1, 3, 3))) is nn.Conv3d
    assert type(conv3d_same(6, 6, (3, 3, 3), groups=3)) is nn.Conv3d
    assert type(conv3d_same(6, 6, (2, 3, 3), groups=6)) is nn.Conv3d  # even kernel: "same" is not the input size


def _stingy_by_definition(unit, x):
    """The paper's Figure 2b with plain F.conv3d: shuffle, split, A point-wise, B separable, plus shortcut."""
    def conv(m, z):
        return F.conv3d(z, m.weight, None, m.stride, m.padding, 1, m.groups)

    a, b = channel_shuffle(x, 2).chunk(2, dim=1)
    s = unit.separable
    h = s[4](conv(s[3], F.relu(s[1](conv(s[0], b)))))
    y = conv(unit.pointwise, a) + conv(s[5], h)
    return y if unit.shortcut is None else y + conv(unit.shortcut, x)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("residual", [True, False])
def test_stingy_unit_outputs_and_gradients_equal_its_definition(stride, residual):
    torch.manual_seed(0)  # float64: the batch norms' gradients are sums that cancel to 1e-3 in float32
    unit = StingyUnit(8, 12, omega=2, stride=stride, residual=residual).train().double()
    x = torch.randn(2, 8, 5, 7, 6, dtype=torch.float64)
    grad = torch.randn(2, 12, 5, *(7, 6) if stride == 1 else (4, 3), dtype=torch.float64)
    results = []
    for forward in (unit, lambda z: _stingy_by_definition(unit, z)):
        unit.zero_grad()
        xi = x.clone().requires_grad_()
        out = forward(xi)
        out.backward(grad)
        results.append((out.detach(), xi.grad, *[p.grad.clone() for p in unit.parameters()]))
    _assert_close(*results)


def test_frontend_state_dicts_keep_their_names_and_shapes():
    """Checkpoints written before the fast modules (plain nn.Conv3d everywhere) load as they did."""
    model = mv.create_model("stires3d", widths=(8, 16, 16, 32))
    state = model.state_dict()
    assert "trunk.0.body.0.separable.3.weight" in state and "trunk.0.body.0.pointwise.weight" in state
    assert state["trunk.0.body.0.separable.3.weight"].shape == (8, 1, 3, 3, 3)
    assert state["trunk.2.downsample.0.weight"].shape == (16, 8, 1, 1, 1)
    assert not any("half_" in k for k in state)  # the unit's channel-index buffers are not saved
    model.load_state_dict({k: v.clone() for k, v in state.items()}, strict=True)


@pytest.mark.parametrize("compiled", [True, False])
def test_depthwise_conv3d_trains_under_bfloat16_autocast(compiled):
    """Under autocast the forward convolves in bfloat16, so the gradient arrives in bfloat16: the backward runs
    in it (no compiled kernel for bfloat16) and hands back gradients in the parameters' and input's float32."""
    torch.manual_seed(0)
    fast = DepthwiseConv3d(6, (3, 3, 3), 2)
    plain = nn.Conv3d(6, 6, 3, (1, 2, 2), 1, groups=6, bias=False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 6, 4, 9, 8)
    grads = []
    for module in (fast, plain):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16), mock.patch.object(
                conv3d, "compiled_depthwise_weight_grad", (lambda: None) if not compiled else
                conv3d.compiled_depthwise_weight_grad):
            out = module(xi)
        assert out.dtype == torch.bfloat16
        out.float().square().sum().backward()
        grads.append((xi.grad, module.weight.grad))
        assert xi.grad.dtype == module.weight.grad.dtype == torch.float32
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=0.05, atol=0.05 * b.abs().max().item())


def test_depthwise_conv3d_double_backward_equals_grouped_conv3d():
    """create_graph=True (a gradient penalty): the weight gradient must itself be differentiable, so the
    compiled kernel steps aside for the torch formulation."""
    torch.manual_seed(1)
    fast = DepthwiseConv3d(4, (3, 3, 3)).double()
    plain = nn.Conv3d(4, 4, 3, 1, 1, groups=4, bias=False).double()
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(2, 4, 3, 5, 6, dtype=torch.float64)
    results = []
    for module in (fast, plain):
        module.zero_grad()
        (g,) = torch.autograd.grad(module(x).square().sum(), module.weight, create_graph=True)
        g.square().sum().backward()
        results.append((g.detach(), module.weight.grad))
    _assert_close(*results)
