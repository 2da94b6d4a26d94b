"""A small trained gestures run on synthetic recordings, and its offline window decisions, for the stream tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from myovision.cli import main
from myovision.data import read_manifest
from myovision.gestures.classifiers import CLASSIFIERS
from myovision.gestures.evaluate import FoldInputs, window_recordings


def train_run(manifest: Path, out: Path, *extra: str) -> Path:
    """`gestures train` within-subject (train on the first session, test on the others) with feature_lda."""
    assert main(["gestures", "train", "--manifest", str(manifest), "--protocol", "within-subject", "--model",
                 "feature_lda", "--out", str(out), *extra]) == 0
    return out


def offline_decisions(run: Path, manifest: Path, session: str, *, subject: str | None = None
                      ) -> tuple[list, list[np.ndarray]]:
    """(test recordings of `session`, each one's offline window decisions (class indices)), as `gestures
    train` evaluated them: the run's classifier, windows and per-session standardisation."""
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    loaded = read_manifest(manifest)
    recordings = loaded.select(subjects=[subject] if subject else None, sessions=[session]).load()
    classifier = CLASSIFIERS[config["model"]]()
    data = window_recordings(recordings, classifier, window_ms=config["window_ms"], step_ms=config["step_ms"],
                             class_names=loaded.labels, progress=False)
    (fold,) = [p for p in (run / "folds").iterdir() if (p / "model.json").is_file()]
    classifier.load(fold)
    rows, x, _ = FoldInputs(data, config["normalise"])(np.arange(len(recordings)))
    predicted = classifier.scores(x).argmax(1)
    owner = data.recording[rows]
    return recordings, [predicted[owner == i] for i in range(len(recordings))]


def reported_window_accuracy(run: Path) -> dict[str, float]:
    """predictions.csv's window accuracy per recording path."""
    table = pd.read_csv(run / "predictions.csv")
    return dict(zip(table["path"], table["window_accuracy"]))
