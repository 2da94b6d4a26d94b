"""Clip heads: shapes, the authors' clip averaging, LSTM readouts against the LSTM equations."""

import pytest
import torch

import myovision as mv
from myovision.models import heads  # noqa: F401  (registers the heads)

HEADS = ["clip_linear", "clip_lstm", "clip_gru", "clip_transformer"]


@pytest.mark.parametrize("name", HEADS)
def test_head_shapes_forward_backward(name):
    torch.manual_seed(0)
    model = mv.create_model(name, input_dim=12, num_classes=7)
    x = torch.randn(4, 5, 12, requires_grad=True)
    out = model(x)
    assert out.shape == (4, 7)
    assert model.clip_logits(x).shape == (4, 5, 7)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", HEADS)
def test_head_batch_of_one_in_eval_mode(name):
    model = mv.create_model(name, input_dim=6, num_classes=3, dropout=0.5).eval()
    x = torch.randn(1, 5, 6)
    out = model(x)
    assert out.shape == (1, 3) and torch.isfinite(out).all()
    assert torch.equal(out, model(x))  # dropout is off in eval mode


@pytest.mark.parametrize("name", HEADS)
def test_head_rejects_wrong_feature_dim(name):
    model = mv.create_model(name, input_dim=6, num_classes=3)
    with pytest.raises(ValueError, match=r"\(batch, clips, 6\)"):
        model(torch.randn(2, 5, 7))


def test_clip_linear_is_batchnorm_then_linear_per_clip_averaged():
    torch.manual_seed(1)
    model = mv.create_model("clip_linear", input_dim=4, num_classes=3).eval().double()
    mu, var = torch.randn(4).double(), torch.rand(4).double() + 0.5
    gamma, beta = torch.randn(4).double(), torch.randn(4).double()
    with torch.no_grad():
        model.norm.running_mean.copy_(mu)
        model.norm.running_var.copy_(var)
        model.norm.weight.copy_(gamma)
        model.norm.bias.copy_(beta)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    w, b = model.fc.weight.detach(), model.fc.bias.detach()
    per_clip = ((x - mu) / torch.sqrt(var + model.norm.eps) * gamma + beta) @ w.T + b  # (2, 5, 3)
    assert torch.allclose(model.clip_logits(x), per_clip, atol=1e-12)
    assert torch.allclose(model(x), per_clip.mean(dim=1), atol=1e-12)


def _manual_lstm(x, rnn):
    """h_t of a 1-layer LSTM from its equations (PyTorch gate order i, f, g, o)."""
    w_ih, w_hh, b = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0
    hid = w_hh.shape[1]
    h = x.new_zeros(x.shape[0], hid)
    c = x.new_zeros(x.shape[0], hid)
    out = []
    for t in range(x.shape[1]):
        gates = x[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = gates.split(hid, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out, dim=1)


def test_lstm_readouts_mean_and_last_match_the_lstm_equations():
    torch.manual_seed(2)
    mean_head = mv.create_model("clip_lstm", input_dim=6, num_classes=4, hidden_dim=8, readout="mean").double()
    last_head = mv.create_model("clip_lstm", input_dim=6, num_classes=4, hidden_dim=8, readout="last").double()
    last_head.load_state_dict(mean_head.state_dict())
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        h = _manual_lstm(x, mean_head.rnn)  # (3, 5, 8)
        steps = h @ mean_head.fc.weight.T + mean_head.fc.bias  # (3, 5, 4)
        assert torch.allclose(mean_head.clip_logits(x), steps, atol=1e-10)
        assert torch.allclose(mean_head(x), steps.mean(dim=1), atol=1e-10)
        assert torch.allclose(last_head(x), steps[:, -1], atol=1e-10)
        assert not torch.allclose(mean_head(x), last_head(x), atol=1e-3)


def test_lstm_defaults_are_the_papers_one_layer_hidden_512():
    model = mv.create_model("clip_lstm", input_dim=1024, num_classes=20)
    assert model.rnn.num_layers == 1 and model.rnn.hidden_size == 512 and model.readout == "mean"
    with pytest.raises(ValueError, match="readout"):
        mv.create_model("clip_gru", input_dim=4, num_classes=2, readout="max")


def test_gru_last_readout_is_the_last_step():
    torch.manual_seed(3)
    model = mv.create_model("clip_gru", input_dim=5, num_classes=3, hidden_dim=6, readout="last").eval()
    x = torch.randn(2, 4, 5)
    assert torch.allclose(model(x), model.clip_logits(x)[:, -1])
    h, _ = model.rnn(x[:, :2])  # a causal RNN: the first steps do not depend on later clips
    assert torch.allclose(model.clip_logits(x)[:, :2], model.fc(h), atol=1e-6)


def test_transformer_uses_clip_order_and_averages_clip_logits():
    torch.manual_seed(4)
    model = mv.create_model("clip_transformer", input_dim=8, num_classes=3, dropout=0.0, max_clips=6).eval()
    with torch.no_grad():
        model.pos.normal_()  # make the learned positions matter
    x = torch.randn(2, 5, 8)
    assert torch.allclose(model(x), model.clip_logits(x).mean(dim=1), atol=1e-6)
    assert not torch.allclose(model(x), model(x.flip(1)), atol=1e-4)  # positions: order matters
    with pytest.raises(ValueError, match="at most 6 clips"):
        model(torch.randn(1, 7, 8))
