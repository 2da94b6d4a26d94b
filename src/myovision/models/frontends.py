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
| `RichFeatures`           | (N, C, W) windows     | (N, F)                          | `gestures.classifiers.feature_matrix`  |
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from myovision.signals.features_spectral import AR_ORDER
from myovision.signals.features_time import WAMP_THRESHOLD
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



class RichFeatures(nn.Module):
    """`myovision.gestures.classifiers.feature_matrix` of `names` in the graph: windows (N, C, window) at `fs` Hz ->
    (N, F) float32, one block of C columns per name (C * AR_ORDER for AR, channel-major) in `names` order.

    Computed in float64 as `myovision.signals.features` computes (Phinyomark et al. 2012, with the thresholds and
    spectrum of LibEMG's MATLAB reference, Eddy et al. 2023); then the names in `log_names` become
    log(|v| + 1e-6) and undefined values (SKEW, KURT, MNF, MDF of a flat window) 0. The spectrum is a matmul by
    the zero-padded DFT's cos and sin (nfft: the next power of two >= window), AR(4) the unrolled Levinson-Durbin
    recursion on the biased autocorrelation, LS a sort: no FFT or solver in the graph. The window is fixed: the
    DFT matrix and the L-scale weights are built for it.
    """

    NAMES = ("MAV", "RMS", "WL", "ZC", "SSC", "WAMP", "LS", "MSR", "DASDV", "SKEW", "KURT", "MNF", "MDF", "AR")

    def __init__(self, window: int, fs: float, names: tuple[str, ...], log_names: Collection[str]):
        super().__init__()
        unknown = [name for name in names if name not in self.NAMES]
        if unknown:
            raise ValueError(f"RichFeatures computes {', '.join(self.NAMES)}; not {', '.join(unknown)}")
        if window < AR_ORDER + 1:
            raise ValueError(f"a window needs at least {AR_ORDER + 1} samples, got {window}")
        self.window, self.names, self.log_names = int(window), tuple(names), frozenset(log_names)
        nfft = 1 << (window - 1).bit_length()
        bins = nfft // 2
        self.bin_hz = (fs / 2) / (bins - 1)  # the frequency axis is linspace(0, fs / 2, nfft / 2)
        n = torch.arange(window, dtype=torch.float64)
        k = torch.arange(bins, dtype=torch.float64)
        angle = 2 * math.pi * n[:, None] * k[None, :] / nfft  # (window, bins)
        self.register_buffer("dft", torch.cat([torch.cos(angle), torch.sin(angle)], 1), persistent=False)
        self.register_buffer("bins", k, persistent=False)  # (bins,)
        lscale = (2.0 * (n + 1) - window - 1) / (window * (window - 1))  # weights of the sorted window, (window,)
        self.register_buffer("lscale", lscale, persistent=False)

    @property
    def columns_per_channel(self) -> int:
        """F / C: one column per name and channel, AR_ORDER for AR."""
        return sum(AR_ORDER if name == "AR" else 1 for name in self.names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = self.values(x.double())  # (N, C, W) in float64, as the reference
        columns = [values[name].flatten(1) for name in self.names]  # each (N, C) or (N, C * AR_ORDER)
        columns = [torch.log(v.abs() + 1e-6) if name in self.log_names else v for name, v in zip(self.names, columns)]
        out = torch.cat(columns, dim=1)  # (N, F)
        return torch.where(torch.isfinite(out), out, torch.zeros_like(out)).float()

    def values(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{name: (N, C), AR (N, C, AR_ORDER)} of float64 windows (N, C, W), before the log."""
        w = self.window
        d = x[..., 1:] - x[..., :-1]  # (N, C, W - 1)
        moments = cache(lambda: _moments(x))  # (m2, m3, m4), each (N, C)
        spectrum = cache(lambda: self._spectrum(x))  # (power (N, C, bins), total (N, C))
        table = {
            "MAV": lambda: x.abs().sum(-1) / w,
            "RMS": lambda: torch.sqrt((x * x).sum(-1) / w),
            "WL": lambda: d.abs().sum(-1),
            "ZC": lambda: (torch.sign(x[..., 1:]) * torch.sign(x[..., :-1]) < 0).to(x.dtype).sum(-1),
            "SSC": lambda: ((x[..., 1:-1] - x[..., :-2]) * (x[..., 1:-1] - x[..., 2:]) >= 0).to(x.dtype).sum(-1),
            "WAMP": lambda: (d.abs() > WAMP_THRESHOLD).to(x.dtype).sum(-1),
            "LS": lambda: torch.matmul(torch.sort(x, dim=-1).values, self.lscale),
            "MSR": lambda: _msr(x),
            "DASDV": lambda: torch.sqrt((d * d).sum(-1) / (w - 1)),
            "SKEW": lambda: moments()[1] / (moments()[0] * torch.sqrt(moments()[0])),
            "KURT": lambda: moments()[2] / (moments()[0] * moments()[0]),
            "MNF": lambda: self._mnf(*spectrum()),
            "MDF": lambda: self._mdf(*spectrum()),
            "AR": lambda: _autoregressive(x),
        }
        return {name: table[name]() for name in dict.fromkeys(self.names)}

    def _spectrum(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sided power |X_k|^2 (N, C, nfft / 2) of the zero-padded DFT, and its total (N, C)."""
        parts = torch.matmul(x, self.dft)  # (N, C, 2 bins): real parts, then minus the imaginary parts
        re, im = parts.chunk(2, dim=-1)
        power = re * re + im * im
        return power, power.sum(-1)

    def _mnf(self, power: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """Mean frequency sum f_k P_k / sum P_k (Hz)."""
        return self.bin_hz * torch.matmul(power, self.bins) / total

    def _mdf(self, power: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """Median frequency: the first f_k whose cumulative power exceeds half the total (Hz); NaN for zero power."""
        cumulative = torch.cumsum(power, dim=-1)
        below = (cumulative <= cumulative[..., -1:] / 2).to(power.dtype).sum(-1)  # bins before the median bin
        return torch.where(total > 0, self.bin_hz * below, torch.full_like(total, math.nan))


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Central moments m2, m3, m4 (N, C) of windows (N, C, W), two-pass."""
    centred = x - x.mean(-1, keepdim=True)
    c2 = centred * centred
    w = x.shape[-1]
    return c2.sum(-1) / w, (c2 * centred).sum(-1) / w, (c2 * c2).sum(-1) / w


def _msr(x: torch.Tensor) -> torch.Tensor:
    """Mean square root |(1/W) sum sqrt(x_n)| (N, C) with the complex root, as the hypot of the sums of
    sqrt(max(x, 0)) and sqrt(max(-x, 0))."""
    real = torch.sqrt(x.clamp_min(0.0)).sum(-1)
    imag = torch.sqrt((-x).clamp_min(0.0)).sum(-1)
    return torch.sqrt(real * real + imag * imag) / x.shape[-1]


def _autoregressive(x: torch.Tensor) -> torch.Tensor:
    """Prediction-error filter a_1..a_p (N, C, AR_ORDER) of windows (N, C, W): Levinson-Durbin (Durbin 1960) on the
    biased autocorrelation r_k = sum x_n x_n+k, unrolled; an all-zero window gets a = 0 (as
    `myovision.signals.features_spectral.ar`)."""
    r = [(x * x).sum(-1)] + [(x[..., k:] * x[..., :-k]).sum(-1) for k in range(1, AR_ORDER + 1)]  # each (N, C)
    error = torch.where(r[0] == 0, torch.ones_like(r[0]), r[0])
    a: list[torch.Tensor] = []
    for k in range(1, AR_ORDER + 1):
        reflection = -(r[k] + sum(a[j - 1] * r[k - j] for j in range(1, k))) / error
        a = [a[j - 1] + reflection * a[k - j - 1] for j in range(1, k)] + [reflection]
        error = error * (1.0 - reflection * reflection)
    return torch.stack(a, dim=-1)  # (N, C, AR_ORDER)
