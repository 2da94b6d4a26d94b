"""The experiment report: one self-contained `report.html` (inline CSS, images as base64 PNG data URIs).

Figures come from `myovision.report.figures`; this module assembles the HTML. Every figure is rendered
before anything is written, and the file is replaced atomically, so a failure leaves the previous report.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from myovision.report import figures
from myovision.report.html import escape, figure, img, page, write_page

PAPER_TABLE2 = {"Linear RGB": 0.802, "LSTM RGB": 0.816, "LSTM sEMG (raw)": 0.283, "Linear sEMG": 0.679,
                "LSTM sEMG": 0.694, "Late-Fusion": 0.872, "Late-Fusion (learnable p)": 0.863,
                "Late-Fusion LSTM": 0.843, "Mid-Fusion": 0.866, "Self-Attention Late-Fusion": 0.825,
                "Self-Attention LF LSTM": 0.828}
"""The paper's Table 2 (ActionSense, top-1 accuracy as a fraction)."""

DASH = "—"
REQUIRED_COLUMNS = ("model", "accuracy_mean", "accuracy_std", "n_seeds")


def _is_num(x) -> bool:
    try:
        return x is not None and not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _pct(x, digits: int = 1) -> str:
    return f"{100 * float(x):.{digits}f}%" if _is_num(x) else DASH


# --------------------------------------------------------------------------------------------- sections

def shows_top_k(k: int, num_classes: int | None) -> bool:
    """Top-k is informative only where k is far below the class count: k <= num_classes / 4 (unknown: shown).

    >>> shows_top_k(5, 20), shows_top_k(5, 10)
    (True, False)
    """
    return num_classes is None or 4 * k <= num_classes


def _results_section(results: pd.DataFrame, paper: bool = True, num_classes: int | None = None) -> str:
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {missing}; it has {list(results.columns)}")
    has_top5 = "top5_mean" in results.columns and shows_top_k(5, num_classes)
    has_secs = "seconds" in results.columns
    head = ['<th class="model">model</th>', "<th>this run</th>", "<th>seeds</th>"]
    if paper:
        head += ["<th>paper</th>", "<th>difference</th>"]
    if has_top5:
        head.append("<th>top-5</th>")
    if has_secs:
        head.append("<th>time (s)</th>")
    rows = []
    for _, r in results.iterrows():
        name = str(r["model"])
        mean, std = r["accuracy_mean"], r["accuracy_std"]
        ours = _pct(mean)
        if _is_num(mean) and _is_num(std) and _is_num(r["n_seeds"]) and int(r["n_seeds"]) > 1:
            ours += f' <span class="muted">± {100 * float(std):.1f}</span>'
        reference = PAPER_TABLE2.get(name)
        if reference is not None and _is_num(mean):
            diff = 100 * (float(mean) - reference)
            cls = "pos" if diff > 0 else "neg" if diff < 0 else ""
            diff_s = f'<span class="{cls}">{diff:+.1f} pp</span>'
        else:
            diff_s = DASH
        cells = [f'<td class="model">{escape(name)}</td>', f"<td>{ours}</td>",
                 f"<td>{escape(int(r['n_seeds'])) if _is_num(r['n_seeds']) else DASH}</td>"]
        if paper:
            cells += [f"<td>{_pct(reference)}</td>", f"<td>{diff_s}</td>"]
        if has_top5:
            cells.append(f"<td>{_pct(r['top5_mean'])}</td>")
        if has_secs:
            cells.append(f"<td>{float(r['seconds']):.1f}</td>" if _is_num(r["seconds"]) else f"<td>{DASH}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    run = set(results["model"].astype(str))
    not_run = [m for m in PAPER_TABLE2 if m not in run] if paper else []
    for i, name in enumerate(not_run):
        cells = [f'<td class="model">{escape(name)}</td>', "<td>not run</td>", f"<td>{DASH}</td>",
                 f"<td>{_pct(PAPER_TABLE2[name])}</td>", f"<td>{DASH}</td>"]
        cells += [f"<td>{DASH}</td>"] * (int(has_top5) + int(has_secs))
        rows.append(f'<tr class="notrun{" group" if i == 0 else ""}">' + "".join(cells) + "</tr>")
    table = (f'<table class="results"><thead><tr>{"".join(head)}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    bars = figures.accuracy_bars_png(
        [str(m) for m in results["model"]], results["accuracy_mean"].astype(float).tolist(),
        results["accuracy_std"].astype(float).tolist(),
        [PAPER_TABLE2.get(str(m)) if paper else None for m in results["model"]],
        seeds=[int(k) if _is_num(k) else None for k in results["n_seeds"]])
    several = bool((results["n_seeds"].fillna(1) > 1).any())
    caption = "Top-1 accuracy" + (", mean ± standard deviation over seeds" if several else " (one seed)")
    if paper:
        caption += ("; the paper's Table 2 (ActionSense) beside it. Difference in percentage points "
                    "(this run − paper).")
    else:
        caption += ". No paper column: this data is not the paper's, so its numbers are not comparable."
    if has_top5 is False and "top5_mean" in results.columns:
        caption += f" Top-5 is not shown: with {num_classes} classes it says little (shown from 20 classes)."
    bars_caption = ("This run (blue" + (", ± 1 std" if several else "") + ")"
                    + (" and the paper (grey)." if paper else "."))
    return ('<h2>Results</h2><div class="row">'
            f'<div class="card tablecard">{table}<figcaption>{caption}</figcaption></div>'
            f'<div class="card chart">{figure(bars, "accuracy bar chart", bars_caption)}</div>'
            "</div>")


def _confusion_section(confusions: dict[str, tuple[np.ndarray, list[str]]]) -> str:
    keys: list[list[str]] = []  # distinct long class-name lists, printed once below the matrices
    for _, names in confusions.values():
        names = [str(n) for n in names]
        if figures.needs_class_key(names) and names not in keys:
            keys.append(names)
    cards = []
    for model, (cm, names) in confusions.items():
        cm, names = np.asarray(cm), [str(n) for n in names]
        acc = np.trace(cm) / cm.sum() if cm.sum() else float("nan")
        png = figures.confusion_png(cm, names, title=f"accuracy {_pct(acc)}")
        note = f' <span class="muted">(class key {keys.index(names) + 1})</span>' if (
            len(keys) > 1 and names in keys) else ""
        cards.append(f'<div class="card"><h3>{escape(model)}{note}</h3>{img(png, f"confusion matrix of {model}")}</div>')
    key_html = "".join(
        f'<h3 style="margin-top:14px">Class key{f" {i + 1}" if len(keys) > 1 else ""}</h3>'
        f'<ol class="key">{"".join(f"<li>{escape(n)}</li>" for n in names)}</ol>' for i, names in enumerate(keys))
    return ('<h2>Confusion matrices</h2>'
            '<p class="sub">Rows are true classes, columns predictions; colour is the fraction of the true class, '
            'numbers are counts' + (" and class numbers refer to the key below" if keys else "") + '.</p>'
            f'<div class="grid wide">{"".join(cards)}</div>{key_html}')


def _attention_section(attention: dict[str, np.ndarray], labels: list[str] | None) -> str:
    png = figures.attention_png(attention, labels)
    caption = ("Per-clip attention weights of a few test actions for each modality (the paper's Figure 6): "
               "green marks the clips the self-attention late fusion weights most, red the least; "
               "each strip sums to 1.")
    return ('<h2>Attention over clips</h2>'
            f'<div class="card">{figure(png, "per-clip attention weights", caption)}</div>')


def _raw_emg_section(emg: np.ndarray, label: str, fs: float) -> str:
    emg = np.asarray(emg)
    png = figures.emg_channels_png(emg, label, fs)
    caption = (f"Raw sEMG of one action, <b>{escape(label)}</b> (the paper's Figure 1): {emg.shape[1]} channels "
               f"before any preprocessing, resampled to {emg.shape[0]} samples"
               + (", the left-arm Myo on the left, the right arm on the right." if emg.shape[1] == 16 else "."))
    return ('<h2>Raw sEMG</h2>'
            f'<div class="card">{figure(png, f"raw sEMG channels of {label}", caption)}</div>')


def _mel_section(mel: np.ndarray, label: str) -> str:
    mel = np.asarray(mel)
    png = figures.mel_png(mel, label)
    caption = (f"Mel-spectrograms of one action, <b>{escape(label)}</b> (the paper's Figure 3): one image per "
               f"sEMG channel ({mel.shape[1]} mel bins × {mel.shape[2]} frames); "
               + ("top row the left-arm Myo (channels 1–8), bottom row the right arm."
                  if mel.shape[0] == 16 else f"{mel.shape[0]} channels."))
    return ('<h2>sEMG mel-spectrograms</h2>'
            f'<div class="card">{figure(png, f"mel-spectrograms of {label}", caption)}</div>')


def _features_section(clip_features: dict[str, tuple[np.ndarray, np.ndarray, list[str]]], k: int = 5) -> str:
    cards = []
    for mod, (feats, labels, names) in clip_features.items():
        feats = np.asarray(feats, dtype=float)
        labels = np.asarray(labels).astype(int)
        title = f"{figures.modality_name(mod)} clip features"
        png = figures.pca_neighbours_png(feats, labels, list(names), title=title, k=k)
        agree = figures.neighbour_agreement(feats, labels, k)
        freq = np.bincount(labels) / max(len(labels), 1)
        chance = float((freq**2).sum())
        stat = (f'<p class="stat"><b>{_pct(agree)}</b> of the {k} nearest neighbours (original '
                f'{feats.shape[1]}-d space, {len(feats)} points) share the class '
                f'<span class="muted">(chance ≈ {_pct(chance)})</span>.</p>')
        cards.append(f'<div class="card">{img(png, title)}{stat}</div>')
    caption = ("2-D PCA maps of clip features coloured by class (the paper's Figure 2). Stars: three random "
               f"clips; lines join each to its {k} nearest neighbours in the original feature space.")
    return ('<h2>Clip features</h2>'
            f'<div class="grid wide">{"".join(cards)}</div><figcaption>{caption}</figcaption>')


def _learned_p_section(learned_p: list[tuple[int, float]]) -> str:
    png = figures.learned_p_png(learned_p)
    caption = (f"The RGB weight p of late fusion with a learnable p, over training (sEMG gets 1 − p); "
               f"final p = {float(learned_p[-1][1]):.3f}. The paper reports p converging near 0.8.")
    return ('<h2>Learned fusion weight</h2>'
            f'<div class="card">{figure(png, "learned p over training", caption)}</div>')


# --------------------------------------------------------------------------------------------- entry point

def write_experiment_report(out: Path, *, title: str, results: pd.DataFrame, protocol: str,
                            confusions: dict[str, tuple[np.ndarray, list[str]]],
                            attention: dict[str, np.ndarray] | None, attention_labels: list[str] | None,
                            mel_example: tuple[np.ndarray, str] | None,
                            raw_example: tuple[np.ndarray, str, float] | None = None,
                            clip_features: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] | None,
                            learned_p: list[tuple[int, float]] | None,
                            notes: list[str] = (), data_note: str, paper: bool = True,
                            num_classes: int | None = None) -> Path:
    """Write `out/report.html`: the results table (beside the paper's Table 2 when `paper`: only for the paper's
    data) and the paper's figures. `data_note` (what data it was made on) is the report's first line.

    Sections whose input is None or empty are left out. Everything is rendered in memory first and the
    file replaced atomically, so an error leaves any previous report untouched. Returns the report's path.
    """
    out = Path(out)
    sections: list[tuple[str, str, str]] = []  # (anchor, nav label, html)
    if results is not None and len(results):
        sections.append(("results", "Results", _results_section(results, paper, num_classes)))
    if confusions:
        sections.append(("confusion", "Confusion matrices", _confusion_section(confusions)))
    if attention and any(np.asarray(a).size for a in attention.values()):
        sections.append(("attention", "Attention", _attention_section(attention, attention_labels)))
    if raw_example is not None and np.asarray(raw_example[0]).size:
        sections.append(("raw", "Raw sEMG", _raw_emg_section(*raw_example)))
    if mel_example is not None and np.asarray(mel_example[0]).size:
        sections.append(("mel", "Mel-spectrograms", _mel_section(*mel_example)))
    if clip_features and any(len(v[0]) > 1 for v in clip_features.values()):
        usable = {m: v for m, v in clip_features.items() if len(v[0]) > 1}
        sections.append(("features", "Clip features", _features_section(usable)))
    if learned_p:
        sections.append(("learned-p", "Learned p", _learned_p_section(learned_p)))

    return write_page(out, page(title, data_note=data_note, sections=sections, subtitle=f"Protocol: {protocol}",
                                notes=notes))
