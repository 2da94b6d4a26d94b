"""Typing models: Meta's TDS-conv layout and parameter count, its Lightning checkpoints loading as-is, and a
forward/backward pass of every registered typing model."""

import sys
import types

import pytest
import torch

import myovision as mv
from myovision.errors import InputError
from myovision.registry import load_checkpoint, read_state_dict

TYPING_MODELS = ["tds_conv_ctc", "tds_mlp480_ctc", "tds_mlp480_dropout_ctc", "tds_bilstm_ctc", "tds_bilstm_se_ctc",
                 "cnn_gru_ctc", "cnn_transformer_ctc", "transformer_ctc", "tds_reduced_ctc", "residual_cnn_ctc"]
TINY = {"tds_conv_ctc": dict(mlp_features=(24,), block_channels=(8,), kernel_width=4),
        "tds_mlp480_ctc": dict(mlp=12, block_channels=(8,), kernel_width=4),
        "tds_mlp480_dropout_ctc": dict(mlp=12, block_channels=(8,), kernel_width=4),
        "cnn_gru_ctc": dict(mlp=12, block_channels=(8,), kernel_width=4, gru_hidden=8),
        "cnn_transformer_ctc": dict(mlp=12, hidden=16), "transformer_ctc": dict(d_model=16, layers=1),
        "tds_reduced_ctc": dict(reduced=48, kernel=2, block_channels=(8,), kernel_width=4),
        "residual_cnn_ctc": dict(mlp=12, block_channels=(8, 16))}
TDS_TINY = dict(mlp=12, block_channels=(8,), kernel_width=4, rnn_hidden=8)


def meta_state_dict_keys():
    """The keys of emg2qwerty's TDSConvCTCModule (model.0 .. model.4), written out from its module layout."""
    keys = [f"model.0.batch_norm.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    keys += [f"model.1.mlps.{b}.mlp.0.{n}" for b in (0, 1) for n in ("weight", "bias")]
    for i in range(4):
        keys += [f"model.3.tds_conv_blocks.{2 * i}.{p}.{n}" for p in ("conv2d", "layer_norm") for n in ("weight", "bias")]
        keys += [f"model.3.tds_conv_blocks.{2 * i + 1}.{p}.{n}" for p in ("fc_block.0", "fc_block.2", "layer_norm")
                 for n in ("weight", "bias")]
    return keys + ["model.4.weight", "model.4.bias"]


def test_tds_conv_ctc_has_metas_layout_and_size():
    model = mv.create_model("tds_conv_ctc")
    assert sorted(model.state_dict()) == sorted(meta_state_dict_keys())
    # 64 (BatchNorm) + 2 x (528 x 384 + 384) + 4 x (24 x 24 x 32 + 24 + 2 x 768 + 2 x (768 x 768 + 768) + 2 x 768)
    # + 768 x 99 + 99
    assert sum(p.numel() for p in model.parameters()) == 5_293_315
    assert tuple(model.state_dict()["model.3.tds_conv_blocks.0.conv2d.weight"].shape) == (24, 24, 1, 32)


def test_tds_output_length_and_log_probabilities():
    model = mv.create_model("tds_conv_ctc", **TINY["tds_conv_ctc"]).eval()
    out = model(torch.randn(30, 3, 2, 16, 33))
    assert out.shape == (30 - 3, 3, 99)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(27, 3))


@pytest.fixture
def fake_omegaconf(monkeypatch):
    """A stand-in `omegaconf.dictconfig.DictConfig`, pickled by reference like Hydra's configs in Meta's .ckpt."""
    module = types.ModuleType("omegaconf.dictconfig")

    class DictConfig:
        def __init__(self, content):
            self._content = content

        def __getstate__(self):
            return {"_content": self._content, "_flags": {"readonly": None}}

    DictConfig.__module__, DictConfig.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    module.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", module)
    return DictConfig


def lightning_checkpoint(path, state, hparams):
    torch.save({"epoch": 120, "global_step": 9000, "pytorch-lightning_version": "1.8.6", "state_dict": state,
                "hyper_parameters": hparams, "callbacks": {}, "optimizer_states": [], "lr_schedulers": []}, path)
    return path


def test_metas_lightning_checkpoint_loads_as_is(tmp_path, fake_omegaconf):
    source = mv.create_model("tds_conv_ctc")
    hparams = {"optimizer": fake_omegaconf({"_target_": "torch.optim.Adam", "lr": 1e-3}), "in_features": 528}
    path = lightning_checkpoint(tmp_path / "generic.ckpt", source.state_dict(), hparams)
    with pytest.raises(Exception):  # plain weights-only loading refuses the Hydra config
        torch.load(path, weights_only=True)
    model = mv.create_model("tds_conv_ctc", checkpoint=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert set(read_state_dict(path)) == set(meta_state_dict_keys())


def test_plain_lightning_checkpoint_loads_through_create_model(tmp_path):
    source = mv.create_model("tds_conv_ctc")
    path = lightning_checkpoint(tmp_path / "plain.ckpt", source.state_dict(), {"in_features": 528})
    model = mv.create_model("tds_conv_ctc", checkpoint=path)
    assert torch.equal(model.state_dict()["model.4.weight"], source.state_dict()["model.4.weight"])


def test_checkpoint_of_another_layout_is_an_input_error(tmp_path, fake_omegaconf):
    state = mv.create_model("tds_conv_ctc").state_dict()
    state["model.9.weight"] = state.pop("model.4.weight")
    path = lightning_checkpoint(tmp_path / "odd.ckpt", state, {"cfg": fake_omegaconf({})})
    with pytest.raises(InputError, match=r"missing \['model.4.weight'\], unexpected \['model.9.weight'\]"):
        load_checkpoint(mv.create_model("tds_conv_ctc"), path)


@pytest.mark.parametrize("name", TYPING_MODELS)
def test_every_typing_model_runs_forward_and_backward(name):
    assert name in mv.list_models("*ctc*")
    model = mv.create_model(name, **TINY.get(name, TDS_TINY))
    x = torch.randn(20, 2, 2, 16, 33)
    out = model(x)
    assert out.shape[1:] == (2, 99) and out.shape[0] in (20, 19, 17, 16)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(out.shape[:2]))
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


