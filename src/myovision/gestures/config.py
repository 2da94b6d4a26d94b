"""`myovision gestures train`'s configuration: every option and its one default."""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.gestures import CLASSIFIER_NAMES, DEFAULT_CLASSIFIER, DEFAULT_NORMALISATION, NORMALISATIONS
from myovision.gestures.protocols import PROTOCOLS
from myovision.training.options import TrainerOptions


@dataclass
class GesturesConfig:
    """Which recordings, which protocol, which window classifier, and how gradient-trained ones train."""

    manifest: str = option("", "manifest.csv (columns path,label,subject,session[,sample_rate,split])",
                           metavar="CSV")
    protocol: str = option("split", "evaluation protocol: which recordings train and which test",
                           choices=PROTOCOLS)
    model: str = option(DEFAULT_CLASSIFIER, "window classifier", choices=CLASSIFIER_NAMES)
    normalise: str = option(DEFAULT_NORMALISATION, "standardise inputs per subject or per session with its own "
                            "unlabelled windows ('none': a fully inductive evaluation)", choices=NORMALISATIONS)
    window_ms: float = option(200.0, "window length in milliseconds")
    step_ms: float = option(50.0, "hop between windows in milliseconds")
    sample_rate: float | None = option(None, "Hz, for manifests without a sample_rate column")
    subjects: str | None = option(None, "glob over the subject column, e.g. 'EvaluationDataset/*'")
    sessions: str | None = option(None, "comma-separated sessions to keep, e.g. training0")
    train_session: str | None = option(None, "within-subject: the session to train on")
    labels: str | None = option(None, "allowed class names, comma-separated or a text file with one per line; "
                                "fixes the class order; another label is an error (or skipped with --skip-bad)")
    skip_bad: bool = option(False, "skip unreadable recordings and list them (also in metrics.json)")
    strict: bool = option(False, "stop on a data-set warning (duplicate rows, a recording in two splits, a single "
                          "class, labels one or two edits apart) instead of printing it")
    allow_outside_root: bool = option(False, "accept manifest paths that resolve outside the manifest's folder")
    epochs: int | None = option(None, "training epochs of gradient-trained classifiers (None: the classifier's "
                                "own, feature_mlp 30, spectrogram_cnn 15)")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="hardware, precision, seed")
