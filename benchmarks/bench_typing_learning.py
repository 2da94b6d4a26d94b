"""Claim: on synthetic emg2qwerty sessions a typing model learns (greedy CER far below the trivial 100% of
an empty output) on a CPU in minutes, and LM beam search lowers the CER further on held-out text.

Six synthetic sessions of 60 s (``myovision.data.synthetic_typing``: one simulated typist, prompts of
12 short words without punctuation, 3% corrected typos; each session its own armband rotation, gains,
drift, noise and prompts): four train, one validation (the kept epoch), one test. A small TDS model
(``tds_conv_ctc`` with a 32-unit MLP, one TDS block of kernel 8; 51k parameters) is trained with the
recipe of ``myovision.emg_typing.training`` (emg2qwerty's augmentations, Adam with warm-up then cosine, CTC)
on 0.5 s windows with the context its receptive field consumes, its blank bias started at 5. The test
session is decoded whole: greedy, beam search without LM, and beam search with a character 4-gram LM
estimated from the training sessions' text only (the real Reuters LM would score this 12-word vocabulary
no better than generic English). The test prompts are drawn with the test session's own seed, so most of its
sentences are not in the LM's training text (the share is printed).

    OMP_NUM_THREADS=1 python benchmarks/bench_typing_learning.py      # ~1-4 min on one core (also --quick, for CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import read_session
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.decoding import CTCBeamDecoder, NgramLM, estimate_arpa
from myovision.emg_typing.config import TypingConfig
from myovision.emg_typing.evaluate import LABEL_CHARS, evaluate_typing
from myovision.metrics import character_error_rate
from myovision.emg_typing.training import fit_typing
from myovision.training.options import TrainerOptions

WORDS = ("sad", "dad", "add", "as", "ask", "lad", "fall", "glass", "salad", "flask", "lass", "gas")
MODEL = {"mlp_features": [32], "block_channels": [16], "kernel_width": 8}


def prompts(path: Path) -> list[str]:
    return [p["payload"]["text"].strip() for p in read_session(path).prompts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="CI: the same run (it already takes about a minute)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_synthetic_typing(tmp, n_sessions=6, duration_s=60, seed=args.seed, words=WORDS,
                                       punctuation=False)
        train, val, test = paths[:4], paths[4:5], paths[5:]
        print(f"sessions written in {time.perf_counter() - start:.0f} s")
        config = TypingConfig(model="tds_conv_ctc", model_kwargs=MODEL, epochs=args.epochs, batch_size=16, lr=1e-2,
                              warmup_epochs=1, window=1000, blank_bias=5.0,
                              trainer=TrainerOptions(accelerator="cpu", seed=args.seed))
        t0 = time.perf_counter()
        fit = fit_typing(config, train, val)
        model = fit.model
        print(f"trained {sum(p.numel() for p in model.parameters()):,} parameters, {args.epochs} epochs, {fit.steps} "
              f"steps in {time.perf_counter() - t0:.0f} s; best val CER {100 * fit.best_val_cer:.1f}%")
        for row in fit.history:
            print(f"  epoch {row['epoch']:2d}  train loss {row['train_loss']:.3f}  "
                  f"val CER {100 * row.get('val_cer', float('nan')):.1f}%")
        words = [list(w) for p in train for w in CHARSET.edited(read_session(p).text).split()]
        lm_path = Path(tmp) / "lm.arpa"
        lm_path.write_text(estimate_arpa(words, order=4))
        lm = NgramLM.read_arpa(lm_path)
        seen = {s for p in train for s in prompts(p)}
        held_out = prompts(test[0])
        decoders = {"greedy": None, "beam": CTCBeamDecoder(beam_size=20),
                    "beam_lm": CTCBeamDecoder(beam_size=20, lm=lm, label_chars=LABEL_CHARS, lm_weight=2.0,
                                              insertion_bonus=2.0)}
        result = evaluate_typing(fit.model, test, decoders)
    refs = [row["reference"] for row in result["sessions"]]
    trivial = character_error_rate([""] * len(refs), refs)["cer"]
    print(f"test session: {len(refs[0])} keys, {sum(s not in seen for s in held_out)} of {len(held_out)} prompts "
          f"not in the LM's training text")
    print(f"  trivial (empty output)   CER {100 * trivial:6.1f}%")
    for name in decoders:
        r = result[name]
        print(f"  {name:24s} CER {100 * r['cer']:6.1f}%  (sub {100 * r['substitution_rate']:.1f}, "
              f"ins {100 * r['insertion_rate']:.1f}, del {100 * r['deletion_rate']:.1f})")
    print(f"  reference: {refs[0][:70]!r}")
    for name in decoders:
        print(f"  {name:9s}: {result['sessions'][0][name][:70]!r}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0 if result["greedy"]["cer"] < 0.5 * trivial and result["beam_lm"]["cer"] < result["greedy"]["cer"] else 1


if __name__ == "__main__":
    sys.exit(main())
