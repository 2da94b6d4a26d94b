"""The multiple-instance losses MAXI fine-tunes CLIP with (Lin et al., ICCV 2023, Sec. 3.3): every video has a bag
of N_bag positive texts; scores are s_ijn = exp(logit_scale) * cos(video_i, text_jn), texts of all bags in the batch.

- `maxi` (the default, MAXI's code: `clip/loss.py`, `MIL_NCEloss` -> `mil_nce_w_labelmask`): video -> bag only. A
  softmax of each video over all B * N_bag texts, summed within each bag, gives P_ij; every pair of videos with the
  same pseudo-label (best dictionary match) is a positive pair, the video with itself included:

      loss = - mean_{(i, j): y_i == y_j} log P_ij,   P_ij = sum_n exp(s_ijn) / sum_{k, n} exp(s_ikn)

- `symmetric` (MIL-NCE of Miech et al., CVPR 2020, both directions; myovision's earlier default): only the video's
  own bag is positive, other videos' bags are negatives, also as video j against bag i:

      loss_i = -log( sum_n exp(s_iin) / (sum_n exp(s_iin) + sum_{j != i, n} exp(s_ijn) + sum_{j != i, n} exp(s_jin)) )
"""

from __future__ import annotations

import torch

from myovision.errors import InputError

MIL_LOSSES = ("maxi", "symmetric")


def _scores(video_embeds: torch.Tensor, bag_embeds: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    return logit_scale.exp() * torch.einsum("id,jnd->ijn", video_embeds, bag_embeds)  # (B, B, N_bag)


def maxi_mil_nce_loss(video_embeds: torch.Tensor, bag_embeds: torch.Tensor, logit_scale: torch.Tensor,
                      pseudo_labels: torch.Tensor) -> torch.Tensor:
    """MAXI's video -> bag MIL-NCE of normalised video embeddings (B, D) against normalised bag embeddings
    (B, N_bag, D); videos with equal pseudo-labels (B,) count as positives of each other's bags.

    >>> v = torch.eye(2); bags = torch.eye(2)[:, None, :].expand(2, 3, 2)
    >>> round(float(maxi_mil_nce_loss(v, bags, torch.tensor(0.0), torch.tensor([0, 1]))), 4)  # log((3e + 3) / 3e)
    0.3133
    """
    b = len(video_embeds)
    scores = _scores(video_embeds, bag_embeds, logit_scale)
    log_p = torch.logsumexp(scores, dim=-1) - torch.logsumexp(scores.flatten(1), dim=-1)[:, None]  # (B, B): log P_ij
    same = pseudo_labels.view(b, 1) == pseudo_labels.view(1, b)  # (B, B)
    return -log_p[same].mean()


def symmetric_mil_nce_loss(video_embeds: torch.Tensor, bag_embeds: torch.Tensor, logit_scale: torch.Tensor,
                           pseudo_labels: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric MIL-NCE (B, D) against (B, N_bag, D); pseudo-labels are ignored (other videos are negatives).

    >>> v = torch.eye(2); bags = torch.eye(2)[:, None, :].expand(2, 3, 2)
    >>> round(float(symmetric_mil_nce_loss(v, bags, torch.tensor(0.0))), 4)  # scale 1: log((3e + 3 + 3) / 3e)
    0.5514
    """
    b = len(video_embeds)
    scores = _scores(video_embeds, bag_embeds, logit_scale)
    eye = torch.eye(b, dtype=torch.bool, device=scores.device)
    positives = torch.logsumexp(scores[eye], dim=-1)  # (B,)
    # video i against every bag (row i), and every other video against bag i (column i, diagonal dropped)
    column = scores.transpose(0, 1).masked_fill(eye[..., None], float("-inf"))  # (B, B, N_bag)
    everything = torch.logsumexp(torch.cat([scores, column], dim=1).flatten(1), dim=-1)  # (B,)
    return (everything - positives).mean()


def mil_loss(name: str):
    """The loss function called `name` (one of `MIL_LOSSES`)."""
    if name not in MIL_LOSSES:
        raise InputError(f"unknown MIL loss {name!r}; choose one of {', '.join(MIL_LOSSES)}")
    return maxi_mil_nce_loss if name == "maxi" else symmetric_mil_nce_loss
