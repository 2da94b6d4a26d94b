"""`myovision video`: extract I3D clip features into a FeatureStore, classify a video, fine-tune I3D."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from myovision.cli import command_group, example_parser, train_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "video", "video front-end: I3D clip features, prediction, fine-tuning",
                        "myovision video extract --annotations D1_train.csv --videos frames/ --checkpoint "
                        "rgb_imagenet.pt --out features/")

    ext = example_parser(sub, "extract", "write (clips, 1024) I3D features per action uid into a feature store; "
                         "resumable; under torchrun --nproc_per_node=N the ranks share the videos",
                         "myovision video extract --annotations D1_train.csv --videos EPIC/rgb_frames/P08 "
                         "--checkpoint rgb_imagenet.pt --clips 5 --frames 16 --sampling dense --out features/D1")
    ext.add_argument("--annotations", required=True, help="CSV with columns uid,video_id,start_frame,stop_frame "
                     "(EPIC-Kitchens tables qualify)")
    ext.add_argument("--videos", required=True, help="folder with <video_id>/img_0000000001.jpg... frame folders "
                     "or <video_id>.mp4 (avi, mpg, mkv, webm, gif) files")
    ext.add_argument("--checkpoint", required=True, help="I3D weights in the pytorch-i3d layout (.pt or .safetensors)")
    ext.add_argument("--out", required=True, help="feature-store folder (created; finished uids are skipped)")
    _clip_options(ext, clips=5, frames=16)
    ext.add_argument("--sampling", choices=["dense", "uniform"], default="dense",
                     help="dense: consecutive frames per clip (I3D); uniform: frames spread over the segment "
                          "(default: dense)")
    ext.add_argument("--stride", type=int, default=1, help="frame step inside a dense clip (default 1)")
    ext.add_argument("--frame-base", type=int, default=1, choices=[0, 1],
                     help="number of a video's first frame in the table (EPIC: 1, the default)")
    ext.add_argument("--fps", type=float, default=None, help="frame rate of frame folders (recorded only)")
    ext.add_argument("--modality", default="rgb", help="modality name in the store (default rgb)")
    ext.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8)")
    ext.add_argument("--workers", type=int, default=2, help="decoding processes (0: none; default 2)")
    ext.add_argument("--shard-size", type=int, default=64, help="uids per store shard (default 64)")
    ext.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when present)")
    ext.add_argument("--bf16", action="store_true", help="run the forward pass in bfloat16 (autocast)")
    ext.add_argument("--channels-last", action="store_true", help="channels_last_3d memory format")
    ext.add_argument("--skip-bad", action="store_true", help="skip actions whose video or frames cannot be "
                     "read (a bad frame is replaced by its neighbour) and list them in skipped.csv")
    ext.add_argument("--no-progress", action="store_true", help="print no progress bar or lines")
    ext.add_argument("--allow-outside-root", action="store_true",
                     help="accept video_ids that resolve outside --videos ('..', absolute paths, links)")
    ext.set_defaults(func=_extract)

    pred = example_parser(sub, "predict", "classify one video with I3D and print the top-5 classes",
                          "myovision video predict clip.mp4 --checkpoint rgb_imagenet.pt --labels label_map.txt")
    pred.add_argument("video", help="a video file or a frame folder")
    pred.add_argument("--checkpoint", required=True, help="I3D weights in the pytorch-i3d layout")
    pred.add_argument("--labels", required=True, help="text file with one class name per line, in class order")
    _clip_options(pred, clips=1, frames=64)
    pred.add_argument("--top", type=int, default=5, help="how many classes to print (default: 5)")
    pred.add_argument("--out", default=None, help="also write the ranking to this JSON file")
    pred.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    pred.set_defaults(func=_predict)

    from myovision.actions.video_config import VideoFinetuneConfig

    tune = train_parser(sub, "finetune", "fine-tune I3D on a labelled video list (CSV path,label"
                        "[,start_frame,stop_frame]); writes a run folder (config.yaml, run.json, model.safetensors + "
                        "model.json, labels.txt, checkpoints, metrics.json, logs, report.html)",
                        "myovision video finetune --train train.csv --val val.csv --checkpoint rgb_imagenet.pt "
                        "--out runs/i3d", VideoFinetuneConfig)
    tune.set_defaults(func=_finetune)


def _clip_options(parser: argparse.ArgumentParser, clips: int, frames: int) -> None:
    parser.add_argument("--clips", type=int, default=clips, help=f"clips per action (default {clips})")
    parser.add_argument("--frames", type=int, default=frames, help=f"frames per clip (default {frames})")
    parser.add_argument("--short-side", type=int, default=256, help="resize the shorter side (default 256)")
    parser.add_argument("--crop", type=int, default=224, help="centre crop size (default 224)")


def _extract(args: argparse.Namespace) -> int:
    import torch

    from myovision.models.i3d import load_i3d
    from myovision.video.clips import ClipSpec
    from myovision.video.distributed import extract_to_store, init_distributed
    from myovision.video.extract import ClipEncoder, read_action_tasks
    from myovision.video.transforms import CenterCrop

    from myovision.errors import InputError
    from myovision.fileio import check_writable_folder

    for name in ("clips", "frames", "batch_size", "shard_size", "crop", "short_side", "stride"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.workers < 0:
        raise InputError(f"--workers must be 0 or more, got {args.workers}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError("--out must be a feature-store folder, this is a file", args.out)
    check_writable_folder(args.out)
    tasks = read_action_tasks(args.annotations, args.videos, frame_base=args.frame_base,
                              allow_outside_root=args.allow_outside_root)
    ranks = init_distributed()
    device = args.device or (f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu")
    encoder = ClipEncoder(load_i3d(args.checkpoint), device, bf16=args.bf16, channels_last=args.channels_last)
    spec = ClipSpec(clips=args.clips, frames=args.frames, sampling=args.sampling, stride=args.stride,
                    short_side=args.short_side, transform=CenterCrop(args.crop),
                    on_error="skip" if args.skip_bad else "raise", fps=args.fps)
    try:
        report = extract_to_store(tasks, encoder, args.out, spec, modality=args.modality, ranks=ranks,
                                  batch_size=args.batch_size, workers=args.workers, skip_bad=args.skip_bad,
                                  shard_size=args.shard_size, progress=not args.no_progress)
    except KeyboardInterrupt as stop:  # SIGINT, SIGTERM, SIGHUP: the finished uids are in the store
        if getattr(stop, "report", None) is None:
            raise
        _extract_summary(args, ranks, stop.report, len(tasks))
        print(f"stopped by {stop.report.interrupted}: {len(stop.report.computed)} finished uids kept; run the same "
              "command again to compute the rest")
        return getattr(stop, "code", 130)
    _extract_summary(args, ranks, report, len(tasks))
    return 0


def _extract_summary(args: argparse.Namespace, ranks, report, total: int) -> None:
    """The one-line summary of an extraction (also of an interrupted one), and skipped.csv when needed."""
    from myovision.fileio import atomic_path

    who = "" if ranks.world == 1 else f"rank {ranks.rank}/{ranks.world}: "
    if report.took_over:
        print(f"{who}took over the store's writer lock from {report.took_over}")
    if report.dropped:
        print(f"{who}the store's verify dropped {len(report.dropped)} uids of damaged shards; they are computed again")
    print(f"{who}{len(report.computed)} uids computed ({report.clips} clips, {report.clips_per_s:.2f} clips/s), "
          f"{report.already_done} already done, {len(report.skipped)} skipped, {len(report.repaired)} frames "
          f"repaired{f', {report.merged} merged' if report.merged else ''} (of {total})")
    if report.skipped or report.repaired:
        name = "skipped.csv" if ranks.world == 1 else f"skipped-rank{ranks.rank}.csv"
        with atomic_path(Path(args.out) / name) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["uid", "path", "problem"])
            writer.writerows(report.skipped)
            writer.writerows((uid, "", f"repaired {what}") for uid, what in report.repaired)
        print(Path(args.out) / name)


def _predict(args: argparse.Namespace) -> int:
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text
    from myovision.models.i3d import load_i3d
    from myovision.video.predict import eval_spec, predict_video, top_k

    from myovision.fileio import check_output

    if args.out:
        check_output(args.out, inputs=[args.video, args.labels, args.checkpoint], overwrite=args.overwrite,
                     suffixes=(".json",))
    if not Path(args.labels).is_file():
        raise InputError("labels file not found", args.labels)
    labels = [line.strip() for line in Path(args.labels).read_text().splitlines() if line.strip()]
    model = load_i3d(args.checkpoint, num_classes=len(labels))
    spec = eval_spec(args.clips, args.frames, args.short_side, args.crop)
    ranking = top_k(predict_video(args.video, model, spec, progress=True), labels, args.top)
    for rank, (label, p) in enumerate(ranking, 1):
        print(f"{rank}. {label}  {p:.4f}")
    if args.out:
        atomic_write_text(args.out, json.dumps({"video": args.video, "top": [
            {"label": label, "probability": p} for label, p in ranking]}, indent=1) + "\n")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from myovision.actions.video_config import VideoFinetuneConfig
    from myovision.actions.video_finetune import finetune_i3d
    from myovision.cli import start_train_run
    from myovision.config import config_from_args
    from myovision.errors import InputError
    from myovision.runs import METRICS, REPORT, WEIGHTS
    from myovision.training.options import device_name

    config = config_from_args(VideoFinetuneConfig, args)
    if not config.train and not args.print_config:
        raise InputError("--train is required (a video list CSV)")
    data = [p for p in (config.train, config.val, config.checkpoint) if p]
    started = start_train_run(args, config, data=data, device=device_name(config.trainer))
    if started is None:
        return 0
    config, out = started
    metrics = finetune_i3d(config, out, resume=args.resume)
    if metrics is None:  # not global rank 0
        return 0
    if "val_accuracy" in metrics:
        print(f"validation accuracy {metrics['val_accuracy']:.3f} ({metrics['val_correct']}/{metrics['val_videos']})")
    for name in (WEIGHTS, METRICS, REPORT):
        print(out / name)
    return 0
