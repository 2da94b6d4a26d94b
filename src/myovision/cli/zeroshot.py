"""`myovision zeroshot`: zero-shot action recognition with a CLIP video model (MAXI / ViFi-CLIP)."""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import command_group, example_parser, train_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "zeroshot", "zero-shot action recognition from class names (CLIP video models, MAXI)",
                        "myovision zeroshot demo --out runs/zeroshot")

    ev = example_parser(sub, "eval", "top-1/top-5 (or mAP) of a CLIP video model over a class list; writes "
                        "metrics.json and scores.csv under --out",
                        "myovision zeroshot eval --checkpoint models/clip-vit-b16 --classes ucf101.txt "
                        "--videos ucf101_split1.csv --out runs/ucf101")
    ev.add_argument("--checkpoint", required=True,
                    help="folder with config.json + model.safetensors (CLIPModel.save_pretrained) and tokenizer files, "
                    "or the run folder of `zeroshot demo`")
    ev.add_argument("--classes", required=True, help="class names, one per line")
    ev.add_argument("--videos", required=True, help="CSV with columns path,label (paths relative to the CSV)")
    ev.add_argument("--out", required=True, help="output folder")
    ev.add_argument("--frames", type=int, default=8, help="frames per video, spread uniformly (default: 8)")
    ev.add_argument("--multi-label", action="store_true", help="labels separated by ';', report mAP (Charades)")
    ev.add_argument("--ensemble", action="store_true", help="the 28 Kinetics prompt templates instead of one")
    ev.add_argument("--few-shot", default=None, metavar="CSV",
                    help="labelled videos (path,label) to fine-tune on before evaluating (few-shot)")
    ev.add_argument("--epochs", type=int, default=10, help="few-shot fine-tuning epochs (default: 10)")
    ev.add_argument("--cross-frame-layers", type=int, default=None, help="cross-frame attention in the last k layers")
    ev.set_defaults(func=_eval)

    from myovision.zeroshot.config import DemoConfig

    demo = train_parser(sub, "demo", "MAXI end to end on seeded synthetic videos: zero-shot top-1 on held-out "
                        "classes before and after MIL fine-tuning with text bags; writes a run folder (config.yaml, "
                        "run.json, the fine-tuned model, metrics.json, report.html)",
                        "myovision zeroshot demo --out runs/zeroshot --seeds 0,1,2", DemoConfig)
    demo.add_argument("--quick", action="store_true", help="a tiny run that checks the path (numbers not "
                      "meaningful): the sizes of myovision.zeroshot.config.QUICK, unless given on the command line")
    demo.set_defaults(func=_demo)


def _eval(args: argparse.Namespace) -> int:
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text
    from myovision.models.clip_video import load_clip_video
    from myovision.runs import write_metrics
    from myovision.zeroshot.dictionary import read_class_names
    from myovision.zeroshot.evaluate import evaluate_video_list, read_video_list
    from myovision.zeroshot.prompts import KINETICS_TEMPLATES, SINGLE_TEMPLATE
    from myovision.zeroshot.videos import read_clip

    if args.frames < 1:
        raise InputError(f"--frames must be >= 1, got {args.frames}")
    model = load_clip_video(args.checkpoint, cross_frame_layers=args.cross_frame_layers)
    if model.tokenizer is None:
        raise InputError("the checkpoint folder has no tokenizer (vocab.json + merges.txt, tokenizer.json or "
                         "words.txt)", args.checkpoint)
    names = read_class_names(args.classes)
    videos = read_video_list(args.videos, names, multi_label=args.multi_label)

    def read(path):
        return read_clip(path, args.frames, model.image_size)

    if args.few_shot:
        import torch

        from myovision.zeroshot.finetune import few_shot_finetune

        shots = read_video_list(args.few_shot, names)
        print(f"few-shot fine-tuning on {len(shots.paths)} videos")
        few_shot_finetune(model, torch.stack([read(p) for p in shots.paths]), [y[0] for y in shots.labels], names,
                          epochs=args.epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics, scores = evaluate_video_list(model, videos, names, read=read, cache_dir=out / "cache",
                                          template=KINETICS_TEMPLATES if args.ensemble else SINGLE_TEMPLATE)
    write_metrics(out, metrics)
    rows = ["path," + ",".join(f'"{n}"' for n in names)]
    rows += [f"{p}," + ",".join(f"{s:.6f}" for s in row) for p, row in zip(videos.paths, scores.tolist())]
    atomic_write_text(out / "scores.csv", "\n".join(rows) + "\n")
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}
    print(" ".join(f"{k} {v}" for k, v in shown.items()))
    print(out / "metrics.json")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from myovision.cli import global_rank, start_train_run
    from myovision.config import config_from_args
    from myovision.models.clip_video import save_clip_video
    from myovision.runs import METRICS, write_metrics
    from myovision.training.options import device_name
    from myovision.zeroshot.config import QUICK, DemoConfig
    from myovision.zeroshot.demo import run_demo, seed_folder
    from myovision.zeroshot.report import demo_report

    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    config = config_from_args(DemoConfig, args)
    started = start_train_run(args, config, device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    models: list = []
    metrics = run_demo(config=config, out=out, resume=args.resume, progress=True, models=models)
    if global_rank() != 0:
        return 0
    for run, model in zip(metrics["seeds"], models):
        save_clip_video(seed_folder(out, run["seed"]), model)
    save_clip_video(out, models[0])  # the run's model: the first seed's
    write_metrics(out, metrics)
    report = demo_report(out, metrics)
    print(f"held-out zero-shot top-1 {metrics['zero_shot_top1']:.3f} after MIL fine-tuning, "
          f"{metrics['zero_shot_top1_before']:.3f} before, chance {metrics['chance']:.3f} "
          f"(mean over seeds {config.seeds})")
    print(out / METRICS)
    print(report)
    return 0
