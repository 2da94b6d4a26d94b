"""Claim (Zeng, Du, Wang; issue 6): on real GRID video (speaker 1, 250 shared videos), train on 200 and test on
the other 50; word error rate of hybrid HMM decoding with GRID's grammar, CTC greedy and CTC + a character
LM, per front-end. Target: <= 15% WER with the best setting.

CPU budget (2 shared cores): mouth crops 32 x 48, cached once; trunks of widths 16-32-64-128 (a quarter of
ResNet-18's); a 3-layer Transformer (d_model 128) instead of the paper's 6 x 512; one network per front-end
trained jointly on both heads (objective "joint"); phone HMMs with one state each. Test = every 5th video by
sorted id, train = the rest. Results go to `--out` (metrics per front-end as they finish).

    python benchmarks/bench_lipread_grid.py --quick          # CI: 20 videos, 1 front-end, 1 epoch, no WER claim
    python benchmarks/bench_lipread_grid.py --frontends resnet18_3dstem stires3d --epochs 15
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from myovision.data.grid import read_grid
from myovision.decoding.lm import NgramLM
from myovision.fileio import atomic_write_text
from myovision.models.lipread_frontends import FRONTENDS
from myovision.training.lipread import LipReadConfig, fit_lipreader, save_run
from myovision.training.lipread_eval import DECODERS, LipDecoder, estimate_word_lm, evaluate
from myovision.video.mouth import MouthCache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_data import SHARED_DATA  # noqa: E402

SMALL = {"widths": (16, 32, 64, 128)}
BACKEND = {"d_model": 128, "num_layers": 3, "num_heads": 4, "dim_feedforward": 256}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frontends", nargs="+", default=list(FRONTENDS), choices=FRONTENDS)
    p.add_argument("--epochs", type=int, default=15)
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
    frontends, epochs = args.frontends, args.epochs
    if args.quick:
        train, test, frontends, epochs = train[:16], test[:4], frontends[:1], 1
    out = Path(args.out or ("runs/bench_lipread_grid_quick" if args.quick else "runs/bench_lipread_grid"))
    lm_file = atomic_write_text(out / "lm.arpa", estimate_word_lm(train))
    lm = NgramLM.read_arpa(lm_file)
    print(f"{len(train)} train / {len(test)} test videos, front-ends {frontends}, {epochs} epochs", flush=True)
    summary = {}
    for name in frontends:
        kwargs = {**SMALL, **({"omega": 2.0} if name in ("sti3d", "stires3d") else {})}
        config = LipReadConfig(frontend=name, frontend_kwargs=kwargs, backend_kwargs=BACKEND, objective="joint",
                               crop_size=(32, 48), epochs=epochs, realign_after=max(1, epochs // 2),
                               realign_every=max(1, epochs // 4))
        cache = MouthCache(args.cache, config.crop)
        start = time.perf_counter()
        run = fit_lipreader(train, config, cache)
        train_s = time.perf_counter() - start
        save_run(run, out / name)
        decoders = {d: LipDecoder(run, d, lm=lm) for d in DECODERS}
        start = time.perf_counter()
        results = evaluate(run, test, cache, decoders)
        eval_s = time.perf_counter() - start
        atomic_write_text(out / name / "metrics.json", json.dumps(results, indent=1))
        summary[name] = {d: round(r["wer"], 4) for d, r in results.items()} | {
            "train_s": round(train_s), "eval_s": round(eval_s), "final_loss": run.history[-1]["train_loss"]}
        print(name, json.dumps(summary[name]), flush=True)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    if not args.quick:
        best = min((r[d], f, d) for f, r in summary.items() for d in DECODERS)
        verdict = "met" if best[0] <= 0.15 else "NOT met"
        print(f"best: {best[1]} + {best[2]}: WER {best[0]:.1%} (target <= 15%: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
