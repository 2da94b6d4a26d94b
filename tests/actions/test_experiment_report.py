"""The experiment report: self-contained HTML, the table beside the paper's, escaping, atomic writes, PCA/NN."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from myovision.actions import report as experiment
from myovision.report import figures
from myovision.actions.report import PAPER_TABLE2, write_experiment_report

PNG = b"\x89PNG\r\n\x1a\n"


def _results(models: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"model": models, "accuracy_mean": rng.uniform(0.3, 0.9, len(models)),
                         "accuracy_std": rng.uniform(0, 0.03, len(models)), "n_seeds": 3,
                         "seconds": rng.uniform(1, 9, len(models))})


def _full_inputs(classes: list[str] | None = None) -> dict:
    rng = np.random.default_rng(1)
    classes = classes or ["peel", "slice", "pour"]
    k = len(classes)
    att = rng.dirichlet(np.ones(5), size=3)
    feats = np.concatenate([rng.normal(3 * c, 1, (20, 16)) for c in range(k)])
    labels = np.repeat(np.arange(k), 20)
    return dict(
        title="ActionSense experiment", protocol="authors' 799/343 split",
        results=_results(["Linear RGB", "Late-Fusion", "My new model"]),
        confusions={"Late-Fusion": (rng.integers(0, 9, (k, k)), classes)},
        attention={"rgb": att, "emg": rng.dirichlet(np.ones(5), size=3)}, attention_labels=classes,
        mel_example=(rng.normal(size=(16, 10, 20)), classes[0]),
        raw_example=(rng.normal(size=(800, 16)), classes[0], 160.0),
        clip_features={"rgb": (feats, labels, classes), "emg": (feats[:, ::-1].copy(), labels, classes)},
        learned_p=[(s, 0.5 + 0.3 * (1 - np.exp(-s / 50))) for s in range(0, 300, 10)],
        notes=["synthetic data", "validation split carved from training data"],
    )


def _payloads(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_full_report_is_self_contained(tmp_path: Path) -> None:
    path = write_experiment_report(tmp_path, data_note="test data", **_full_inputs())
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert 'src="http' not in text and "<script src" not in text and "<link" not in text
    assert "url(" not in text  # no external CSS resources
    imgs = re.findall(r"<img[^>]*>", text)
    # bars + 1 confusion + attention + raw sEMG + mel + 2 PCA maps + learned p
    assert len(imgs) == 8
    assert all('src="data:image/png;base64,' in tag for tag in imgs)
    payloads = _payloads(text)
    assert len(payloads) == len(imgs)
    assert all(p.startswith(PNG) for p in payloads)
    for anchor in ("results", "confusion", "attention", "raw", "mel", "features", "learned-p"):
        assert f'<section id="{anchor}">' in text
    assert "synthetic data" in text and "799/343" in text
    assert not list(tmp_path.glob(".report*"))  # no temporary file left behind


def test_table_has_every_model_with_paper_value(tmp_path: Path) -> None:
    models = list(PAPER_TABLE2) + ["My new model"]
    results = _results(models)
    text = write_experiment_report(tmp_path, data_note="test data", title="t", results=results, protocol="p", confusions={},
                                   attention=None, attention_labels=None, mel_example=None,
                                   clip_features=None, learned_p=None).read_text()
    rows = {re.sub(r"<[^>]+>", "", m.group(1)): m.group(0)
            for m in re.finditer(r'<tr[^>]*><td class="model">(.*?)</td>.*?</tr>', text)}
    for name, paper in PAPER_TABLE2.items():
        escaped = name.replace("&", "&amp;")
        assert escaped in rows, name
        cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[escaped])
        assert cells[3] == f"{100 * paper:.1f}%"  # the paper column
        ours = float(results.loc[results.model == name, "accuracy_mean"].iloc[0])
        assert cells[1].startswith(f"{100 * ours:.1f}%")
        assert f"{100 * ours - 100 * paper:+.1f} pp" in cells[4]
    new = re.findall(r"<td[^>]*>(.*?)</td>", rows["My new model"])
    assert new[3] == "&#8212;" and new[4] == "&#8212;"  # "—", written as a character reference


def test_paper_rows_not_run_are_listed(tmp_path: Path) -> None:
    text = write_experiment_report(tmp_path, data_note="test data", title="t", results=_results(["Linear RGB"]), protocol="p",
                                   confusions={}, attention=None, attention_labels=None, mel_example=None,
                                   clip_features=None, learned_p=None).read_text()
    assert text.count("not run</td>") == len(PAPER_TABLE2) - 1


def test_labels_are_escaped(tmp_path: Path) -> None:
    classes = ["<b>cut</b>", "salt & pepper", 'say "hi" for $5 {x}_2']
    inputs = _full_inputs(classes)
    inputs["title"] = "Run <1> & co"
    inputs["notes"] = ["<script>alert(1)</script>"]
    inputs["results"] = _results(["Model <x> & y"])
    inputs["confusions"] = {"A<b>&c": (np.eye(3, dtype=int), classes)}
    inputs["mel_example"] = (inputs["mel_example"][0], "<b>cut</b>")
    text = write_experiment_report(tmp_path, data_note="test data", **inputs).read_text()
    assert "<b>cut</b>" not in text and "&lt;b&gt;cut&lt;/b&gt;" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "Run &lt;1&gt; &amp; co" in text
    assert "Model &lt;x&gt; &amp; y" in text
    assert "A&lt;b&gt;&amp;c" in text
    assert "salt & pepper" not in text.replace("&amp;", "")  # no raw ampersand from labels


def test_sections_omitted_when_inputs_none(tmp_path: Path) -> None:
    path = write_experiment_report(tmp_path, data_note="test data", title="t", results=_results(["Late-Fusion"]), protocol="p",
                                   confusions={}, attention=None, attention_labels=None, mel_example=None,
                                   clip_features=None, learned_p=None)
    text = path.read_text()
    assert '<section id="results">' in text
    for anchor in ("confusion", "attention", "mel", "features", "learned-p"):
        assert f'id="{anchor}"' not in text and f'href="#{anchor}"' not in text
    assert 'class="notes"' not in text
    assert len(re.findall(r"<img", text)) == 1  # only the bar chart
    # empty containers are treated like None
    text = write_experiment_report(tmp_path, data_note="test data", title="t", results=_results(["Late-Fusion"]), protocol="p",
                                   confusions={}, attention={}, attention_labels=[], mel_example=None,
                                   clip_features={}, learned_p=[]).read_text()
    assert len(re.findall(r"<img", text)) == 1


def test_failure_midway_keeps_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_experiment_report(tmp_path, data_note="test data", **_full_inputs())
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "learned_p_png", boom)  # the last section: everything before it is rendered
    inputs = _full_inputs()
    inputs["title"] = "a newer run"
    with pytest.raises(RuntimeError, match="figure failed"):
        write_experiment_report(tmp_path, data_note="test data", **inputs)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_missing_results_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accuracy_std"):
        write_experiment_report(tmp_path, data_note="test data", title="t", results=pd.DataFrame({"model": ["x"], "accuracy_mean": [0.5],
                                                                          "n_seeds": [1]}),
                                protocol="p", confusions={}, attention=None, attention_labels=None,
                                mel_example=None, clip_features=None, learned_p=None)
    assert not (tmp_path / "report.html").exists()


def test_single_seed_nan_std_and_top5(tmp_path: Path) -> None:
    results = pd.DataFrame({"model": ["Linear RGB"], "accuracy_mean": [0.75], "accuracy_std": [float("nan")],
                            "n_seeds": [1], "top5_mean": [0.97]})
    text = write_experiment_report(tmp_path, data_note="test data", title="t", results=results, protocol="p", confusions={},
                                   attention=None, attention_labels=None, mel_example=None,
                                   clip_features=None, learned_p=None).read_text()
    assert "75.0%" in text and "97.0%" in text and "top-5" in text
    assert "-5.2 pp" in text


# --------------------------------------------------------------------------------------------- PCA / NN

def _two_clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=64)
    direction /= np.linalg.norm(direction)
    a = rng.normal(0, 0.3, (40, 64)) + 5 * direction
    b = rng.normal(0, 0.3, (30, 64)) - 5 * direction
    return np.concatenate([a, b]), np.repeat([0, 1], [40, 30])


def test_pca_separates_two_clusters_and_neighbours_agree() -> None:
    x, y = _two_clusters()
    scores, axes, ratio = figures.pca_2d(x)
    assert scores.shape == (70, 2) and axes.shape == (2, 64)
    assert ratio[0] > 0.7 and ratio[0] >= ratio[1]
    pc1 = scores[:, 0]
    assert pc1[y == 0].min() > pc1[y == 1].max() or pc1[y == 0].max() < pc1[y == 1].min()
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1, atol=1e-9)
    assert figures.neighbour_agreement(x, y, k=5) == 1.0


def test_pca_matches_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5)) @ np.diag([5, 3, 1, 0.5, 0.1])
    _, axes, _ = figures.pca_2d(x)
    w, v = np.linalg.eigh(np.cov(x.T))
    top = v[:, ::-1][:, :2].T
    np.testing.assert_allclose(np.abs((axes * top).sum(1)), 1, atol=1e-6)


def test_nearest_neighbours_brute_force() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 7))
    nn = figures.nearest_neighbours(x, k=5, chunk=8)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(nn, np.argsort(d, 1, kind="stable")[:, :5])
    assert not (nn == np.arange(50)[:, None]).any()
    assert figures.nearest_neighbours(x, k=3, queries=[2, 9]).shape == (2, 3)


def test_figures_return_png() -> None:
    x, y = _two_clusters()
    assert figures.pca_neighbours_png(x, y, ["a", "b"]).startswith(PNG)
    assert figures.mel_png(np.random.default_rng(0).normal(size=(16, 10, 12)), "act").startswith(PNG)
    assert figures.attention_png({"rgb": np.full((2, 5), 0.2)}, ["a", "b"]).startswith(PNG)
    assert figures.learned_p_png([(0, 0.5), (10, 0.7)]).startswith(PNG)
    assert figures.confusion_png(np.eye(3, dtype=int), ["a", "b", "c"]).startswith(PNG)


def test_dollar_signs_in_labels_are_not_mathtext() -> None:
    # with mathtext on, "$\\nosuchcommand$" raises a ParseError at render time
    names = ["costs $5 to $6", r"bad $\nosuchcommand$ label"]
    assert figures.confusion_png(np.eye(2, dtype=int), names, title=names[1]).startswith(PNG)
    assert figures.mel_png(np.zeros((2, 4, 4)), names[1]).startswith(PNG)


def test_paper_table_is_the_issue_list() -> None:
    assert list(experiment.PAPER_TABLE2) == [
        "Linear RGB", "LSTM RGB", "LSTM sEMG (raw)", "Linear sEMG", "LSTM sEMG", "Late-Fusion",
        "Late-Fusion (learnable p)", "Late-Fusion LSTM", "Mid-Fusion", "Self-Attention Late-Fusion",
        "Self-Attention LF LSTM"]


def test_a_synthetic_run_shows_its_data_first_no_paper_column_and_top5_only_with_enough_classes(tmp_path):
    results = _results(["Linear RGB", "Late-Fusion"]).assign(top5_mean=[0.9, 0.95])
    common = dict(title="t", results=results, protocol="p", confusions={}, attention=None, attention_labels=None,
                  mel_example=None, clip_features=None, learned_p=None)
    synthetic = write_experiment_report(tmp_path / "s", data_note="Synthetic recordings (seed 0)", paper=False,
                                        num_classes=10, **common).read_text()
    assert synthetic.index("Data: Synthetic recordings (seed 0)") < synthetic.index("<nav>")
    assert "<th>paper</th>" not in synthetic and " pp<" not in synthetic and "not run" not in synthetic
    assert "<th>top-5</th>" not in synthetic  # 5 of 10 classes says little
    real = write_experiment_report(tmp_path / "r", data_note="ActionSense", num_classes=20, **common).read_text()
    assert "<th>paper</th>" in real and "<th>difference</th>" in real and "<th>top-5</th>" in real


def test_raw_emg_figure_draws_every_channel_of_both_arms_over_time() -> None:
    """The paper's Figure 1: one trace per channel, left arm in the first column, time in seconds."""
    emg = np.random.default_rng(0).normal(size=(400, 16))
    fig = figures.emg_channels_figure(emg, "peel", fs=200.0)
    try:
        axes = np.array(fig.axes).reshape(8, 2)
        for ch in range(16):
            (line,) = axes[ch % 8, ch // 8].get_lines()
            np.testing.assert_allclose(line.get_ydata(), emg[:, ch])
            np.testing.assert_allclose(line.get_xdata()[[0, -1]], [0.0, 399 / 200.0])
        assert [axes[0, a].get_title() for a in (0, 1)] == ["left arm", "right arm"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
