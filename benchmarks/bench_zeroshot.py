"""Claims (issue 7, MAXI on CLIP):

1. Speed: zero-shot evaluation in videos/s on CPU with the class text embeddings computed once and cached,
   against recomputing them for every video; the ratio is measured in one run on one model (a small
   CLIP video model: ViT width 256, 4 layers, 112 px, patch 16, 8 frames; 101 classes as UCF101).
2. The demo (`myovision zeroshot demo`): zero-shot top-1 on 12 held-out classes before and after MIL
   fine-tuning with text bags, for each recipe (MAXI's, the earlier myovision one), mean and std over seeds.
3. Repeatability: the first recipe's first seed run twice in this process gives identical metrics (the demo runs
   deterministic kernels, keys every draw by the seed; the thread count is fixed with --threads).

    python benchmarks/bench_zeroshot.py --quick    # CI: speed on 8 videos, demo on one seed in the quick setting
    python benchmarks/bench_zeroshot.py --small    # speed on 8 videos, demo at SMALL sizes over seeds 0-4, both recipes
    python benchmarks/bench_zeroshot.py            # speed on 48 videos, demo over seeds 0-4, both recipes
    python benchmarks/bench_zeroshot.py --recipes myovision --warmup-epochs 5   # ablation: MAXI's schedule shape
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from myovision.zeroshot import evaluate
from myovision.zeroshot.prompts import SINGLE_TEMPLATE, class_embeddings


def speed(num_videos: int, num_classes: int = 101, frames: int = 8) -> dict:
    names = [f"action number {i}" for i in range(num_classes)]
    tok = WordTokenizer.from_texts(names + [SINGLE_TEMPLATE])
    cfg = tiny_clip_config(image_size=112, patch_size=16, width=256, layers=4, heads=4, projection_dim=256,
                           vocab_size=tok.vocab_size, context_length=16, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = CLIPVideo(cfg, tokenizer=tok).eval()
    clips = [torch.randn(frames, 3, 112, 112) for _ in range(num_videos)]
    evaluate.zero_shot_scores(model, clips[:2], class_embeddings(model, names), batch_size=1)  # warm-up

    start = time.perf_counter()
    embeds = evaluate.cached_class_embeddings(model, names)
    cached = evaluate.zero_shot_scores(model, clips, embeds, batch_size=1)
    t_cached = time.perf_counter() - start

    start = time.perf_counter()
    fresh = torch.cat([evaluate.zero_shot_scores(model, [c], class_embeddings(model, names), batch_size=1)
                       for c in clips])
    t_fresh = time.perf_counter() - start
    assert torch.allclose(cached, fresh, atol=1e-5)
    return {"videos": num_videos, "classes": num_classes, "frames": frames, "threads": torch.get_num_threads(),
            "cached_videos_per_s": num_videos / t_cached, "recomputed_videos_per_s": num_videos / t_fresh,
            "ratio": t_fresh / t_cached}


#: demo sizes of `--small`: the 5-seed comparison at a fifth to a half of the demo's data, for a loaded machine
SMALL = dict(pretrain_videos=150, pretrain_epochs=4, train_videos=96, test_videos=60)
QUICK = dict(pretrain_videos=24, pretrain_epochs=1, train_videos=32, test_videos=24, epochs=1, train_frames=2,
             eval_frames=2)


def demo_rows(recipe: str, seeds: list[int], sizes: dict, warmup_epochs: float | None = None) -> dict:
    """The demo with `recipe` over `seeds`: per-seed before/after top-1 and their mean and std over seeds."""
    import numpy as np

    from myovision.zeroshot.demo import DemoConfig, run_demo

    start = time.perf_counter()
    demo = run_demo(seeds, DemoConfig(recipe=recipe, warmup_epochs=warmup_epochs, **sizes),
                    log=lambda line: print(f"{recipe}: {line}", flush=True) if "top-1" in line else None)
    before = [r["zero_shot_top1_before"] for r in demo["seeds"]]
    after = [r["zero_shot_top1"] for r in demo["seeds"]]
    return {"recipe": recipe, "warmup_epochs": warmup_epochs, "seeds": seeds, "before": before, "after": after, "chance": demo["chance"],
            "before_mean": float(np.mean(before)), "before_std": float(np.std(before)),
            "after_mean": float(np.mean(after)), "after_std": float(np.std(after)),
            "seconds": time.perf_counter() - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI sizes: a tiny demo, numbers not meaningful")
    parser.add_argument("--small", action="store_true", help="the demo at the sizes of SMALL (for a loaded machine)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="demo seeds (default: 0-4; quick: 0)")
    parser.add_argument("--recipes", nargs="+", default=["maxi", "myovision"], help="MIL recipes to compare")
    parser.add_argument("--warmup-epochs", type=float, default=None,
                        help="override every recipe's warm-up epochs (an ablation; default: each recipe's own)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (results depend on it)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    s = speed(8 if args.quick or args.small else 48)
    print(f"zero-shot eval, {s['classes']} classes, {s['frames']} frames, {s['threads']} thread(s): "
          f"{s['cached_videos_per_s']:.2f} videos/s with cached text embeddings, "
          f"{s['recomputed_videos_per_s']:.2f} recomputing them per video: {s['ratio']:.1f}x")

    seeds = args.seeds or ([0] if args.quick else [0, 1, 2, 3, 4])
    sizes = QUICK if args.quick else SMALL if args.small else {}
    rows = []
    for recipe in args.recipes:
        row = demo_rows(recipe, seeds, sizes, args.warmup_epochs)
        rows.append(row)
        print(f"demo, recipe {recipe}, seeds {seeds}: held-out top-1 {row['before_mean']:.3f} +- "
              f"{row['before_std']:.3f} without fine-tuning -> {row['after_mean']:.3f} +- {row['after_std']:.3f} "
              f"after MIL fine-tuning (chance {row['chance']:.3f}; per seed {[round(a, 3) for a in row['after']]}; "
              f"{row['seconds']:.0f} s)")
    again = demo_rows(args.recipes[0], seeds[:1], sizes, args.warmup_epochs)
    same = again["before"][0] == rows[0]["before"][0] and again["after"][0] == rows[0]["after"][0]
    print(f"repeat of recipe {args.recipes[0]} seed {seeds[0]}: {'identical' if same else 'DIFFERENT'} metrics "
          f"({again['after'][0]!r} vs {rows[0]['after'][0]!r})")
    print(json.dumps({"speed": s, "sizes": sizes, "demo": rows, "repeat_identical": same}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
