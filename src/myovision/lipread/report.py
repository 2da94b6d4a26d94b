"""report.html of a lip-reading run (`lipread train`) or evaluation (`lipread eval`): the data it was made on
first, the training curves, WER with its substitution / deletion / insertion counts, the accuracy per GRID
grammar slot, and example decodes (reference vs hypothesis, errors first)."""

from __future__ import annotations

from pathlib import Path

from myovision.report.html import escape, figure, page, table, training_curves_png, write_page
from myovision.runs import LOGS

EXAMPLES = 12


def data_note(folder: str | Path, utterances: int, split: str = "") -> str:
    """What data a report was made on: the folder, its video count and the first line of its SOURCE.md (which
    says whether it is a real corpus or synthetic test data)."""
    folder = Path(folder)
    source = folder / "SOURCE.md"
    origin = "no SOURCE.md: provenance unknown"
    if source.is_file():
        lines = [line.strip("# ").strip() for line in source.read_text(errors="replace").splitlines() if line.strip()]
        origin = lines[0] if lines else origin
    return f"{origin}; folder {folder.resolve()}, {utterances} videos{f' ({split})' if split else ''}"


def wer_section(result: dict, split: str) -> str:
    """WER with counts, slot accuracy when present, and example decodes of one decoder's metrics."""
    counts = [{"decoder": result.get("decoder", ""), "split": split, "wer": result["wer"],
               "errors": result["errors"], "substitutions": result["substitutions"],
               "deletions": result["deletions"], "insertions": result["insertions"],
               "reference words": result["reference_words"], "videos": len(result.get("utterances", []))}]
    html = f"<h2>Word error rate ({escape(split)})</h2>" + table(counts)
    if result.get("slot_accuracy"):
        html += "<h3 style='margin-top:16px'>Accuracy per grammar slot</h3>" + table(
            [{"slot": k, "accuracy": float(v)} for k, v in result["slot_accuracy"].items()])
    utterances = sorted(result.get("utterances", []), key=lambda u: u["reference"] == u["hypothesis"])
    if utterances:
        html += (f"<h3 style='margin-top:16px'>Example decodes ({min(EXAMPLES, len(utterances))} of "
                 f"{len(utterances)}, errors first)</h3>" + table(
                     [{"video": u["id"], "reference": u["reference"], "hypothesis": u["hypothesis"],
                       "correct": "yes" if u["reference"] == u["hypothesis"] else "no"}
                      for u in utterances[:EXAMPLES]]))
    return html


def write_report(out: str | Path, *, title: str, data: str, result: dict | None = None, split: str = "",
                 logs: str | Path | None = None, notes: tuple[str, ...] = ()) -> Path:
    """report.html in `out`: the data line, training curves from `logs` (default out/logs) when logged, and the
    WER section of `result` (one decoder's metrics) when given."""
    sections = []
    curves = training_curves_png(Path(logs) if logs is not None else Path(out) / LOGS)
    if curves is not None:
        sections.append(("curves", "Training curves", "<h2>Training curves</h2>" + figure(
            curves, "training curves", "Training loss per step; validation WER (fraction) per epoch.")))
    if result is not None:
        sections.append(("wer", "WER", wer_section(result, split)))
    return write_page(out, page(title, data_note=data, sections=sections, notes=notes))
