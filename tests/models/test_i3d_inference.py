"""I3D's inference path (eval mode, nothing to differentiate: BatchNorm folded into the convolutions, each
Inception block's three 1x1x1 heads as one matrix product, separable max-pools) against the architecture
written out here with plain F.conv3d, BatchNorm3d and F.max_pool3d; training keeps the module path."""

import copy

import pytest
import torch
import torch.nn.functional as F

from myovision.models.i3d import InceptionI3d, InceptionModule, MaxPool3dSame, Unit3D, pointwise_conv3d, same_padding


def _pad(x, kernel, stride, value=0.0):
    pads = same_padding(tuple(x.shape[-3:]), kernel, stride)
    return F.pad(x, tuple(p for pair in reversed(pads) for p in pair), value=value)


def _reference(module, x):
    """The published layers one by one: SAME-padded Conv3d, BatchNorm3d, ReLU; -inf-padded max_pool3d."""
    if isinstance(module, Unit3D):
        c = module.conv3d
        x = F.conv3d(_pad(x, module.kernel, module.stride), c.weight, c.bias, module.stride)
        x = module.bn(x) if module.bn is not None else x
        return F.relu(x) if module.relu else x
    if isinstance(module, MaxPool3dSame):
        return F.max_pool3d(_pad(x, module.kernel, module.stride, float("-inf")), module.kernel, module.stride)
    if isinstance(module, InceptionModule):
        m = module
        return torch.cat([_reference(m.b0, x), _reference(m.b1b, _reference(m.b1a, x)),
                          _reference(m.b2b, _reference(m.b2a, x)), _reference(m.b3b, _reference(m.b3a, x))], dim=1)
    raise TypeError(type(module))


def _reference_features(model, x):
    for name in model.end_points:
        x = _reference(getattr(model, name), x)
    return model._pool(x).mean(dim=(2, 3, 4))


@pytest.fixture(scope="module")
def trained_looking_model():
    """Random weights with BatchNorm statistics and affine parameters away from their initial 0 / 1."""
    torch.manual_seed(0)
    model = InceptionI3d(num_classes=7).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.3, 3.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model


@pytest.mark.parametrize("batch,size,channels_last", [(1, (8, 40, 40), False), (2, (9, 33, 35), False),
                                                      (2, (8, 32, 32), True)])
def test_inference_path_equals_the_published_layers(trained_looking_model, batch, size, channels_last):
    model = trained_looking_model
    x = torch.rand(batch, 3, *size) * 2 - 1
    with torch.no_grad():
        expected = _reference_features(model, x)
    if channels_last:
        model = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        got = model.features(x)
    scale = expected.abs().max().item()
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def test_eval_with_gradients_and_training_take_the_module_path(trained_looking_model):
    x = torch.rand(2, 3, 8, 32, 32).requires_grad_()
    model = copy.deepcopy(trained_looking_model)
    out = model(x)  # eval, autograd on: differentiable module path
    out.sum().backward()
    assert x.grad is not None and model.Mixed_4b.b1a.bn.weight.grad is not None
    with torch.inference_mode():
        fast = model(x.detach())
    assert torch.allclose(out.detach(), fast, rtol=1e-4, atol=1e-4 * fast.abs().max().item())

    reference = copy.deepcopy(model).train()
    model.train()
    torch.manual_seed(1)
    y = model.features(x.detach())
    torch.manual_seed(1)
    with torch.no_grad():  # train mode: batch statistics, running statistics updated, under no_grad as well
        y_ref = _reference_features(reference, x.detach())
    assert torch.allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    assert torch.allclose(model.Mixed_5c.b0.bn.running_mean, reference.Mixed_5c.b0.bn.running_mean)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_pointwise_conv3d_is_a_1x1x1_convolution(batch, bias, channels_last):
    torch.manual_seed(batch)
    x = torch.randn(batch, 12, 3, 5, 4)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    w, b = torch.randn(7, 12, 1, 1, 1), (torch.randn(7) if bias else None)
    assert torch.allclose(pointwise_conv3d(x, w, b), F.conv3d(x, w, b), atol=1e-5)


def test_folded_weights_reproduce_conv_then_batchnorm(trained_looking_model):
    unit = trained_looking_model.Mixed_4c.b2b
    x = torch.randn(1, unit.conv3d.in_channels, 3, 6, 6)
    weight, bias = unit.folded()
    with torch.no_grad():
        expected = unit.bn(F.conv3d(x, unit.conv3d.weight, None, 1, 1))
        assert torch.allclose(F.conv3d(x, weight, bias, 1, 1), expected, atol=1e-5 * expected.abs().max().item())
