"""KenLM-backed character LM against the pure-Python ARPA reader on the same ARPA file: load time, scoring time
and the largest score difference (goal: equal to 1e-5).

    OMP_NUM_THREADS=1 python benchmarks/bench_typing_kenlm.py [--quick] [--order 6] [--sentences 20000]

The ARPA is a character n-gram estimated (myovision.decoding.estimate_arpa) from English-like sentences of the
synthetic typing generator, each word its own sentence (as emg2qwerty's decoder scores words); the scored words
come from other draws of it (unseen n-grams included). No KenLM
binary is built here (the kenlm wheel has no build_binary); ``load_lm`` reads one when given.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from myovision.data.synthetic_typing import sentence
from myovision.decoding.lm import KenLMCharLM, NgramLM, estimate_arpa


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=6, help="n-gram order (emg2qwerty's char LM: 6)")
    parser.add_argument("--sentences", type=int, default=20000, help="training sentences of the LM")
    parser.add_argument("--scored", type=int, default=2000, help="sentences whose words are scored by both")
    parser.add_argument("--quick", action="store_true", help="order 4, 500 training and 200 scored sentences")
    args = parser.parse_args()
    if args.quick:
        args.order, args.sentences, args.scored = 4, 500, 200
    rng = np.random.default_rng(0)
    train = [list(w) for _ in range(args.sentences) for w in sentence(rng).split()]  # each word a sentence
    scored = [list(w) for _ in range(args.scored) for w in sentence(rng).split()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chars.arpa"
        path.write_text(estimate_arpa(train, order=args.order))
        print(f"ARPA: order {args.order}, {path.stat().st_size / 1e6:.1f} MB from {args.sentences} sentences")
        timings, scores = {}, {}
        for name, load in (("python ARPA reader", NgramLM.read_arpa), ("KenLM", KenLMCharLM)):
            t0 = time.perf_counter()
            lm = load(path)
            t1 = time.perf_counter()
            scores[name] = np.array([lm.sentence_log10(s) for s in scored])
            timings[name] = (t1 - t0, time.perf_counter() - t1)
    for name, (load_s, score_s) in timings.items():
        print(f"{name:20s} load {load_s:7.3f} s   score {len(scored)} words {score_s:7.3f} s")
    diff = np.abs(scores["KenLM"] - scores["python ARPA reader"]).max()
    print(f"largest |log10 score difference| over {len(scored)} words: {diff:.2e} (goal <= 1e-5: "
          f"{'met' if diff <= 1e-5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
