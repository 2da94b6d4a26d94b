import json

import numpy as np
import pytest

from myovision.data import read_manifest, write_synthetic_gestures
from myovision.errors import InputError
from myovision.gestures.evaluate import evaluate, write_report


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
    paths = write_report(m, tmp_path / "out")
    saved = json.loads(paths["metrics"].read_text())
    assert saved["accuracy"] == m["accuracy"] and "predictions" not in saved
    assert paths["confusion"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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


def test_standardise_groups_centres_each_session_without_looking_at_labels():
    import pandas as pd

    from myovision.gestures.evaluate import WindowedRecordings, standardise_groups

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"subject": ["a", "a", "b"], "session": ["1", "2", "1"], "label": ["x", "y", "x"]})
    owner = np.repeat([0, 1, 2], [30, 40, 50])
    inputs = (rng.normal(size=(120, 5)) * np.array([1, 10, 100, 1, 1]) + owner[:, None] * 7).astype(np.float32)
    data = WindowedRecordings(inputs.copy(), rng.integers(0, 2, 120), owner, table, ["x", "y"])
    standardise_groups(data, "session")
    for r in range(3):
        x = data.inputs[owner == r]
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(x.std(0), 1, atol=1e-3)
    relabelled = WindowedRecordings(inputs.copy(), rng.permutation(data.labels), owner, table, ["x", "y"])
    standardise_groups(relabelled, "session")
    np.testing.assert_array_equal(relabelled.inputs, data.inputs)
    by_subject = WindowedRecordings(inputs.copy(), data.labels, owner, table, ["x", "y"])
    standardise_groups(by_subject, "subject")
    np.testing.assert_allclose(by_subject.inputs[owner < 2].mean(0), 0, atol=1e-4)
    assert not np.allclose(by_subject.inputs[owner == 0].mean(0), 0, atol=1e-2)
