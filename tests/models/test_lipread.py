import pytest
import torch

import myovision as mv
from myovision.errors import InputError
from myovision.models.lipread import LipReader, padding_mask, sinusoidal_positions
from myovision.models.lipread_frontends import FRONTENDS
from myovision.profiling import count_macs, param_memory_mb


@pytest.fixture(scope="module")
def frontends():
    torch.manual_seed(0)
    return {name: mv.create_model(name).eval() for name in FRONTENDS}


def test_frontends_give_one_512_feature_per_frame(frontends):
    x = torch.randn(2, 1, 6, 32, 32)
    for name, model in frontends.items():
        assert model(x).shape == (2, 6, 512), name


def test_video_shorter_than_the_stem_kernel_is_a_clear_error(frontends):
    with pytest.raises(InputError, match="4 frames is shorter than the stem's temporal kernel of 5"):
        frontends["stires3d"](torch.randn(1, 1, 4, 32, 32))
    with pytest.raises(InputError, match="expected video of shape"):
        frontends["stires3d"](torch.randn(1, 3, 8, 32, 32))


def test_paper_ordering_of_cost_stires3d_resnet18_p3d_all3d(frontends):
    x = torch.randn(1, 1, 5, 32, 32)
    order = ["stires3d", "resnet18_3dstem", "p3d", "all3d"]
    macs = [count_macs(frontends[n], x) for n in order]
    memory = [param_memory_mb(frontends[n]) for n in order]
    assert macs == sorted(macs) and len(set(macs)) == 4
    assert memory == sorted(memory) and len(set(memory)) == 4
    assert count_macs(frontends["sti3d"], x) < macs[0]  # the shortcut costs something


def test_only_the_3d_trunks_see_beyond_the_stem_window(frontends):
    x = torch.randn(1, 1, 9, 32, 32)
    y = x.clone()
    y[:, :, 0] += 1.0  # change the first frame only
    with torch.no_grad():
        change = {n: (m(x) - m(y)).abs().amax(dim=(0, 2)) for n, m in frontends.items()}  # (T,)
    assert change["resnet18_3dstem"][3:].max() == 0  # the 5-frame stem reaches frames 0-2 only
    for name in ("all3d", "p3d", "sti3d", "stires3d"):
        assert change[name][3] > 0, name


def test_sinusoidal_positions_and_padding_mask():
    table = sinusoidal_positions(4, 6)
    assert torch.allclose(table[0], torch.tensor([0.0, 1, 0, 1, 0, 1]))
    assert torch.isclose(table[3, 2], torch.sin(torch.tensor(3 / 10000 ** (2 / 6))))
    assert padding_mask(torch.tensor([2, 4]), 4).tolist() == [[False, False, True, True], [False] * 4]


@pytest.mark.parametrize("name,kwargs", [
    ("lip_transformer", {"d_model": 16, "num_heads": 2, "dim_feedforward": 32, "num_layers": 2}),
    ("lip_gru", {"hidden": 8, "num_layers": 2})])
def test_backend_ignores_padded_frames(name, kwargs):
    torch.manual_seed(0)
    back = mv.create_model(name, num_outputs=7, input_dim=16, **kwargs).eval()
    f = torch.randn(1, 6, 16)
    g = f.clone()
    g[:, 4:] = 100.0
    lengths = torch.tensor([4])
    with torch.no_grad():
        assert back(f, lengths).shape == (1, 6, 7)
        assert torch.allclose(back(f, lengths)[:, :4], back(g, lengths)[:, :4], atol=1e-5)
        assert not torch.allclose(back(f)[:, :4], back(g)[:, :4], atol=1e-3)


def test_lipreader_composes_frontend_and_six_layer_transformer():
    model = mv.create_model("lipreader", num_outputs=11, frontend="sti3d", frontend_kwargs={"omega": 1},
                            d_model=64, num_heads=4, dim_feedforward=128)
    assert isinstance(model, LipReader) and len(model.backend.encoder.layers) == 6
    assert model.frontend.trunk[0].body[0].separable[0].out_channels == 32  # omega * 64 / 2
    video = torch.randn(2, 1, 5, 24, 24)
    logp = model.log_posteriors(video)
    assert logp.shape == (2, 5, 11)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 5), atol=1e-5)
    logp.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_lipreader_takes_the_gru_backend_by_name():
    model = mv.create_model("lipreader", num_outputs=5, frontend="resnet18_3dstem",
                            frontend_kwargs={"widths": (8, 8, 16, 16)}, backend="lip_gru", hidden=8)
    assert model.backend.rnn.bidirectional and model.backend.rnn.hidden_size == 8
    assert model(torch.randn(2, 1, 5, 16, 16), torch.tensor([5, 3])).shape == (2, 5, 5)
