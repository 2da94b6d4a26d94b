"""Claim (Zeng, Du, Wang; issue 6): on real GRID video (speaker 1, 250 shared videos), train on 200 and test on
the other 50; word error rate of hybrid HMM decoding with GRID's grammar, CTC greedy and CTC + a character
LM, per front-end. Target: <= 15% WER with the best setting.

The paper's comparison: the same network trained twice per front-end, once on frame targets over HMM states
(objective "hmm", decoded with the grammar) and once with CTC over characters (objective "ctc", decoded
greedily and by prefix beam search with a character 4-gram of the training transcripts). Baseline in the
same run: the trivial decoder that always outputs the grammar's most frequent training word per slot.

CPU budget (2 cores): mouth crops 32 x 48 from the fixed box, cached once; trunks of widths 16-32-64-128 (a
quarter of ResNet-18's); a 3-layer Transformer (d_model 128) instead of the paper's 6 x 512; phone HMMs with
one state each; flips, shifts of up to 2 pixels and one time mask of up to 8 frames. Test = every 5th video by
sorted id, train = the rest. Results go to `--out` (metrics per front-end and objective as they finish); a rerun
with the same `--out` skips the pairs its summary.json already holds.

    python benchmarks/bench_lipread_grid.py --quick          # CI: 16 videos, 1 front-end, 1 epoch, no WER claim
    OMP_NUM_THREADS=1 python benchmarks/bench_lipread_grid.py --frontends resnet18_3dstem stires3d --epochs 40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from myovision.data.grid import read_grid
from myovision.decoding.grammar import GRID_SLOT_NAMES
from myovision.decoding.lm import NgramLM
from myovision.fileio import atomic_write_text
from myovision.models.lipread_frontends import FRONTENDS
from myovision.training.lipread import LipReadConfig, fit_lipreader, save_run
from myovision.training.lipread_eval import LipDecoder, estimate_word_lm, evaluate, score, slot_accuracy
from myovision.video.mouth import MouthCache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_data import SHARED_DATA  # noqa: E402

SMALL = {"widths": (16, 32, 64, 128)}
BACKEND = {"d_model": 128, "num_layers": 3, "num_heads": 4, "dim_feedforward": 256}
RECIPE = {"crop_size": (32, 48), "lr": 2e-3, "weight_decay": 1e-2, "batch_size": 8}
DECODERS_OF = {"hmm": ("hmm",), "ctc": ("ctc", "ctc-lm"), "joint": ("hmm", "ctc", "ctc-lm")}


def majority_baseline(train, test) -> dict:
    """The most frequent training word of every slot, for every test video."""
    guess = " ".join(Counter(u.words[i] for u in train).most_common(1)[0][0] for i in range(len(GRID_SLOT_NAMES)))
    hyps, refs = [guess] * len(test), [u.text for u in test]
    return {**score(hyps, refs), "slot_accuracy": slot_accuracy(hyps, refs)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frontends", nargs="+", default=list(FRONTENDS), choices=FRONTENDS)
    p.add_argument("--objectives", nargs="+", default=["hmm", "ctc"], choices=list(DECODERS_OF))
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--realign", action="store_true", help="re-align the HMM targets with the model (default: "
                   "train on the word alignments' targets throughout)")
    p.add_argument("--time-masks", type=int, default=0, help="augmentation: spans of up to 8 frames masked")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=None, help="default runs/bench_lipread_grid (runs/bench_lipread_grid_quick)")
    p.add_argument("--cache", default="runs/mouth_cache")
    args = p.parse_args()
    root = SHARED_DATA / "grid-s1"
    if not root.is_dir():
        print(f"skipped: {root} is absent")
        return 0
    torch.manual_seed(0)
    utts = read_grid(root)
    test, train = utts[::5], [u for i, u in enumerate(utts) if i % 5]
    frontends, objectives, epochs = args.frontends, args.objectives, args.epochs
    if args.quick:
        train, test, frontends, objectives, epochs = train[:16], test[:4], frontends[:1], ["joint"], 1
    out = Path(args.out or ("runs/bench_lipread_grid_quick" if args.quick else "runs/bench_lipread_grid"))
    lm = NgramLM.read_arpa(atomic_write_text(out / "lm.arpa", estimate_word_lm(train)))
    baseline = majority_baseline(train, test)
    print(f"{len(train)} train / {len(test)} test videos, front-ends {frontends}, objectives {objectives}, "
          f"{epochs} epochs; majority-word baseline WER {baseline['wer']:.1%}", flush=True)
    summary_file = out / "summary.json"  # resumable: pairs already in it are kept, not trained again
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() and not args.quick else {}
    summary["majority_baseline"] = baseline
    realign = {} if args.realign else {"realign_after": epochs + 1}
    for name in frontends:
        kwargs = {**SMALL, **({"omega": 2.0} if name in ("sti3d", "stires3d") else {})}
        for objective in objectives:
            if f"train_s_{objective}" in summary.get(name, {}):
                print(name, objective, "already in", summary_file, flush=True)
                continue
            config = LipReadConfig(frontend=name, frontend_kwargs=kwargs, backend_kwargs=BACKEND, objective=objective,
                                   epochs=epochs, time_masks=args.time_masks, **RECIPE, **realign)
            cache = MouthCache(args.cache, config.crop)
            start = time.perf_counter()
            run = fit_lipreader(train, config, cache)
            train_s = time.perf_counter() - start
            folder = out / f"{name}-{objective}"
            save_run(run, folder)
            decoders = {d: LipDecoder(run, d, lm=lm) for d in DECODERS_OF[objective]}
            results = evaluate(run, test, cache, decoders)
            atomic_write_text(folder / "metrics.json", json.dumps(results, indent=1))
            row = summary.setdefault(name, {})
            for d, r in results.items():
                row[d] = {"wer": round(r["wer"], 4), "S": r["substitutions"], "D": r["deletions"],
                          "I": r["insertions"], "slot_accuracy": r["slot_accuracy"]}
            row[f"train_s_{objective}"] = round(train_s)
            row[f"final_loss_{objective}"] = run.history[-1]["train_loss"]
            print(name, objective, json.dumps({d: row[d]["wer"] for d in results}), f"{train_s:.0f} s", flush=True)
            atomic_write_text(summary_file, json.dumps(summary, indent=1))
    if not args.quick:
        best = min((r[d]["wer"], f, d) for f, r in summary.items() if f in FRONTENDS
                   for d in ("hmm", "ctc", "ctc-lm") if d in r)
        verdict = "met" if best[0] <= 0.15 else "NOT met"
        print(f"best: {best[1]} + {best[2]}: WER {best[0]:.1%} against the majority baseline's "
              f"{baseline['wer']:.1%} (target <= 15%: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
