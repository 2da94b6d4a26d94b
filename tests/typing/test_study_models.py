"""The CNN+BiLSTM study's models against its code (abhimanyu911/C147_247_project): block order, dropout sites,
padding, squeeze-and-excitation per TDS conv block (reduction 8, bias-free), RNN sizes, and parameter counts
computed by hand from the layer sizes."""

import pytest
import torch
from torch import nn

import myovision as mv
from myovision.models.tds import SqueezeExcitation, TDSConv2dBlock, TDSConvEncoder, TDSFullyConnectedBlock
from myovision.models.typing_variants import ReducedFeatures, ResidualConv1dBlock


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def lstm_params(inp: int, hidden: int, layers: int, gates: int = 4) -> int:
    """Bidirectional PyTorch LSTM/GRU: per layer and direction gates x (hidden x (in + hidden) + 2 hidden)."""
    total = 0
    for _ in range(layers):
        total += 2 * gates * (hidden * (inp + hidden) + 2 * hidden)
        inp = 2 * hidden
    return total


def encoder_of(model) -> TDSConvEncoder:
    return next(m for m in model.modules() if isinstance(m, TDSConvEncoder))


def dropout_rates(module: nn.Module) -> list[float]:
    return [m.p for m in module.modules() if isinstance(m, nn.Dropout)]


def test_best_model_has_se_after_every_tds_conv_block_and_dropout_inside_the_blocks():
    model = mv.create_model("tds_bilstm_se_ctc")
    blocks = list(encoder_of(model).tds_conv_blocks)
    assert [type(b) for b in blocks] == [TDSConv2dBlock, SqueezeExcitation, TDSFullyConnectedBlock] * 4
    for conv, se, fc in zip(blocks[0::3], blocks[1::3], blocks[2::3]):
        assert conv.conv2d.padding == (0, 15) and conv.conv2d.kernel_size == (1, 32) and conv.dropout.p == 0.3
        assert [type(m) for m in fc.fc_block] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear] and fc.fc_block[2].p == 0.3
        first, second = se.fc[0], se.fc[2]
        assert first.bias is None and second.bias is None
        assert tuple(first.weight.shape) == (960 // 8, 960) and tuple(second.weight.shape) == (960, 960 // 8)
    # no dropout outside the encoder and the LSTM: not after the MLP, not before the classifier
    top = [type(m) for m in model.model]
    assert nn.Dropout not in top
    lstm = next(m for m in model.modules() if isinstance(m, nn.LSTM))
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.dropout, lstm.bidirectional) == (960, 128, 2, 0.3, True)
    assert model.model[-2].in_features == 256 and model.model[-2].out_features == 99


def test_parameter_counts_from_layer_sizes():
    mlp480 = n_params(mv.create_model("tds_mlp480_ctc"))
    classifier_960 = 960 * 99 + 99
    se = 4 * 2 * 960 * 120
    lstm = lstm_params(960, 128, 2)
    assert n_params(mv.create_model("tds_mlp480_dropout_ctc")) == mlp480  # dropout adds no weights
    assert n_params(mv.create_model("tds_bilstm_ctc")) == mlp480 - classifier_960 + lstm + 256 * 99 + 99
    assert n_params(mv.create_model("tds_bilstm_se_ctc")) == mlp480 - classifier_960 + se + lstm + 256 * 99 + 99
    gru = lstm_params(960, 256, 2, gates=3)
    assert n_params(mv.create_model("cnn_gru_ctc")) == mlp480 - classifier_960 + gru + 512 * 99 + 99
    # 64 (BatchNorm) + 2 x (528 x 480 + 480) + 4 x (24 x 24 x 32 + 24 + 2 x 960 + 2 x (960^2 + 960) + 2 x 960) + classifier
    assert mlp480 == 64 + 2 * (528 * 480 + 480) + 4 * (24 * 24 * 32 + 24 + 4 * 960 + 2 * (960 * 960 + 960)) + classifier_960


@pytest.mark.parametrize("name,kwargs,rate", [("tds_mlp480_dropout_ctc", {}, 0.3), ("tds_bilstm_ctc", {}, 0.3),
                                              ("cnn_gru_ctc", {}, 0.3), ("cnn_gru_ctc", {"dropout": 0.0}, 0.0)])
def test_study_tds_models_pad_their_convolutions_and_drop_out_in_every_block(name, kwargs, rate):
    model = mv.create_model(name, **kwargs).eval()
    blocks = list(encoder_of(model).tds_conv_blocks)
    assert [type(b) for b in blocks] == [TDSConv2dBlock, TDSFullyConnectedBlock] * 4
    assert dropout_rates(encoder_of(model)) == [rate] * 8  # one per conv block, one per fully connected block
    assert model(torch.zeros(100, 1, 2, 16, 33)).shape[0] == 100 - 4  # padding 15 with kernel 32: one frame per block
    assert all(not isinstance(m, SqueezeExcitation) for m in model.modules())


def test_cnn_gru_is_the_studys_tds_encoder_with_a_bigru():
    model = mv.create_model("cnn_gru_ctc", mlp=600)
    gru = next(m for m in model.modules() if isinstance(m, nn.GRU))
    assert (gru.input_size, gru.hidden_size, gru.num_layers, gru.dropout, gru.bidirectional) == (1200, 256, 2, 0.3, True)


def test_emg2qwerty_baseline_keeps_valid_convolutions_and_no_dropout():
    model = mv.create_model("tds_mlp480_ctc").eval()
    assert dropout_rates(model) == [] and model(torch.zeros(200, 1, 2, 16, 33)).shape[0] == 200 - 124
    assert [type(m) for m in encoder_of(model).tds_conv_blocks[1].fc_block] == [nn.Linear, nn.ReLU, nn.Linear]


def test_squeeze_excitation_matches_its_formula():
    se = SqueezeExcitation(40, 8)
    x = torch.randn(7, 3, 40)
    w1, w2 = se.fc[0].weight, se.fc[2].weight  # (5, 40), (40, 5)
    gate = torch.sigmoid(torch.relu(x.mean(0) @ w1.T) @ w2.T)  # (N, F)
    torch.testing.assert_close(se(x), x * gate[None])
    assert SqueezeExcitation(16, 8).fc[0].out_features == 4  # at least 4 hidden units, as the study's code


@pytest.mark.parametrize("kwargs,features,frames", [({}, 576, 100 - 31), ({"kernel": 16}, 576, 100 - 15),
                                                     ({"kernel": 16, "expand": True}, 768, 100)])
def test_dimensionality_reduction_rows(kwargs, features, frames):
    model = mv.create_model("tds_reduced_ctc", **kwargs).eval()
    reduce = next(m for m in model.modules() if isinstance(m, ReducedFeatures))
    kernel = kwargs.get("kernel", 32)
    assert tuple(reduce.conv1d.weight.shape) == (576, 768, kernel)
    assert (reduce.transpose is not None) == kwargs.get("expand", False)
    assert encoder_of(model).tds_conv_blocks[0].layer_norm.normalized_shape == (features,)
    x = torch.zeros(100 + 124, 1, 2, 16, 33)
    assert model(x).shape[0] == frames


def test_residual_cnn_encoder_blocks():
    model = mv.create_model("residual_cnn_ctc").eval()
    blocks = [m for m in model.modules() if isinstance(m, ResidualConv1dBlock)]
    assert len(blocks) == 4 and all(b.conv.kernel_size == (9,) and b.conv.padding == (4,) for b in blocks)
    assert all(b.skip_proj is None and b.dropout.p == 0.2 for b in blocks)
    assert isinstance(model.model[3], nn.Linear) and model.model[3].out_features == 24  # projection 768 -> 24
    assert dropout_rates(model) == [0.2] * 8  # inside each block and between blocks
    assert model(torch.zeros(50, 2, 2, 16, 33)).shape == (50, 2, 99)
    proj = mv.create_model("residual_cnn_ctc", mlp=12, block_channels=(8, 16))
    assert [b.skip_proj is not None for b in proj.modules() if isinstance(b, ResidualConv1dBlock)] == [False, True]
