"""The CNN+BiLSTM typing study's Tables 1 and 2 (Borthakur et al., a single-user study on emg2qwerty) as
experiments: every row is a model (``myovision.models.typing_variants``) and an augmentation
(:class:`~myovision.emg_typing.config.AugmentOptions`) trained with the given config on the given sessions,
then scored on the test sessions (whole, greedy CTC decoding).

``myovision typing experiment --table study-1|study-2`` runs a table; results.csv has one line per row with
our test CER beside the study's (percent). The study trained 30 epochs for Table 1 and 30 to 400 for Table 2
(its ``study_epochs`` column); here every row gets ``config.epochs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from myovision.emg_typing.config import TypingConfig


@dataclass(frozen=True)
class StudyRow:
    """One row of a study table: what it trains and what the study measured (test CER, percent)."""

    index: str
    description: str
    model: str
    model_kwargs: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)  # AugmentOptions fields that differ from emg2qwerty's
    study_cer: float | None = None
    study_epochs: int | None = None


SPEC_MORE = {"time_masks": 4, "freq_masks": 3}
WARP_4 = {"magnitude_warping": True, "warp_knots": 4, "warp_sigma": 0.2}

STUDY_TABLES: dict[str, list[StudyRow]] = {
    "study-1": [
        StudyRow("1", "baseline", "tds_conv_ctc", study_cer=67, study_epochs=30),
        StudyRow("2", "SpecAugment 4 time / 3 frequency masks", "tds_conv_ctc", augment=SPEC_MORE, study_cer=63,
                 study_epochs=30),
        StudyRow("3", "SpecAugment 2 time / 1 frequency mask", "tds_conv_ctc",
                 augment={"time_masks": 2, "freq_masks": 1}, study_cer=88, study_epochs=30),
        StudyRow("4", "magnitude warping, 4 knots, sigma 0.2", "tds_conv_ctc", augment=WARP_4, study_cer=89,
                 study_epochs=30),
        StudyRow("5", "magnitude warping, 3 knots, sigma 0.1", "tds_conv_ctc",
                 augment={"magnitude_warping": True, "warp_knots": 3, "warp_sigma": 0.1}, study_cer=89,
                 study_epochs=30),
        StudyRow("6", "SpecAugment 4/3 + magnitude warping 4, 0.2", "tds_conv_ctc", augment={**SPEC_MORE, **WARP_4},
                 study_cer=69, study_epochs=30),
        StudyRow("7", "MLP reduced to 576 features, kernel 32", "tds_reduced_ctc", {"kernel": 32}, study_cer=95,
                 study_epochs=30),
        StudyRow("8", "MLP reduced to 576 features, kernel 16", "tds_reduced_ctc", {"kernel": 16}, study_cer=91,
                 study_epochs=30),
        StudyRow("9", "576 then back to 768 features, kernel 16", "tds_reduced_ctc", {"kernel": 16, "expand": True},
                 study_cer=89, study_epochs=30),
    ],
    "study-2": [
        StudyRow("1", "baseline", "tds_conv_ctc", study_cer=22, study_epochs=400),
        StudyRow("2", "baseline, MLP 480", "tds_mlp480_ctc", study_cer=21, study_epochs=400),
        StudyRow("3", "+ dropout 0.3", "tds_mlp480_dropout_ctc", study_cer=17, study_epochs=400),
        StudyRow("4", "+ BiLSTM", "tds_bilstm_ctc", study_cer=15, study_epochs=400),
        StudyRow("5", "+ squeeze-and-excitation", "tds_bilstm_se_ctc", study_cer=13, study_epochs=400),
        StudyRow("6", "CNN + GRU, MLP 480, dropout 0.3", "cnn_gru_ctc", study_cer=21, study_epochs=150),
        StudyRow("7", "CNN + GRU, MLP 480, no dropout", "cnn_gru_ctc", {"dropout": 0.0}, study_cer=21,
                 study_epochs=150),
        StudyRow("8", "CNN + GRU, MLP 600, dropout 0.3", "cnn_gru_ctc", {"mlp": 600}, study_cer=22, study_epochs=150),
        StudyRow("9", "time and frequency mask augmented baseline", "tds_conv_ctc", augment=SPEC_MORE, study_cer=62,
                 study_epochs=30),
        StudyRow("10", "Transformer encoder", "transformer_ctc", study_cer=98, study_epochs=50),
        StudyRow("11", "CNN + Transformer (1 layer)", "cnn_transformer_ctc", study_cer=22, study_epochs=50),
        StudyRow("12", "CNN + Transformer (4 layers)", "cnn_transformer_ctc", {"layers": 4}, study_cer=23,
                 study_epochs=50),
    ],
}

#: ``--quick``: per model, builder arguments that shrink it to a few thousand weights (the row's own arguments,
#: e.g. a kernel or dropout, stay), so that a table runs end to end in CI.
QUICK_KWARGS = {
    "tds_conv_ctc": {"mlp_features": [16], "block_channels": [8], "kernel_width": 4},
    "tds_mlp480_ctc": {"mlp": 16, "block_channels": [8], "kernel_width": 4},
    "tds_mlp480_dropout_ctc": {"mlp": 16, "block_channels": [8], "kernel_width": 4},
    "tds_bilstm_ctc": {"mlp": 16, "block_channels": [8], "kernel_width": 4, "rnn_hidden": 8},
    "tds_bilstm_se_ctc": {"mlp": 16, "block_channels": [8], "kernel_width": 4, "rnn_hidden": 8},
    "cnn_gru_ctc": {"mlp": 16, "block_channels": [8], "kernel_width": 4, "gru_hidden": 8},
    "transformer_ctc": {"d_model": 16, "layers": 1},
    "cnn_transformer_ctc": {"mlp": 16, "hidden": 16},
    "tds_reduced_ctc": {"reduced": 16, "block_channels": [8], "kernel_width": 4},
}
QUICK_ROW_OVERRIDES = {"mlp": 24}  # row arguments that are sizes: shrunk too under --quick


def row_config(config: TypingConfig, row: StudyRow, quick: bool = False) -> TypingConfig:
    """``config`` with the row's model, builder arguments and augmentation (``quick``: tiny model sizes)."""
    kwargs = dict(row.model_kwargs)
    if quick:
        kwargs = {**QUICK_KWARGS.get(row.model, {}),
                  **{k: QUICK_ROW_OVERRIDES.get(k, v) for k, v in kwargs.items()}}
        if row.model == "tds_reduced_ctc":
            kwargs["kernel"] = max(2, kwargs.get("kernel", 32) // 8)
    return replace(config, model=row.model, model_kwargs=kwargs, augment=replace(config.augment, **row.augment))


def run_study_table(table: str, config: TypingConfig, split: dict[str, Sequence[str | Path]], out: str | Path, *,
                    quick: bool = False, max_steps: int = -1, progress: bool = False, data: str = "") -> list[dict]:
    """Train and score every row of ``STUDY_TABLES[table]``; write ``out/results.csv`` and ``out/report.html``
    (``data``: the report's line on what data it ran); return the result rows."""
    import pandas as pd

    from myovision.emg_typing.evaluate import evaluate_typing
    from myovision.emg_typing.training import fit_typing
    from myovision.fileio import atomic_write_text

    out = Path(out)
    results = []
    for row in STUDY_TABLES[table]:
        cfg = row_config(config, row, quick)
        if progress:
            print(f"row {row.index}: {row.description} ({cfg.model} {cfg.model_kwargs or ''})", flush=True)
        fit = fit_typing(cfg, split["train"], split.get("val", ()), max_steps=max_steps)
        if not fit.is_global_zero:
            continue
        scored = evaluate_typing(fit.model, split["test"], {"greedy": None})
        results.append({"row": row.index, "description": row.description, "model": cfg.model,
                        "model_kwargs": cfg.model_kwargs, "augment": row.augment,
                        "parameters": sum(p.numel() for p in fit.model.parameters()),
                        "epochs": fit.epochs, "steps": fit.steps,
                        "best_val_cer_percent": None if fit.best_val_cer is None else 100 * fit.best_val_cer,
                        "test_cer_percent": 100 * scored["greedy"]["cer"],
                        "study_cer_percent": row.study_cer, "study_epochs": row.study_epochs})
    atomic_write_text(out / "results.csv", pd.DataFrame(results).to_csv(index=False))
    write_study_report(out, table, results, quick, data)
    return results


def write_study_report(out: Path, table: str, results: Sequence[dict], quick: bool, data: str) -> Path:
    """``out/report.html``: the table's rows, our test CER beside the study's."""
    from myovision.report.html import page, table as html_table, write_page

    rows = [{"row": r["row"], "study": r["description"], "model": r["model"], "parameters": f"{r['parameters']:,}",
             "steps": r["steps"], "test CER %": f"{r['test_cer_percent']:.1f}",
             "study CER %": "-" if r["study_cer_percent"] is None else r["study_cer_percent"]} for r in results]
    notes = ["--quick: tiny models and a few steps, a smoke run; its CERs mean nothing."] if quick else []
    notes.append("Test CER: whole test sessions, greedy CTC decoding. The study's CER is one user's, after "
                 "30-400 epochs (results.csv: study_epochs).")
    name = {"study-1": "Table 1 (augmentation and dimensionality reduction)", "study-2": "Table 2 (models)"}[table]
    return write_page(out, page(f"sEMG typing, the CNN+BiLSTM study's {name}", data_note=data,
                                sections=[("rows", "rows", "<h2>Rows</h2>" + html_table(rows))], notes=notes))
