import json

import numpy as np
import pytest

from myovision.data import read_manifest, write_synthetic_gestures
from myovision.errors import InputError
from myovision.gestures.evaluate import evaluate
from myovision.gestures.report import write_gestures_report


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    path = write_synthetic_gestures(tmp_path_factory.mktemp("g"), n_subjects=3, n_gestures=4, n_sessions=2,
                                    n_cycles=3, duration_s=2.0, seed=1)
    return read_manifest(path).load()


def test_lda_learns_synthetic_gestures_well_above_chance(recordings, tmp_path):
    m = evaluate(recordings, protocol="within-subject", classifier="lda", progress=False)
    assert m["window_accuracy"] > 0.6  # chance is 0.25
    assert m["n_recordings"] == len(recordings)
    assert np.array(m["confusion_matrix"]).sum() == len(m["predictions"])
    paths = write_gestures_report(m, tmp_path / "out", data_note="synthetic gestures")
    saved = json.loads(paths["metrics"].read_text())
    assert saved["accuracy"] == m["accuracy"] and "predictions" not in saved
    assert paths["confusion"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Data: synthetic gestures" in paths["report"].read_text()


def test_labels_are_not_what_the_model_learns_from(recordings):
    """Shuffling labels across recordings must bring accuracy to chance: nothing leaks the label."""
    rng = np.random.default_rng(0)
    labels = [r.label for r in recordings]
    shuffled = rng.permutation(labels)
    for r, lab in zip(recordings, shuffled):
        r.label = lab
    try:
        m = evaluate(recordings, protocol="cross-subject", classifier="lda", progress=False)
    finally:
        for r, lab in zip(recordings, labels):
            r.label = lab
    assert m["window_accuracy"] < 0.45


def test_normalisation_keeps_results_valid(recordings):
    m = evaluate(recordings, protocol="cross-subject", classifier="lda", normalise="subject", progress=False)
    assert m["normalise"] == "subject" and 0 <= m["accuracy"] <= 1


def test_recording_shorter_than_a_window_is_named(recordings):
    short = recordings[0]
    saved = short.data
    short.data = saved[:10]
    try:
        with pytest.raises(InputError, match=short.path.name):
            evaluate(recordings, protocol="cross-subject", classifier="lda", progress=False)
    finally:
        short.data = saved


def test_unknown_classifier():
    with pytest.raises(InputError, match="unknown classifier"):
        evaluate([], protocol="split", classifier="magic")


def test_standardise_groups_centres_each_group_without_looking_at_labels():
    from myovision.gestures.evaluate import standardise_groups

    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], [30, 40, 50])
    inputs = (rng.normal(size=(120, 5)) * np.array([1, 10, 100, 1, 1]) + groups[:, None] * 7).astype(np.float32)
    out = standardise_groups(inputs, groups)
    for g in range(3):
        np.testing.assert_allclose(out[groups == g].mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(out[groups == g].std(0), 1, atol=1e-3)
    spectra = rng.normal(size=(12, 2, 3, 4)).astype(np.float32) * 5 + 3  # (N, C, freq, frames)
    s = standardise_groups(spectra, np.zeros(12))
    np.testing.assert_allclose(s.mean(axis=(0, 3)), 0, atol=1e-4)  # per (channel, frequency)


def test_normalisation_statistics_never_cross_from_test_to_training(recordings, monkeypatch):
    """Under the split protocol one session sits on both sides: each side is standardised on its own."""
    import myovision.gestures.evaluate as ev

    seen = []
    original = ev.standardise_groups

    def spy(inputs, groups):
        seen.append(len(inputs))
        return original(inputs, groups)

    monkeypatch.setattr(ev, "standardise_groups", spy)
    m = evaluate(recordings, protocol="split", classifier="lda", normalise="session", progress=False)
    n_test = sum(r.split == "test" for r in recordings)
    assert m["n_recordings"] == len(recordings) and n_test
    assert len(seen) == 2 and max(seen) < m["n_windows"]  # train windows, then test windows, never all at once


def test_one_dead_electrode_does_not_poison_the_session(recordings):
    """A flat channel makes SKEW/KURT/MNF undefined; those must not turn a session's statistics into NaN."""
    clean = evaluate(recordings, protocol="within-subject", classifier="feature_lda", progress=False)
    dead = recordings[0]
    saved = dead.data.copy()
    dead.data[:, 2] = 0.0
    try:
        broken = evaluate(recordings, protocol="within-subject", classifier="feature_lda", progress=False)
    finally:
        dead.data = saved
    assert broken["accuracy"] >= clean["accuracy"] - 0.1


def test_empty_selection_and_unknown_label_are_input_errors(recordings):
    with pytest.raises(InputError, match="no recordings"):
        evaluate([], protocol="cross-subject", classifier="lda", progress=False)
    with pytest.raises(InputError, match="unknown label"):
        evaluate(recordings, protocol="cross-subject", classifier="lda", class_names=["only_this"], progress=False)
