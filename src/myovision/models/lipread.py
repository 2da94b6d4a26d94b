"""Lip-reading back-end and the whole network (Zeng, Du, Wang, section 2 and Figure 1): a visual front-end
gives per-frame features (B, T, 512); six multi-head self-attention Transformer layers and a linear layer give
per-frame scores over HMM states (hybrid HMM decoding, `myovision.decoding.hmm`) or over characters + blank
(the CTC baseline). Both are trained on the same network; only `num_outputs` and the loss differ.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from myovision.errors import InputError
from myovision.models import lipread_frontends as _frontends  # noqa: F401  (registers the front-ends built below)
from myovision.registry import create_model, register_model


def sinusoidal_positions(num_frames: int, dim: int) -> torch.Tensor:
    """Vaswani et al.'s fixed position encoding (num_frames, dim): sin on even, cos on odd features."""
    position = torch.arange(num_frames, dtype=torch.float32)[:, None]  # (T, 1)
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (dim / 2,)
    table = torch.zeros(num_frames, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table


def padding_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B,) valid frame counts -> (B, T) bool, True on padded frames (PyTorch's key-padding convention)."""
    return torch.arange(num_frames, device=lengths.device)[None, :] >= lengths[:, None]


class LipTransformer(nn.Module):
    """features (B, T, input_dim) -> per-frame scores (B, T, num_outputs) (unnormalised logits).

    Linear to d_model, fixed sinusoidal positions, `num_layers` post-norm encoder layers (the paper: 6;
    Vaswani's base sizes otherwise), then a linear layer. `lengths` (B,) masks padded frames of a batch.
    """

    def __init__(self, num_outputs: int, input_dim: int = 512, d_model: int = 512, num_layers: int = 6,
                 num_heads: int = 8, dim_feedforward: int = 2048, dropout: float = 0.1):
        super().__init__()
        self.input_dim, self.num_outputs = input_dim, num_outputs
        self.proj = nn.Linear(input_dim, d_model) if input_dim != d_model else nn.Identity()
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.classifier = nn.Linear(d_model, num_outputs)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.input_dim:
            raise InputError(f"expected features of shape (batch, frames, {self.input_dim}), "
                             f"got {tuple(features.shape)}")
        t = features.shape[1]
        h = self.proj(features)  # (B, T, d_model)
        h = h + sinusoidal_positions(t, h.shape[-1]).to(h)
        mask = None if lengths is None else padding_mask(lengths, t)
        h = self.encoder(h, src_key_padding_mask=mask)  # (B, T, d_model)
        return self.classifier(h)  # (B, T, num_outputs)


class LipGRU(nn.Module):
    """features (B, T, input_dim) -> per-frame scores (B, T, num_outputs): a bidirectional GRU (LipNet's
    back-end, Assael et al. 2016) of `num_layers` layers, `hidden` units per direction, then a linear layer.
    `lengths` (B,) keeps padded frames out of both directions."""

    def __init__(self, num_outputs: int, input_dim: int = 512, hidden: int = 256, num_layers: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        self.input_dim, self.num_outputs = input_dim, num_outputs
        self.rnn = nn.GRU(input_dim, hidden, num_layers, batch_first=True, bidirectional=True,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden, num_outputs)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.input_dim:
            raise InputError(f"expected features of shape (batch, frames, {self.input_dim}), "
                             f"got {tuple(features.shape)}")
        t = features.shape[1]
        if lengths is None:
            h, _ = self.rnn(features)  # (B, T, 2 * hidden)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(features, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            h, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=t)
        return self.classifier(self.dropout(h))  # (B, T, num_outputs)


class LipReader(nn.Module):
    """A front-end and a back-end composed: video (B, C, T, H, W) -> per-frame scores (B, T, num_outputs).

    `log_posteriors(video)` gives log p(s_t | x) (log-softmax over outputs), what the decoders take.
    """

    def __init__(self, frontend: nn.Module, backend: nn.Module):
        super().__init__()
        self.frontend, self.backend = frontend, backend

    def forward(self, video: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.backend(self.frontend(video), lengths)

    def log_posteriors(self, video: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward(video, lengths).log_softmax(dim=-1)


@register_model("lip_transformer")
def lip_transformer(*, num_outputs: int, input_dim: int = 512, d_model: int = 512, num_layers: int = 6,
                    num_heads: int = 8, dim_feedforward: int = 2048, dropout: float = 0.1) -> LipTransformer:
    """The paper's back-end: 6-layer Transformer encoder + linear, (B, T, 512) -> (B, T, num_outputs)."""
    return LipTransformer(num_outputs, input_dim, d_model, num_layers, num_heads, dim_feedforward, dropout)


@register_model("lip_gru")
def lip_gru(*, num_outputs: int, input_dim: int = 512, hidden: int = 256, num_layers: int = 2,
            dropout: float = 0.1) -> LipGRU:
    """LipNet's back-end: a bidirectional GRU + linear, (B, T, 512) -> (B, T, num_outputs)."""
    return LipGRU(num_outputs, input_dim, hidden, num_layers, dropout)


@register_model("lipreader")
def lipreader(*, num_outputs: int, frontend: str = "stires3d", frontend_kwargs: dict[str, Any] | None = None,
              backend: str = "lip_transformer", **backend_kwargs: Any) -> LipReader:
    """A registered front-end (`frontend`, e.g. "stires3d" with frontend_kwargs={"omega": 2}) + a registered
    back-end (`backend`: "lip_transformer", the paper's, or "lip_gru"): (B, 1, T, H, W) -> (B, T, num_outputs)."""
    front = create_model(frontend, **(frontend_kwargs or {}))
    back = create_model(backend, num_outputs=num_outputs, input_dim=front.out_dim, **backend_kwargs)
    return LipReader(front, back)
