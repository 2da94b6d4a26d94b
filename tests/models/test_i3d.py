"""I3D: the pytorch-i3d checkpoint layout, the published architecture (Carreira and Zisserman 2017), SAME padding."""

import math

import numpy as np

import pytest
import torch
import torch.nn.functional as F

import myovision as mv
from myovision.errors import InputError
from myovision.models.i3d import INCEPTION_WIDTHS, InceptionI3d, MaxPool3dSame, Unit3D, load_i3d, same_padding

END_POINTS = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3", "Mixed_3b",
              "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
              "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return mv.create_model("i3d", num_classes=400).eval()


def pytorch_i3d_keys(num_classes=400):
    """The state-dict keys of the pytorch-i3d release, written from its layout (no num_batches_tracked: the
    released rgb_imagenet.pt predates it)."""
    shapes = {}

    def unit(name, cin, cout, k, bn=True):
        shapes[f"{name}.conv3d.weight"] = (cout, cin, *k)
        if bn:
            for p in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{name}.bn.{p}"] = (cout,)
        else:
            shapes[f"{name}.conv3d.bias"] = (cout,)

    unit("Conv3d_1a_7x7", 3, 64, (7, 7, 7))
    unit("Conv3d_2b_1x1", 64, 64, (1, 1, 1))
    unit("Conv3d_2c_3x3", 64, 192, (3, 3, 3))
    cin = 192
    for name, (b0, b1a, b1b, b2a, b2b, b3b) in INCEPTION_WIDTHS.items():
        unit(f"{name}.b0", cin, b0, (1, 1, 1))
        unit(f"{name}.b1a", cin, b1a, (1, 1, 1))
        unit(f"{name}.b1b", b1a, b1b, (3, 3, 3))
        unit(f"{name}.b2a", cin, b2a, (1, 1, 1))
        unit(f"{name}.b2b", b2a, b2b, (3, 3, 3))
        unit(f"{name}.b3b", cin, b3b, (1, 1, 1))
        cin = b0 + b1b + b2b + b3b
    unit("logits", 1024, num_classes, (1, 1, 1), bn=False)
    return shapes


def test_parameter_count_and_widths_of_the_published_model(model):
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 12_697_264
    assert [InceptionI3d(num_classes=2).get_submodule(n).out_channels for n in INCEPTION_WIDTHS] == \
        [256, 480, 512, 512, 512, 528, 832, 832, 1024]  # Inception-v1's Mixed outputs
    assert model.end_points == END_POINTS


def test_pytorch_i3d_state_dict_loads_with_no_missing_or_unexpected_keys(model, tmp_path):
    layout = pytorch_i3d_keys()
    own = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert own == layout  # same names, same shapes: nothing missing, nothing unexpected
    for k in ("Conv3d_1a_7x7.conv3d.weight", "Mixed_3b.b1b.conv3d.weight", "Mixed_4b.b3b.bn.running_var",
              "logits.conv3d.bias"):
        assert k in own
    torch.manual_seed(1)
    state = {k: torch.randn(s) for k, s in layout.items()}
    state.update({k: torch.rand(s) + 0.5 for k, s in layout.items() if k.endswith("running_var")})
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    from safetensors.torch import save_file
    save_file(state, str(tmp_path / "rgb_imagenet.safetensors"))
    for path in (tmp_path / "rgb_imagenet.pt", tmp_path / "rgb_imagenet.safetensors"):
        loaded = mv.create_model("i3d", num_classes=400, checkpoint=path)  # strict: raises on missing/unexpected
        assert torch.equal(loaded.Mixed_4b.b3b.bn.running_var, state["Mixed_4b.b3b.bn.running_var"])
    assert load_i3d(tmp_path / "rgb_imagenet.pt").num_classes == 400  # classes read from the logits
    del state["Mixed_5c.b0.bn.bias"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(InputError, match=r"missing \['Mixed_5c.b0.bn.bias'\]"):
        mv.create_model("i3d", checkpoint=tmp_path / "partial.pt")
    with pytest.raises(InputError, match="shapes do not fit"):
        mv.create_model("i3d", num_classes=101, checkpoint=tmp_path / "rgb_imagenet.pt")


def test_batchnorm_eps_and_bias_free_convolutions(model):
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert len(bns) == 3 + 6 * 9 and all(m.eps == 1e-3 for m in bns)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [c.bias is not None for c in convs].count(True) == 1 and model.logits.conv3d.bias is not None


def test_same_padding_matches_tensorflow():
    for n in range(1, 12):
        for k, s in [(7, 2), (3, 2), (3, 1), (1, 1), (2, 2)]:
            (front, back), = same_padding((n,), (k,), (s,))
            assert (n + front + back - k) // s + 1 == math.ceil(n / s)  # TF: out = ceil(n / s)
            assert back - front in (0, 1)  # the odd pixel at the end
    unit = Unit3D(1, 1, (3, 3, 3), (2, 2, 2), batch_norm=False, relu=False)
    torch.nn.init.ones_(unit.conv3d.weight)
    out = unit(torch.ones(1, 1, 4, 4, 4))  # pads 0 in front, 1 behind: first output sums a full 3x3x3 block
    assert out.shape == (1, 1, 2, 2, 2) and out[0, 0, 0, 0, 0] == 27 and out[0, 0, 1, 1, 1] == 8


def test_max_pool_padding_never_wins():
    x = -torch.arange(1, 17, dtype=torch.float32).reshape(1, 1, 1, 4, 4)  # all negative
    out = MaxPool3dSame((1, 3, 3), (1, 2, 2))(x)
    assert out.shape == (1, 1, 1, 2, 2) and out.flatten().tolist() == [-1.0, -3.0, -9.0, -11.0]


def test_inception_branches_concatenate_in_order():
    block = InceptionI3d(num_classes=2).Mixed_3b.eval()
    with torch.no_grad():
        for name, value in (("b0", 1.0), ("b1b", 2.0), ("b2b", 3.0), ("b3b", 4.0)):
            unit = getattr(block, name)
            unit.conv3d.weight.zero_()
            unit.bn.bias.fill_(value)  # the branch outputs relu(bias) everywhere
        out = block(torch.randn(1, 192, 2, 5, 5))
    sizes = [64, 128, 32, 32]
    for part, value in zip(out.split(sizes, dim=1), (1.0, 2.0, 3.0, 4.0)):
        assert torch.allclose(part, torch.full_like(part, value), atol=1e-5)


def test_end_point_shapes_and_the_2x7x7_pool_at_224(model):
    shapes, outputs = {}, {}

    def keep(module, inputs, output, name):
        shapes[name], outputs[name] = tuple(output.shape[1:]), output

    hooks = [model.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: keep(m, i, o, n)) for n in END_POINTS]
    with torch.no_grad():
        y = model(torch.rand(1, 3, 16, 224, 224) * 2 - 1)  # one forward pass (a few seconds on one core)
        by_hand = model.logits(F.avg_pool3d(outputs["Mixed_5c"], (2, 7, 7), stride=1)).flatten(1)  # (1, 400)
    for h in hooks:
        h.remove()
    assert shapes["Conv3d_1a_7x7"] == (64, 8, 112, 112) and shapes["MaxPool3d_2a_3x3"] == (64, 8, 56, 56)
    assert shapes["Conv3d_2c_3x3"] == (192, 8, 56, 56) and shapes["Mixed_3c"] == (480, 8, 28, 28)
    assert shapes["Mixed_4f"] == (832, 4, 14, 14) and shapes["Mixed_5c"] == (1024, 2, 7, 7)
    assert y.shape == (1, 400) and torch.allclose(y, by_hand, atol=1e-4)


def test_small_inputs_pool_globally_and_train(model):
    m = InceptionI3d(num_classes=5)
    x = torch.rand(2, 3, 8, 32, 32) * 2 - 1
    y = m(x)
    assert y.shape == (2, 5)
    y.sum().backward()
    assert m.Conv3d_1a_7x7.conv3d.weight.grad.abs().sum() > 0
    m.eval()
    with torch.no_grad():
        fmap = m.feature_map(x)  # (2, 1024, 1, 1, 1)
        assert fmap.shape == (2, 1024, 1, 1, 1) and torch.allclose(m.features(x), fmap.flatten(1))
    with pytest.raises(ValueError, match="frames, height, width"):
        m(torch.zeros(3, 8, 32, 32))


def test_replace_logits_keeps_the_backbone(model):
    m = InceptionI3d(num_classes=400).eval()
    m.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 8, 32, 32)
    with torch.no_grad():
        before = m.features(x)
        m.replace_logits(7)
        assert m(x).shape == (1, 7) and torch.equal(m.features(x), before)
    assert m.logits.conv3d.weight.shape == (7, 1024, 1, 1, 1)


@pytest.mark.parametrize("shape, kernel, stride", [
    ((2, 3, 5, 9, 11), (1, 3, 3), (1, 2, 2)), ((1, 4, 6, 7, 7), (3, 3, 3), (1, 1, 1)),
    ((1, 2, 7, 8, 9), (3, 3, 3), (2, 2, 2)), ((1, 3, 4, 6, 5), (2, 2, 2), (2, 2, 2)),
])
def test_separable_max_pool_is_bit_identical_to_max_pool3d(shape, kernel, stride):
    from myovision.models.i3d import MaxPool3dSame, separable_max_pool3d

    x = torch.randn(shape)
    x[..., 0, 0, 0] = float("-inf")  # padding values take part like any other
    np.testing.assert_array_equal(separable_max_pool3d(x, kernel, stride).numpy(),
                                  torch.nn.functional.max_pool3d(x, kernel, stride).numpy())
    pool = MaxPool3dSame(kernel, stride)
    with torch.no_grad():
        fast = pool(x)  # inference: the separable path
    reference = pool(x.clone().requires_grad_(True))  # training: max_pool3d
    np.testing.assert_array_equal(fast.numpy(), reference.detach().numpy())
