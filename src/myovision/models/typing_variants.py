"""The follow-up study's typing models (Borthakur, Iziumska, Tang, Tran: "CNN + BiLSTM + squeeze-and-excitation
for sEMG typing", a single-user study on emg2qwerty), all CTC over the 99 emg2qwerty classes, built as the
study's code builds them (repository abhimanyu911/C147_247_project, ``emg2qwerty/lightning.py``,
``modules.py`` and ``preprocessing_scripts/``); where its text and code disagree the code is followed and the
builder's docstring says so.

Every model maps log spectrograms ``(T, N, 2, 16, 33)`` to log-probabilities ``(T', N, 99)``. The study's
table gives no parameter counts; the counts here are of the default builds (``benchmarks/bench_typing_study.py``
prints them beside the table):

=====  ===========================================  ============================================  ==========  ===
row    study (Table 2 unless said)                  ``create_model(...)``                         parameters  CER
=====  ===========================================  ============================================  ==========  ===
2.1    baseline (emg2qwerty TDS)                    ``tds_conv_ctc``                               5,293,315   22
2.2    baseline, MLP 480                            ``tds_mlp480_ctc``                             8,072,707   21
2.3    + dropout 0.3 (in every TDS block)           ``tds_mlp480_dropout_ctc``                     8,072,707   17
2.4    + BiLSTM (2 x 128)                           ``tds_bilstm_ctc``                             9,514,435   15
2.5    + squeeze-and-excitation per conv block      ``tds_bilstm_se_ctc``                         10,436,035   13
2.6    CNN + GRU, MLP 480, dropout 0.3              ``cnn_gru_ctc``                               11,081,923   21
2.7    CNN + GRU, MLP 480, no dropout               ``cnn_gru_ctc`` ``dropout=0``                 11,081,923   21
2.8    CNN + GRU, MLP 600, dropout 0.3              ``cnn_gru_ctc`` ``mlp=600``                   15,730,483   22
2.10   Transformer encoder                          ``transformer_ctc``                              544,675   98
2.11   CNN + Transformer (1 layer)                  ``cnn_transformer_ctc``                        1,972,579   22
2.12   CNN + Transformer (4 layers)                 ``cnn_transformer_ctc`` ``layers=4``           2,567,395   23
1.7    576 features, kernel 32                      ``tds_reduced_ctc``                           17,362,819   95
1.8    576 features, kernel 16                      ``tds_reduced_ctc`` ``kernel=16``             10,284,931   91
1.9    576 then 768 features, kernel 16             ``tds_reduced_ctc`` ``kernel=16, expand=True``  19,451,971   89
2.2s   Section 2.2 residual 1D CNN                  ``residual_cnn_ctc``                             448,291   --
=====  ===========================================  ============================================  ==========  ===

The study's TDS blocks with dropout pad their convolutions by ``(kernel - 1) // 2`` (``T' = T - 4`` for four
blocks of kernel 32); emg2qwerty's are valid (``T' = T - 124``). The Transformer models' code is not in the
study's repository: their sizes follow the text (a CNN of 2 convolutions, hidden 128, kernel 9; 4 heads) and
the rest (feed-forward 512, sinusoidal positions) is ours.

>>> from myovision import create_model
>>> m = create_model("tds_bilstm_se_ctc")
>>> tuple(m(torch.zeros(150, 2, 2, 16, 33)).shape)
(146, 2, 99)
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from myovision.models.tds import NUM_CLASSES, CTCModel, SpectrogramNorm, TDSConvEncoder, tds_conv_ctc, tds_front
from myovision.registry import register_model


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


def _study_tds(*, mlp: int, dropout: float, rnn: str | None = None, rnn_hidden: int = 128, rnn_layers: int = 2,
               se_reduction: int | None = None, block_channels: Sequence[int] = (24, 24, 24, 24),
               kernel_width: int = 32, num_classes: int = NUM_CLASSES) -> CTCModel:
    """The study's TDS family: front (MLP ``mlp`` per band), the encoder with dropout inside every conv and
    fully connected block (SE after each conv block with ``se_reduction``), an optional bidirectional RNN, a
    linear classifier. No dropout after the MLP or before the classifier (the study's code has none)."""
    features = 2 * mlp
    layers: list[nn.Module] = [*tds_front(mlp_features=(mlp,)),
                               TDSConvEncoder(features, block_channels, kernel_width, dropout, se_reduction)]
    if rnn is not None:
        layers.append(BidirectionalRNN(rnn, features, rnn_hidden, rnn_layers, dropout))
        features = 2 * rnn_hidden
    return CTCModel([*layers, nn.Linear(features, num_classes), nn.LogSoftmax(dim=-1)])


@register_model("tds_mlp480_ctc")
def tds_mlp480_ctc(*, mlp: int = 480, block_channels: Sequence[int] = (24, 24, 24, 24), kernel_width: int = 32,
                   num_classes: int = NUM_CLASSES) -> CTCModel:
    """Table 2 row 2: emg2qwerty's TDS-conv model with the MLP widened to ``mlp`` per band (the study's
    ``tds_conv_ctc.yaml``: ``mlp_features: [480]``)."""
    return tds_conv_ctc(mlp_features=(mlp,), block_channels=block_channels, kernel_width=kernel_width,
                        num_classes=num_classes)


@register_model("tds_mlp480_dropout_ctc")
def tds_mlp480_dropout_ctc(*, mlp: int = 480, dropout: float = 0.3, **kwargs) -> CTCModel:
    """Table 2 row 3: MLP 480, dropout 0.3 inside every TDS conv and fully connected block (the study's
    ``TDSConvCTCModuleWithDropout``; its later config ``tds_conv_ctc_with_dropout_with_skip.yaml`` tries MLP 384,
    48 block channels and 0.4, not the table's row)."""
    return _study_tds(mlp=mlp, dropout=dropout, **kwargs)


@register_model("tds_bilstm_ctc")
def tds_bilstm_ctc(*, mlp: int = 480, dropout: float = 0.3, rnn_hidden: int = 128, rnn_layers: int = 2,
                   **kwargs) -> CTCModel:
    """Table 2 row 4: row 3, then a 2-layer BiLSTM (hidden 128, dropout 0.3 between layers) before the classifier
    (the study's ``TDSBiLSTMCTCModuleWithDropout`` with ``tds_bilstm_ctc.yaml``)."""
    return _study_tds(mlp=mlp, dropout=dropout, rnn="lstm", rnn_hidden=rnn_hidden, rnn_layers=rnn_layers, **kwargs)


@register_model("tds_bilstm_se_ctc")
def tds_bilstm_se_ctc(*, mlp: int = 480, dropout: float = 0.3, rnn_hidden: int = 128, rnn_layers: int = 2,
                      se_reduction: int = 8, **kwargs) -> CTCModel:
    """Table 2 row 5, the study's best model: row 4 with a bias-free squeeze-and-excitation (reduction 8) after
    each of the four TDS conv blocks (the study's ``TDSBiLSTMCTCModuleWithDropoutSE``,
    ``tds_bilstm_ctc_withdropout_se.yaml``)."""
    return _study_tds(mlp=mlp, dropout=dropout, rnn="lstm", rnn_hidden=rnn_hidden, rnn_layers=rnn_layers,
                      se_reduction=se_reduction, **kwargs)


@register_model("cnn_gru_ctc")
def cnn_gru_ctc(*, mlp: int = 480, dropout: float = 0.3, gru_hidden: int = 256, gru_layers: int = 2,
                **kwargs) -> CTCModel:
    """Table 2 rows 6-8 ("custom CNN + GRU"): the study's code (``TDSGRUCTCModuleWithDropout``) is the TDS
    encoder with dropout, a 2-layer BiGRU (hidden 256, dropout between layers) and a linear classifier. The
    text describes 2 convolutions of 24 filters (kernel 9) and the table's caption a CNN of hidden size 128;
    the code, followed here, has neither. Row 7: ``dropout=0``; row 8: ``mlp=600``."""
    return _study_tds(mlp=mlp, dropout=dropout, rnn="gru", rnn_hidden=gru_hidden, rnn_layers=gru_layers, **kwargs)


class ReducedFeatures(nn.Module):
    """Table 1 rows 7-9 ("MLP dimensionality reduction", the study's ``TDSConv1dBlock``): a valid Conv1d over time
    ``features -> reduced`` (kernel ``kernel``), ReLU, optionally a ConvTranspose1d back to ``features`` and
    ReLU, then LayerNorm: ``(T, N, features) -> (T', N, reduced or features)``, ``T' = T - kernel + 1``
    (``T`` with the transpose)."""

    def __init__(self, features: int = 768, reduced: int = 576, kernel: int = 32, expand: bool = False):
        super().__init__()
        self.conv1d = nn.Conv1d(features, reduced, kernel)
        self.transpose = nn.ConvTranspose1d(reduced, features, kernel) if expand else None
        self.layer_norm = nn.LayerNorm(features if expand else reduced)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv1d(x.movedim(0, -1)))  # (N, reduced, T')
        if self.transpose is not None:
            y = torch.relu(self.transpose(y))  # (N, features, T)
        return self.layer_norm(y.movedim(-1, 0))  # (T', N, C)


@register_model("tds_reduced_ctc")
def tds_reduced_ctc(*, reduced: int = 576, kernel: int = 32, expand: bool = False,
                    block_channels: Sequence[int] = (24, 24, 24, 24), kernel_width: int = 32,
                    num_classes: int = NUM_CLASSES) -> CTCModel:
    """Table 1 rows 7-9: emg2qwerty's TDS model with :class:`ReducedFeatures` between the MLP (768 features) and
    the encoder. Row 7: ``kernel=32``; row 8: ``kernel=16``; row 9: ``kernel=16, expand=True`` (576 then back
    to 768). Without ``expand`` the encoder and classifier run on ``reduced`` features."""
    features = reduced if not expand else 768
    return CTCModel([*tds_front(), ReducedFeatures(768, reduced, kernel, expand),
                     TDSConvEncoder(features, block_channels, kernel_width),
                     nn.Linear(features, num_classes), nn.LogSoftmax(dim=-1)])


class ResidualConv1dBlock(nn.Module):
    """Section 2.2's residual block (the study's ``ResConv1DBlock``): ``(T, N, C_in) -> (T, N, C_out)``,
    Conv1d (kernel ``kernel``, padding ``(kernel - 1) // 2``), ReLU, dropout, plus the input (through a 1x1
    Conv1d projection when ``C_in != C_out``), then LayerNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 9, dropout: float = 0.2):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, padding=(kernel - 1) // 2)
        self.dropout = nn.Dropout(dropout)
        self.skip_proj = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.layer_norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(1, 2, 0)  # (N, C_in, T)
        out = self.dropout(torch.relu(self.conv(y)))  # (N, C_out, T')
        skip = y if self.skip_proj is None else self.skip_proj(y)
        out = out + skip[..., skip.shape[-1] - out.shape[-1]:]
        return self.layer_norm(out.permute(2, 0, 1))  # (T', N, C_out)


@register_model("residual_cnn_ctc")
def residual_cnn_ctc(*, mlp: int = 384, block_channels: Sequence[int] = (24, 24, 24, 24), kernel: int = 9,
                     dropout: float = 0.2, num_classes: int = NUM_CLASSES) -> CTCModel:
    """Section 2.2's residual 1D CNN (the study's ``DeepCNNCTCModule``, ``cnn_ctc.yaml``): front (MLP ``mlp``),
    a linear projection to ``block_channels[0]``, per entry a :class:`ResidualConv1dBlock` then dropout, a
    linear classifier. Kernel 9 as the text and the code's default (``cnn_ctc.yaml`` sets 13)."""
    layers: list[nn.Module] = [*tds_front(mlp_features=(mlp,)), nn.Linear(2 * mlp, block_channels[0])]
    previous = block_channels[0]
    for channels in block_channels:
        layers += [ResidualConv1dBlock(previous, channels, kernel, dropout), nn.Dropout(dropout)]
        previous = channels
    return CTCModel([*layers, nn.Linear(previous, num_classes), nn.LogSoftmax(dim=-1)])


def _cnn_front(mlp: int, hidden: int, dropout: float) -> list[nn.Module]:
    return [*tds_front(mlp_features=(mlp,)), TemporalConv(2 * mlp, hidden, 9, dropout),
            TemporalConv(hidden, hidden, 9, dropout)]


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
