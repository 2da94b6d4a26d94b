"""Classification heads over a sequence of clip features: the clip-based classifiers of the RGB + sEMG
fusion paper (Bracci, Caruso, Clemente, "Integrating RGB and sEMG Signals for Egocentric Action
Recognition", sections 3 and 5: "All models use a clip-based approach which analyzes the single clips
averaging their prediction").

Every head maps clip features x (B, clips, dim) to class logits (B, num_classes) and exposes the per-clip
logits (B, clips, num_classes) through `clip_logits(x)`; the attention late fusion weights these.

| name               | per-clip logits                                   | forward (action logits)       |
|--------------------|---------------------------------------------------|-------------------------------|
| `clip_linear`      | BatchNorm1d(dim) + Linear on each clip (authors)  | mean over clips               |
| `clip_lstm`        | 1-layer LSTM (hidden 512) + Linear on every step  | mean over steps (authors) or last step |
| `clip_gru`         | the same with a GRU                               | mean or last                  |
| `clip_transformer` | 2-layer, 4-head encoder, learned positions        | mean over clips               |
"""

from __future__ import annotations

import torch
from torch import nn

from myovision.registry import register_model

_READOUTS = ("mean", "last")


class ClipHead(nn.Module):
    """Base: subclasses implement `clip_logits(x)`; forward averages them over clips."""

    num_classes: int

    def clip_logits(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, clips, dim) -> logits (B, num_classes): the mean of the per-clip logits."""
        return self.clip_logits(x).mean(dim=1)

    @staticmethod
    def _check(x: torch.Tensor, dim: int) -> None:
        if x.dim() != 3 or x.shape[-1] != dim:
            raise ValueError(f"expected clip features of shape (batch, clips, {dim}), got {tuple(x.shape)}")
        if x.shape[1] == 0:
            raise ValueError("expected at least one clip, got 0")


class ClipLinear(ClipHead):
    """The authors' "Linear" classifier: BatchNorm1d(dim) + Linear applied to every clip.

    x (B, clips, dim) -> clip_logits (B, clips, num_classes); forward = their mean over clips (B, num_classes).
    BatchNorm statistics are shared by all clips (the clips are flattened into the batch).
    """

    def __init__(self, input_dim: int, num_classes: int, dropout: float = 0.0, batch_norm: bool = True):
        super().__init__()
        self.input_dim, self.num_classes = input_dim, num_classes
        self.norm = nn.BatchNorm1d(input_dim) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(input_dim, num_classes)

    def clip_logits(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, self.input_dim)
        b, n, d = x.shape
        z = self.norm(x.reshape(b * n, d))  # (B * clips, dim)
        z = self.fc(self.dropout(z))  # (B * clips, num_classes)
        return z.reshape(b, n, self.num_classes)  # (B, clips, num_classes)


class ClipRNN(ClipHead):
    """A recurrent head (LSTM or GRU) over the clips of an action, a Linear classifier on every step.

    x (B, clips, dim) -> clip_logits (B, clips, num_classes), the logits of every step; forward gives
    (B, num_classes): with `readout="mean"` the mean of the per-step logits (the authors' LSTM),
    with `readout="last"` the logits of the last step.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        cell: str = "lstm",
        hidden_dim: int = 512,
        num_layers: int = 1,
        readout: str = "mean",
        dropout: float = 0.0,
    ):
        super().__init__()
        if readout not in _READOUTS:
            raise ValueError(f"readout must be one of {_READOUTS}, got {readout!r}")
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.input_dim, self.num_classes, self.readout = input_dim, num_classes, readout
        self.rnn = rnn(input_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim, num_classes)

    def clip_logits(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, self.input_dim)
        h, _ = self.rnn(x)  # (B, clips, hidden)
        return self.fc(self.dropout(h))  # (B, clips, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.clip_logits(x)  # (B, clips, num_classes)
        return z.mean(dim=1) if self.readout == "mean" else z[:, -1]


@register_model("clip_transformer")
class ClipTransformer(ClipHead):
    """A small Transformer encoder over the clips (our addition to the paper's heads).

    x (B, clips, dim) -> Linear to d_model + learned positional embedding (up to `max_clips` clips) ->
    `num_layers` pre-norm encoder layers with `num_heads` heads -> LayerNorm + Linear per clip ->
    clip_logits (B, clips, num_classes); forward = their mean over clips.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        d_model: int = 256,
        num_layers: int = 2,
        num_heads: int = 4,
        dim_feedforward: int = 512,
        max_clips: int = 32,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.input_dim, self.num_classes, self.max_clips = input_dim, num_classes, max_clips
        self.proj = nn.Linear(input_dim, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_clips, d_model))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, num_classes)

    def clip_logits(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, self.input_dim)
        n = x.shape[1]
        if n > self.max_clips:
            raise ValueError(f"clip_transformer was built for at most {self.max_clips} clips, got {n}")
        h = self.proj(x) + self.pos[:, :n]  # (B, clips, d_model)
        h = self.encoder(h)  # (B, clips, d_model)
        return self.fc(self.norm(h))  # (B, clips, num_classes)


@register_model("clip_linear")
def clip_linear(*, input_dim: int, num_classes: int, dropout: float = 0.0, batch_norm: bool = True) -> ClipLinear:
    """BatchNorm1d + Linear per clip, clip logits averaged: (B, clips, input_dim) -> (B, num_classes)."""
    return ClipLinear(input_dim, num_classes, dropout, batch_norm)


def _clip_rnn_builder(cell: str, doc: str):
    """A keyword-only builder of a `ClipRNN` with the given recurrent `cell` ("lstm" or "gru")."""

    def build(*, input_dim: int, num_classes: int, hidden_dim: int = 512, num_layers: int = 1,
              readout: str = "mean", dropout: float = 0.0) -> ClipRNN:
        return ClipRNN(input_dim, num_classes, cell, hidden_dim, num_layers, readout, dropout)

    build.__doc__ = doc
    return build


clip_lstm = register_model("clip_lstm")(_clip_rnn_builder(
    "lstm", "LSTM over clips (paper: 1 layer, hidden 512), per-step logits; `readout` \"mean\" (authors) or \"last\"."))
clip_gru = register_model("clip_gru")(_clip_rnn_builder(
    "gru", "GRU over clips, per-step logits; `readout` \"mean\" or \"last\"."))
