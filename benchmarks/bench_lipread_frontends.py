"""Claim (Zeng, Du, Wang, Table 2): StiRes3D(omega=2) is the cheapest lip-reading front-end, cheaper than the
2D ResNet-18 baseline, P3D and All3D, in both multiply-adds and parameter memory; All3D / StiRes3D is 3.0x
the FLOPs and 3.5x the memory, P3D / StiRes3D 1.9x and 1.8x. Also: CPU time per 3-second video (75 frames
of 88 x 88 mouth crops, GRID's length) against real time, and the HMM decoder's time per GRID utterance.

Multiply-adds are counted on the layers by `myovision.profiling.count_macs` (exact, linear in the number of
frames since time is never strided) and reported per frame, as the paper's FLOPs are (its ResNet-18,
2.70e8, is the per-frame cost at about 88 x 88). Memory is parameter storage in MiB. The exit status is
non-zero when the paper's ordering does not hold.

Last, the CPU training step (forward, backward, AdamW) of StiRes3D against ResNet-18 at equal widths, the
two interleaved in one run (issue 21's goal: StiRes3D / ResNet-18 <= 1.0x; StiRes3D has 2.3x fewer
multiply-adds); a full run records it in benchmarks/ratios.json as `stires3d_vs_resnet18_train_step`.

    python benchmarks/bench_lipread_frontends.py --quick     # CI: one timed run per front-end (< 60 s)
    python benchmarks/bench_lipread_frontends.py             # median of 5 runs after a warm-up
    python benchmarks/bench_lipread_frontends.py --train-only --threads 1    # the training-step ratio alone
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_ratios import RATIOS_HELP, ratios_path, record  # noqa: E402

from myovision.decoding.grammar import GRID_GRAMMAR  # noqa: E402
from myovision.decoding.hmm import grammar_graph, viterbi  # noqa: E402
from myovision.decoding.lexicon import HmmSet, Lexicon  # noqa: E402
from myovision.models.lipread_frontends import FRONTENDS  # noqa: E402
from myovision.profiling import count_macs, count_params, cpu_latency_ms, param_memory_mb  # noqa: E402
from myovision.registry import create_model  # noqa: E402

PAPER = {  # Table 2 and 4: memory MB, FLOPs x 1e8
    "resnet18_3dstem": (56.60, 2.7049), "all3d": (155.88, 6.6091), "p3d": (88.07, 3.4205),
    "sti3d": (39.69, 2.0117), "stires3d": (44.48, 2.2286),
}
ORDER = ("stires3d", "resnet18_3dstem", "p3d", "all3d")
FPS, SECONDS = 25, 3.0


def hmm_decode_ms(repeats: int) -> float:
    """Median ms to decode one 75-frame utterance over the GRID grammar (character HMMs, 1 state each)."""
    lexicon = Lexicon.spelled(GRID_GRAMMAR.words)
    hmms = HmmSet(lexicon.units, 1)
    graph = grammar_graph(GRID_GRAMMAR, lexicon, hmms)
    ll = np.log(np.random.default_rng(0).dirichlet(np.ones(hmms.num_states), size=int(FPS * SECONDS)))
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        viterbi(ll, graph)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times[1:]))


def train_step_seconds(names: tuple[str, ...], widths: tuple[int, ...], batch: int, crop: tuple[int, int],
                       rounds: int) -> dict[str, float]:
    """Fastest of `rounds` CPU training steps (forward, mean-square loss, backward, AdamW) per front-end, the
    front-ends interleaved round by round so that a changing machine load hits all alike."""
    video = torch.randn(batch, 1, int(FPS * SECONDS), *crop)
    steps = {}
    for name in names:
        torch.manual_seed(0)
        model = create_model(name, widths=widths).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            model(video).square().mean().backward()
            optimizer.step()

        step()  # warm-up
        steps[name] = step
    best = dict.fromkeys(names, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def cost_table(args, frames: int) -> tuple[dict, float, bool]:
    """Prints each front-end's parameters, memory, MACs and CPU latency against the paper's Table 2, and the HMM
    decoding time; returns (rows by front-end, decode ms, whether the paper's ordering holds)."""
    repeats = 1 if args.quick else 5
    rows = {}
    for name in FRONTENDS:
        model = create_model(name, **({"omega": args.omega} if name in ("sti3d", "stires3d") else {})).eval()
        macs = count_macs(model, torch.randn(1, 1, 5, args.size, args.size)) / 5  # per frame
        latency = cpu_latency_ms(model, torch.randn(1, 1, frames, args.size, args.size), repeats=repeats)
        rows[name] = {"params": count_params(model), "memory_mb": param_memory_mb(model), "macs_per_frame": macs,
                      "latency_ms": latency, "real_time_factor": latency / (SECONDS * 1000)}
        del model
    print(f"input: 1 x 1 x {frames} x {args.size} x {args.size} (3 s at {FPS} fps), {args.threads} CPU thread(s), "
          f"omega={args.omega}, {'1 run' if args.quick else 'median of 5 runs'} after a warm-up")
    print(f"{'front-end':<16} {'params':>11} {'MiB':>7} {'paper MB':>8} {'MMACs/frame':>12} {'paper MFLOPs':>12} "
          f"{'ms / 3 s video':>14} {'x real time':>11}")
    for name, r in rows.items():
        mem, flops = PAPER[name]
        print(f"{name:<16} {r['params']:>11,} {r['memory_mb']:>7.2f} {mem:>8.2f} {r['macs_per_frame'] / 1e6:>12.1f} "
              f"{flops * 100:>12.1f} {r['latency_ms']:>14.0f} {1 / r['real_time_factor']:>11.1f}")
    print("\nratio to StiRes3D      measured MACs  paper FLOPs   measured memory  paper memory")
    for name in ("all3d", "p3d", "resnet18_3dstem", "sti3d"):
        m, s, pm, ps = rows[name], rows["stires3d"], PAPER[name], PAPER["stires3d"]
        print(f"{name:<22} {m['macs_per_frame'] / s['macs_per_frame']:>12.2f}x {pm[1] / ps[1]:>11.2f}x "
              f"{m['memory_mb'] / s['memory_mb']:>16.2f}x {pm[0] / ps[0]:>12.2f}x")
    sti, res = rows["sti3d"], rows["stires3d"]
    print(f"{'StiRes3D - Sti3D':<22} {(res['macs_per_frame'] - sti['macs_per_frame']) / 1e6:>+10.1f} M "
          f"{(PAPER['stires3d'][1] - PAPER['sti3d'][1]) * 100:>+10.1f} M "
          f"{res['memory_mb'] - sti['memory_mb']:>+14.2f} MiB "
          f"{PAPER['stires3d'][0] - PAPER['sti3d'][0]:>+9.2f} MB   (the point-wise shortcuts)")
    decode = hmm_decode_ms(3 if args.quick else 20)
    print(f"\nHMM Viterbi decode over the GRID grammar, 75 frames: {decode:.1f} ms per utterance")
    ok = all([rows[a][k] < rows[b][k] for a, b in zip(ORDER, ORDER[1:]) for k in ("macs_per_frame", "memory_mb")])
    print(f"paper's ordering StiRes3D < ResNet-18 < P3D < All3D in MACs and memory: {'holds' if ok else 'FAILS'}")
    return rows, decode, ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one timed run per front-end, 2 training steps each (CI)")
    p.add_argument("--size", type=int, default=88, help="mouth crop height and width (default 88)")
    p.add_argument("--omega", type=float, default=2.0, help="StiRes3D / Sti3D width factor (default 2, the paper's)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch intra-op threads (default: torch's, all cores)")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    p.add_argument("--train-widths", type=int, nargs=4, default=(16, 32, 64, 128),
                   help="stage widths of the training-step comparison (default: `myovision lipread train`'s)")
    p.add_argument("--train-batch", type=int, default=8, help="videos per training step (default 8)")
    p.add_argument("--train-crop", type=int, nargs=2, default=(32, 48),
                   help="mouth crop HEIGHT WIDTH of the training-step comparison (default 32 48)")
    p.add_argument("--train-rounds", type=int, default=None,
                   help="training steps timed per front-end, the fastest counts (default: 2 with --quick, else 7)")
    p.add_argument("--train-only", action="store_true",
                   help="only the training-step comparison (no cost table, no decoding time)")
    p.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    frames = int(FPS * SECONDS)
    rows, decode, ok = ({}, None, True) if args.train_only else cost_table(args, frames)
    widths, crop = tuple(args.train_widths), tuple(args.train_crop)
    rounds = args.train_rounds or (2 if args.quick else 7)
    steps = train_step_seconds(("resnet18_3dstem", "stires3d"), widths, args.train_batch, crop, rounds)
    step_ratio = steps["stires3d"] / steps["resnet18_3dstem"]
    print(f"\ntraining step (forward + backward + AdamW), {args.train_batch} x 1 x {frames} x {crop[0]} x {crop[1]}, "
          f"widths {list(widths)}, fastest of {rounds}, interleaved:")
    for name, sec in steps.items():
        print(f"  {name:<16} {sec * 1e3:8.1f} ms")
    print(f"  StiRes3D / ResNet-18 training step: {step_ratio:.2f}x (goal <= 1.0x)")
    default_setting = (widths, args.train_batch, crop) == ((16, 32, 64, 128), 8, (32, 48))
    record(ratios_path(args.ratios, args.quick) if default_setting else None, "stires3d_vs_resnet18_train_step",
           step_ratio, quick=args.quick,
           higher_is_better=False, command="python benchmarks/bench_lipread_frontends.py" + (" --quick" if args.quick else "")
           + f" --threads {args.threads}",
           means=f"StiRes3D(omega 2) / ResNet-18 CPU training step time, widths {list(widths)}, "
                 f"{args.train_batch} x 75 x {crop[0]} x {crop[1]} videos")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"frontends": rows, "hmm_decode_ms": decode, "threads": args.threads, "size": args.size}, f,
                      indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
