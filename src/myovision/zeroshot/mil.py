"""MIL-NCE (Miech et al., CVPR 2020), the multiple-instance loss MAXI fine-tunes CLIP with: every video has a
bag of N_bag positive texts; the other videos' bags in the batch are its negatives, in both directions.

    loss_i = -log( sum_n exp(s_iin) / (sum_n exp(s_iin) + sum_{j != i, n} exp(s_ijn) + sum_{j != i, n} exp(s_jin)) )

with s_ijn = exp(logit_scale) * cos(video_i, text_jn), averaged over the batch.
"""

from __future__ import annotations

import torch


def mil_nce_loss(video_embeds: torch.Tensor, bag_embeds: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """MIL-NCE of normalised video embeddings (B, D) against normalised bag embeddings (B, N_bag, D).

    >>> v = torch.eye(2); bags = torch.eye(2)[:, None, :].expand(2, 3, 2)
    >>> round(float(mil_nce_loss(v, bags, torch.tensor(0.0))), 4)  # scale 1: log((3e + 3 + 3) / 3e)
    0.5514
    """
    b, n, _ = bag_embeds.shape
    scores = logit_scale.exp() * torch.einsum("id,jnd->ijn", video_embeds, bag_embeds)  # (B, B, N_bag)
    eye = torch.eye(b, dtype=torch.bool, device=scores.device)
    positives = torch.logsumexp(scores[eye], dim=-1)  # (B,)
    # video i against every bag (row i), and every other video against bag i (column i, diagonal dropped)
    column = scores.transpose(0, 1).masked_fill(eye[..., None], float("-inf"))  # (B, B, N_bag)
    everything = torch.logsumexp(torch.cat([scores, column], dim=1).flatten(1), dim=-1)  # (B,)
    return (everything - positives).mean()
