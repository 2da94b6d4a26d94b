"""Mouth crops on the real GRID videos (speaker 1, 360 x 288, 75 frames): MTCNN's detection speed on one core and
the time to crop every video once, aligned on the mouth corners (88 x 88) against the fixed box (44 x 44).

For a sample of videos spread over the 250 (every k-th by id), on one thread, timed in CPU seconds of this process (the machine is shared): decoding, MTCNN on every frame
at the authors' smallest face (20 pixels, the full pyramid) and at 60 pixels (GRID's faces are ~110 pixels
wide), and the whole `crop_video` (decode, detect, align, resample) for both crops. The time for all 250
videos is the sample's mean per video times 250 (an extrapolation, said so) unless --videos 250. Also: frames
with a face, and how far the box and the mouth corners move between neighbouring frames (the speaker holds
still, so a steady detector moves them little).

    python benchmarks/bench_mouth_crops.py            # 10 videos
    python benchmarks/bench_mouth_crops.py --quick    # CI: 1 video, 25 frames
    python benchmarks/bench_mouth_crops.py --scan 5   # also: faces on every 5th frame of all 250 videos
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_data import SHARED_DATA  # noqa: E402

from myovision.models.mtcnn import load_mtcnn  # noqa: E402
from myovision.video.io import VideoReader  # noqa: E402
from myovision.video.mouth import AlignedCropSettings, MouthCropSettings, crop_video  # noqa: E402
from myovision.video.mtcnn import DetectorSettings, detect_faces  # noqa: E402

GRID_VIDEOS = 250


def clock(fn, *args, **kwargs):
    """fn's result and the CPU seconds this process spent in it (one thread: time on one core, which the
    machine's other load does not inflate as it does the wall clock)."""
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=10, help="videos sampled evenly from the 250 (default 10)")
    p.add_argument("--quick", action="store_true", help="CI: 1 video, detection on its first 25 frames only")
    p.add_argument("--scan", type=int, default=0, metavar="K",
                   help="also run MTCNN (min face 60) on every K-th frame of every video and count the frames "
                        "without a face (0: off)")
    p.add_argument("--data", default=str(SHARED_DATA), help="folder holding grid-s1/ and face-mtcnn/")
    args = p.parse_args()
    torch.set_num_threads(1)
    root, weights = Path(args.data) / "grid-s1" / "video", Path(args.data) / "face-mtcnn"
    if not root.is_dir() or not weights.is_dir():
        sys.exit(f"real data not available: {root} or {weights} is absent")
    videos = sorted(root.glob("*.mpg"))
    n = 1 if args.quick else min(args.videos, len(videos))
    sample = videos[:: max(1, len(videos) // n)][:n]
    model = load_mtcnn(weights)
    aligned, box = AlignedCropSettings(str(weights)), MouthCropSettings()
    rows = {k: [] for k in ("frames", "decoded", "decode", "detect20", "detect60", "crop_mtcnn", "crop_box")}
    found, box_moves, corner_moves = 0, [], []
    for video in sample:
        with VideoReader(video) as reader:
            frames, t_decode = clock(reader.read, np.arange(reader.info.num_frames))
        rows["decoded"].append(len(frames))
        if args.quick:
            frames = frames[:25]
        faces, t20 = clock(detect_faces, model, frames, DetectorSettings(min_face=20))
        _, t60 = clock(detect_faces, model, frames, DetectorSettings(min_face=60))
        found += int(faces.found.sum())
        centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
        box_moves.append(np.abs(np.diff(centres, axis=0)).max())
        corner_moves.append(np.abs(np.diff(faces.landmarks[:, 3:], axis=0)).max())
        for key, value in (("frames", len(frames)), ("decode", t_decode), ("detect20", t20), ("detect60", t60)):
            rows[key].append(value)
        if not args.quick:
            rows["crop_mtcnn"].append(clock(crop_video, video, aligned)[1])
            rows["crop_box"].append(clock(crop_video, video, box)[1])
        print(f"{video.name}: {len(frames)} frames, faces on {int(faces.found.sum())}, detection {t20:.2f} s "
              f"(min face 20) / {t60:.2f} s (60)", flush=True)
    frames = sum(rows["frames"])
    print(f"\nGRID s1, {len(sample)} video(s), {frames} frames of 360 x 288, one thread, load {os.getloadavg()}")
    print(f"faces found on {found} of {frames} frames; largest move between neighbouring frames: box centre "
          f"{max(box_moves):.1f} px, mouth corner {max(corner_moves):.1f} px")
    print("speeds in frames per CPU-second of one thread:")
    for key, label in (("detect20", "min face 20 (the authors')"), ("detect60", "min face 60")):
        print(f"MTCNN {label}: {frames / sum(rows[key]):.1f} frames/s")
    print(f"decoding: {sum(rows['decoded']) / sum(rows['decode']):.0f} frames/s")
    if rows["crop_mtcnn"]:
        per_video = {k: float(np.mean(rows[k])) for k in ("crop_mtcnn", "crop_box")}
        how = "measured" if len(sample) == GRID_VIDEOS else f"extrapolated from {len(sample)} videos"
        for key, label in (("crop_mtcnn", "MTCNN-aligned 88 x 88"), ("crop_box", "fixed box 44 x 44")):
            print(f"crop all {GRID_VIDEOS} videos once, {label}: {per_video[key] * GRID_VIDEOS / 60:.1f} min "
                  f"({how}; {per_video[key]:.2f} s per video)")
        print(f"MTCNN crop / box crop time: {per_video['crop_mtcnn'] / per_video['crop_box']:.1f}x")
    if args.scan:
        scan(model, videos, args.scan)


def scan(model, videos: list[Path], every: int) -> None:
    """Faces on every `every`-th frame of each video: the frames and videos without one."""
    checked, missing = 0, {}
    for video in videos:
        with VideoReader(video) as reader:
            frames = reader.read(np.arange(0, reader.info.num_frames, every))
        faces = detect_faces(model, frames, DetectorSettings(min_face=60))
        checked += len(frames)
        if not faces.found.all():
            missing[video.name] = int((~faces.found).sum())
    print(f"scan: {len(videos)} videos, every {every}th frame, {checked} frames checked: a face on "
          f"{checked - sum(missing.values())}; videos with a frame without one: {missing or 'none'}")


if __name__ == "__main__":
    main()
