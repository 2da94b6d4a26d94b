"""Online sEMG typing: a typing model and the streaming CTC beam decoder run chunk by chunk on a live stream.

`OnlineTyping` takes 2 x 16-channel 2 kHz samples in chunks of any size and keeps three states across them:
the samples not yet in a spectrogram frame (emg2qwerty's log spectrogram, `myovision.signals.log_spectrogram`:
64-sample frames every 16 samples, no padding), the last spectrogram frames the model's receptive field still
needs (a model of valid convolutions such as emg2qwerty's TDS drops ``T - T'`` frames: its output frame ``i``
sees input frames ``i .. i + T - T'``), and the beam of `myovision.decoding.CTCBeamDecoder`. So the emissions
and the text equal those of the whole recording decoded at once (`myovision.emg_typing.evaluate`), with the
best partial text after every chunk.
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
from myovision.signals.spectrogram import log_spectrogram

BANDS, ELECTRODES = 2, 16
N_FFT, HOP = 64, 16  # emg2qwerty's log spectrogram (the `log_spectrogram` defaults the models were trained on)


@torch.inference_mode()
def frames_consumed(model: nn.Module, probe: int = 256, seed: int = 0) -> int:
    """Spectrogram frames the model drops (``T - T'``); InputError when the model is not time-local (an output
    frame depends on more than its receptive field, e.g. a BiLSTM), so it cannot run chunk by chunk."""
    param = next(model.parameters())
    x = torch.randn(probe, 1, BANDS, ELECTRODES, N_FFT // 2 + 1, generator=torch.Generator().manual_seed(seed))
    x = x.to(param.device, param.dtype)  # (T, N=1, bands, electrodes, freq)
    whole = model(x)
    consumed = probe - whole.shape[0]
    half = probe // 2 + consumed
    if consumed < 0 or half >= probe:
        raise InputError(f"model gives {whole.shape[0]} frames for {probe}: cannot stream it chunk by chunk")
    tail = model(x[probe // 2:])  # output frames probe // 2 .. of the whole, if time-local
    if not torch.allclose(tail, whole[probe // 2:], atol=1e-4, rtol=1e-4):
        raise InputError(f"{type(model).__name__} is not time-local (an output frame depends on frames beyond its "
                         "receptive field, e.g. through an LSTM): it cannot run chunk by chunk")
    return consumed


class OnlineTyping:
    """``push(chunk (n, 32)) -> [record]``: the best text so far after each chunk that adds emission frames.

    Channels are the left band's 16 electrodes then the right band's (emg2qwerty's order). A record has
    ``time`` (s of stream), ``frames`` (emission frames so far), ``text`` and ``final``; `finish` closes open
    words with the LM and gives the final text.
    """

    channels = BANDS * ELECTRODES

    def __init__(self, model: nn.Module, decoder: CTCBeamDecoder, *, sample_rate: float = FS):
        self.model, self.decoder, self.sample_rate = model.eval(), decoder, float(sample_rate)
        self.context = frames_consumed(self.model)
        param = next(self.model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.reset()

    def reset(self) -> None:
        self.decoder.reset()
        self.samples = np.zeros((0, BANDS, ELECTRODES), np.float32)  # from the next frame's first sample on
        self.spectrogram = np.zeros((0, BANDS, ELECTRODES, N_FFT // 2 + 1), np.float32)  # frames still needed
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
        if len(self.samples) >= N_FFT:
            new = log_spectrogram(self.samples, n_fft=N_FFT, hop_length=HOP)  # (f, 2, 16, 33)
            self.samples = self.samples[len(new) * HOP:]
            self.spectrogram = np.concatenate([self.spectrogram, new])
        if len(self.spectrogram) <= self.context:
            return np.zeros((0, 0), np.float32)
        inputs = torch.from_numpy(self.spectrogram)[:, None].to(self.device, self.dtype)  # (L, N=1, 2, 16, 33)
        out = self.model(inputs)[:, 0].float().cpu().numpy()  # (L - context, classes)
        self.spectrogram = self.spectrogram[len(self.spectrogram) - self.context:]
        return out

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
