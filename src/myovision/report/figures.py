"""Figures of the experiment report, each returned as PNG bytes (matplotlib, Agg backend, figures closed);
`*_figure` functions return the matplotlib Figure itself (for tests and further editing).

Also the small numerical helpers behind the paper's Figure 2: a PCA projection (numpy SVD) and
nearest neighbours in the original feature space.
"""

from __future__ import annotations

import functools
import io
import textwrap
from typing import Sequence

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODALITY_NAMES = {"rgb": "RGB", "emg": "sEMG", "semg": "sEMG"}
_DPI = 100


def modality_name(key: str) -> str:
    """Display name of a modality key ("rgb" -> "RGB", "emg" -> "sEMG")."""
    return MODALITY_NAMES.get(key.lower(), key)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_text(fn):
    """Render `fn`'s figure with mathtext off, so a label such as "$5 tip" is drawn as typed."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        _pyplot()
        with matplotlib.rc_context({"text.parse_math": False}):
            return fn(*args, **kwargs)

    return wrapper


def _png(fig) -> bytes:
    """Render `fig` to PNG bytes and close it."""
    plt = _pyplot()
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)


def _as_png(figure_fn):
    """The PNG-bytes version of a figure function (same arguments; the figure is closed after rendering)."""

    @functools.wraps(figure_fn)
    def png(*args, **kwargs) -> bytes:
        return _png(figure_fn(*args, **kwargs))

    png.__name__ = png.__qualname__ = figure_fn.__name__.replace("_figure", "_png")
    png.__doc__ = f"`{figure_fn.__name__}` rendered to PNG bytes."
    png.__annotations__ = {**figure_fn.__annotations__, "return": bytes}
    return _plain_text(png)


# --------------------------------------------------------------------------------------------- numerics

def _randomized_svd(x: np.ndarray, rank: int, n_iter: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Leading singular values (rank,) and right vectors (rank, dim) of `x` (N, dim) by a randomized range
    finder with power iterations (Halko et al. 2011), then a small exact numpy SVD."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(x @ rng.normal(size=(x.shape[1], rank)))  # (N, rank)
    for _ in range(n_iter):
        q, _ = np.linalg.qr(x.T @ q)  # (dim, rank)
        q, _ = np.linalg.qr(x @ q)  # (N, rank)
    _, s, vt = np.linalg.svd(q.T @ x, full_matrices=False)  # (rank, dim)
    return s, vt


def pca_2d(features: np.ndarray, n_components: int = 2,
           exact_below: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project `features` (N, dim) on their first principal axes with a thin SVD of the centred data.

    When both N and dim exceed `exact_below`, the leading axes come from a randomized SVD (seeded, so the
    output is deterministic): seconds instead of minutes for thousands of 1024-d clips.

    Returns (scores (N, n_components), axes (n_components, dim), explained variance ratio (n_components,)).
    Each axis's sign is fixed so that its largest-magnitude loading is positive (deterministic output).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca_2d needs features of shape (N>=2, dim), got {x.shape}")
    x = x - x.mean(0, keepdims=True)
    total = float((x**2).sum())
    if min(x.shape) <= exact_below:
        _, s, vt = np.linalg.svd(x, full_matrices=False)  # vt: (min(N, dim), dim)
    else:
        s, vt = _randomized_svd(x, n_components + 20)
    k = min(n_components, vt.shape[0])
    axes = vt[:k]
    signs = np.sign(axes[np.arange(k), np.abs(axes).argmax(1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    ratio = s[:k] ** 2 / total if total > 0 else np.zeros(k)
    scores = x @ axes.T  # (N, k)
    if k < n_components:  # fewer samples/dims than axes asked for: pad with zeros
        scores = np.pad(scores, ((0, 0), (0, n_components - k)))
        axes = np.pad(axes, ((0, n_components - k), (0, 0)))
        ratio = np.pad(ratio, (0, n_components - k))
    return scores, axes, ratio


def nearest_neighbours(features: np.ndarray, k: int = 5, queries: Sequence[int] | None = None,
                       chunk: int = 1024) -> np.ndarray:
    """Indices (len(queries), k) of the k nearest other points (Euclidean, original feature space).

    `queries` defaults to every point; a point is never its own neighbour. Distances are computed in
    chunks of rows so memory stays O(chunk * N).
    """
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[0]
    k = min(k, n - 1)
    q = np.arange(n) if queries is None else np.asarray(queries, dtype=int)
    sq = (x**2).sum(1)
    out = np.empty((len(q), max(k, 0)), dtype=int)
    for start in range(0, len(q), chunk):
        idx = q[start:start + chunk]
        d = sq[idx, None] + sq[None, :] - 2.0 * x[idx] @ x.T  # (chunk, N)
        d[np.arange(len(idx)), idx] = np.inf  # never its own neighbour
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k > 0 else np.empty((len(idx), 0), int)
        order = np.take_along_axis(d, part, 1).argsort(1, kind="stable")
        out[start:start + chunk] = np.take_along_axis(part, order, 1)
    return out


def neighbour_agreement(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Fraction of the k nearest neighbours (original space) sharing their point's class, over all points."""
    labels = np.asarray(labels)
    if len(labels) < 2:
        return float("nan")
    nn = nearest_neighbours(features, k)
    return float((labels[nn] == labels[:, None]).mean())


# --------------------------------------------------------------------------------------------- figures

def needs_class_key(class_names: list[str], width: int = 18) -> bool:
    """Whether class names are too long for tick labels (figures then number classes 1..K)."""
    return any(len(str(n)) > width for n in class_names)


def short_label(text: str, width: int = 28) -> str:
    """`text` cut to `width` characters with an ellipsis (for legends and row labels)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def wrapped(text: str, width: int = 24) -> str:
    """`text` wrapped onto lines of about `width` characters, nothing cut (for legend entries)."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=False)) or str(text)


def _two_lines(text: str, width: int = 30) -> str:
    lines = textwrap.wrap(str(text), width) or [""]
    if len(lines) > 2:
        lines = [lines[0], short_label(" ".join(lines[1:]), width)]
    return "\n".join(lines)


@_plain_text
def confusion_figure(cm: np.ndarray, class_names: list[str], title: str = ""):
    """Row-normalised confusion matrix (true class by row) with counts, sized for a report column.

    Long class names (see `needs_class_key`) are replaced by their 1-based numbers; the report prints the key.
    """
    plt = _pyplot()
    cm = np.asarray(cm)
    k = cm.shape[0]
    ticks = [str(i + 1) for i in range(k)] if needs_class_key(class_names) else [str(n) for n in class_names]
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    side = max(3.2, 0.24 * k + 1.4)
    fig, ax = plt.subplots(figsize=(side + 0.9, side))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fs = 8 if k <= 12 else 6
    ax.set_xticks(range(k), ticks, rotation=0 if ticks[0] == "1" else 45, ha="center" if ticks[0] == "1" else "right",
                  fontsize=fs)
    ax.set_yticks(range(k), ticks, fontsize=fs)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fs - 1,
                            color="white" if rates[i, j] > 0.5 else "black")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


@_plain_text
def accuracy_bars_figure(models: list[str], mean: Sequence[float], std: Sequence[float],
                         paper: Sequence[float | None], seeds: int | Sequence[int | None] | None = None):
    """Horizontal grouped bars: our mean accuracy and the paper's, per model (a matplotlib Figure).

    A +-1 std whisker is drawn for a model only when its std is a positive number over more than one seed:
    `seeds` is the number of seeds, one for all models or one per model; None (unknown) trusts `std`.
    """
    plt = _pyplot()
    n = len(models)
    y = np.arange(n)
    mean = np.asarray(mean, dtype=float) * 100
    std = np.asarray(std, dtype=float) * 100
    seeds = [seeds] * n if seeds is None or np.isscalar(seeds) else list(seeds)
    whisker = np.array([bool(sd > 0) and (k is None or int(k) > 1) for sd, k in zip(std, seeds)], dtype=bool)
    fig, ax = plt.subplots(figsize=(6.4, 0.42 * n + 1.3))
    h = 0.38
    ax.barh(y - h / 2, mean, h, color="#3b75af", label="this run (mean ± std)" if whisker.any() else "this run")
    if whisker.any():
        ax.errorbar(mean[whisker], y[whisker] - h / 2, xerr=std[whisker], fmt="none", ecolor="black",
                    elinewidth=1, capsize=2)
    paper_vals = np.array([np.nan if p is None else 100 * p for p in paper])
    ax.barh(y + h / 2, np.nan_to_num(paper_vals), h, color="#bbbbbb", label="paper (Table 2)")
    for yi, p in zip(y, paper_vals):
        if np.isnan(p):
            ax.text(1, yi + h / 2, "not in paper", va="center", fontsize=7, color="#666666")
    ax.set_yticks(y, models)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


@_plain_text
def attention_figure(attention: dict[str, np.ndarray], labels: list[str] | None):
    """The paper's Figure 6: per action (row) and modality (column), a heat strip of per-clip weights.

    Green marks the clips the model attends to most, red the least (one colour scale for the figure).
    """
    plt = _pyplot()
    mods = list(attention)
    mats = [np.asarray(attention[m], dtype=float) for m in mods]
    n_actions = max(a.shape[0] for a in mats)
    labels = list(labels) if labels else [f"action {i + 1}" for i in range(n_actions)]
    vmin = min(float(np.nanmin(a)) for a in mats)
    vmax = max(float(np.nanmax(a)) for a in mats)
    if vmax <= vmin:
        vmax = vmin + 1e-6
    fig, axes = plt.subplots(n_actions, len(mods), figsize=(3.1 * len(mods) + 1.4, 0.75 * n_actions + 0.9),
                             squeeze=False)
    im = None
    for j, (mod, a) in enumerate(zip(mods, mats)):
        for i in range(n_actions):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= a.shape[0]:
                ax.axis("off")
                continue
            row = a[i][None, :]  # (1, clips)
            im = ax.imshow(row, cmap="RdYlGn", vmin=vmin, vmax=vmax, aspect="auto")
            for c, w in enumerate(a[i]):
                extreme = not 0.15 < (w - vmin) / (vmax - vmin) < 0.85  # dark cell colours: white text
                ax.text(c, 0, f"{w:.2f}", ha="center", va="center", fontsize=8, color="white" if extreme else "black")
            if i == 0:
                ax.set_title(modality_name(mod), fontsize=10)
            if i == n_actions - 1:
                ax.set_xticks(range(a.shape[1]), [f"clip {c + 1}" for c in range(a.shape[1])], fontsize=7)
            if j == 0:
                text = _two_lines(labels[i]) if i < len(labels) else ""
                ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="clip weight")
    return fig


def power_to_db(power: np.ndarray, floor: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """``10 log10(power)`` with `power` floored at `floor` and the result at `top_db` below its maximum.

    >>> power_to_db(np.array([1.0, 0.01, 0.0])).tolist()
    [0.0, -20.0, -80.0]
    """
    db = 10.0 * np.log10(np.maximum(np.asarray(power, dtype=float), floor))
    return np.maximum(db, np.nanmax(db) - top_db) if db.size else db


@_plain_text
def mel_figure(mel: np.ndarray, label: str, top_db: float = 80.0):
    """The paper's Figure 3: one small mel image per channel in dB (`power_to_db`); two rows (left arm, right
    arm) when the channel count is even. `mel` (channels, mels, frames) holds power (not log) values."""
    plt = _pyplot()
    mel = np.asarray(mel, dtype=float)
    if mel.ndim != 3:
        raise ValueError(f"mel example must be (channels, mels, frames), got {mel.shape}")
    db = power_to_db(mel, top_db=top_db)
    n_ch = mel.shape[0]
    rows = 2 if n_ch % 2 == 0 and n_ch > 1 else 1
    cols = n_ch // rows
    vmin, vmax = float(np.nanmin(db)), float(np.nanmax(db))
    if vmax <= vmin:
        vmax = vmin + 1e-6
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 1.2, 1.35 * rows + 0.6), squeeze=False,
                             sharex=True, sharey=True)
    im = None
    for ch in range(n_ch):
        r, c = divmod(ch, cols)
        ax = axes[r, c]
        im = ax.imshow(db[ch], origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax)
        ax.set_title(f"ch {c + 1}", fontsize=8)
        ax.tick_params(labelsize=6)
        if c == 0:
            side = ("left", "right")[r] if rows == 2 else ""
            ax.set_ylabel(f"{side}\nmel bin" if side else "mel bin", fontsize=8)
        if r == rows - 1:
            ax.set_xlabel("frame", fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="power (dB)")
    fig.suptitle(label, fontsize=10)
    return fig


@_plain_text
def emg_channels_figure(emg: np.ndarray, label: str, fs: float):
    """The paper's Figure 1: the raw sEMG of one action, one trace per channel over time, stacked; two columns
    (left arm, right arm) when the channel count is even. `emg` (samples, channels) at `fs` Hz."""
    plt = _pyplot()
    emg = np.asarray(emg, dtype=float)
    if emg.ndim != 2:
        raise ValueError(f"emg example must be (samples, channels), got {emg.shape}")
    n, n_ch = emg.shape
    arms = 2 if n_ch % 2 == 0 and n_ch > 1 else 1
    per_arm = n_ch // arms
    t = np.arange(n) / fs
    fig, axes = plt.subplots(per_arm, arms, figsize=(4.2 * arms, 0.55 * per_arm + 0.9), squeeze=False,
                             sharex=True)
    for ch in range(n_ch):
        arm, c = divmod(ch, per_arm)
        ax = axes[c, arm]
        ax.plot(t, emg[:, ch], lw=0.6, color="#1f4e79")
        ax.set_yticks([])
        ax.set_ylabel(f"ch {c + 1}", fontsize=7, rotation=0, ha="right", va="center")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if c == 0 and arms == 2:
            ax.set_title(("left arm", "right arm")[arm], fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(label, fontsize=10)
    return fig


@_plain_text
def pca_neighbours_figure(features: np.ndarray, labels: np.ndarray, class_names: list[str], title: str = "",
                       k: int = 5, n_queries: int = 3, seed: int = 0):
    """The paper's Figure 2: a 2-D PCA map coloured by class; for `n_queries` random points, lines to
    their `k` nearest neighbours in the ORIGINAL feature space (not in the 2-D map)."""
    plt = _pyplot()
    x = np.asarray(features, dtype=float)
    labels = np.asarray(labels)
    scores, _, ratio = pca_2d(x)
    rng = np.random.default_rng(seed)
    queries = rng.choice(len(x), size=min(n_queries, len(x)), replace=False)
    nn = nearest_neighbours(x, k, queries) if len(x) > 1 else np.empty((len(queries), 0), int)
    n_cls = max(len(class_names), int(labels.max()) + 1 if len(labels) else 0)
    fig, ax = plt.subplots(figsize=(7.0, max(5.0, 0.36 * n_cls)))  # tall enough for a legend of wrapped names
    cmap = plt.get_cmap("tab20" if n_cls > 10 else "tab10")
    for c in range(n_cls):
        sel = labels == c
        if not sel.any():
            continue
        name = wrapped(class_names[c] if c < len(class_names) else str(c))
        ax.scatter(scores[sel, 0], scores[sel, 1], s=9, alpha=0.6, color=cmap(c % cmap.N), label=name,
                   linewidths=0)
    for q, neigh in zip(queries, nn):
        for j in neigh:
            ax.plot(scores[[q, j], 0], scores[[q, j], 1], color="black", lw=0.8, alpha=0.8)
        ax.scatter(scores[neigh, 0], scores[neigh, 1], s=28, facecolors="none", edgecolors="black", lw=0.8)
        ax.scatter(scores[q, 0], scores[q, 1], s=90, marker="*", color=cmap(int(labels[q]) % cmap.N),
                   edgecolors="black", lw=0.8, zorder=5)
    ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({ratio[1]:.0%} of variance)")
    if title:
        ax.set_title(title, fontsize=10)
    if n_cls <= 20:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8 if n_cls <= 10 else 7, frameon=False,
                  markerscale=1.8, handletextpad=0.2)
    fig.tight_layout()
    return fig


@_plain_text
def learned_p_figure(learned_p: list[tuple[int, float]], paper_value: float = 0.8):
    """The weight p of RGB in learnable late fusion over training steps (sEMG gets 1 - p)."""
    plt = _pyplot()
    steps = np.array([s for s, _ in learned_p], dtype=float)
    p = np.array([v for _, v in learned_p], dtype=float)
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    ax.plot(steps, p, color="#3b75af", lw=1.6, label="p (RGB weight)")
    ax.axhline(paper_value, color="#888888", ls="--", lw=1, label=f"paper: p ≈ {paper_value:g}")
    ax.axhline(0.5, color="#cccccc", ls=":", lw=1, label="equal weights")
    ax.set_ylim(0, 1)
    ax.set_xlabel("training step")
    ax.set_ylabel("p")
    ax.grid(alpha=0.3)
    if len(p):
        ax.annotate(f"final p = {p[-1]:.2f}", (steps[-1], p[-1]), textcoords="offset points", xytext=(-6, 8),
                    ha="right", fontsize=8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # outside: never over p
    fig.tight_layout()
    return fig


confusion_png = _as_png(confusion_figure)
accuracy_bars_png = _as_png(accuracy_bars_figure)
attention_png = _as_png(attention_figure)
mel_png = _as_png(mel_figure)
emg_channels_png = _as_png(emg_channels_figure)
pca_neighbours_png = _as_png(pca_neighbours_figure)
learned_p_png = _as_png(learned_p_figure)
