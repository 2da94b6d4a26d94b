"""Gesture inputs computed per recording (`WindowClassifier.transform_recording`, one `signals.features` call over
the whole recording) equal the per-window path (the classifier's `transform` of the materialised windows), on
random recordings and on the real Myo armband files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from myovision.data import import_myo_armband, read_manifest
from myovision.gestures.classifiers import CLASSIFIERS
from myovision.gestures.evaluate import window_recordings
from myovision.signals.windows import sliding_windows

FEATURE_CLASSIFIERS = ("lda", "feature_lda")  # the baseline and the rich feature set (feature_mlp shares it)


def per_window(classifier, x: np.ndarray, fs: float, size: int, step: int) -> np.ndarray:
    """The old evaluation path: windows (n, size, C) materialised, then `transform`."""
    return classifier.transform(np.ascontiguousarray(sliding_windows(x, size, step)), fs)


@pytest.mark.parametrize("name", FEATURE_CLASSIFIERS)
@pytest.mark.parametrize("length, channels, size, step", [
    (40, 8, 40, 10),  # one window
    (1003, 8, 40, 10),  # the Myo setting (200 Hz, 200 ms / 50 ms), a tail shorter than a step
    (777, 3, 37, 7),  # a window that is no whole number of steps
    (500, 2, 20, 25),  # a step longer than the window
    (3000, 4, 400, 100),  # 2 kHz-like windows
])
def test_features_of_a_recording_equal_features_of_its_windows(name, length, channels, size, step):
    rng = np.random.default_rng(length + size)
    x = rng.integers(-128, 128, (length, channels)).astype(np.float32)  # Myo-like integer samples
    x[:, 0] = rng.standard_normal(length).astype(np.float32) * 40.0 + 7.0  # a real-valued channel with an offset
    x[:, -1] = 0.0  # a dead electrode: SKEW, KURT, MNF, MDF undefined -> 0 on both paths
    classifier = CLASSIFIERS[name]()
    new = classifier.transform_recording(x, 200.0, size, step)
    old = per_window(classifier, x, 200.0, size, step)
    assert new.shape == old.shape == (1 + (length - size) // step, old.shape[1]) and new.dtype == np.float32
    np.testing.assert_allclose(new, old, rtol=1e-5, atol=1e-6)


def test_a_raw_window_model_still_gets_its_windows():
    x = np.random.default_rng(0).standard_normal((300, 4)).astype(np.float32)
    classifier = CLASSIFIERS["spectrogram_cnn"]()
    np.testing.assert_array_equal(classifier.transform_recording(x, 200.0, 40, 10), per_window(classifier, x, 200.0, 40, 10))


@pytest.mark.real
@pytest.mark.parametrize("name", FEATURE_CLASSIFIERS)
def test_real_myo_inputs_equal_the_per_window_path(name, tmp_path):
    root = shared_path("myo-armband-7gestures")
    subjects = ["EvaluationDataset/Female0", "EvaluationDataset/Male0", "PreTrainingDataset/Male0"]
    manifest = read_manifest(import_myo_armband(root, tmp_path, subjects=subjects).manifest)
    recordings = manifest.load()
    classifier = CLASSIFIERS[name]()
    data = window_recordings(recordings, classifier, window_ms=200.0, step_ms=50.0, progress=False)
    old = np.concatenate([per_window(classifier, np.asarray(r.data, np.float32), 200.0, 40, 10) for r in recordings])
    assert data.inputs.shape == old.shape and len(data.table) == 28 * 3 * 2 + 28  # 3 sessions of 2 people, 1 of 1
    np.testing.assert_allclose(data.inputs, old, rtol=1e-5, atol=1e-6)
