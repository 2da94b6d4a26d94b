"""Signal front-ends as torch modules, so an exported model (ONNX, torch.export) takes raw sEMG.

Each computes what its `myovision.signals` function computes (same definitions; the tests hold them together),
with the STFT written as a strided 1-D convolution against a Hann-windowed DFT basis: it exports to every ONNX
opset and runtime (no complex tensors, no STFT operator) and keeps batch and time axes dynamic.

| module                   | input                 | output                          | as                                     |
|--------------------------|-----------------------|---------------------------------|----------------------------------------|
| `StftPower`              | (..., time)           | (..., n_fft // 2 + 1, frames)   | `signals.stft_power`                   |
| `LogPowerSpectrogram`    | (..., time)           | (..., n_fft // 2 + 1, frames)   | log10(`stft_power` + 1e-6) (gestures)  |
| `LogSpectrogram`         | (time, ..., C)        | (frames, ..., C, freq)          | `signals.log_spectrogram` (emg2qwerty) |
| `MelSpectrogram`         | (..., time, C)        | (..., C, n_mels, frames)        | `signals.mel_spectrogram` (fusion)     |
| `HudginsFeatures`        | (N, C, W) windows     | (N, 4 C)                        | log-MAV, log-WL, ZC, SSC (Hudgins 1993)|
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from myovision.signals.spectrogram import LOG_EPS, mel_filterbank


class StftPower(nn.Module):
    """``|STFT(x)| ** power`` with a periodic Hann window: ``(..., time) -> (..., n_fft // 2 + 1, frames)``.

    `center` pads ``n_fft // 2`` samples each side with `pad_mode` ("reflect" or "constant"); `normalized`
    divides the STFT by the window's L2 norm (torchaudio's meaning). The real and imaginary parts are one
    Conv1d with 2 (n_fft // 2 + 1) kernels ``w[n] cos(2 pi k n / n_fft)`` and ``-w[n] sin(2 pi k n / n_fft)``.
    """

    def __init__(self, n_fft: int, hop_length: int, *, center: bool = True, pad_mode: str = "reflect",
                 power: float = 2.0, normalized: bool = False):
        super().__init__()
        if pad_mode not in ("reflect", "constant"):
            raise ValueError(f"pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
        self.n_fft, self.hop_length, self.center, self.pad_mode, self.power = n_fft, hop_length, center, pad_mode, power
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / n_fft)  # periodic Hann
        angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft  # (freq, n_fft)
        basis = torch.cat([window * torch.cos(angle), -window * torch.sin(angle)])  # (2 freq, n_fft)
        if normalized:
            basis = basis / window.square().sum().sqrt()
        self.register_buffer("basis", basis[:, None, :].float(), persistent=False)  # (2 freq, 1, n_fft)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.reshape(-1, 1, x.shape[-1])  # (..., time) -> (M, 1, time)
        if self.center:
            y = F.pad(y, (self.n_fft // 2, self.n_fft // 2), mode=self.pad_mode)
        spec = F.conv1d(y, self.basis, stride=self.hop_length)  # (M, 2 freq, frames)
        freq = self.n_fft // 2 + 1
        out = spec[:, :freq].square() + spec[:, freq:].square()  # |STFT|^2
        if self.power != 2.0:
            out = out.pow(self.power / 2.0)
        return out.reshape(x.shape[:-1] + out.shape[-2:])  # (..., freq, frames)


class LogPowerSpectrogram(nn.Module):
    """``log10(|STFT|^2 + 1e-6)``, centred (reflect) and not normalised: ``(..., time) -> (..., freq, frames)``;
    the gestures' spectrogram CNN input (`myovision.gestures.classifiers.log_power_windows`)."""

    def __init__(self, n_fft: int = 16, hop_length: int = 4):
        super().__init__()
        self.stft = StftPower(n_fft, hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log10(self.stft(x) + LOG_EPS)


class LogSpectrogram(nn.Module):
    """emg2qwerty's LogSpectrogram: ``log10(|STFT|^2 + 1e-6)`` of the normalised, uncentred STFT, time first:
    ``(T, ..., C) -> (T', ..., C, freq)`` with ``T' = 1 + (T - n_fft) // hop_length``."""

    def __init__(self, n_fft: int = 64, hop_length: int = 16):
        super().__init__()
        self.stft = StftPower(n_fft, hop_length, center=False, normalized=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.stft(x.movedim(0, -1))  # (..., C, freq, T')
        return torch.log10(spec + LOG_EPS).movedim(-1, 0)  # (T', ..., C, freq)


class MelSpectrogram(nn.Module):
    """torchaudio's MelSpectrogram (HTK mel, no filter normalisation), per channel:
    ``(..., time, C) -> (..., C, n_mels, frames)``; the arguments are `myovision.signals.mel_spectrogram`'s."""

    def __init__(self, fs: float, n_mels: int, n_fft: int, hop_length: int, f_min: float = 0.0,
                 f_max: float | None = None, power: float = 2.0, normalized: bool = False, *, center: bool = True,
                 pad_mode: str = "reflect"):
        super().__init__()
        self.stft = StftPower(n_fft, hop_length, center=center, pad_mode=pad_mode, power=power, normalized=normalized)
        fb = mel_filterbank(n_fft // 2 + 1, f_min, fs / 2.0 if f_max is None else f_max, n_mels, fs)  # (freq, mels)
        self.register_buffer("filters", torch.from_numpy(fb.T).float(), persistent=False)  # (mels, freq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.filters, self.stft(x.transpose(-1, -2)))  # (..., C, n_mels, frames)


class HudginsFeatures(nn.Module):
    """Hudgins et al. (1993) time-domain features per channel, as `myovision.gestures.classifiers.feature_matrix`
    with ("MAV", "WL", "ZC", "SSC"): windows (N, C, W) -> (N, 4 C) = [log(MAV + 1e-6) | log(WL + 1e-6) | ZC | SSC],
    each block in channel order. ZC counts strict sign changes; SSC counts (x_n - x_n-1)(x_n - x_n+1) >= 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x[..., 1:] - x[..., :-1]  # (N, C, W - 1)
        mav = torch.log(x.abs().mean(-1) + 1e-6)
        wl = torch.log(d.abs().sum(-1) + 1e-6)
        sign = torch.sign(x)
        zc = (sign[..., 1:] * sign[..., :-1] < 0).float().sum(-1)
        ssc = ((x[..., 1:-1] - x[..., :-2]) * (x[..., 1:-1] - x[..., 2:]) >= 0).float().sum(-1)
        return torch.cat([mav, wl, zc, ssc], dim=-1)  # (N, 4 C)
