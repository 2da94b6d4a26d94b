"""`RichFeatures` (the feature_lda / feature_mlp front-end in the graph) equals
`myovision.gestures.classifiers.feature_matrix(RICH_FEATURES)` on random and real Myo windows, in PyTorch and in
onnxruntime; a trained feature_lda / feature_mlp gestures run exports and onnxruntime, fed raw windows, gives the
run's own scores and predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import shared_path
from myovision.cli import main
from myovision.data import read_manifest, read_recording, write_synthetic_gestures
from myovision.export.spec import ExportSpec
from myovision.gestures.classifiers import CLASSIFIERS, LOG_FEATURES, RICH_FEATURES, feature_matrix
from myovision.gestures.evaluate import vote
from myovision.models.frontends import RichFeatures
from myovision.signals.windows import sliding_windows

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'myovision[onnx]')")

from myovision.export.writers import onnx_session, write  # noqa: E402

RTOL = 1e-4


def module_and_graph(window: int, fs: float, tmp_path):
    """RichFeatures of the gestures' rich set, and an onnxruntime session of its exported graph."""
    front = RichFeatures(window, fs, RICH_FEATURES, LOG_FEATURES).eval()
    axes = {"windows": {0: "batch", 1: "channels"}, "features": {0: "batch", 1: "features"}}
    spec = ExportSpec(front, lambda n, t: (torch.randn(n, 3, t),), ("windows",), ("features",), axes, (window, window),
                      "rich features")
    write(spec, tmp_path / "rich.onnx", "onnx")
    return front, onnx_session(tmp_path / "rich.onnx")


def assert_equal_to_feature_matrix(windows: np.ndarray, fs: float, tmp_path) -> float:
    """RichFeatures and its ONNX graph against feature_matrix on windows (N, W, C); the largest relative difference."""
    expected = feature_matrix(windows, fs, RICH_FEATURES)  # (N, F) float32
    front, session = module_and_graph(windows.shape[1], fs, tmp_path)
    channels_first = np.ascontiguousarray(np.swapaxes(windows, 1, 2))  # (N, C, W): the graph's layout
    with torch.no_grad():
        got = front(torch.from_numpy(channels_first)).numpy()
    exported = session.run(None, {"windows": channels_first})[0]
    assert got.shape == exported.shape == expected.shape == (len(windows), 17 * windows.shape[2])
    assert got.dtype == exported.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    np.testing.assert_allclose(exported, expected, rtol=RTOL, atol=0)
    return float(np.max(np.abs(exported - expected) / np.maximum(np.abs(expected), np.finfo(np.float32).tiny)))


@pytest.mark.parametrize("window, fs", [(40, 200.0), (37, 200.0), (52, 200.0), (64, 1000.0), (400, 2000.0),
                                        (5, 100.0)])
def test_rich_features_equal_the_feature_matrix_on_random_windows(window, fs, tmp_path):
    rng = np.random.default_rng(window)
    windows = rng.integers(-128, 128, (64, window, 4)).astype(np.float32)  # Myo-like integer samples
    windows[:, :, 0] = rng.standard_normal((64, window)) * 40.0 + 7.0  # a real-valued channel with an offset
    windows[:, :, 1] *= 1e-3  # small steps: WAMP's 2e-3 threshold decides
    windows[:8, :, 3] = 0.0  # dead electrode: SKEW, KURT, MNF, MDF undefined -> 0 in both
    windows[8:12, ::2, 3] = 0.0  # zeros inside a window: ZC's strict sign changes, SSC's flat stretches
    assert_equal_to_feature_matrix(windows, fs, tmp_path)


@pytest.mark.real
@pytest.mark.parametrize("window", [40, 52])
def test_rich_features_equal_the_feature_matrix_on_real_myo_windows(window, tmp_path):
    root = shared_path("myo-armband-7gestures")
    files = sorted((root / "EvaluationDataset" / "Female0" / "Test0").glob("classe_*.dat"))[:14]
    windows = np.concatenate([sliding_windows(read_recording(f, channels=8), window, 10) for f in files])
    assert len(windows) > 1000
    assert assert_equal_to_feature_matrix(windows, 200.0, tmp_path) <= RTOL


def test_a_window_the_front_end_cannot_compute_is_refused():
    with pytest.raises(ValueError, match="VAR"):
        RichFeatures(40, 200.0, ("MAV", "VAR"), LOG_FEATURES)
    with pytest.raises(ValueError, match="at least 5"):
        RichFeatures(4, 200.0, RICH_FEATURES, LOG_FEATURES)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_synthetic_gestures(tmp_path_factory.mktemp("rich"), n_subjects=1, n_gestures=3, n_sessions=3,
                                    n_cycles=2, duration_s=2.0, seed=1)


@pytest.mark.parametrize("classifier, normalise", [("feature_lda", "session"), ("feature_mlp", "none")])
def test_a_trained_rich_feature_run_exports_and_scores_raw_windows_as_python(manifest, tmp_path, classifier,
                                                                             normalise):
    run, out = tmp_path / "run", tmp_path / "run.onnx"
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "split", "--model", classifier,
            "--normalise", normalise, "--epochs", "2", "--out", str(run)]
    assert main(argv) == 0
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0  # with its check vs PyTorch
    session = onnx_session(out)
    assert [i.name for i in session.get_inputs()] == (["windows", "mean", "std"] if normalise != "none"
                                                       else ["windows"])
    clf = CLASSIFIERS[classifier]().load(run / "folds" / "split")
    class_names = json.loads((run / "metrics.json").read_text())["class_names"]
    predictions = pd.read_csv(run / "predictions.csv")
    recordings = {str(r.path): r for r in read_manifest(manifest).load()}
    for _, group in predictions.groupby(["subject", "session"]):  # the test session: one standardisation group
        data = [np.asarray(recordings[path].data, np.float32) for path in group["path"]]
        inputs = [clf.transform_recording(x, 200.0, 40, 10) for x in data]  # as gestures.evaluate: (n, F) each
        feeds = {}
        if normalise != "none":  # gestures.evaluate.standardise_groups: the group's own windows
            stacked = np.concatenate(inputs)
            feeds = {"mean": stacked.mean(axis=0), "std": stacked.std(axis=0) + np.float32(1e-6)}
            inputs = [(x - feeds["mean"]) / feeds["std"] for x in inputs]
        for x, features, (_, row) in zip(data, inputs, group.iterrows()):
            windows = np.ascontiguousarray(np.swapaxes(sliding_windows(x, 40, 10), 1, 2))  # (n, 8, 40)
            got = session.run(None, {"windows": windows, **feeds})[0]
            np.testing.assert_allclose(got, clf.scores(features), rtol=1e-4, atol=1e-4)
            labels = got.argmax(1)
            assert class_names[vote(labels, got, len(class_names))] == row["predicted"]
            assert np.mean(labels == class_names.index(row["label"])) == pytest.approx(row["window_accuracy"])
