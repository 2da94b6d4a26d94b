"""MAXI's MIL-NCE (video -> bag, same-pseudo-label videos positive) against values computed by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from myovision.errors import InputError
from myovision.zeroshot.mil import maxi_mil_nce_loss, mil_loss, symmetric_mil_nce_loss

E = math.e


def tiny_batch():
    """Three videos, bags of two texts, scale 1; videos 0 and 1 share pseudo-label 0."""
    video = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    bags = torch.tensor([[[1.0, 0.0], [0.0, 1.0]],    # bag 0: scores with video 0: 1, 0
                         [[1.0, 0.0], [1.0, 0.0]],    # bag 1: 1, 1
                         [[0.0, 1.0], [0.0, 1.0]]])   # bag 2: 0, 0
    return video, bags, torch.tensor(0.0), torch.tensor([0, 0, 1])


def test_maxi_loss_equals_hand_computed_value_with_same_label_video_positive():
    video, bags, scale, labels = tiny_batch()
    # every row's softmax denominator is 3e + 3; P_00 = P_10 = (e + 1) / (3e + 3) = 1/3,
    # P_01 = P_11 = P_22 = 2e / (3e + 3); positive pairs (0,0) (0,1) (1,0) (1,1) (2,2)
    p_own, p_full = 1 / 3, 2 * E / (3 * E + 3)
    expected = -(2 * math.log(p_own) + 3 * math.log(p_full)) / 5
    assert float(maxi_mil_nce_loss(video, bags, scale, labels)) == pytest.approx(expected, abs=1e-6)
    # counting video 1 as a negative of bag 0 (distinct labels) gives another value: pairs (0,0) (1,1) (2,2)
    distinct = -(math.log(p_own) + 2 * math.log(p_full)) / 3
    assert float(maxi_mil_nce_loss(video, bags, scale, torch.tensor([0, 1, 2]))) == pytest.approx(distinct, abs=1e-6)
    assert float(symmetric_mil_nce_loss(video, bags, scale)) != pytest.approx(expected, abs=1e-3)


def test_maxi_loss_matches_maxi_loop_formulation_on_random_batches():
    """The loop of MAXI's `mil_nce_w_labelmask` (softmax over all B * N texts, summed per bag, masked mean)."""
    torch.manual_seed(0)
    for b, n in [(4, 3), (6, 16)]:
        video = F.normalize(torch.randn(b, 8), dim=-1)
        bags = F.normalize(torch.randn(b, n, 8), dim=-1)
        labels = torch.randint(0, 3, (b,))
        scale = torch.tensor(1.7)
        scores = scale.exp() * video @ bags.reshape(b * n, 8).T  # (B, B*N), bag j's texts at columns j*N..(j+1)*N
        soft = torch.softmax(scores, dim=-1)
        bag_scores = torch.stack([soft[:, j * n:(j + 1) * n].sum(1) for j in range(b)], dim=1)  # (B, B)
        mask = labels[:, None] == labels[None]
        expected = -torch.log(bag_scores)[mask].mean()
        assert torch.allclose(maxi_mil_nce_loss(video, bags, scale, labels), expected, atol=1e-5)


def test_loss_names():
    assert mil_loss("maxi") is maxi_mil_nce_loss and mil_loss("symmetric") is symmetric_mil_nce_loss
    with pytest.raises(InputError, match="unknown MIL loss"):
        mil_loss("nce")
