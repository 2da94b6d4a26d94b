"""Online sEMG typing: a typing model and the streaming CTC beam decoder run chunk by chunk on a live stream.

`OnlineTyping` takes 2 x 16-channel 2 kHz samples in chunks of any size and keeps three states across them:
the samples not yet in a spectrogram frame (emg2qwerty's log spectrogram, `myovision.signals.log_spectrogram`:
64-sample frames every 16 samples, no padding), the input frames each valid temporal convolution of the model
still needs (each of the TDS model's 4 blocks keeps its last ``kernel_width - 1 = 31`` input frames, so the
model drops 124 frames in all, and a chunk costs only its new frames through every layer), and the beam of
`myovision.decoding.CTCBeamDecoder`. So the emissions and the text equal those of the whole recording decoded at
once (`myovision.emg_typing.evaluate`), with the best partial text after every chunk.

Backends: PyTorch, or ONNX Runtime once every stage's context is full (after the first ~1 s). The steady-state
step (`StreamingStep`: new frames and the stages' context in, emissions and the next context out) is then one
ONNX graph; a 50 ms chunk is ~6 frames, where PyTorch's per-operator overhead and small-matrix kernels cost
about 2x ONNX Runtime's on one core (2.05-2.15x in benchmarks/bench_stream.py, which measures both).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import FS
from myovision.decoding.ctc import CTCBeamDecoder
from myovision.emg_typing.config import STREAM_BACKENDS, DecodingOptions
from myovision.emg_typing.evaluate import decoders, load_typing_model
from myovision.errors import InputError
from myovision.export.spec import ExportSpec
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


class StreamingStep(nn.Module):
    """The model's steady-state step on a stream: ``(frames (f, 1, bands, electrodes, freq), context_1, ...) ->
    (log-probs (f, 1, classes), next context_1, ...)``, where context_i holds the last ``k_i`` input frames of the
    i-th stage that drops frames (`streaming_stages`), so each stage sees ``k_i + f`` frames and returns ``f``."""

    def __init__(self, stages: list[tuple[nn.Module, int]]):
        super().__init__()
        self.stages = nn.ModuleList(stage for stage, _ in stages)
        self.drops = [k for _, k in stages]

    def forward(self, frames: torch.Tensor, *context: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y, following = frames, []
        for stage, k in zip(self.stages, self.drops):
            if k:
                y = torch.cat([context[len(following)], y])  # (k + f, 1, ...)
                following.append(y[-k:])
            y = stage(y)
        return (y, *following)


def streaming_spec(stages: list[tuple[nn.Module, int]]) -> ExportSpec:
    """`StreamingStep` of `stages` as an `ExportSpec`: batch 1, the new frames' axis dynamic (6 frames traced, 9
    checked; a 50 ms chunk at 2 kHz is 6.25 frames)."""
    step = StreamingStep(stages).eval()
    param = next(step.parameters())
    with torch.inference_mode():  # the shape of each stage's input, probed on one frame more than it drops
        shapes, y = [], torch.zeros(1 + sum(step.drops), 1, BANDS, ELECTRODES, N_FFT // 2 + 1, dtype=param.dtype)
        for stage, k in zip(step.stages, step.drops):
            if k:
                shapes.append((k, *y.shape[1:]))
            y = stage(y)
    contexts = tuple(f"context{i}" for i in range(len(shapes)))

    def sample(_batch: int, frames: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(frames)
        return (torch.randn(frames, 1, BANDS, ELECTRODES, N_FFT // 2 + 1, generator=g),
                *(torch.randn(*shape, generator=g) for shape in shapes))

    return ExportSpec(step, sample, ("frames", *contexts), ("log_probs", *(f"next_{c}" for c in contexts)),
                      {"frames": {0: "frames"}, "log_probs": {0: "frames"}}, (6, 9),
                      "one step of a typing model on a live stream: new log-spectrogram frames (frames, 1, bands, "
                      "electrodes, 33) and each valid convolution's last input frames -> CTC log-probabilities "
                      "(frames, 1, classes) and the next context", {"stream_context_frames": str(sum(step.drops))})


def onnx_step(stages: list[tuple[nn.Module, int]], threads: int = 1):
    """``run(frames, contexts) -> (log_probs, next contexts)`` (numpy) of `StreamingStep` exported to ONNX and run
    by ONNX Runtime with `threads` threads."""
    from myovision.export.writers import onnx_session, write_onnx

    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(write_onnx(streaming_spec(stages), Path(tmp) / "step.onnx"), threads=threads)
    names = [i.name for i in session.get_inputs()]

    def run(frames: np.ndarray, contexts: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        out = session.run(None, dict(zip(names, [frames, *contexts])))
        return out[0], out[1:]

    return run


def _onnxruntime_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


class OnlineTyping:
    """``push(chunk (n, 32)) -> [record]``: the best text so far after each chunk that adds emission frames.

    Channels are the left band's 16 electrodes then the right band's (emg2qwerty's order). A record has
    ``time`` (s of stream), ``frames`` (emission frames so far), ``text`` and ``final``; `finish` closes open
    words with the LM and gives the final text.
    """

    channels = BANDS * ELECTRODES

    def __init__(self, model: nn.Module, decoder: CTCBeamDecoder, *, sample_rate: float = FS,
                 backend: str = "auto"):
        if backend not in STREAM_BACKENDS:
            raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(STREAM_BACKENDS)}")
        self.model, self.decoder, self.sample_rate = model.eval(), decoder, float(sample_rate)
        self.stages = streaming_stages(self.model)
        self.context = sum(k for _, k in self.stages)  # spectrogram frames before the first emission
        param = next(self.model.parameters())
        self.device, self.dtype = param.device, param.dtype
        cpu_float32 = self.device.type == "cpu" and self.dtype == torch.float32
        if backend == "auto":
            backend = "onnxruntime" if cpu_float32 and _onnxruntime_installed() else "torch"
        elif backend == "onnxruntime" and not cpu_float32:
            raise InputError(f"the onnxruntime backend runs float32 models on the CPU; this model is {self.dtype} on "
                             f"{self.device}: use the torch backend")
        self.backend = backend
        self.onnx_step = onnx_step(self.stages) if backend == "onnxruntime" else None
        self._warm_up()
        self.reset()

    @torch.inference_mode()
    def _warm_up(self) -> None:
        """Load the compiled beam search (numba, on first use) before the stream starts, so the first emission's
        chunk is not seconds late: the decoder is fed one uniform frame here and reset after."""
        frames = torch.zeros(self.context + 1, 1, BANDS, ELECTRODES, N_FFT // 2 + 1, device=self.device,
                             dtype=self.dtype)  # (context + 1, N=1, bands, electrodes, freq)
        classes = self.model(frames).shape[-1]
        self.decoder.reset()
        self.decoder.feed(np.full((1, classes), -np.log(classes)))

    def reset(self) -> None:
        self.decoder.reset()
        self.samples = np.zeros((0, BANDS, ELECTRODES), np.float32)  # from the next frame's first sample on
        self.tails: list[torch.Tensor | None] = [None] * len(self.stages)  # each stage's last k input frames
        self.onnx_context: list[np.ndarray] | None = None  # the same, once full, for the ONNX step
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
        if self.onnx_context is not None:
            y, self.onnx_context = self.onnx_step(np.ascontiguousarray(new[:, None], np.float32), self.onnx_context)
            return y[:, 0]  # (new emission frames, classes)
        y = torch.from_numpy(new)[:, None].to(self.device, self.dtype)  # (f, N=1, 2, 16, 33)
        for i, (stage, k) in enumerate(self.stages):
            if k:
                y = y if self.tails[i] is None else torch.cat([self.tails[i], y])  # (k + new frames, ...)
                self.tails[i] = y[len(y) - k:] if len(y) > k else y
                if len(y) <= k:
                    return np.zeros((0, 0), np.float32)
            y = stage(y)
        if self.onnx_step is not None:  # every context is full: the ONNX step from the next chunk on
            self.onnx_context = [t.numpy() for t, (_, k) in zip(self.tails, self.stages) if k]
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
        return {"frames": self.emitted, "text": self.text, "backend": self.backend}


def load_online_typing(run: str | Path, *, options: DecodingOptions | None = None, lm: str | Path | None = None,
                       model: str | None = None, backend: str = "auto") -> OnlineTyping:
    """`OnlineTyping` of a typing run folder (or checkpoint, with `model`), with beam search and, given `lm` (an
    ARPA file), the character LM (`options`: beam size, LM weight, insertion bonus), run by `backend`."""
    network, _ = load_typing_model(run, model)
    found = decoders(options or DecodingOptions(), lm)
    return OnlineTyping(network, found["beam_lm" if lm else "beam"], backend=backend)
