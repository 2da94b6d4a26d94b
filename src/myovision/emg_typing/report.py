"""report.html of a typing run (`typing train`) or evaluation (`typing eval` / `typing decode`): the data it was
made on first, CER per decoder with its counts, validation CER over epochs (greedy), the training curves, and
example decodes (the reference against each decoder's text)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from myovision.report.html import escape, figure, page, table, training_curves_png, write_page
from myovision.runs import LOGS

EXAMPLES = 3
EXAMPLE_CHARS = 400


def data_note(sessions: dict[str, Sequence[str | Path]], folder: str | Path | None = None) -> str:
    """What data a report was made on: synthetic sessions (``myovision.data.synthetic_typing``, recognised by their
    ``user`` attribute) or recorded emg2qwerty sessions, the folder and the session count per split."""
    from myovision.data.emg2qwerty import read_session

    paths = [Path(p) for files in sessions.values() for p in files]
    users = {str(read_session(p).metadata.get("user", "")) for p in paths[:50]}
    synthetic = bool(users) and all(u.startswith("synthetic") for u in users)
    origin = ("synthetic emg2qwerty-layout sessions (myovision.data.synthetic_typing), not recordings" if synthetic
              else "emg2qwerty-layout sEMG recordings")
    where = Path(folder) if folder is not None else (paths[0].parent if paths else Path("."))
    counts = ", ".join(f"{len(files)} {name}" for name, files in sessions.items() if len(files))
    return f"{origin}; folder {where.resolve()}; sessions: {counts}"


def decoder_rows(result: dict) -> list[dict]:
    """One table row per decoder in an evaluate_typing result."""
    rows = []
    for name, r in result.items():
        if name == "sessions" or not isinstance(r, dict):
            continue
        rows.append({"decoder": name, "CER": r["cer"], "substitution rate": r["substitution_rate"],
                     "insertion rate": r["insertion_rate"], "deletion rate": r["deletion_rate"],
                     "errors": r["errors"], "reference characters": r["reference_chars"],
                     "frames/s": round(r["frames"] / max(r["decode_seconds"], 1e-9))})
    return rows


def cer_over_epochs_png(history: Sequence[dict]) -> bytes | None:
    """Validation CER (greedy) per epoch from a fit's history (None without validation)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [h for h in history if h.get("val_cer") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([h["epoch"] + 1 for h in rows], [h["val_cer"] for h in rows], marker="o")
    ax.set(xlabel="epoch", ylabel="validation CER (greedy)", ylim=(0, max(1.0, max(h["val_cer"] for h in rows))))
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def examples_html(result: dict, decoders: Sequence[str]) -> str:
    """The reference and each decoder's text of the first sessions (first characters)."""
    parts = []
    for row in result["sessions"][:EXAMPLES]:
        lines = "".join(f"<tr><td class=model>{escape(name)}</td><td style='text-align:left'><code>"
                        f"{escape(row[name][:EXAMPLE_CHARS])}</code></td></tr>" for name in ["reference", *decoders])
        parts.append(f"<h3>{escape(row['session'])}</h3><table class=\"results\">{lines}</table>")
    return "".join(parts)


def write_typing_report(out: str | Path, result: dict, *, title: str, data: str,
                        history: Sequence[dict] = (), notes: Sequence[str] = ()) -> Path:
    """Write ``out/report.html`` for an evaluate_typing ``result`` (and a fit's ``history``, when trained)."""
    out = Path(out)
    rows = decoder_rows(result)
    sections = [("decoders", "CER per decoder",
                 "<h2>CER per decoder (test sessions, whole)</h2>" + table(rows)
                 + "<p class=muted>Rates are fractions of the reference characters.</p>")]
    curves = []
    cer_png = cer_over_epochs_png(history)
    if cer_png is not None:
        curves.append(figure(cer_png, "validation CER over epochs", "Validation CER per epoch, greedy decoding; "
                             "the epoch with the lowest is the one kept."))
    logs_png = training_curves_png(out / LOGS)
    if logs_png is not None:
        curves.append(figure(logs_png, "training curves", "CTC loss per step and validation metrics per epoch "
                             "(logs/metrics.csv)."))
    if curves:
        sections.append(("curves", "CER over epochs", "<h2>CER over epochs</h2>" + "".join(curves)))
    sections.append(("examples", "Example decodes", "<h2>Example decodes</h2>"
                     + examples_html(result, [r["decoder"] for r in rows])))
    return write_page(out, page(title, data_note=data, sections=sections, notes=notes))
