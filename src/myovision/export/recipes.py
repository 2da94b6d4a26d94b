"""How each model family of a run folder becomes an `ExportSpec`: which inputs, which front-end, which axes vary.

A run folder names its model in ``model.json`` (`myovision.runs`); the recipe is chosen by that name and reads
only what the folder records (builder keywords, and a system's own JSON where the input size lives there).

| model (model.json)                    | graph input(s)                                  | output                 |
|---------------------------------------|-------------------------------------------------|------------------------|
| `*_ctc` (TDS and the typing variants) | raw sEMG (T, N, bands, electrodes) at 2 kHz     | log-probs (T', N, 99)  |
|                                       | -> emg2qwerty `LogSpectrogram` in the graph      |                        |
| `lipreader`                           | mouth crops (N, 1, T, H, W)                     | scores (N, T, states)  |
| `late_fusion`, `attention_late_fusion`, `mid_fusion` | one (N, clips, dim) per modality | log-probs (N, classes) |
| `clip_video`                          | frames (N, T, 3, H, W), CLIP-normalised         | video embedding (N, D) |
| `emg_cnn`, `lda`, `feature_mlp`       | the model's own input (spectrogram, features)   | class scores (N, K)    |

Gesture runs (front-end = the classifier's representation) and the fusion system's sEMG backbone folders are
composed by the command line from their rooms (`myovision.cli.export`), with the modules defined here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from myovision.errors import InputError
from myovision.export.spec import Composed, ExportSpec, Method, Positional, Standardised
from myovision.models.frontends import LogSpectrogram, MelSpectrogram
from myovision.registry import create_model
from myovision.runs import read_model_spec

TYPING_RATE = 2000  # Hz: emg2qwerty's sEMG (the LogSpectrogram's 64-sample window, 16-sample hop)
FUSION_MODELS = ("late_fusion", "attention_late_fusion", "mid_fusion")


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def typing_spec(model: nn.Module, kwargs: dict) -> ExportSpec:
    """A typing model with emg2qwerty's log spectrogram in front: raw sEMG (T, N, bands, electrodes) ->
    log-probabilities (T', N, classes); 4,000 samples (2 s) traced, 4,800 checked."""
    bands, electrodes = int(kwargs.get("num_bands", 2)), int(kwargs.get("electrode_channels", 16))
    return ExportSpec(
        Composed(LogSpectrogram(), model).eval(),
        lambda n, t: (100.0 * _randn(t, n, bands, electrodes),),
        ("emg",), ("log_probs",), {"emg": {0: "time", 1: "batch"}, "log_probs": {0: "frames", 1: "batch"}},
        (2 * TYPING_RATE, 12 * TYPING_RATE // 5),
        f"raw sEMG (time, batch, {bands} bands, {electrodes} electrodes) at {TYPING_RATE} Hz -> emg2qwerty log "
        "spectrogram (n_fft 64, hop 16) -> CTC log-probabilities (frames, batch, classes); blank = last class",
        {"sample_rate": str(TYPING_RATE), "front_end": "log_spectrogram"})


def lipreader_spec(model: nn.Module, run: Path) -> ExportSpec:
    """The lip reader (front-end + back-end): crops (N, 1, T, H, W) -> per-frame scores (N, T, outputs); H, W from
    the run's lipread.json (its crop_size), else the paper's 88 x 88; 8 frames traced, 11 checked."""
    height, width = 88, 88
    meta = run / "lipread.json"
    if meta.is_file():
        height, width = json.loads(meta.read_text()).get("config", {}).get("crop_size", (height, width))
    return ExportSpec(
        model.eval(), lambda n, t: (_randn(n, 1, t, height, width),),
        ("video",), ("scores",), {"video": {0: "batch", 2: "frames"}, "scores": {0: "batch", 1: "frames"}}, (8, 11),
        f"grey mouth crops (batch, 1, frames, {height}, {width}) -> per-frame scores over HMM states and CTC labels "
        "(batch, frames, outputs)", {"front_end": "none"})


def fusion_spec(model: nn.Module, kwargs: dict) -> ExportSpec:
    """A fusion head (Table 2 row): one (N, clips, dim) input per modality, in model.json's order ->
    log-probabilities (N, classes); 5 clips traced (the paper's), 4 checked."""
    inputs = {str(k): int(v) for k, v in kwargs["inputs"].items()}
    names = tuple(inputs)
    axes = {m: {0: "batch", 1: "clips"} for m in names} | {"log_probs": {0: "batch"}}
    return ExportSpec(
        Positional(model, names).eval(), lambda n, t: tuple(_randn(n, t, inputs[m]) for m in names),
        names, ("log_probs",), axes, (5, 4),
        "clip features " + ", ".join(f"{m} (batch, clips, {d})" for m, d in inputs.items())
        + " -> fused log-probabilities (batch, classes)", {"front_end": "none"})


def clip_video_spec(model: nn.Module) -> ExportSpec:
    """CLIP's image tower as ViFi-CLIP uses it: frames (N, T, 3, H, W) -> L2-normalised video embeddings (N, D)
    (the frame embeddings' mean); 4 frames traced, 3 checked."""
    size = model.image_size
    return ExportSpec(
        Method(model, "encode_video").eval(), lambda n, t: (_randn(n, t, 3, size, size),),
        ("video",), ("video_embedding",), {"video": {0: "batch", 1: "frames"}, "video_embedding": {0: "batch"}},
        (4, 3), f"frames (batch, frames, 3, {size}, {size}) normalised with CLIP's mean and std -> L2-normalised "
        "video embeddings (batch, projection_dim); score classes by the cosine with text embeddings",
        {"front_end": "none"})


def bare_spec(model: nn.Module, name: str, kwargs: dict) -> ExportSpec:
    """A classifier on its own inputs (no front-end recorded in model.json): emg_cnn on spectrograms (N, C, F, T),
    lda / feature_mlp on feature vectors (N, F); only the batch axis varies."""
    if name == "emg_cnn":
        shape = (int(kwargs.get("in_channels", 16)), *map(int, kwargs.get("input_size", (10, 81))))
        what = "spectrograms (batch, channels, freq, frames)"
    else:
        shape = (int(kwargs["num_features"]),)
        what = "feature vectors (batch, features)"
    return ExportSpec(
        model.eval(), lambda n, t: (_randn(n, *shape),), ("inputs",), ("scores",),
        {"inputs": {0: "batch"}, "scores": {0: "batch"}}, (1, 1),
        f"{what} -> class scores (batch, classes); this run folder records no signal front-end",
        {"front_end": "none"})


def window_classifier_spec(model: nn.Module, front: nn.Module, *, channels: int, window: int,
                           fixed_window: bool, standardise: tuple[int, ...] | None, what: str) -> ExportSpec:
    """A gesture window classifier: windows (N, C, W) -> `front` -> class scores (N, K). fixed_window: the model needs W samples exactly (a CNN with a dense layer); else W
    varies (traced at `window`, checked at `window` + 7). standardise: the shape of the per-group mean and std
    the model was trained with (gestures' `normalise`), which become two more graph inputs; None: none."""
    module: nn.Module = Composed(front, model)
    names, sample = ("windows",), lambda n, t: (_randn(n, channels, t),)
    if standardise is not None:
        module = Standardised(front, model)
        names = ("windows", "mean", "std")
        sample = lambda n, t: (_randn(n, channels, t), 0.1 * _randn(*standardise), 1.0 + _randn(*standardise).abs())
    axes = {"windows": {0: "batch"} if fixed_window else {0: "batch", 2: "time"}, "scores": {0: "batch"}}
    return ExportSpec(module.eval(), sample, names, ("scores",), axes,
                      (window, window if fixed_window else window + 7),
                      f"sEMG windows (batch, {channels} channels, {window if fixed_window else 'any number of'} "
                      f"samples) -> {what} -> class scores (batch, classes)"
                      + ("; standardise with your session's mean and std of the front-end's output (inputs mean, "
                         "std)" if standardise is not None else ""),
                      {"front_end": type(front).__name__})


def mel_cnn_spec(cnn: nn.Module, mean: torch.Tensor, std: torch.Tensor, *, fs: float, mel: dict, clip: int,
                 log_eps: float | None) -> ExportSpec:
    """The fusion paper's sEMG backbone: a clip of preprocessed sEMG (N, clip, C) at `fs` -> `MelSpectrogram`
    (`mel`: its keywords) -> log(power + log_eps) (None: power as it is) -> standardised per (channel, mel) with
    `mean`, `std` (C, mels) -> `cnn.embed` -> embeddings (N, embed_dim). The CNN's dense layer fixes the clip."""
    channels = mean.shape[0]
    module = MelEmbedding(MelSpectrogram(fs, **mel), cnn, mean, std, log_eps)
    return ExportSpec(
        module.eval(), lambda n, t: (_randn(n, t, channels),), ("emg",), ("embedding",),
        {"emg": {0: "batch"}, "embedding": {0: "batch"}}, (clip, clip),
        f"preprocessed sEMG clips (batch, {clip} samples, {channels} channels) at {fs:g} Hz -> mel spectrogram "
        f"({mel.get('n_mels')} mels) -> log -> standardised -> CNN fc1 embedding (batch, embed_dim)",
        {"sample_rate": f"{fs:g}", "front_end": "mel_spectrogram"})


class MelEmbedding(nn.Module):
    """mel spectrogram -> optional log -> standardise -> `cnn.embed`: (N, time, C) -> (N, embed_dim)."""

    def __init__(self, mel: MelSpectrogram, cnn: nn.Module, mean: torch.Tensor, std: torch.Tensor,
                 log_eps: float | None):
        super().__init__()
        self.mel, self.cnn, self.log_eps = mel, cnn, log_eps
        self.register_buffer("mean", mean.float()[:, :, None])  # (C, mels, 1)
        self.register_buffer("std", std.float()[:, :, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = self.mel(x)  # (N, C, mels, frames)
        if self.log_eps is not None:
            power = torch.log(power.clamp_min(0.0) + self.log_eps)
        return self.cnn.embed((power - self.mean) / self.std)


def run_spec(run: str | Path) -> ExportSpec:
    """The `ExportSpec` of the model in run folder `run` (``create_model(checkpoint=run)``); an InputError line
    for a folder without model.json or weights, and for a model family without an export recipe."""
    run = Path(run)
    spec = read_model_spec(run)  # InputError naming model.json or model.safetensors when missing
    name, kwargs = spec["model"], spec["kwargs"]
    model = create_model(checkpoint=run).eval()
    if name.endswith("_ctc"):
        return typing_spec(model, kwargs)
    if name == "lipreader":
        return lipreader_spec(model, run)
    if name in FUSION_MODELS:
        return fusion_spec(model, kwargs)
    if name == "clip_video":
        return clip_video_spec(model)
    if name in ("emg_cnn", "lda", "feature_mlp"):
        return bare_spec(model, name, kwargs)
    raise InputError(f"no export recipe for model {name!r} (exportable: *_ctc, lipreader, "
                     f"{', '.join(FUSION_MODELS)}, clip_video, emg_cnn, lda, feature_mlp)", run / "model.json")
