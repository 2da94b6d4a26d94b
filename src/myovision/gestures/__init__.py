"""Gesture and activity recognition from labelled sEMG recordings: window classifiers, protocols, evaluation.

The names here are light constants (the CLI builds its help from them without importing torch).
"""

CLASSIFIER_NAMES = ("lda", "feature_lda", "feature_mlp", "spectrogram_cnn")
DEFAULT_CLASSIFIER = "feature_lda"  # the most accurate on real Myo data: benchmarks/RESULTS.md
NORMALISATIONS = ("none", "subject", "session")
DEFAULT_NORMALISATION = "session"

__all__ = ["CLASSIFIER_NAMES", "DEFAULT_CLASSIFIER", "NORMALISATIONS", "DEFAULT_NORMALISATION"]
