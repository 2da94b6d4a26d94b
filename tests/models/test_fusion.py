"""Fusion models, tested against the paper's formulas (sections 3.1-3.3), not against our own outputs."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import myovision as mv
from myovision.errors import InputError
from myovision.models import fusion  # noqa: F401  (registers the fusion models and heads)
from myovision.models.fusion import ClipSelfAttention

TWO = {"rgb": 10, "emg": 6}
THREE = {"rgb": 10, "emg": 6, "imu": 4}


class FixedHead(nn.Module):
    """A head that returns given per-clip logits (B, clips, C) whatever its input."""

    def __init__(self, clip_logits):
        super().__init__()
        self.z = clip_logits

    def clip_logits(self, x):
        return self.z

    def forward(self, x):
        return self.z.mean(dim=1)


def batch_of(inputs, b=3, n=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(b, n, d, generator=g, dtype=dtype) for m, d in inputs.items()}


def probs(model, batch):
    return model(batch).exp()


# ---- late fusion -------------------------------------------------------------------------------------

def test_late_fusion_mean_of_probabilities_hand_computed():
    model = mv.create_model("late_fusion", inputs={"rgb": 2, "emg": 2}, num_classes=2)
    # rgb: logits (0, ln 3) -> P = (1/4, 3/4); emg: logits (0, 0) -> P = (1/2, 1/2)
    model.heads["rgb"] = FixedHead(torch.tensor([[[0.0, math.log(3.0)]]]))
    model.heads["emg"] = FixedHead(torch.tensor([[[0.0, 0.0]]]))
    out = probs(model, batch_of({"rgb": 2, "emg": 2}, b=1, n=1))
    assert torch.allclose(out, torch.tensor([[3 / 8, 5 / 8]]), atol=1e-6)


def test_late_fusion_logits_combine_is_the_authors_sum_of_logits():
    model = mv.create_model("late_fusion", inputs={"rgb": 2, "emg": 2}, num_classes=2, combine="logits")
    model.heads["rgb"] = FixedHead(torch.tensor([[[0.0, math.log(3.0)]]]))
    model.heads["emg"] = FixedHead(torch.tensor([[[0.0, math.log(2.0)]]]))
    out = probs(model, batch_of({"rgb": 2, "emg": 2}, b=1, n=1))
    assert torch.allclose(out, torch.tensor([[1 / 7, 6 / 7]]), atol=1e-6)  # softmax(0, ln 6)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_fixed_p_is_p_times_rgb_plus_one_minus_p_times_emg(p):
    torch.manual_seed(0)
    model = mv.create_model("late_fusion", inputs=TWO, num_classes=5, weighting="fixed", p=p).double().eval()
    batch = batch_of(TWO, dtype=torch.float64)
    p_rgb = F.softmax(model.heads["rgb"](batch["rgb"]), dim=-1)
    p_emg = F.softmax(model.heads["emg"](batch["emg"]), dim=-1)
    assert torch.allclose(probs(model, batch), p * p_rgb + (1 - p) * p_emg, atol=1e-12)
    assert model.weight_dict() == pytest.approx({"rgb": p, "emg": 1 - p})


def test_fixed_weights_for_three_modalities():
    torch.manual_seed(0)
    w = {"rgb": 0.5, "emg": 0.2, "imu": 0.3}
    model = mv.create_model("late_fusion", inputs=THREE, num_classes=4, weighting="fixed", p=w).double().eval()
    batch = batch_of(THREE, dtype=torch.float64)
    expected = sum(w[m] * F.softmax(model.heads[m](batch[m]), dim=-1) for m in THREE)
    assert torch.allclose(probs(model, batch), expected, atol=1e-12)


@pytest.mark.parametrize("p", [1.2, -0.1, [0.5, 0.6], [0.5, 0.5, 0.1]])
def test_fixed_p_must_be_weights_summing_to_one(p):
    with pytest.raises(ValueError, match="p must"):
        mv.create_model("late_fusion", inputs=TWO, num_classes=3, weighting="fixed", p=p)


def _rewarding_only(model, batch, good, target):
    """Make modality `good` always right and every other modality confidently wrong."""
    c = model.num_classes
    for m in model.modalities:
        cls = target if m == good else (target + 1) % c
        model.heads[m] = FixedHead(5.0 * F.one_hot(cls, c).float()[:, None, :].expand(-1, 5, -1))


@pytest.mark.parametrize("inputs", [TWO, THREE])
def test_learnable_p_starts_equal_has_a_gradient_and_stays_in_0_1(inputs):
    model = mv.create_model("late_fusion", inputs=inputs, num_classes=3, weighting="learnable")
    m = len(inputs)
    assert torch.allclose(model.weights(), torch.full((m,), 1.0 / m))
    batch, target = batch_of(inputs, b=8), torch.arange(8) % 3
    _rewarding_only(model, batch, "emg", target)  # pushes the emg weight up to 1, others to 0
    opt = torch.optim.SGD(model.parameters(), lr=100.0)
    loss = F.nll_loss(model(batch), target)
    loss.backward()
    grad = model.modality_weights.theta.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    for _ in range(60):
        opt.zero_grad()
        F.nll_loss(model(batch), target).backward()
        opt.step()
        w = model.weights()
        assert ((w >= 0) & (w <= 1)).all() and torch.isclose(w.sum(), torch.tensor(1.0))
    assert model.weight_dict()["emg"] > 0.99


def test_learnable_p_initial_value_and_gradient_through_sigmoid():
    model = mv.create_model("late_fusion", inputs=TWO, num_classes=3, weighting="learnable", p=0.8)
    assert model.weights()[0].item() == pytest.approx(0.8)
    theta = model.modality_weights.theta
    model.weights()[0].backward()
    assert theta.grad.item() == pytest.approx(0.8 * 0.2)  # d sigmoid / d theta = p (1 - p)


# ---- attention ---------------------------------------------------------------------------------------

def test_clip_attention_matches_the_formula_masked_diagonal_and_sums():
    torch.manual_seed(0)
    att = ClipSelfAttention(8, d_k=4, alpha=1.25).double()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    s, w = att(x)
    q, k = x @ att.q.weight.T, x @ att.k.weight.T
    logits = 1.25 * q @ k.transpose(1, 2) / math.sqrt(4)
    e = torch.exp(logits) * (1 - torch.eye(5, dtype=torch.float64))  # exp(-inf) = 0 on the diagonal
    expected = e / e.sum(-1, keepdim=True)
    assert torch.allclose(s, expected, atol=1e-12)
    assert torch.equal(torch.diagonal(s, dim1=1, dim2=2), torch.zeros(3, 5, dtype=torch.float64))
    assert torch.allclose(s.sum(-1), torch.ones(3, 5, dtype=torch.float64))
    assert torch.allclose(w, expected.mean(dim=1), atol=1e-12)  # attention received, mean over queries
    assert torch.allclose(w.sum(-1), torch.ones(3, dtype=torch.float64))


def test_temperature_sharpens_the_clip_weights():
    att = ClipSelfAttention(4, alpha=1.0)
    with torch.no_grad():
        att.q.weight.copy_(torch.eye(4))
        att.k.weight.copy_(torch.eye(4))
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.tensor([[[2.0, 0, 0, 0]]]), torch.tensor([1.0, 0, 0, 0]) + 0.3 * torch.randn(1, 4, 4, generator=g)], 1)
    maxima = []
    for alpha in [0.0, 0.5, 1.0, 2.0, 4.0]:
        att.alpha = alpha
        _, w = att(x)
        maxima.append(w.max().item())
        if alpha == 0.0:  # no preference: every clip gets 1/n
            assert torch.allclose(w, torch.full((1, 5), 0.2))
    assert all(a < b for a, b in zip(maxima, maxima[1:])), maxima


def test_single_clip_gets_all_the_weight_and_large_alpha_keeps_gradients_finite():
    att = ClipSelfAttention(4, alpha=1e4)
    _, w = att(torch.randn(2, 1, 4))
    assert torch.equal(w, torch.ones(2, 1))
    model = mv.create_model("attention_late_fusion", inputs=TWO, num_classes=3, alpha=1e4)
    model(batch_of(TWO)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_attention_prediction_is_the_weighted_average_of_clip_probabilities():
    torch.manual_seed(0)
    model = mv.create_model("attention_late_fusion", inputs=TWO, num_classes=4).double().eval()
    batch = batch_of(TWO, dtype=torch.float64)
    out = model.forward_details(batch)
    per_mod = []
    for i, m in enumerate(model.modalities):
        _, w = model.attention[m](batch[m])  # (B, n) from its own clips
        p_clip = F.softmax(model.heads[m].clip_logits(batch[m]), dim=-1)  # (B, n, C)
        per_mod.append((w[..., None] * p_clip).sum(dim=1))
        assert torch.allclose(out.clip_weights[:, i], w, atol=1e-12)
    assert torch.allclose(out.modality_log_probs.exp(), torch.stack(per_mod, 1), atol=1e-12)
    assert torch.allclose(out.log_probs.exp(), (per_mod[0] + per_mod[1]) / 2, atol=1e-12)
    assert out.clip_weights.shape == (3, 2, 5) and out.scores.shape == (3, 2, 5, 5)
    assert torch.allclose(out.clip_weights.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    assert (torch.diagonal(out.scores, dim1=2, dim2=3) == 0).all()


def _clip_weights(model, batch, modality):
    return model.forward_details(batch).clip_weights[:, model.modalities.index(modality)]


@pytest.mark.parametrize("weights_from,source", [("other", "emg"), ("emg", "emg"), ("self", "rgb")])
def test_weights_from_takes_the_clip_weights_from_the_source_modality(weights_from, source):
    torch.manual_seed(0)
    model = mv.create_model("attention_late_fusion", inputs=TWO, num_classes=3, weights_from=weights_from).eval()
    batch = batch_of(TWO)
    base = _clip_weights(model, batch, "rgb")
    for changed in TWO:
        other = dict(batch, **{changed: batch_of(TWO, seed=1)[changed]})
        moved = not torch.allclose(_clip_weights(model, other, "rgb"), base, atol=1e-6)
        assert moved == (changed == source), (changed, weights_from)


def test_weights_from_other_needs_two_modalities_and_names_must_exist():
    with pytest.raises(ValueError, match="exactly two"):
        mv.create_model("attention_late_fusion", inputs=THREE, num_classes=3, weights_from="other")
    with pytest.raises(ValueError, match="weights_from"):
        mv.create_model("attention_late_fusion", inputs=TWO, num_classes=3, weights_from="depth")


# ---- every model: registry, shapes, NLL training step, ablation ----------------------------------------

CONFIGS = [
    ("late_fusion", {}),
    ("late_fusion", {"combine": "logits"}),
    ("late_fusion", {"weighting": "learnable"}),
    ("late_fusion", {"head": "clip_lstm", "head_kwargs": {"hidden_dim": 16}}),
    ("late_fusion", {"head": "clip_gru", "head_kwargs": {"hidden_dim": 16, "readout": "last"}}),
    ("late_fusion", {"head": "clip_transformer", "head_kwargs": {"d_model": 16, "dim_feedforward": 32}}),
    ("mid_fusion", {"hidden_dim": 16}),
    ("mid_fusion", {"hidden_dim": 16, "block": "mlp", "activation": None, "head": "clip_lstm",
                    "head_kwargs": {"hidden_dim": 8}}),
    ("attention_late_fusion", {}),
    ("attention_late_fusion", {"weights_from": "rgb", "combine": "logits"}),
    ("attention_late_fusion", {"head": "clip_lstm", "head_kwargs": {"hidden_dim": 16}, "weighting": "learnable"}),
]


@pytest.mark.parametrize("inputs", [TWO, THREE], ids=["2 modalities", "3 modalities"])
@pytest.mark.parametrize("name,kwargs", CONFIGS)
def test_fusion_forward_backward_and_nll(name, kwargs, inputs):
    torch.manual_seed(0)
    model = mv.create_model(name, inputs=inputs, num_classes=4, **kwargs)
    batch = dict(batch_of(inputs), label=torch.tensor([0, 1, 3]))
    log_probs = model(batch)
    assert log_probs.shape == (3, 4)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3), atol=1e-5)  # log-probabilities
    F.nll_loss(log_probs, batch["label"]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    one = {m: x[:1] for m, x in batch_of(inputs).items()}
    assert model(one).shape == (1, 4)


@pytest.mark.parametrize("inputs", [TWO, THREE], ids=["2 modalities", "3 modalities"])
@pytest.mark.parametrize("name,kwargs", CONFIGS + [("attention_late_fusion", {"weights_from": "other"})])
def test_every_fusion_model_uses_all_its_inputs(name, kwargs, inputs):
    if kwargs.get("weights_from") == "other" and len(inputs) != 2:
        pytest.skip('weights_from="other" is defined for two modalities')
    torch.manual_seed(0)
    model = mv.create_model(name, inputs=inputs, num_classes=4, **kwargs).eval()
    batch, replacement = batch_of(inputs), batch_of(inputs, seed=7)
    with torch.no_grad():
        base = model(batch)
        for m in inputs:
            for ablated in (torch.zeros_like(batch[m]), replacement[m]):
                out = model(dict(batch, **{m: ablated}))
                assert (out - base).abs().max() > 1e-5, f"{name} {kwargs} ignores {m!r}"


def test_registered_names():
    assert {"late_fusion", "mid_fusion", "attention_late_fusion"} <= set(mv.list_models("*fusion*"))
    assert {"clip_linear", "clip_lstm", "clip_gru", "clip_transformer"} <= set(mv.list_models("clip_*"))


def test_bad_batches_get_clear_errors():
    model = mv.create_model("late_fusion", inputs=TWO, num_classes=3)
    batch = batch_of(TWO)
    with pytest.raises(InputError, match="lacks modalities \\['emg'\\]"):
        model({"rgb": batch["rgb"]})
    with pytest.raises(InputError, match="same clips"):
        model({"rgb": batch["rgb"], "emg": batch["emg"][:, :4]})
    with pytest.raises(InputError, match=r"'emg': expected \(batch, clips, 6\)"):
        model({"rgb": batch["rgb"], "emg": batch["rgb"]})


def test_mid_fusion_mlp_block_activation_is_configurable():
    relu = mv.create_model("mid_fusion", inputs=TWO, num_classes=3, hidden_dim=8, block="mlp")
    linear = mv.create_model("mid_fusion", inputs=TWO, num_classes=3, hidden_dim=8, block="mlp", activation="none")
    assert isinstance(relu.fusion[1], nn.ReLU) and isinstance(linear.fusion[1], nn.Identity)
    assert relu.fused_features(batch_of(TWO)).shape == (3, 5, 8)
    with pytest.raises(ValueError, match="activation"):
        mv.create_model("mid_fusion", inputs=TWO, num_classes=3, block="mlp", activation="swish")
    with pytest.raises(ValueError, match="no activation or dropout"):
        mv.create_model("mid_fusion", inputs=TWO, num_classes=3, dropout=0.5)
    with pytest.raises(ValueError, match="block must be one of"):
        mv.create_model("mid_fusion", inputs=TWO, num_classes=3, block="deep")


def test_mid_fusion_paper_block_is_batchnorm_concat_and_two_linear_layers():
    """The authors' mid fusion: one BatchNorm over the concatenation, Linear(sum, hidden) -> Linear(hidden,
    classes) per clip, no non-linearity, logits averaged over clips; computed here by hand from its weights."""
    torch.manual_seed(0)
    model = mv.create_model("mid_fusion", inputs=TWO, num_classes=3, hidden_dim=8).eval()
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 2
    assert not any(isinstance(m, (nn.ReLU, nn.GELU, nn.Tanh)) for m in model.modules())
    assert all(m.p == 0 for m in model.modules() if isinstance(m, nn.Dropout))
    for norm in model.norms.values():  # non-trivial running statistics
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    batch = batch_of(TWO)
    x = torch.cat([batch[m] for m in model.modalities], dim=-1)  # (B, clips, sum)
    mean = torch.cat([model.norms[m].running_mean for m in model.modalities])
    var = torch.cat([model.norms[m].running_var for m in model.modalities])
    weight = torch.cat([model.norms[m].weight for m in model.modalities])
    bias = torch.cat([model.norms[m].bias for m in model.modalities])
    z = (x - mean) / torch.sqrt(var + 1e-5) * weight + bias
    logits = model.head.fc(model.fusion(z)).mean(1)  # (B, classes)
    with torch.no_grad():
        torch.testing.assert_close(model(batch), torch.log_softmax(logits, -1))
