"""Online gesture recognition: a trained gesture run applied to a live sEMG stream, window by window.

`OnlineGestureClassifier` cuts the stream into the run's windows across chunk boundaries
(`myovision.stream.WindowBuffer`), turns each with the classifier's own offline `transform`, standardises it
with frozen statistics when the run standardised per subject or session, and classifies it; so every window
gets the decision offline evaluation gives it. On top, as LibEMG's ``OnlineEMGClassifier`` (Eddy et al. 2023):
posterior smoothing (an exponential moving average of the class probabilities), a majority vote over the last
``vote`` decisions, and rejection (no label) below a confidence ``threshold``.
"""

from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from typing import Sequence

import numpy as np

from myovision.errors import InputError
from myovision.gestures.classifiers import CLASSIFIERS, FeatureTransform, WindowClassifier, feature_columns
from myovision.runs import CONFIG, METRICS, is_run, read_config, read_metrics, read_model_spec
from myovision.stream.filters import FrozenZScore
from myovision.stream.options import DecisionOptions
from myovision.stream.windows import WindowBuffer, window_features

#: the eps `myovision.gestures.evaluate.standardise_groups` adds to a group's std
STANDARDISE_EPS = 1e-6


def online_feature_matrix(windows: np.ndarray, fs: float, names: tuple[str, ...]) -> np.ndarray:
    """`myovision.gestures.classifiers.feature_matrix` of windows (N, W, C) -> (N, F), float32, through the
    per-window kernels of `myovision.stream.windows.window_features` (equal to rounding, no per-call checks)."""
    return feature_columns(window_features(windows, list(names), fs), names, len(windows))  # each (N, C[, k])


def softmax(scores: np.ndarray) -> np.ndarray:
    """Class probabilities (N, K) of scores (N, K) (LDA log-posteriors or logits)."""
    z = np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class OnlineGestureClassifier:
    """``push(chunk (n, channels)) -> [record, ...]``: one record per window the chunk completes.

    A record: ``time`` (s of stream at the window's last sample), ``window`` (index), ``raw`` (the window's own
    class, as offline evaluation decides it), ``label`` (after smoothing and vote; None when rejected) and
    ``confidence`` (the smoothed probability of ``label``'s class).
    """

    def __init__(self, classifier: WindowClassifier, class_names: Sequence[str], *, sample_rate: float,
                 channels: int, window_ms: float = 200.0, step_ms: float = 50.0,
                 normaliser: FrozenZScore | None = None, decisions: DecisionOptions | None = None):
        self.classifier, self.class_names = classifier, list(class_names)
        self.sample_rate, self.channels = float(sample_rate), int(channels)
        size, step = round(window_ms * sample_rate / 1000), max(1, round(step_ms * sample_rate / 1000))  # as offline
        self.windows = WindowBuffer(size, step, self.channels)
        self.normaliser = normaliser
        self.decisions = decisions or DecisionOptions()
        self.reset()

    def reset(self) -> None:
        self.windows.reset()
        self.smoothed: np.ndarray | None = None
        self.recent: deque[int] = deque(maxlen=self.decisions.vote)
        self.counts: Counter = Counter()

    def inputs(self, windows: np.ndarray) -> np.ndarray:
        """Model inputs of windows (N, W, C): the classifier's transform (its feature matrix through the per-window
        kernels when it is one), then the frozen standardisation."""
        transform = self.classifier.transform
        x = (online_feature_matrix(windows, self.sample_rate, transform.names) if isinstance(transform, FeatureTransform)
             else transform(windows, self.sample_rate))
        return x if self.normaliser is None else self.normaliser.push(x)

    def push(self, chunk) -> list[dict]:
        first = self.windows.windows_out
        w = self.windows.push(chunk)  # (k, size, C)
        if not len(w):
            return []
        probs = softmax(self.classifier.scores(self.inputs(w)))  # (k, K)
        records = []
        for i, p in enumerate(probs):
            j = first + i
            d = self.decisions
            self.smoothed = p if self.smoothed is None else d.smoothing * self.smoothed + (1 - d.smoothing) * p
            self.recent.append(int(self.smoothed.argmax()))
            votes = Counter(self.recent)
            top = max(votes.values())
            label = max((c for c in votes if votes[c] == top), key=lambda c: self.smoothed[c])  # ties: more probable
            confidence = float(self.smoothed[label])
            name = self.class_names[label] if confidence >= d.threshold else None
            self.counts[name] += 1
            records.append({"time": round((j * self.windows.step + self.windows.size) / self.sample_rate, 6),
                            "window": j, "raw": self.class_names[int(p.argmax())], "label": name,
                            "confidence": round(confidence, 6)})
        return records

    def finish(self) -> list[dict]:
        return []

    def summary(self) -> dict:
        return {"windows": self.windows.windows_out, "labels": {str(k): v for k, v in self.counts.items()}}


def find_fold(run: str | Path, fold: str | None = None) -> tuple[Path, Path]:
    """(the `gestures train` run folder, the fold folder holding the model) of `run`: a fold folder itself, or a
    run with one fold (or `fold` naming one). InputError listing the folds when it is ambiguous."""
    run = Path(run)
    if is_run(run):
        return run.parent.parent, run
    if not (run / CONFIG).is_file():
        raise InputError("not a gestures run folder (no config.yaml)", run)
    folds = sorted(p for p in (run / "folds").glob("*") if is_run(p))
    chosen = [p for p in folds if p.name == fold] if fold else folds
    if len(chosen) != 1:
        problem = (f"no fold {fold!r} with a model" if fold else
                   "no fold with model weights" if not folds else "several folds: pick one with --fold")
        raise InputError(f"{problem} (folds: {', '.join(p.name for p in folds) or 'none'})", run)
    return run, chosen[0]


def _channels(classifier: WindowClassifier, spec: dict, size: int, fs: float) -> int:
    """The channel count the fitted model takes, from its input size over what one channel's window gives."""
    per_channel = classifier.transform(np.ones((1, size, 1), np.float32), fs)  # (1, F) or (1, 1, freq, frames)
    kwargs = spec["kwargs"]
    return int(kwargs["in_channels"]) if "in_channels" in kwargs else int(kwargs["num_features"]) // per_channel.shape[1]


def load_online_classifier(run: str | Path, *, fold: str | None = None, default_rate: float | None = None,
                           calibration: Sequence[np.ndarray] = (), decisions: DecisionOptions | None = None
                           ) -> OnlineGestureClassifier:
    """An `OnlineGestureClassifier` for the model of a `myovision gestures train` run.

    default_rate: Hz the model was trained at when the run does not say (its --sample-rate, else its manifest's
    one sample rate).
    calibration: recordings (T, C) of the wearer whose windows give the frozen standardisation statistics,
    required when the run standardised per subject or session (offline, those are the test session's own
    windows: calibrating on the same recordings reproduces its decisions exactly).
    """
    run, fold_dir = find_fold(run, fold)
    config = read_config(run / CONFIG)
    name = config.get("model")
    if name not in CLASSIFIERS:
        raise InputError(f"not a gestures run: model {name!r} is not one of {', '.join(CLASSIFIERS)}", run / CONFIG)
    class_names = read_metrics(run)["class_names"] if (run / METRICS).is_file() else None
    if not class_names:
        raise InputError("run has no class names (metrics.json missing: did training finish?)", run)
    fs = config.get("sample_rate") or manifest_rate(config.get("manifest")) or default_rate
    if not fs:
        raise InputError("the run does not say its sample rate: give --rate", run)
    classifier = CLASSIFIERS[name]().load(fold_dir)
    window_ms, step_ms = float(config["window_ms"]), float(config["step_ms"])
    size = round(window_ms * fs / 1000)
    channels = _channels(classifier, read_model_spec(fold_dir), size, fs)
    online = OnlineGestureClassifier(classifier, class_names, sample_rate=fs, channels=channels, window_ms=window_ms,
                                     step_ms=step_ms, decisions=decisions)
    if config.get("normalise", "none") != "none":
        if not len(calibration):
            raise InputError(f"the run standardises per {config['normalise']}: give calibration recordings of the "
                             "wearer (--calibrate FILE ...)", run)
        online.normaliser = calibration_normaliser(online, calibration)
    return online


def calibration_normaliser(online: OnlineGestureClassifier, recordings: Sequence[np.ndarray]) -> FrozenZScore:
    """Frozen statistics of the model inputs of every window of `recordings` (each (T, C)), computed as
    `myovision.gestures.evaluate` computes a group's: the same inputs (`WindowClassifier.transform_recording`),
    then `standardise_groups`' statistics (float32, std + 1e-6)."""
    inputs, size, step = [], online.windows.size, online.windows.step
    for rec in recordings:
        x = np.asarray(rec, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != online.channels:
            raise InputError(f"expected a calibration recording of shape (samples, {online.channels}), got {x.shape}")
        if len(x) >= size:
            inputs.append(online.classifier.transform_recording(x, online.sample_rate, size, step))
    if not inputs:
        raise InputError(f"calibration recordings hold no {online.windows.size}-sample window")
    x = np.concatenate(inputs)
    axes = (0,) if x.ndim == 2 else (0, x.ndim - 1)
    return FrozenZScore(x.mean(axis=axes, keepdims=True)[0], x.std(axis=axes, keepdims=True)[0] + np.float32(STANDARDISE_EPS))


def manifest_rate(manifest: str | None) -> float | None:
    """The one sample rate of a manifest's sample_rate column, or None."""
    if not manifest or not Path(manifest).is_file():
        return None
    import pandas as pd

    rates = pd.read_csv(manifest, usecols=lambda c: c == "sample_rate").get("sample_rate")
    values = set(rates.dropna().unique()) if rates is not None else set()
    return float(values.pop()) if len(values) == 1 else None
