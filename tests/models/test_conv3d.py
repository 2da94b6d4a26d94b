from fractions import Fraction

import pytest
import torch

import myovision as mv
from myovision.models.conv3d import StingyUnit, channel_shuffle
from myovision.profiling import count_macs, count_params

# (C_in, C_out, T_k, K, omega, T, D)
CASES = [(8, 8, 3, 3, 2, 4, 6), (16, 8, 5, 3, 1, 3, 5), (8, 12, 3, 5, 0.5, 2, 7), (4, 6, 1, 3, 3, 3, 4)]


def _macs(name, c_in, c_out, tk, k, t, d, **kw):
    block = mv.create_model(name, in_channels=c_in, out_channels=c_out, temporal_kernel=tk, kernel=k, **kw)
    x = torch.randn(1, c_in, t, d, d)
    assert block(x).shape == (1, c_out, t, d, d)  # same padding, stride 1
    return count_macs(block, x)


@pytest.mark.parametrize("c_in,c_out,tk,k,omega,t,d", CASES)
def test_counted_macs_equal_the_papers_formulas(c_in, c_out, tk, k, omega, t, d):
    assert _macs("conv3d_block", c_in, c_out, tk, k, t, d) == t * tk * d**2 * k**2 * c_in * c_out  # eq. (4)
    assert _macs("p3d_block", c_in, c_out, tk, k, t, d) == (t * d**2 * k**2 * c_in * c_out
                                                            + t * tk * d**2 * c_out**2)  # eq. (5)
    w = Fraction(omega)
    stires = t * d**2 * c_in * ((3 + w) / 2 * c_out + w / 4 * c_in + w / 2 * tk * k**2)  # eq. (6)
    assert _macs("stires3d_block", c_in, c_out, tk, k, t, d, omega=omega) == stires
    assert _macs("sti3d_block", c_in, c_out, tk, k, t, d, omega=omega) == stires - t * d**2 * c_in * c_out


def test_stingy_parameters_follow_the_block_structure():
    c_in, c_out, omega, tk, k = 8, 12, 2, 3, 3
    wide = omega * c_in // 2
    weights = c_in // 2 * c_out + c_in // 2 * wide + wide * tk * k * k + wide * c_out  # A, B1, depth-wise, B2
    bn = 2 * 2 * wide  # two batch norms on the wide path
    sti = mv.create_model("sti3d_block", in_channels=c_in, out_channels=c_out, omega=omega)
    stires = mv.create_model("stires3d_block", in_channels=c_in, out_channels=c_out, omega=omega)
    assert count_params(sti) == weights + bn
    assert count_params(stires) == weights + bn + c_in * c_out  # the point-wise shortcut
    assert stires.separable[3].groups == wide  # channel-wise (depth-wise) convolution


def test_stires3d_is_sti3d_plus_a_pointwise_shortcut():
    torch.manual_seed(0)
    stires = StingyUnit(8, 6, omega=1, residual=True).eval()
    sti = StingyUnit(8, 6, omega=1, residual=False).eval()
    sti.load_state_dict({k: v for k, v in stires.state_dict().items() if not k.startswith("shortcut")})
    x = torch.randn(2, 8, 3, 5, 5)
    assert torch.allclose(stires(x), sti(x) + stires.shortcut(x), atol=1e-6)


def test_channel_shuffle_mixes_both_halves_into_each_half():
    x = torch.arange(8.0).reshape(1, 8, 1, 1, 1)
    a, b = channel_shuffle(x).chunk(2, dim=1)
    assert a.flatten().tolist() == [0, 4, 1, 5] and b.flatten().tolist() == [2, 6, 3, 7]


def test_strided_units_halve_space_and_keep_time():
    x = torch.randn(1, 8, 5, 10, 10)
    for name in ("conv3d_block", "p3d_block", "sti3d_block", "stires3d_block"):
        assert mv.create_model(name, in_channels=8, out_channels=16, stride=2)(x).shape == (1, 16, 5, 5, 5)


def test_stingy_unit_needs_an_even_channel_split():
    with pytest.raises(ValueError, match="odd"):
        StingyUnit(5, 8)
