import pytest
import torch
from torch import nn

from myovision.profiling import Profile, count_macs, count_params, cpu_latency_ms, param_memory_mb, profile_model


def test_conv_macs_by_hand_with_groups_and_stride():
    conv = nn.Conv2d(6, 4, (3, 5), stride=2, padding=1, groups=2)
    x = torch.randn(2, 6, 9, 11)
    out = conv(x)
    assert out.shape == (2, 4, 5, 5)
    assert count_macs(conv, x) == 2 * 4 * 5 * 5 * (6 // 2) * 3 * 5


def test_attention_and_transformer_layer_counted_through_their_projections():
    b, length, e, ff = 2, 5, 8, 12
    mha = nn.MultiheadAttention(e, 2, batch_first=True)
    x = torch.randn(b, length, e)
    per_item = 4 * length * e * e + 2 * length * length * e  # Q, K, V, out projections + QK^T + AV
    assert count_macs(mha, x, x, x) == b * per_item
    layer = nn.TransformerEncoderLayer(e, 2, ff, batch_first=True)
    with torch.no_grad():  # the count must not depend on PyTorch's fused inference path
        assert count_macs(layer, x) == b * (per_item + 2 * length * e * ff)


def test_lstm_macs_per_step_layer_and_direction():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 7, 3)
    steps = 2 * 7
    expected = 2 * steps * 4 * (3 + 4) * 4 + 2 * steps * 4 * (8 + 4) * 4
    assert count_macs(lstm, x) == expected


def test_params_memory_and_training_flag_kept():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    assert count_params(model) == 4 * 3 + 3 + 2 * 3
    assert param_memory_mb(model) == pytest.approx(21 * 4 / 2**20)
    assert param_memory_mb(model.double()) == pytest.approx(21 * 8 / 2**20)
    model.train()
    count_macs(model.float(), torch.randn(2, 4))
    assert model.training


def test_profile_model_reports_all_four_numbers():
    p = profile_model(nn.Linear(10, 5), (3, 10), repeats=2)
    assert isinstance(p, Profile) and p.params == 55 and p.macs == 150 and p.latency_ms > 0
    assert set(p.asdict()) == {"params", "macs", "memory_mb", "latency_ms"}
    assert profile_model(nn.Linear(10, 5), (3, 10), repeats=0).latency_ms is None
    assert cpu_latency_ms(nn.Identity(), torch.zeros(1), repeats=3) >= 0


def test_on_pass_called_once_per_forward_pass():
    from myovision.profiling import forward_passes

    calls = []
    profile_model(nn.Linear(4, 3), (2, 4), repeats=3, warmup=2, on_pass=lambda: calls.append(1))
    assert len(calls) == forward_passes(3, 2) == 6
    calls.clear()
    profile_model(nn.Linear(4, 3), (2, 4), repeats=0, on_pass=lambda: calls.append(1))
    assert len(calls) == forward_passes(0) == 1


def test_count_macs_of_i3d_equals_torchs_flop_counter():
    """I3D's units convolve through F.conv3d (their own SAME padding), past nn.Conv3d's hook; the count must
    still see every convolution: equal to torch.utils.flop_counter's multiply-adds (convolutions and the
    logits' 1x1x1 conv are all it counts here)."""
    from torch.utils.flop_counter import FlopCounterMode

    from myovision.registry import create_model

    model = create_model("i3d", num_classes=5).eval()
    x = torch.zeros(1, 3, 8, 64, 64)
    with FlopCounterMode(display=False) as counter, torch.enable_grad():
        model(x)
    assert count_macs(model, x) == counter.get_total_flops() // 2 > 0
