"""Window classifiers for gesture and activity recognition: each turns sEMG windows into class scores.

A classifier is a representation (`transform`: windows (N, W, C) at `fs` Hz -> model inputs;
`transform_recording`: the same rows from a whole recording (T, C)) and a model fitted on it, so every protocol
and report treats them alike. Representations:
- `lda`: the field's baseline, LDA on log-MAV, log-WL, ZC and SSC per channel (Hudgins et al. 1993).
- `feature_lda`, `feature_mlp`: LDA / an MLP on a richer set (time-domain, AR(4), spectral moments).
- `spectrogram_cnn`: the 2D CNN of `myovision.models.emg_cnn` on per-channel log-power spectrograms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from myovision.gestures import CLASSIFIER_NAMES
from myovision.registry import create_model
from myovision.signals.features import features
from myovision.signals.spectrogram import LOG_EPS, stft_power
from myovision.signals.windows import sliding_windows
from myovision.runs import save_model
from myovision.training import fit_classifier
from myovision.training.options import TrainerOptions

BASELINE_FEATURES = ("MAV", "WL", "ZC", "SSC")
RICH_FEATURES = ("MAV", "RMS", "WL", "ZC", "SSC", "WAMP", "LS", "MSR", "DASDV", "SKEW", "KURT", "MNF", "MDF", "AR")
LOG_FEATURES = {"MAV", "RMS", "WL", "LS", "DASDV", "MNF", "MDF"}


def feature_columns(values: dict[str, np.ndarray], names: tuple[str, ...], n: int) -> np.ndarray:
    """`{name: (N, ...) values}` of N windows -> (N, F) float32, one column per (feature, channel[, coefficient]).

    Amplitude and frequency features enter as log(value + 1e-6) (log-MAV, log-WL as in the baseline).
    Values a flat window leaves undefined (SKEW, KURT, MNF, MDF of a dead electrode) become 0, so one
    silent channel cannot poison a session's statistics.
    """
    columns = []
    for name in names:
        v = values[name].reshape(n, -1)  # (N, ...) -> (N, C[*k])
        columns.append(np.log(np.abs(v) + 1e-6) if name in LOG_FEATURES else v)
    return np.nan_to_num(np.concatenate(columns, axis=1), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def feature_matrix(windows: np.ndarray, fs: float, names: tuple[str, ...]) -> np.ndarray:
    """windows (N, W, C) -> (N, F): `feature_columns` of each window's features."""
    n, w, _ = windows.shape
    return feature_columns(features(windows, list(names), window=w, step=w, fs=fs), names, n)  # each (N, 1, C[, k])


@dataclass(frozen=True)
class FeatureTransform:
    """The feature matrix of `names` (`feature_columns`) as a representation: windows (N, W, C) -> (N, F), or
    straight from a recording (`of_recording`), whose overlapping windows are never materialised."""

    names: tuple[str, ...]

    def __call__(self, windows: np.ndarray, fs: float) -> np.ndarray:
        return feature_matrix(windows, fs, self.names)

    def of_recording(self, x: np.ndarray, fs: float, size: int, step: int) -> np.ndarray:
        """recording (T, C) -> (n_windows, F), the rows `__call__` gives its `size`-sample windows every `step`
        samples (to float rounding): one `myovision.signals.features` call over the whole recording."""
        values = features(x, list(self.names), window=size, step=step, fs=fs)  # each (n_windows, C[, k])
        return feature_columns(values, self.names, 1 + (len(x) - size) // step)


def log_power_windows(windows: np.ndarray, fs: float, n_fft: int = 16, hop_length: int = 4) -> np.ndarray:
    """windows (N, W, C) -> log10(power + 1e-6) STFT images (N, C, n_fft//2 + 1, frames); centred, Hann."""
    power = stft_power(np.swapaxes(windows, 1, 2), n_fft=n_fft, hop_length=hop_length)  # (N, C, freq, frames)
    return np.log10(np.asarray(power, dtype=np.float32) + LOG_EPS)


@dataclass
class WindowClassifier:
    """A representation (`transform(windows, fs)`) and a model fitted on transformed inputs.

    `fit` and `scores` take transformed inputs, so a runner transforms each recording once
    (`transform_recording`) and reuses the result across folds.
    """

    name: str
    transform: Callable[[np.ndarray, float], np.ndarray]
    model_name: str
    train_kwargs: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    model: torch.nn.Module | None = None
    model_kwargs_used: dict = field(default_factory=dict)  # what create_model got (saved with the model)

    def transform_recording(self, x: np.ndarray, fs: float, size: int, step: int) -> np.ndarray:
        """Model inputs (n_windows, ...) of the `size`-sample windows every `step` samples of a recording (T, C):
        features from the recording itself for a `FeatureTransform`, else `transform` of the materialised windows."""
        if isinstance(self.transform, FeatureTransform):
            return self.transform.of_recording(x, fs, size, step)
        return self.transform(np.ascontiguousarray(sliding_windows(x, size, step)), fs)  # windows (n, size, C)

    @property
    def needs_validation(self) -> bool:
        """Gradient-trained models select their best epoch on held-out recordings; LDA is closed-form."""
        return self.model_name != "lda"

    def fit(self, inputs: np.ndarray, y: np.ndarray, num_classes: int, *,
            val: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0, trainer: TrainerOptions | None = None,
            out: str | Path | None = None, resume: bool = False) -> "WindowClassifier":
        """Fit on transformed inputs (N, ...) and labels (N,); `val` = (inputs, labels) selects the best epoch.

        trainer: the harness's options (their seed wins over `seed`). out: a run folder for the model
        (model.json + model.safetensors), logs and per-epoch checkpoints; `resume` continues its last one.
        """
        x = torch.from_numpy(np.ascontiguousarray(inputs))
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        options = trainer or TrainerOptions(seed=seed)
        if self.model_name == "lda":
            self.model_kwargs_used = {"num_features": x.shape[1], "num_classes": num_classes, **self.model_kwargs}
            self.model = create_model("lda", **self.model_kwargs_used)
            self.model.fit(x, yt)
        else:
            torch.manual_seed(options.seed)
            if self.model_name == "feature_mlp":
                self.model_kwargs_used = {"num_features": x.shape[1], "num_classes": num_classes, **self.model_kwargs}
                self.model = create_model("feature_mlp", **self.model_kwargs_used)
                self.model[0].fit(x)
            else:
                self.model_kwargs_used = {"in_channels": x.shape[1], "num_classes": num_classes,
                                          "input_size": tuple(x.shape[2:]), **self.model_kwargs}
                self.model = create_model(self.model_name, **self.model_kwargs_used)
            xv = yv = None
            if val is not None:
                xv = torch.from_numpy(np.ascontiguousarray(val[0]))
                yv = torch.from_numpy(np.asarray(val[1], dtype=np.int64))
            fit_classifier(self.model, x, yt, xv, yv, trainer=options, out=out, checkpoints=out is not None,
                           resume=resume, **self.train_kwargs)
            self.model.cpu()
        if out is not None:
            save_model(out, self.model, self.model_name, self.model_kwargs_used)
        return self

    def load(self, run: str | Path) -> "WindowClassifier":
        """The model fitted earlier into the run folder `run` (by `fit(..., out=run)`)."""
        self.model = create_model(checkpoint=run).eval()
        return self

    @torch.no_grad()
    def scores(self, inputs: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Class scores (N, K) of transformed inputs (N, ...)."""
        if self.model is None:
            raise RuntimeError(f"classifier {self.name!r} is not fitted")
        self.model.eval()
        x = np.ascontiguousarray(inputs)
        return np.concatenate([self.model(torch.from_numpy(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)])


CLASSIFIERS: dict[str, Callable[[], WindowClassifier]] = {
    "lda": lambda: WindowClassifier("lda", FeatureTransform(BASELINE_FEATURES), "lda"),
    "feature_lda": lambda: WindowClassifier("feature_lda", FeatureTransform(RICH_FEATURES), "lda"),
    "feature_mlp": lambda: WindowClassifier("feature_mlp", FeatureTransform(RICH_FEATURES), "feature_mlp",
                                            train_kwargs={"epochs": 30, "lr": 2e-3}),
    "spectrogram_cnn": lambda: WindowClassifier("spectrogram_cnn", log_power_windows, "emg_cnn",
                                                train_kwargs={"epochs": 15, "lr": 1e-3},
                                                model_kwargs={"widths": (32, 64), "embed_dim": 256, "dropout": 0.3}),
}
assert tuple(CLASSIFIERS) == CLASSIFIER_NAMES, "keep myovision.gestures.CLASSIFIER_NAMES in step"
