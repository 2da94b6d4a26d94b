"""report.html of `myovision zeroshot demo`: the data line (synthetic), top-1 (and top-k where it says
something: k <= classes / 4) before and after MIL fine-tuning per seed, and each seed's training curves."""

from __future__ import annotations

from pathlib import Path

from myovision.report.html import escape, figure, page, table, training_curves_png, write_page
from myovision.zeroshot.demo import seed_folder
from myovision.zeroshot.evaluate import TOP_K, top_k_shown

STAGES = (("pretrain", "image-text pretraining"), ("mil", "MIL fine-tuning with text bags"))


def demo_report(out: str | Path, metrics: dict) -> Path:
    """Write `out/report.html` for the demo's `metrics` (as `run_demo` returns them); return its path."""
    out = Path(out)
    shown = top_k_shown(metrics["num_classes"])
    rows = []
    for run in [*metrics["seeds"], {**metrics, "seed": "mean"}]:
        row = {"seed": run["seed"], "top-1 before": run["zero_shot_top1_before"], "top-1 after": run["zero_shot_top1"]}
        if shown:
            row |= {f"top-{TOP_K} before": run[f"zero_shot_top{TOP_K}_before"],
                    f"top-{TOP_K} after": run[f"zero_shot_top{TOP_K}"]}
        rows.append(row | {"test videos": run["test_videos"], "dictionary match": run["dictionary_match_accuracy"],
                           "mean bag size": run["mean_bag_size"]})
    rule = (f"top-{TOP_K} shown" if shown else f"no top-{TOP_K}") + (
        f": top-k is reported only where k <= classes / 4 ({metrics['num_classes']} held-out classes)")
    results = ("<h2>Zero-shot accuracy on the held-out classes</h2>"
               f"<p>Chance {metrics['chance']:.3f}; {escape(rule)}. Held-out classes: "
               f"{escape(', '.join(metrics['held_out_classes']))} (their verbs are in no dictionary entry).</p>"
               + table(rows))
    curves = ["<h2>Training curves</h2>"]
    for run in metrics["seeds"]:
        for stage, title in STAGES:
            png = training_curves_png(seed_folder(out, run["seed"]) / stage / "logs")
            if png is not None:
                curves.append(figure(png, f"seed {run['seed']} {stage}", f"seed {run['seed']}: {title}, "
                                     "training loss per step"))
    seeds = ", ".join(str(r["seed"]) for r in metrics["seeds"])
    document = page(
        "Zero-shot action recognition: MAXI demo",
        data_note=f"synthetic: seeded videos of coloured shapes moving in one of five ways "
                  f"(myovision.zeroshot.synthetic), seeds {seeds}; no real corpus",
        subtitle="A tiny CLIP pretrained on frames with static captions, then MIL fine-tuned on unlabelled videos "
                 "matched to an action dictionary of the seen classes; zero-shot top-1 on 12 held-out classes.",
        sections=[("results", "results", results), ("curves", "training curves", "".join(curves))])
    return write_page(out, document)
