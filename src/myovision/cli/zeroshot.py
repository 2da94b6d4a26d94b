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
    ev.add_argument("--frames", type=int, default=32, help="frames per video, spread uniformly (default: 32, MAXI's)")
    ev.add_argument("--skip-bad", action="store_true", help="leave out listed videos that are missing")
    ev.add_argument("--allow-outside-root", action="store_true",
                    help="accept listed videos that resolve outside the list's folder (refused by default)")
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

    from myovision.zeroshot.config import VideoTrainConfig

    train = train_parser(sub, "train", "MAXI on your unlabelled videos: dictionary matching with the CLIP checkpoint, "
                         "text bags from captions and phrases, MIL fine-tuning; writes a run folder that "
                         "`zeroshot eval --checkpoint RUN` evaluates (--resume continues it)",
                         "myovision zeroshot train --videos k400_train.txt --dictionary k400.txt --captions captions "
                         "--phrases phrases --checkpoint models/clip-vit-b16 --out runs/maxi", VideoTrainConfig)
    train.add_argument("--allow-outside-root", action="store_true",
                       help="accept listed videos that resolve outside their root ('..', absolute paths, links)")
    train.set_defaults(func=_train)

    k600 = example_parser(sub, "k600-classes", "the three zero-shot class lists of Kinetics-600 (160 of the classes "
                          "not in Kinetics-400 each, seeded), as split1.txt .. split3.txt under --out",
                          "myovision zeroshot k600-classes --k400 k400.txt --k600 k600.txt --out k600_zs")
    k600.add_argument("--k400", required=True, help="Kinetics-400 class list, one per line")
    k600.add_argument("--k600", required=True, help="Kinetics-600 class list, one per line")
    k600.add_argument("--seed", type=int, default=0, help="seed of the three draws (default: 0)")
    k600.add_argument("--size", type=int, default=160, help="classes per split (default: 160)")
    k600.add_argument("--out", required=True, help="output folder")
    k600.set_defaults(func=_k600)

    noisy = example_parser(sub, "noisy-dictionary", "an action dictionary padded with N distractor names (MAXI "
                           "suppl. Table 9)", "myovision zeroshot noisy-dictionary --dictionary k400.txt "
                           "--distractors webvid_verbs.txt --n 400 --out k400_800.txt")
    noisy.add_argument("--dictionary", required=True, help="the action dictionary, one name per line")
    noisy.add_argument("--distractors", required=True, help="candidate distractor names, one per line")
    noisy.add_argument("--n", type=int, required=True, help="distractors to add")
    noisy.add_argument("--seed", type=int, default=0, help="seed of the draw (default: 0)")
    noisy.add_argument("--out", required=True, help="the padded dictionary file to write")
    noisy.set_defaults(func=_noisy)

    cap = example_parser(sub, "captions", "BLIP captions of 8 uniformly sampled frames per video, one file per video "
                         "(<video stem>.txt, one caption per line) for `zeroshot train --captions`",
                         "myovision zeroshot captions --model models/blip-large --videos k400_train.txt --out captions")
    cap.add_argument("--model", required=True, help="local Hugging Face BLIP captioning folder")
    cap.add_argument("--videos", required=True, help="video list (as zeroshot train reads it)")
    cap.add_argument("--root", default=None, help="folder the list's paths are relative to (default: the list's)")
    cap.add_argument("--skip-bad", action="store_true", help="leave out listed videos that are missing")
    cap.add_argument("--allow-outside-root", action="store_true",
                     help="accept listed videos that resolve outside their root ('..', absolute paths, links)")
    cap.add_argument("--out", required=True, help="output folder")
    cap.set_defaults(func=_captions)

    phr = example_parser(sub, "phrases", "5 phrases per dictionary text from a local causal language model (MAXI's "
                         "prompt, temperature 0.4), one file per text, for `zeroshot train --phrases`",
                         "myovision zeroshot phrases --model models/llm --dictionary k400.txt --out phrases")
    phr.add_argument("--model", required=True, help="local Hugging Face causal language model folder")
    phr.add_argument("--dictionary", required=True, help="the action dictionary, one name per line")
    phr.add_argument("--seed", type=int, default=0, help="seed of the sampling (default: 0)")
    phr.add_argument("--out", required=True, help="output folder")
    phr.set_defaults(func=_phrases)

    heat = example_parser(sub, "heatmaps", "patch-to-text heatmaps of several checkpoints side by side on the same "
                          "frames (MAXI suppl. Fig. 3-5): one PNG, a row per checkpoint",
                          "myovision zeroshot heatmaps --checkpoints clip=models/clip maxi=runs/maxi --video clap.mp4 "
                          "--text clapping --out clap.png")
    heat.add_argument("--checkpoints", nargs="+", required=True, metavar="[NAME=]FOLDER",
                      help="CLIP or run folders, each optionally named (the row's label; default: the folder name)")
    heat.add_argument("--video", required=True, help="the video")
    heat.add_argument("--text", required=True, help="the text whose similarity is drawn")
    heat.add_argument("--frames", type=int, default=8, help="frames shown, spread uniformly (default: 8)")
    heat.add_argument("--out", required=True, help="the PNG to write")
    heat.set_defaults(func=_heatmaps)

    splits = example_parser(sub, "splits", "zero-shot top-1/top-5 on the three official test splits of UCF101 or "
                            "HMDB51, with their mean and std (MAXI's protocol); writes metrics.json under --out",
                            "myovision zeroshot splits --dataset ucf101 --split-dir ucfTrainTestlist --root UCF-101 "
                            "--checkpoint runs/maxi --out runs/ucf101")
    splits.add_argument("--dataset", required=True, choices=("ucf101", "hmdb51"), help="which split files")
    splits.add_argument("--split-dir", required=True, help="folder of the official split files")
    splits.add_argument("--root", required=True, help="folder of the videos")
    splits.add_argument("--checkpoint", required=True, help="CLIP folder or run folder")
    splits.add_argument("--out", required=True, help="output folder")
    splits.add_argument("--frames", type=int, default=32, help="frames per video (default: 32, MAXI's)")
    splits.add_argument("--skip-bad", action="store_true", help="leave out listed videos that are missing")
    splits.add_argument("--allow-outside-root", action="store_true",
                        help="accept listed videos that resolve outside their root ('..', absolute paths, links)")
    splits.set_defaults(func=_splits)


def _eval(args: argparse.Namespace) -> int:
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text
    from myovision.runs import write_metrics
    from myovision.zeroshot.dictionary import read_class_names
    from myovision.zeroshot.train_videos import load_checkpoint
    from myovision.zeroshot.evaluate import evaluate_video_list, read_video_list
    from myovision.zeroshot.prompts import KINETICS_TEMPLATES, SINGLE_TEMPLATE
    from myovision.zeroshot.videos import read_clip

    if args.frames < 1:
        raise InputError(f"--frames must be >= 1, got {args.frames}")
    model = load_checkpoint(args.checkpoint, cross_frame_layers=args.cross_frame_layers)
    names = read_class_names(args.classes)
    videos = read_video_list(args.videos, names, multi_label=args.multi_label, skip_bad=args.skip_bad,
                             allow_outside_root=args.allow_outside_root)

    def read(path):
        return read_clip(path, args.frames, model.image_size)

    if args.few_shot:
        import torch

        from myovision.zeroshot.finetune import few_shot_finetune

        shots = read_video_list(args.few_shot, names, allow_outside_root=args.allow_outside_root)
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


def _train(args: argparse.Namespace) -> int:
    from myovision.cli import global_rank, start_train_run
    from myovision.config import config_from_args
    from myovision.models.clip_video import save_clip_video
    from myovision.runs import write_metrics
    from myovision.training.options import device_name
    from myovision.zeroshot.config import VideoTrainConfig
    from myovision.zeroshot.train_videos import train_on_videos

    config = config_from_args(VideoTrainConfig, args)
    started = start_train_run(args, config, device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    model, summary = train_on_videos(config, out, resume=args.resume, progress=True,
                                     allow_outside_root=args.allow_outside_root)
    if global_rank() != 0:
        return 0
    save_clip_video(out, model)
    write_metrics(out, summary)
    print(f"fine-tuned on {summary['videos']} videos; evaluate with: myovision zeroshot eval --checkpoint {out} "
          f"--frames {summary['eval_frames']} ...")
    return 0


def _k600(args: argparse.Namespace) -> int:
    from myovision.fileio import atomic_write_text
    from myovision.zeroshot.dictionary import read_class_names
    from myovision.zeroshot.splits import k600_zero_shot_classes

    subsets = k600_zero_shot_classes(read_class_names(args.k400), read_class_names(args.k600), args.seed,
                                     size=args.size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, names in enumerate(subsets, start=1):
        atomic_write_text(out / f"split{k}.txt", "\n".join(names) + "\n")
    print(f"3 x {args.size} classes under {out}")
    return 0


def _noisy(args: argparse.Namespace) -> int:
    from myovision.fileio import atomic_write_text
    from myovision.zeroshot.dictionary import read_class_names
    from myovision.zeroshot.splits import noisy_dictionary

    names = noisy_dictionary(read_class_names(args.dictionary), read_class_names(args.distractors), args.n, args.seed)
    atomic_write_text(Path(args.out), "\n".join(names) + "\n")
    print(f"{len(names)} names in {args.out}")
    return 0


def _splits(args: argparse.Namespace) -> int:
    from myovision.runs import write_metrics
    from myovision.zeroshot.evaluate import VideoList, evaluate_video_list
    from myovision.zeroshot.splits import hmdb51_split, mean_std, ucf101_split
    from myovision.zeroshot.train_videos import load_checkpoint
    from myovision.zeroshot.videos import read_clip

    model = load_checkpoint(args.checkpoint)
    reader = ucf101_split if args.dataset == "ucf101" else hmdb51_split
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    per_split = []
    for k in (1, 2, 3):
        split = reader(args.split_dir, args.root, k, skip_bad=args.skip_bad, allow_outside_root=args.allow_outside_root)
        videos = VideoList(split.paths, [[y] for y in split.labels], False)
        metrics, _ = evaluate_video_list(model, videos, split.classes, cache_dir=out / "cache",
                                         read=lambda p: read_clip(p, args.frames, model.image_size))
        per_split.append(metrics)
        print(f"split {k}: top-1 {metrics['top1']:.4f} on {metrics['num_videos']} videos")
    summary = {"dataset": args.dataset, "splits": per_split}
    for key in ("top1", "top5"):
        if all(key in m for m in per_split):
            summary[f"{key}_mean"], summary[f"{key}_std"] = mean_std([m[key] for m in per_split])
    write_metrics(out, summary)
    print(f"{args.dataset}: top-1 {summary['top1_mean']:.4f} +- {summary['top1_std']:.4f} over 3 splits")
    return 0


def _captions(args: argparse.Namespace) -> int:
    from myovision.zeroshot.language import caption_videos
    from myovision.zeroshot.splits import read_path_list

    videos = read_path_list(args.videos, args.root, skip_bad=args.skip_bad, allow_outside_root=args.allow_outside_root)
    written = caption_videos(args.model, videos, args.out, log=print)
    print(f"{len(written)} caption files under {args.out}")
    return 0


def _phrases(args: argparse.Namespace) -> int:
    from myovision.zeroshot.dictionary import read_class_names
    from myovision.zeroshot.language import generate_phrases

    written = generate_phrases(args.model, read_class_names(args.dictionary), args.out, seed=args.seed, log=print)
    print(f"{len(written)} phrase files under {args.out}")
    return 0


def _heatmaps(args: argparse.Namespace) -> int:
    from myovision.errors import InputError
    from myovision.zeroshot.heatmaps import compare_heatmaps_png
    from myovision.zeroshot.train_videos import load_checkpoint
    from myovision.zeroshot.videos import read_clip

    models = {}
    for entry in args.checkpoints:
        name, _, folder = entry.rpartition("=")
        name = name or Path(folder).name
        if name in models:
            raise InputError(f"two checkpoints named {name!r}: name them NAME=FOLDER")
        models[name] = load_checkpoint(folder)
    sizes = {m.image_size for m in models.values()}
    if len(sizes) > 1:
        raise InputError(f"the checkpoints take different frame sizes {sorted(sizes)}: compare like with like")
    clip = read_clip(args.video, args.frames, sizes.pop())
    print(compare_heatmaps_png(models, clip, args.text, args.out))
    return 0
