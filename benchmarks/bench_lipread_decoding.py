"""Claim (issue 18): open-vocabulary HMM decoding runs in real time on a CPU: the real-time factor (decoding
seconds / video seconds) of the token-passing beam search (`myovision.decoding.token_passing`) over the graph of
a 5,000-word lexicon (CMUdict phones, 3-state monophone HMMs, optional silence) and a word 3-gram
(interpolated modified Kneser-Ney, `myovision.decoding.kneser_ney`), for 3-second videos (75 frames at 25 fps).

Input: no lip-reading network reads 5,000 words yet, so the emission scores are synthetic: a sentence of the
LM's training text is aligned to 75 frames (its HMM states spread evenly), and every frame's scores are the log
softmax of logits with +`--margin` on the aligned state and N(0, 1) noise on all; hybrid scores divide by
uniform priors. The text: `--sentences` sentences from a seeded random Markov chain over the 5,000 words (each
word has 20 Zipf-weighted successors; lengths 3-7). WER of the decodes is printed as a sanity check. Times: wall clock and this process's CPU time (on a shared
machine the wall clock counts other jobs' time too).

    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_decoding.py           # 5,000 words, 3-gram, 20 videos
    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_decoding.py --quick   # CI: 200 words, bigram, 3 videos
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from myovision.decoding.hclg import compose
from myovision.decoding.kneser_ney import estimate_kneser_ney
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.pronounce import cmu_dictionary
from myovision.decoding.token_passing import TokenPassingDecoder
from myovision.decoding.word_lm import WordGrammar, read_arpa
from myovision.metrics import word_error_rate

FPS = 25


def vocabulary(n: int, rng: np.random.Generator) -> list[str]:
    """n seeded words of CMUdict with 3-8 letters a-z and 2-6 phones (fit 75 frames several to a sentence)."""
    table = cmu_dictionary()
    pool = sorted(w for w, p in table.items() if w.isalpha() and 3 <= len(w) <= 8 and 2 <= len(p) <= 6)
    return sorted(rng.choice(pool, n, replace=False).tolist())


def markov_text(words: list[str], sentences: int, rng: np.random.Generator) -> list[list[str]]:
    successors = rng.integers(0, len(words), (len(words), 20))  # (V, 20) each word's possible next words
    weights = 1.0 / np.arange(1, 21)
    weights /= weights.sum()
    text = []
    for _ in range(sentences):
        w = int(rng.integers(len(words)))
        sentence = [words[w]]
        for _ in range(int(rng.integers(3, 8)) - 1):
            w = int(successors[w, rng.choice(20, p=weights)])
            sentence.append(words[w])
        text.append(sentence)
    return text


def emissions(states: list[int], frames: int, num_states: int, margin: float, rng) -> np.ndarray:
    """(frames, num_states) log posteriors of noisy logits peaked on `states` spread evenly over the frames."""
    aligned = np.asarray(states)[np.arange(frames) * len(states) // frames]
    logits = rng.normal(size=(frames, num_states))
    logits[np.arange(frames), aligned] += margin
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--words", type=int, default=5000, help="lexicon size")
    p.add_argument("--order", type=int, default=3, help="word n-gram order")
    p.add_argument("--sentences", type=int, default=20000, help="sentences of LM training text")
    p.add_argument("--videos", type=int, default=20, help="3-second utterances decoded")
    p.add_argument("--margin", type=float, default=4.0, help="logit margin of the aligned state")
    p.add_argument("--beams", type=float, nargs="+", default=[16.0, 10.0], help="beams (nats) to time")
    p.add_argument("--max-active", type=int, nargs="+", default=[10000, 2000], help="histogram limits, one per beam")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.words, args.sentences, args.videos, args.order = 200, 800, 3, 2
    rng = np.random.default_rng(0)
    words = vocabulary(args.words, rng)
    table = cmu_dictionary()
    lexicon = Lexicon({w: table[w] for w in words})
    hmms = HmmSet(lexicon.units, 3)
    text = markov_text(words, args.sentences, rng)
    start = time.perf_counter()
    arpa = Path(tempfile.mkdtemp()) / "lm.arpa"
    arpa.write_text(estimate_kneser_ney(text, args.order)[0])
    lm = read_arpa(arpa)
    lm_s = time.perf_counter() - start
    start = time.perf_counter()
    graph = compose(WordGrammar.from_arpa(lm), lambda w: [s for u in lexicon[w] for s in hmms.states_of(u)],
                    hmms.self_loop, silence_states=hmms.states_of(lexicon.silence))
    graph_s = time.perf_counter() - start
    grams = {k: sum(len(g) == k for g in lm.log10_prob) for k in range(1, args.order + 1)}
    print(f"{len(words)} words, {len(hmms.units)} units x 3 states; {args.order}-gram from {len(text)} sentences "
          f"{grams} in {lm_s:.1f} s; graph {graph.num_nodes:,} nodes, {len(graph.arc_src):,} arcs in {graph_s:.1f} s")
    frames = 3 * FPS
    utterances = []
    while len(utterances) < args.videos:  # sentences whose states fit 75 frames
        sentence = text[int(rng.integers(len(text)))]
        states = [s for w in sentence for u in lexicon[w] for s in hmms.states_of(u)]
        if len(states) <= frames:
            utterances.append((sentence, emissions(states, frames, hmms.num_states, args.margin, rng)))
    log_priors = np.full(hmms.num_states, -np.log(hmms.num_states))
    for beam, max_active in zip(args.beams, args.max_active):
        decoder = TokenPassingDecoder(graph, beam, max_active)
        start, cpu = time.perf_counter(), time.process_time()
        hyps = [" ".join(decoder.decode(ll - log_priors).words) for _, ll in utterances]
        seconds = (time.perf_counter() - start) / len(utterances)
        cpu_seconds = (time.process_time() - cpu) / len(utterances)
        wer = word_error_rate(hyps, [" ".join(s) for s, _ in utterances])["wer"]
        print(f"beam {beam:g}, max_active {max_active}: per 3 s video {seconds * 1000:.0f} ms wall, "
              f"{cpu_seconds * 1000:.0f} ms CPU; real-time factor {seconds / 3:.3f} wall, {cpu_seconds / 3:.3f} CPU; "
              f"WER {wer:.1%} on {len(utterances)} videos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
