"""The fusion paper's sEMG backbone: its 2D CNN trained on per-clip mel-spectrograms, then cut after fc1.

Bracci, Caruso, Clemente (section 4.4) train a small 2D CNN (`myovision.models.emg_cnn`) to classify the
16-channel sEMG spectrograms, keep the best configuration, and discard every layer after the first fully
connected one, so each clip gives a 1024-d embedding and an action of 5 clips a (5, 1024) sequence that
matches the I3D RGB features. The authors never released that CNN; the choices made here are ours:

- **Training examples are clips.** Each of an action's 5 clips is one example labelled with the action's
  label: (N, 5, 16, 10, 81) -> (N*5, 16, 10, 81).
- **Two recipes** (`BACKBONE_RECIPES`). "myovision": AdamW (lr 1e-3, weight decay 1e-4, batch 64) on log
  mel power: mel power of rectified, low-passed sEMG spans several decades between the lowest mel band and
  the top ones (and between subjects), so the network sees ``log(mel + log_eps)``, `log_eps` (1e-6) flooring
  bands that carry no energy at all. "paper": the optimiser the paper states for all its networks (SGD,
  lr 0.01, momentum 0.9, weight decay 1e-7, batch 32) on mel power as the authors computed it (no log).
- **Standardisation** per (channel, mel band): mean and std over training clips and frames only; a band
  that is constant in training (std ~ 0) is only centred.
- **Model selection** on `val` (clip-level accuracy; the weights of the best epoch are kept). The caller
  carves `val` from training data; nothing here ever sees a test set.

`EmgBackbone.embed` applies the same input transform and returns the post-ReLU fc1 output per clip.
`save` writes ``emg_backbone.safetensors`` (CNN weights + normalisation) and ``emg_backbone.json`` (config
and the weights' SHA-256) into a folder; `load` never unpickles anything and refuses a missing, truncated or
altered file with :class:`myovision.errors.InputError` naming it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from myovision.actions.config import BACKBONE_RECIPES, BackboneRecipe
from myovision.errors import InputError
from myovision.fileio import atomic_write_text
from myovision.runs import save_weights
from myovision.models.emg_cnn import EmgSpectrogramCNN
from myovision.progress import INTERVAL_S, Heartbeat
from myovision.registry import create_model, read_state_dict

WEIGHTS_FILE = "emg_backbone.safetensors"
CONFIG_FILE = "emg_backbone.json"
FORMAT = "myovision.emg_backbone/1"
LOG_EPS = 1e-6
_MIN_STD = 1e-6



class EmgBackbone:
    """A trained sEMG spectrogram CNN used as a per-clip feature extractor, with its input normalisation.

    cnn: the `EmgSpectrogramCNN`; mean, std: (channels, mels) float32 statistics of the (log-)mel inputs
    of the training clips; log_power, log_eps: the input transform (see the module docstring).
    """

    def __init__(self, cnn: EmgSpectrogramCNN, mean: np.ndarray, std: np.ndarray, *, log_power: bool = True,
                 log_eps: float = LOG_EPS, config: dict[str, Any] | None = None):
        mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
        if mean.shape != std.shape or mean.ndim != 2:
            raise ValueError(f"mean and std must both be (channels, mels); got {mean.shape} and {std.shape}")
        self.cnn = cnn
        self.mean = mean
        self.std = std
        self.log_power = bool(log_power)
        self.log_eps = float(log_eps)
        self.config = dict(config or {})

    @property
    def embed_dim(self) -> int:
        return int(self.cnn.fc2.in_features)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, mels, frames) of one clip."""
        channels, mels = self.mean.shape
        return channels, mels, self.cnn.input_size[1]

    def normalise(self, clips: np.ndarray) -> np.ndarray:
        """(..., channels, mels, frames) mel power -> the CNN's input: log (optional), then standardised."""
        x = np.asarray(clips, dtype=np.float32)
        if self.log_power:
            x = np.log(np.maximum(x, 0.0) + np.float32(self.log_eps))
        return ((x - self.mean[:, :, None]) / self.std[:, :, None]).astype(np.float32)

    def embed(self, mel_clips: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """(N, clips, channels, mels, frames) mel-spectrograms -> (N, clips, embed_dim) float32 fc1 embeddings."""
        mel_clips = _check_clips(mel_clips, "mel_clips")
        if tuple(mel_clips.shape[2:]) != self.input_shape:
            raise InputError(f"mel_clips have clips of shape {tuple(mel_clips.shape[2:])}; this backbone was "
                             f"trained on (channels, mels, frames) = {self.input_shape}")
        n, n_clips = mel_clips.shape[:2]
        flat = mel_clips.reshape(n * n_clips, *mel_clips.shape[2:])  # (N*clips, C, mels, frames)
        out = np.empty((len(flat), self.embed_dim), dtype=np.float32)
        self.cnn.cpu().eval()
        with torch.no_grad():
            for start in range(0, len(flat), batch_size):
                x = torch.from_numpy(self.normalise(flat[start:start + batch_size]))
                out[start:start + len(x)] = self.cnn.embed(x).numpy()
        return out.reshape(n, n_clips, self.embed_dim)  # (N, clips, embed_dim)

    def save(self, path: str | Path) -> Path:
        """Write the folder `path` with ``emg_backbone.safetensors`` and ``emg_backbone.json``; return it."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"cnn.{k}": v.detach().cpu().contiguous() for k, v in self.cnn.state_dict().items()}
        tensors["norm.mean"] = torch.from_numpy(self.mean.copy())
        tensors["norm.std"] = torch.from_numpy(self.std.copy())
        digest = hashlib.sha256(save_weights(folder / WEIGHTS_FILE, tensors).read_bytes()).hexdigest()
        channels, mels, frames = self.input_shape
        config = {
            "format": FORMAT,
            "in_channels": channels,
            "num_classes": int(self.cnn.fc2.out_features),
            "input_size": [mels, frames],
            "widths": [int(self.cnn.features[0].out_channels), int(self.cnn.features[2].out_channels)],
            "embed_dim": self.embed_dim,
            "log_power": self.log_power,
            "log_eps": self.log_eps,
            "weights_sha256": digest,
            "training": self.config.get("training", {}),
        }
        atomic_write_text(folder / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> EmgBackbone:
        """Read a folder written by `save`; InputError naming the file when one is missing or altered."""
        folder = Path(path)
        config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        if not config_path.is_file():
            raise InputError("backbone config not found", config_path)
        try:
            config = json.loads(config_path.read_text())
            if config.get("format") != FORMAT:
                raise ValueError(f"format {config.get('format')!r} is not {FORMAT!r}")
            kwargs = dict(in_channels=int(config["in_channels"]), num_classes=int(config["num_classes"]),
                          input_size=tuple(int(v) for v in config["input_size"]),
                          widths=tuple(int(v) for v in config["widths"]), embed_dim=int(config["embed_dim"]))
            log_power, log_eps = bool(config["log_power"]), float(config["log_eps"])
            digest = str(config["weights_sha256"])
        except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
            raise InputError(f"not a valid emg backbone config ({type(exc).__name__}: {exc})", config_path) from exc
        if not weights_path.is_file():
            raise InputError("backbone weights not found", weights_path)
        if hashlib.sha256(weights_path.read_bytes()).hexdigest() != digest:
            raise InputError(f"weights do not match the SHA-256 recorded in {CONFIG_FILE} (altered or truncated)",
                             weights_path)
        tensors = read_state_dict(weights_path)
        try:
            mean, std = tensors.pop("norm.mean").numpy(), tensors.pop("norm.std").numpy()
            cnn = create_model("emg_cnn", dropout=0.0, **kwargs)
            cnn.load_state_dict({k.removeprefix("cnn."): v for k, v in tensors.items()}, strict=True)
            if mean.shape != (kwargs["in_channels"], kwargs["input_size"][0]) or mean.shape != std.shape:
                raise ValueError(f"normalisation of shape {mean.shape} does not fit the config")
        except (KeyError, RuntimeError, ValueError) as exc:
            raise InputError(f"weights do not fit the config ({type(exc).__name__}: {exc})", weights_path) from exc
        return cls(cnn, mean, std, log_power=log_power, log_eps=log_eps,
                   config={"training": config.get("training", {})})


def train_emg_backbone(
    mel_clips: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: int = 30,
    recipe: str | BackboneRecipe = "myovision",
    seed: int = 0,
    embed_dim: int = 1024,
    widths: tuple[int, int] = (32, 64),
    progress: bool = False,
) -> EmgBackbone:
    """Train the paper's sEMG CNN on clips with a recipe of `BACKBONE_RECIPES` and return it as a backbone
    (cut after fc1).

    mel_clips: (N, clips, channels, mels, frames) mel power of N training actions (ActionSense:
    (N, 5, 16, 10, 81)); labels: (N,) class indices in [0, num_classes); val: the same for a validation
    split carved from the training data, used to keep the best epoch (clip-level accuracy). progress: a line
    at least every 10 s of training on stdout (a bar on a terminal). Deterministic for a given `seed` on one
    machine.
    """
    from myovision.training import fit_classifier

    if isinstance(recipe, BackboneRecipe):
        how, recipe = recipe, "custom"
    elif recipe in BACKBONE_RECIPES:
        how = BACKBONE_RECIPES[recipe]
    else:
        raise InputError(f"unknown sEMG CNN recipe {recipe!r}; choose one of {sorted(BACKBONE_RECIPES)}")
    mel_clips = _check_clips(mel_clips, "mel_clips")
    labels = _check_labels(labels, len(mel_clips), num_classes, "labels")
    # each clip is an example with its action's label: (N, clips, C, mels, frames) -> (N*clips, C, mels, frames)
    n, n_clips, channels, mels, frames = mel_clips.shape
    train_x = mel_clips.reshape(n * n_clips, channels, mels, frames)
    train_y = np.repeat(labels, n_clips)  # (N*clips,)

    x = np.log(np.maximum(train_x, 0.0) + np.float32(LOG_EPS)) if how.log_power else train_x.astype(np.float32)
    mean = x.mean(axis=(0, 3), dtype=np.float64)  # (C, mels)
    std = x.std(axis=(0, 3), dtype=np.float64)
    std = np.where(std < _MIN_STD, 1.0, std)
    torch.manual_seed(seed)  # the CNN's initial weights
    cnn = create_model("emg_cnn", in_channels=channels, num_classes=num_classes, input_size=(mels, frames),
                       widths=tuple(widths), embed_dim=embed_dim, dropout=0.0)
    training = {"recipe": recipe, **dataclasses.asdict(how), "epochs": epochs, "seed": seed,
                "n_train_actions": int(n), "n_val_actions": 0 if val is None else int(len(val[0]))}
    backbone = EmgBackbone(cnn, mean, std, log_power=how.log_power, config={"training": training})

    x_train = torch.from_numpy(backbone.normalise(train_x))
    y_train = torch.from_numpy(train_y)
    x_val = y_val = None
    if val is not None:
        val_clips = _check_clips(val[0], "val mel_clips")
        if tuple(val_clips.shape[1:]) != tuple(mel_clips.shape[1:]):
            raise InputError(f"val mel_clips have actions of shape {tuple(val_clips.shape[1:])}, "
                             f"training ones {tuple(mel_clips.shape[1:])}")
        val_labels = _check_labels(val[1], len(val_clips), num_classes, "val labels")
        x_val = torch.from_numpy(backbone.normalise(val_clips.reshape(-1, channels, mels, frames)))
        y_val = torch.from_numpy(np.repeat(val_labels, n_clips))
    steps = epochs * max(1, len(x_train) // how.batch_size)
    with training_progress(cnn, steps, "sEMG CNN backbone", enabled=progress):
        fit_classifier(cnn, x_train, y_train, x_val, y_val, epochs=epochs, batch_size=how.batch_size, lr=how.lr,
                       weight_decay=how.weight_decay, optimizer=how.optimizer, momentum=how.momentum, seed=seed)
    backbone.cnn = cnn.cpu().eval()
    return backbone


@contextmanager
def training_progress(model: torch.nn.Module, total: int, desc: str, *, enabled: bool = True,
                      interval_s: float = 0.8 * INTERVAL_S) -> Iterator[None]:
    """Show training steps of `model` while the block runs: each forward pass in training mode counts one step
    (`total` expected at most; early stopping ends sooner). A bar on a terminal, otherwise a line on stdout
    once `interval_s` has passed, at the end of a step, and one at the end (`myovision.progress.Heartbeat`);
    the default leaves room for a step and the setup before the first, so lines come under 10 s apart."""
    if not enabled:
        yield
        return
    with Heartbeat(total, desc=desc, unit="step", stream=sys.stdout, interval_s=interval_s) as beat:
        hook = model.register_forward_pre_hook(lambda module, args: beat.update() if module.training else None)
        try:
            yield
        finally:
            hook.remove()


def raw_clip_features(emg_clips: np.ndarray) -> np.ndarray:
    """(N, clips, samples, channels) raw sEMG -> (N, clips, samples * channels) float32: the paper's
    "LSTM sEMG (raw)" input.

    Each clip's samples are flattened time-major, so ``out[i, j, t * channels + c] == emg_clips[i, j, t, c]``:
    the first `channels` values are the clip's first sample of every channel. ActionSense: (N, 5, 160, 16) ->
    (N, 5, 2560), one 2560-d step per clip for a sequence head.
    """
    x = np.asarray(emg_clips)
    if x.ndim != 4:
        raise InputError(f"emg_clips must be (N, clips, samples, channels); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("emg_clips contain NaN or infinite samples")
    n, n_clips, samples, channels = x.shape
    return np.ascontiguousarray(x, dtype=np.float32).reshape(n, n_clips, samples * channels)  # (N, clips, T*C)


def _check_clips(clips: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(clips, dtype=np.float32)
    if x.ndim != 5:
        raise InputError(f"{name} must be (N, clips, channels, mels, frames); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name} contain NaN or infinite values")
    return x


def _check_labels(labels: np.ndarray, n: int, num_classes: int, name: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,) or (n and not np.issubdtype(y.dtype, np.integer)):
        raise InputError(f"{name} must be ({n},) integers; got shape {y.shape} and dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise InputError(f"{name} must lie in [0, {num_classes}); found {y.min()}..{y.max()}")
    return y.astype(np.int64)
