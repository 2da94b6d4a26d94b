"""The CNN+BiLSTM study's models: parameter count and output length of every row, beside the study's test CER.

    python benchmarks/bench_typing_study.py [--quick]

The study gives no parameter counts; its CER column is printed beside ours for reference (a single user,
30-400 epochs). ``--quick`` skips the forward pass (counts only).
"""

from __future__ import annotations

import argparse

import torch

from myovision import create_model

#: (study row, description, model, builder kwargs, the study's test CER)
ROWS = [
    ("2.1", "baseline (emg2qwerty TDS)", "tds_conv_ctc", {}, 22),
    ("2.2", "baseline, MLP 480", "tds_mlp480_ctc", {}, 21),
    ("2.3", "+ dropout 0.3", "tds_mlp480_dropout_ctc", {}, 17),
    ("2.4", "+ BiLSTM", "tds_bilstm_ctc", {}, 15),
    ("2.5", "+ squeeze-and-excitation", "tds_bilstm_se_ctc", {}, 13),
    ("2.6", "CNN + GRU, MLP 480, dropout 0.3", "cnn_gru_ctc", {}, 21),
    ("2.7", "CNN + GRU, MLP 480, no dropout", "cnn_gru_ctc", {"dropout": 0.0}, 21),
    ("2.8", "CNN + GRU, MLP 600, dropout 0.3", "cnn_gru_ctc", {"mlp": 600}, 22),
    ("2.10", "Transformer encoder", "transformer_ctc", {}, 98),
    ("2.11", "CNN + Transformer (1 layer)", "cnn_transformer_ctc", {}, 22),
    ("2.12", "CNN + Transformer (4 layers)", "cnn_transformer_ctc", {"layers": 4}, 23),
    ("1.7", "576 features, kernel 32", "tds_reduced_ctc", {}, 95),
    ("1.8", "576 features, kernel 16", "tds_reduced_ctc", {"kernel": 16}, 91),
    ("1.9", "576 -> 768 features, kernel 16", "tds_reduced_ctc", {"kernel": 16, "expand": True}, 89),
    ("2.2s", "Section 2.2 residual 1D CNN", "residual_cnn_ctc", {}, None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="counts only, no forward pass")
    args = parser.parse_args()
    print(f"{'row':5} {'study model':34} {'create_model':42} {'parameters':>11} {'T=1000 ->':>9} {'study CER':>9}")
    for row, text, name, kwargs, cer in ROWS:
        model = create_model(name, **kwargs).eval()
        params = sum(p.numel() for p in model.parameters())
        frames = "-" if args.quick else str(model(torch.zeros(1000, 1, 2, 16, 33)).shape[0])
        call = name + (" " + ", ".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else "")
        print(f"{row:5} {text:34} {call:42} {params:>11,} {frames:>9} {'-' if cer is None else cer:>9}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
