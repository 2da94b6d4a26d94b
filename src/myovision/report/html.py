"""Self-contained HTML reports (inline CSS, figures as base64 PNG data URIs), shared by every system.

`page` assembles a report whose first line says what data it was made on; `training_curves_png` draws a run's
loss and validation curves from its CSV log. Systems add their own sections (confusion matrices, CER/WER over
epochs, example decodes, top-k). `write_page` replaces `report.html` atomically.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

from myovision.fileio import atomic_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
:root { --ink:#1d2430; --muted:#5b6575; --line:#dde2ea; --accent:#3b75af; --bg:#f6f8fb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 28px 60px; }
h1 { font-size:26px; margin:0 0 4px; }
h2 { font-size:19px; margin:34px 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:15px; margin:0 0 6px; }
.sub { color:var(--muted); margin:0 0 14px; }
nav { font-size:13px; margin:8px 0 18px; }
nav a { color:var(--accent); text-decoration:none; margin-right:14px; }
.notes { background:#fffbea; border:1px solid #f0e2a8; border-radius:6px; padding:10px 16px 10px 34px;
         margin:0 0 10px; }
.notes li { margin:2px 0; }
.row { display:flex; flex-wrap:wrap; gap:24px; align-items:flex-start; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
table.results { border-collapse:collapse; background:#fff; font-size:14px;
                font-variant-numeric:tabular-nums; }
table.results th, table.results td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right; }
table.results th { background:#eef2f7; font-weight:600; }
table.results td.model, table.results th.model { text-align:left; white-space:nowrap; }
table.results tr.notrun td { color:#9aa3b0; }
table.results tr.group td { border-top:2px solid #c9d1dc; }
.pos { color:#1d7a35; font-weight:600; } .neg { color:#b3261e; font-weight:600; }
.muted { color:var(--muted); }
figure { margin:0; }
img { max-width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; max-width:720px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(340px, 1fr)); gap:16px; }
.grid.wide { grid-template-columns:repeat(auto-fill, minmax(500px, 1fr)); }
.row > .chart { flex:1 1 380px; min-width:0; }
.row > .tablecard { flex:0 0 auto; }
.tablecard figcaption { width:0; min-width:100%; }
ol.key { columns:2; column-gap:32px; font-size:13px; margin:10px 0 0; padding-left:28px; }
ol.key li { break-inside:avoid; }
.stat { font-size:14px; margin:6px 0 0; }
footer { color:var(--muted); font-size:12px; margin-top:40px; }
"""




def escape(text: object) -> str:
    """Text as HTML (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def img(png: bytes, alt: str) -> str:
    """An <img> with the PNG embedded."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError(f"figure {alt!r} is not a PNG")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def figure(png: bytes, alt: str, caption: str) -> str:
    """A <figure> with an embedded PNG and a caption (HTML)."""
    return f"<figure>{img(png, alt)}<figcaption>{caption}</figcaption></figure>"


def table(rows: Sequence[dict], columns: Sequence[str] | None = None, first_left: bool = True) -> str:
    """An HTML table of dict rows (floats with 4 significant digits)."""
    columns = list(columns or (rows[0].keys() if rows else []))

    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else escape(value)

    head = "".join(f'<th{" class=model" if first_left and i == 0 else ""}>{escape(c)}</th>'
                   for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f'<td{" class=model" if first_left and i == 0 else ""}>{cell(r.get(c, ""))}</td>'
                                    for i, c in enumerate(columns)) + "</tr>" for r in rows)
    return f'<table class="results"><tr>{head}</tr>{body}</table>'


def page(title: str, *, data_note: str, sections: Sequence[tuple[str, str, str]], subtitle: str = "",
         notes: Sequence[str] = ()) -> str:
    """The HTML of a report: `data_note` (what data it was made on) is its first line under the title;
    `sections` are (anchor, navigation label, HTML)."""
    from myovision import __version__

    nav = " ".join(f'<a href="#{a}">{escape(label)}</a>' for a, label, _ in sections)
    notes_html = ""
    if notes:
        notes_html = '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
    sub = f'<p class="sub">{escape(subtitle)}</p>' if subtitle else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
            f'<h1>{escape(title)}</h1><p class="sub data">Data: {escape(data_note)}</p>{sub}'
            f"<nav>{nav}</nav>{notes_html}"
            + "".join(f'<section id="{a}">{body}</section>' for a, _, body in sections)
            + f"<footer>Written by myovision {escape(__version__)}. Self-contained: all images are embedded."
            "</footer></main></body></html>\n")


def write_page(out: str | Path, document: str, name: str = "report.html") -> Path:
    """Write `document` to `out/name` atomically (non-ASCII as character references); return the path."""
    path = Path(out) / name
    with atomic_path(path) as tmp:
        tmp.write_bytes(document.encode("ascii", "xmlcharrefreplace"))
    return path


def training_curves_png(log_dir: str | Path) -> bytes | None:
    """Training loss per step and every validation metric per epoch, from a run's `logs/metrics.csv`
    (None when there is no log)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    path = Path(log_dir) / "metrics.csv"
    if not path.is_file():
        return None
    log = pd.read_csv(path)
    val_columns = [c for c in log.columns if c.startswith("val_")]
    panels = (["train_loss"] if "train_loss" in log else []) + val_columns
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    for ax, column in zip(axes[0], panels):
        rows = log.dropna(subset=[column])
        x = rows["step"] if column == "train_loss" else rows["epoch"] + 1
        ax.plot(x, rows[column], marker="" if column == "train_loss" else "o")
        ax.set(xlabel="step" if column == "train_loss" else "epoch", ylabel=column.replace("_", " "))
        ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
