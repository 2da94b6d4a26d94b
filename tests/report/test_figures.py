"""Report figures: mel images in dB, error bars only over several seeds, legends with whole class names."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from myovision.report import figures  # noqa: E402

PNG = figures.PNG_SIGNATURE


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_power_to_db_floors_and_limits_the_range():
    db = figures.power_to_db(np.array([100.0, 1.0, 1e-3, 0.0, -1.0]))
    np.testing.assert_allclose(db, [20.0, 0.0, -30.0, -60.0, -60.0])  # 0 and below: 80 dB under the maximum
    assert figures.power_to_db(np.zeros(3)).tolist() == [-100.0] * 3  # the 1e-10 floor


def test_mel_image_is_in_db_so_every_bin_shows():
    # power falling by 10x per mel bin: on a linear scale 9 of 10 bins are black
    mel = np.ones((2, 10, 6)) * (10.0 ** -np.arange(10))[None, :, None]
    fig = figures.mel_figure(mel, "act")
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2
    im = image_axes[0].images[0]
    # dB bin by bin, the last bin clamped at 80 dB below the maximum
    np.testing.assert_allclose(im.get_array()[:, 0], [0, -10, -20, -30, -40, -50, -60, -70, -80, -80])
    assert im.get_clim() == pytest.approx((-80.0, 0.0))
    colorbar_axes = [ax for ax in fig.axes if not ax.images and ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in colorbar_axes] == ["power (dB)"]
    assert figures.mel_png(mel, "act").startswith(PNG)


def _errorbars(fig):
    return [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_no_error_bars_for_one_seed():
    args = (["a", "b"], [0.5, 0.6], [0.0, float("nan")], [0.8, None])
    fig = figures.accuracy_bars_figure(*args, seeds=1)
    assert _errorbars(fig) == []
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["this run", "paper (Table 2)"]
    assert _errorbars(figures.accuracy_bars_figure(*args)) == []  # NaN / unknown seeds: none either
    assert figures.accuracy_bars_png(*args, seeds=1).startswith(PNG)


def test_error_bars_only_for_models_run_over_several_seeds():
    fig = figures.accuracy_bars_figure(["a", "b", "c"], [0.5, 0.6, 0.7], [0.01, 0.02, 0.03], [None] * 3,
                                       seeds=[1, 3, 2])
    (bars,) = _errorbars(fig)
    data_line, caplines, (whiskers,) = bars.lines
    assert data_line is None and bars.has_xerr
    segments = np.array(whiskers.get_segments())  # (models with whiskers, 2 ends, xy)
    np.testing.assert_allclose(segments[:, :, 0], [[58, 62], [67, 73]])  # b: 60 +- 2, c: 70 +- 3 (percent)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0] == "this run (mean ± std)"


def test_pca_legend_has_whole_class_names():
    rng = np.random.default_rng(0)
    names = ["Get/replace items from refrigerator/cabinets/drawers", "Spread almond butter on a bread slice",
             "Peel a cucumber"]
    x = np.concatenate([rng.normal(3 * c, 1, (10, 8)) for c in range(3)])
    fig = figures.pca_neighbours_figure(x, np.repeat(np.arange(3), 10), names)
    entries = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [e.replace("\n", " ") for e in entries] == names  # wrapped, never cut
    assert max(len(line) for e in entries for line in e.split("\n")) <= len("refrigerator/cabinets/drawers")


def test_learned_p_legend_sits_outside_the_axes():
    fig = figures.learned_p_figure([(0, 0.2), (100, 0.1)])  # p low: a legend at lower right would cover it
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_png_functions_render_and_close_their_figures():
    before = set(plt.get_fignums())
    assert figures.learned_p_png([(0, 0.5), (10, 0.7)]).startswith(PNG)
    assert figures.confusion_png(np.eye(2, dtype=int), ["a", "$b"]).startswith(PNG)
    assert set(plt.get_fignums()) == before
    assert figures.mel_png.__name__ == "mel_png" and "mel_figure" in figures.mel_png.__doc__
