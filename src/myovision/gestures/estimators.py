"""The gesture window classifiers as scikit-learn estimators, so they drop into pipelines, grid searches and LibEMG.

`GestureClassifier(classifier="lda")` wraps one of `myovision.gestures.classifiers.CLASSIFIERS` (the same
representation and model the `gestures train` command fits) behind scikit-learn's estimator API: `fit`,
`predict`, `predict_proba`, `decision_function`, `get_params`, `set_params`. Windows come as LibEMG's custom
classifiers and `libemg.utils.get_windows` lay them out, ``X (N, C, W)``: N windows of C channels and W samples
(a 2-D ``X (N, W)`` is one channel's windows). Labels may be any sortable values; ``classes_`` holds them.

No per-session standardisation happens here (the `gestures train` default `normalise=session` needs the
session of every window, which scikit-learn's API does not carry): this is the fully inductive setting
(`--normalise none`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from myovision.errors import InputError
from myovision.gestures import CLASSIFIER_NAMES


class GestureClassifier(ClassifierMixin, BaseEstimator):
    """A gesture window classifier as a scikit-learn estimator; windows X (N, C, W) -> labels (N,).

    classifier: one of `myovision.gestures.CLASSIFIER_NAMES` ("lda": LDA on log-MAV, log-WL, ZC, SSC per channel,
    Hudgins et al. 1993; "feature_lda", "feature_mlp": richer features; "spectrogram_cnn": a 2D CNN on
    log-power spectrograms). fs: the sample rate in Hz (spectral features read it). epochs: training epochs of
    the gradient-trained classifiers (None: the classifier's own). seed: initial weights and batch order.
    """

    def __init__(self, classifier: str = "lda", fs: float = 200.0, epochs: int | None = None, seed: int = 0):
        self.classifier = classifier
        self.fs = fs
        self.epochs = epochs
        self.seed = seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _windows(self, X, reset: bool) -> np.ndarray:
        """X (N, C, W) or (N, W) -> the library's window layout (N, W, C), float32, checked finite."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32)
        if X.ndim == 2:
            X = X[:, None, :]  # (N, W) -> (N, 1, W)
        if X.ndim != 3:
            raise InputError(f"windows must be (N, channels, samples), got an array of shape {X.shape}")
        shape = X.shape[1:]
        if reset:
            self.window_shape_ = shape
        elif shape != self.window_shape_:
            raise InputError(f"windows of (channels, samples) = {shape}; fitted on {self.window_shape_}")
        return np.ascontiguousarray(np.swapaxes(X, 1, 2))  # (N, C, W) -> (N, W, C)

    def fit(self, X, y) -> GestureClassifier:
        """Fit on windows X (N, C, W) and labels y (N,)."""
        from myovision.gestures.classifiers import CLASSIFIERS
        from myovision.training.options import TrainerOptions

        if self.classifier not in CLASSIFIER_NAMES:
            raise InputError(f"unknown classifier {self.classifier!r}; choose one of {', '.join(CLASSIFIER_NAMES)}")
        X, y = validate_data(self, X, y, allow_nd=True, dtype=np.float32, ensure_min_samples=2)
        check_classification_targets(y)
        windows = self._windows(X, reset=True)
        self.classes_, codes = np.unique(y, return_inverse=True)
        model = CLASSIFIERS[self.classifier]()
        if self.epochs is not None:
            model.train_kwargs = {**model.train_kwargs, "epochs": self.epochs}
        inputs = model.transform(windows, float(self.fs))
        self.model_ = model.fit(inputs, codes, len(self.classes_), seed=self.seed, trainer=TrainerOptions(seed=self.seed))
        return self

    def decision_function(self, X) -> np.ndarray:
        """Class scores (N, K) of windows X (N, C, W): LDA log-posteriors up to a constant, network logits."""
        check_is_fitted(self)
        scores = self.model_.scores(self.model_.transform(self._windows(X, reset=False), float(self.fs)))
        return scores[:, 0] - scores[:, 1] if len(self.classes_) == 2 else scores  # binary: scikit-learn's (N,)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, K), columns in `classes_` order: the softmax of the class scores."""
        check_is_fitted(self)
        scores = self.model_.scores(self.model_.transform(self._windows(X, reset=False), float(self.fs)))
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Labels (N,) of windows X (N, C, W), from `classes_`."""
        best = self.predict_proba(X).argmax(axis=1)
        return self.classes_[best]
