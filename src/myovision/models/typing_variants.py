"""The follow-up study's typing models (Borthakur, Iziumska, Tang, Tran: "CNN + BiLSTM + squeeze-and-excitation
for sEMG typing", a single-user study on emg2qwerty), all CTC over the 99 emg2qwerty classes.

Every model maps log spectrograms ``(T, N, 2, 16, 33)`` to log-probabilities ``(T', N, 99)``. Table 2 of the
study, in the order it adds parts to the TDS-conv baseline (``tds_conv_ctc``, test CER 22):

=============================  ==========================================================  ========
name                           parts                                                       CER
=============================  ==========================================================  ========
``tds_mlp480_ctc``             rotation-invariant MLP widened to 480 per band (960 features)  21
``tds_mlp480_dropout_ctc``     + dropout 0.3 after the MLP and before the classifier          17
``tds_bilstm_ctc``             + 2-layer BiLSTM (hidden 128) after the TDS encoder            15
``tds_bilstm_se_ctc``          + squeeze-and-excitation on the encoder's features (best)      13
``cnn_gru_ctc``                MLP 480, 2 temporal convs (128 ch, kernel 9, dropout 0.3),     21
                               2-layer BiGRU (hidden 256), dropout 0.3, linear
``cnn_transformer_ctc``        the same CNN, then a 1-layer Transformer encoder (4 heads)      22
``transformer_ctc``            linear projection of the raw spectrogram + 2-layer Transformer  98
=============================  ==========================================================  ========

Where the study leaves a size open (SE reduction 16, Transformer width 128 with 4 heads and feed-forward
512, sinusoidal positions) the choice is ours. Convolutions here keep the length (``T' = T``) except in the
TDS models (``T' = T - 124``).

>>> from myovision import create_model
>>> m = create_model("tds_bilstm_se_ctc")
>>> tuple(m(torch.zeros(150, 2, 2, 16, 33)).shape)
(26, 2, 99)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from myovision.models.tds import NUM_CLASSES, CTCModel, SpectrogramNorm, TDSConvEncoder, tds_front
from myovision.registry import register_model


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation over features of ``(T, N, F)`` (Hu et al. 2018): scale each feature by a gate
    computed from its mean over time."""

    def __init__(self, features: int, reduction: int = 16):
        super().__init__()
        self.gate = nn.Sequential(nn.Linear(features, features // reduction), nn.ReLU(),
                                  nn.Linear(features // reduction, features), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=0))  # (T, N, F) * (N, F)


class BidirectionalRNN(nn.Module):
    """A bidirectional LSTM or GRU over ``(T, N, F)`` -> ``(T, N, 2 * hidden)``."""

    def __init__(self, kind: str, features: int, hidden: int, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = rnn(features, hidden, num_layers=layers, bidirectional=True, dropout=dropout if layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class TemporalConv(nn.Module):
    """Same-length 1-D convolution over time, ReLU and dropout: ``(T, N, F_in) -> (T, N, F_out)``."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 9, dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv1d(in_features, out_features, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv(x.permute(1, 2, 0)))  # (N, F_out, T)
        return self.dropout(y.permute(2, 0, 1))  # (T, N, F_out)


class TransformerEncoder(nn.Module):
    """Sinusoidal positions + ``nn.TransformerEncoder`` over ``(T, N, d_model)``."""

    def __init__(self, d_model: int = 128, layers: int = 1, heads: int = 4, feedforward: int = 512, dropout: float = 0.1):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, heads, feedforward, dropout)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(x.shape[0], device=x.device, dtype=x.dtype)[:, None]  # (T, 1)
        freq = torch.exp(torch.arange(0, self.d_model, 2, device=x.device, dtype=x.dtype)
                         * (-math.log(10000.0) / self.d_model))  # (d_model / 2,)
        pos = torch.stack([torch.sin(t * freq), torch.cos(t * freq)], dim=-1).flatten(1)  # (T, d_model)
        return self.encoder(x + pos[:, None, :])


def _tds_variant(*, mlp: int = 480, dropout: float = 0.0, rnn_hidden: int = 0, se: bool = False,
                 block_channels=(24, 24, 24, 24), kernel_width: int = 32, num_classes: int = NUM_CLASSES) -> CTCModel:
    features = 2 * mlp
    layers: list[nn.Module] = [*tds_front(mlp_features=(mlp,)), nn.Dropout(dropout),
                               TDSConvEncoder(features, block_channels, kernel_width)]
    if se:
        layers.append(SqueezeExcitation(features))
    if rnn_hidden:
        layers.append(BidirectionalRNN("lstm", features, rnn_hidden, dropout=dropout))
        features = 2 * rnn_hidden
    layers += [nn.Dropout(dropout), nn.Linear(features, num_classes), nn.LogSoftmax(dim=-1)]
    return CTCModel(layers)


@register_model("tds_mlp480_ctc")
def tds_mlp480_ctc(*, mlp: int = 480, **kwargs) -> CTCModel:
    """TDS conv with the rotation-invariant MLP widened to ``mlp`` features per band."""
    return _tds_variant(mlp=mlp, **kwargs)


@register_model("tds_mlp480_dropout_ctc")
def tds_mlp480_dropout_ctc(*, mlp: int = 480, dropout: float = 0.3, **kwargs) -> CTCModel:
    """MLP 480 + dropout."""
    return _tds_variant(mlp=mlp, dropout=dropout, **kwargs)


@register_model("tds_bilstm_ctc")
def tds_bilstm_ctc(*, mlp: int = 480, dropout: float = 0.3, rnn_hidden: int = 128, **kwargs) -> CTCModel:
    """MLP 480 + dropout + BiLSTM."""
    return _tds_variant(mlp=mlp, dropout=dropout, rnn_hidden=rnn_hidden, **kwargs)


@register_model("tds_bilstm_se_ctc")
def tds_bilstm_se_ctc(*, mlp: int = 480, dropout: float = 0.3, rnn_hidden: int = 128, **kwargs) -> CTCModel:
    """MLP 480 + dropout + squeeze-and-excitation + BiLSTM: the study's best model."""
    return _tds_variant(mlp=mlp, dropout=dropout, rnn_hidden=rnn_hidden, se=True, **kwargs)


def _cnn_front(mlp: int, hidden: int, dropout: float) -> list[nn.Module]:
    return [*tds_front(mlp_features=(mlp,)), TemporalConv(2 * mlp, hidden, 9, dropout),
            TemporalConv(hidden, hidden, 9, dropout)]


@register_model("cnn_gru_ctc")
def cnn_gru_ctc(*, mlp: int = 480, hidden: int = 128, gru_hidden: int = 256, dropout: float = 0.3,
                num_classes: int = NUM_CLASSES) -> CTCModel:
    """Rotation-invariant MLP, two temporal convs, a 2-layer BiGRU, dropout and a linear classifier."""
    return CTCModel([*_cnn_front(mlp, hidden, dropout), BidirectionalRNN("gru", hidden, gru_hidden, dropout=dropout),
                     nn.Dropout(dropout), nn.Linear(2 * gru_hidden, num_classes), nn.LogSoftmax(dim=-1)])


@register_model("cnn_transformer_ctc")
def cnn_transformer_ctc(*, mlp: int = 480, hidden: int = 128, layers: int = 1, heads: int = 4,
                        dropout: float = 0.3, num_classes: int = NUM_CLASSES) -> CTCModel:
    """The CNN front of ``cnn_gru_ctc``, then a Transformer encoder."""
    return CTCModel([*_cnn_front(mlp, hidden, dropout), TransformerEncoder(hidden, layers, heads),
                     nn.Linear(hidden, num_classes), nn.LogSoftmax(dim=-1)])


@register_model("transformer_ctc")
def transformer_ctc(*, d_model: int = 128, layers: int = 2, heads: int = 4, num_classes: int = NUM_CLASSES,
                    in_features: int = 2 * 16 * 33) -> CTCModel:
    """A plain Transformer encoder on the flattened, normalised spectrogram (no convolution)."""
    return CTCModel([SpectrogramNorm(32), nn.Flatten(start_dim=2), nn.Linear(in_features, d_model),
                     TransformerEncoder(d_model, layers, heads), nn.Linear(d_model, num_classes),
                     nn.LogSoftmax(dim=-1)])
