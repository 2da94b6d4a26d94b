"""Online sEMG typing: a typing model and the streaming CTC beam decoder run chunk by chunk on a live stream.

`OnlineTyping` takes 2 x 16-channel 2 kHz samples in chunks of any size and keeps three states across them:
the samples not yet in a spectrogram frame (emg2qwerty's log spectrogram, `myovision.signals.log_spectrogram`:
64-sample frames every 16 samples, no padding), the input frames each valid temporal convolution of the model
still needs (each of the TDS model's 4 blocks keeps its last ``kernel_width - 1 = 31`` input frames, so the
model drops 124 frames in all, and a chunk costs only its new frames through every layer), and the beam of
`myovision.decoding.CTCBeamDecoder`. So the emissions and the text equal those of the whole recording decoded at
once (`myovision.emg_typing.evaluate`), with the best partial text after every chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import FS
from myovision.decoding.ctc import CTCBeamDecoder
from myovision.emg_typing.config import DecodingOptions
from myovision.emg_typing.evaluate import decoders, load_typing_model
from myovision.errors import InputError
from myovision.models.tds import CTCModel, TDSConvEncoder
from myovision.signals.spectrogram import log_spectrogram

BANDS, ELECTRODES = 2, 16
N_FFT, HOP = 64, 16  # emg2qwerty's log spectrogram (the `log_spectrogram` defaults the models were trained on)


def _stages(module: nn.Module) -> list[nn.Module]:
    """The model as the flat list of modules it applies one after another (nn.Sequential, a CTCModel's layers and
    a TDS encoder's blocks opened up)."""
    if isinstance(module, CTCModel):
        return _stages(module.model)
    if isinstance(module, TDSConvEncoder):
        return _stages(module.tds_conv_blocks)
    if isinstance(module, nn.Sequential):
        return [stage for child in module for stage in _stages(child)]
    return [module]


@torch.inference_mode()
def streaming_stages(model: nn.Module, probe: int = 256, seed: int = 0) -> list[tuple[nn.Module, int]]:
    """``[(stage, frames it drops), ...]`` for running `model` frame-incrementally; InputError when a stage is not
    time-local (an output frame depends on more than its receptive field, e.g. through an LSTM or a mean over
    time), so the model cannot run chunk by chunk.

    Each stage is probed on what the stages before it make of random frames: a stage that drops ``k`` frames (a
    valid convolution) must give for the second half of its input what it gives for the whole.
    """
    param = next(model.parameters())
    x = torch.randn(probe, 1, BANDS, ELECTRODES, N_FFT // 2 + 1, generator=torch.Generator().manual_seed(seed))
    x = x.to(param.device, param.dtype)  # (T, N=1, bands, electrodes, freq)
    found = []
    for stage in _stages(model):
        y = stage(x)
        k = x.shape[0] - y.shape[0]
        half = x.shape[0] // 2
        if k < 0 or half <= k or not torch.allclose(stage(x[half:]), y[half:], atol=1e-4, rtol=1e-4):
            raise InputError(f"{type(model).__name__}'s {type(stage).__name__} is not time-local (an output frame "
                             "depends on frames beyond its receptive field, e.g. through an LSTM or a mean over "
                             "time): the model cannot run chunk by chunk")
        found.append((stage, k))
        x = y
    return found


class OnlineTyping:
    """``push(chunk (n, 32)) -> [record]``: the best text so far after each chunk that adds emission frames.

    Channels are the left band's 16 electrodes then the right band's (emg2qwerty's order). A record has
    ``time`` (s of stream), ``frames`` (emission frames so far), ``text`` and ``final``; `finish` closes open
    words with the LM and gives the final text.
    """

    channels = BANDS * ELECTRODES

    def __init__(self, model: nn.Module, decoder: CTCBeamDecoder, *, sample_rate: float = FS):
        self.model, self.decoder, self.sample_rate = model.eval(), decoder, float(sample_rate)
        self.stages = streaming_stages(self.model)
        self.context = sum(k for _, k in self.stages)  # spectrogram frames before the first emission
        param = next(self.model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.reset()

    def reset(self) -> None:
        self.decoder.reset()
        self.samples = np.zeros((0, BANDS, ELECTRODES), np.float32)  # from the next frame's first sample on
        self.tails: list[torch.Tensor | None] = [None] * len(self.stages)  # each stage's last k input frames
        self.seen = 0  # samples pushed
        self.emitted = 0  # emission frames decoded
        self.text = ""

    @torch.inference_mode()
    def emissions(self, chunk) -> np.ndarray:
        """Log-probabilities (k, classes) of the emission frames `chunk` (n, 32) completes."""
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise InputError(f"expected a chunk of shape (samples, {self.channels}), got {x.shape}")
        self.seen += len(x)
        self.samples = np.concatenate([self.samples, x.reshape(len(x), BANDS, ELECTRODES)])  # (m, 2, 16)
        if len(self.samples) < N_FFT:
            return np.zeros((0, 0), np.float32)
        new = log_spectrogram(self.samples, n_fft=N_FFT, hop_length=HOP)  # (f, 2, 16, 33)
        self.samples = self.samples[len(new) * HOP:]
        y = torch.from_numpy(new)[:, None].to(self.device, self.dtype)  # (f, N=1, 2, 16, 33)
        for i, (stage, k) in enumerate(self.stages):
            if k:
                y = y if self.tails[i] is None else torch.cat([self.tails[i], y])  # (k + new frames, ...)
                self.tails[i] = y[len(y) - k:] if len(y) > k else y
                if len(y) <= k:
                    return np.zeros((0, 0), np.float32)
            y = stage(y)
        return y[:, 0].float().cpu().numpy()  # (new emission frames, classes)

    def push(self, chunk) -> list[dict]:
        e = self.emissions(chunk)
        if not len(e):
            return []
        self.decoder.feed(e)
        self.emitted += len(e)
        self.text = CHARSET.labels_to_str(self.decoder.partial())
        return [self._record(final=False)]

    def finish(self) -> list[dict]:
        self.text = CHARSET.labels_to_str(self.decoder.finish())
        return [self._record(final=True)]

    def _record(self, final: bool) -> dict:
        return {"time": round(self.seen / self.sample_rate, 6), "frames": self.emitted, "text": self.text,
                "final": final}

    def summary(self) -> dict:
        return {"frames": self.emitted, "text": self.text}


def load_online_typing(run: str | Path, *, options: DecodingOptions | None = None, lm: str | Path | None = None,
                       model: str | None = None) -> OnlineTyping:
    """`OnlineTyping` of a typing run folder (or checkpoint, with `model`), with beam search and, given `lm` (an
    ARPA file), the character LM (`options`: beam size, LM weight, insertion bonus)."""
    network, _ = load_typing_model(run, model)
    found = decoders(options or DecodingOptions(), lm)
    return OnlineTyping(network, found["beam_lm" if lm else "beam"])
