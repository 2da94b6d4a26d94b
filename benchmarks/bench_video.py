"""Video front-end and I3D speed, every ratio measured in this run.

1. Decoding: frames/s of `VideoReader` (seek to the keyframe, decode forward, convert only the frames
   asked for) against a naive pipeline that decodes the whole video to RGB and slices, for the 5 x 16 dense
   clips of three actions per real clip in ../shared/data/video-clips.
2. Extraction: clips/s of `extract_features` (decoding in a worker process overlapped with the forward
   pass) against the naive pipeline (decode all, slice, forward, one after the other).
3. I3D forward time per 16 x 224 x 224 clip against its floor: convolution FLOPs (55.6 G, counted on the
   aten calls) / the float32 matrix-multiply throughput of this CPU measured between the timed calls, with
   the variants tried: channels_last_3d, bf16 autocast, thread counts, batch sizes, torch.compile (full
   run only).

    python benchmarks/bench_video.py --quick   # < 60 s: 1 thread, batch 1
    python benchmarks/bench_video.py           # 224 x 224 extraction too, more variants
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_ratios import RATIOS_HELP, ratios_path, record  # noqa: E402
from shared_data import SHARED_DATA  # noqa: E402

from myovision.data.store import FeatureStore  # noqa: E402
from myovision.models.i3d import InceptionI3d  # noqa: E402
from myovision.video.clips import ClipSpec, ClipTask  # noqa: E402
from myovision.video.extract import ClipEncoder, extract_features  # noqa: E402
from myovision.video.io import VideoReader  # noqa: E402
from myovision.video.sampling import dense_clip_indices  # noqa: E402
from myovision.video.transforms import CenterCrop, ResizeShorterSide  # noqa: E402

CLIPS, FRAMES = 5, 16


def actions(path: Path, n: int, count: int = 3) -> list[tuple[int, int]]:
    """`count` action spans of 60 frames spread over a video of n frames."""
    return [(s, min(s + 59, n - 1)) for s in np.linspace(0, n - 60, count).astype(int).tolist()]


def naive_frames(path: Path, idx: np.ndarray) -> np.ndarray:
    with av.open(str(path)) as c:
        every = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])  # (N, H, W, 3)
    return every[np.minimum(idx, len(every) - 1)]


def bench_decoding(videos: list[Path]) -> None:
    plans = []
    for path in videos:
        with VideoReader(path) as r:
            n = r.info.num_frames
        plans += [(path, dense_clip_indices(a, b, CLIPS, FRAMES, last=n - 1).reshape(-1)) for a, b in actions(path, n)]
    frames = sum(len(idx) for _, idx in plans)
    t = time.perf_counter()
    for path, idx in plans:
        naive_frames(path, idx)
    naive = time.perf_counter() - t
    t = time.perf_counter()
    readers = {p: VideoReader(p, threads=1) for p in videos}
    for path, idx in plans:
        readers[path].read(idx)
    ours = time.perf_counter() - t
    print(f"decode: {len(plans)} actions x {CLIPS}x{FRAMES} frames = {frames} frames from {len(videos)} real videos")
    print(f"  naive decode-all-then-slice {frames / naive:8.1f} frames/s")
    print(f"  VideoReader seek+decode     {frames / ours:8.1f} frames/s   ratio {naive / ours:.2f}x")


def bench_extraction(videos: list[Path], crop: int, clips: int) -> None:
    model = InceptionI3d(num_classes=400).eval()
    tasks = [ClipTask(f"{p.stem}-{a}", p, a, b) for p in videos for a, b in actions(p, VideoReader(p).info.num_frames)]
    n_clips = len(tasks) * clips
    t = time.perf_counter()
    for task in tasks:  # naive: decode all, slice, resize, crop, forward; nothing overlaps
        idx = dense_clip_indices(task.start, task.stop, clips, FRAMES, last=10**9)
        x = torch.from_numpy(naive_frames(task.source, idx.reshape(-1)))
        x = CenterCrop(crop)(ResizeShorterSide(crop * 8 // 7)(x)).reshape(clips, FRAMES, crop, crop, 3)
        with torch.inference_mode():
            model.features((x.float() / 127.5 - 1).permute(0, 4, 1, 2, 3).contiguous())
    naive = time.perf_counter() - t
    spec = ClipSpec(clips=clips, frames=FRAMES, short_side=crop * 8 // 7, transform=CenterCrop(crop))
    with tempfile.TemporaryDirectory() as tmp:
        report = extract_features(tasks, ClipEncoder(model, channels_last=True), FeatureStore(tmp), spec,
                                  batch_size=clips, workers=1, progress=False)
    print(f"extract: {len(tasks)} actions x {clips} clips of {FRAMES}x{crop}x{crop}, I3D features")
    print(f"  naive (decode all, slice, forward)         {n_clips / naive:6.2f} clips/s")
    print(f"  extract_features (1 decode worker, ch-last) {report.clips_per_s:6.2f} clips/s   "
          f"ratio {naive * report.clips_per_s / n_clips:.2f}x")


def conv_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds x 2 of every convolution and matrix product for input x, counted on the aten calls (module
    hooks miss the convolutions `Unit3D` runs through F.conv3d or as a matrix product); pooling and BatchNorm
    are < 1 % and left out."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return float(counter.get_total_flops())


def matmul_flops_per_s(dtype=torch.float32, n: int = 1024, reps: int = 8) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2.0 * n**3 * reps / (time.perf_counter() - t)


def best_time_and_rate(fn, reps: int) -> tuple[float, float]:
    """Fastest of `reps` calls of fn (after a warm-up) and the fastest float32 matmul rate measured just before
    each: both the least-loaded moment of the same stretch of time, so their ratio holds under a varying load."""
    fn()
    sec, rate = math.inf, 0.0
    for _ in range(reps):
        rate = max(rate, matmul_flops_per_s(reps=4))
        t = time.perf_counter()
        fn()
        sec = min(sec, time.perf_counter() - t)
    return sec, rate


def bench_forward(crop: int, batches: list[int], threads: list[int], compile_: bool, reps: int) -> float:
    """Print every variant's time per clip against the FLOP floor; return the best ratio time / floor.

    The model runs as `create_model("i3d")` makes it in eval mode: BatchNorm folded into the convolutions,
    each Inception block's three 1x1x1 heads as one matrix product, max-pools as separable maxima."""
    model = InceptionI3d(num_classes=400).eval()
    x1 = torch.rand(1, 3, FRAMES, crop, crop) * 2 - 1
    flops = conv_flops(model, x1)
    print(f"I3D forward, {FRAMES}x{crop}x{crop}: {flops / 1e9:.1f} GFLOP per clip (convolutions), fastest of {reps}")
    best = math.inf
    for nt in threads:
        torch.set_num_threads(nt)
        peak_bf16 = matmul_flops_per_s(torch.bfloat16, n=256, reps=2)  # small: 0.4 GFLOP/s on CPUs without AMX
        variants = [("fp32", False, False), ("fp32 channels_last_3d", True, False)]
        if peak_bf16 > matmul_flops_per_s(n=256, reps=2) / 4:
            variants += [("bf16 autocast", False, True), ("bf16 channels_last_3d", True, True)]
        else:
            print(f"  threads {nt}: bf16 skipped, this CPU has no fast bf16 matrix multiply (no AVX512-BF16 / AMX): "
                  f"{peak_bf16 / 1e9:.1f} GFLOP/s")
        for b in batches:
            x = x1.repeat(b, 1, 1, 1, 1)
            for name, cl, bf16 in variants:
                m = model.to(memory_format=torch.channels_last_3d if cl else torch.contiguous_format)
                xi = x.contiguous(memory_format=torch.channels_last_3d) if cl else x.contiguous()
                ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

                def run():
                    with torch.inference_mode(), ctx:
                        m.features(xi)

                sec, peak = best_time_and_rate(run, reps)
                sec /= b
                floor = flops / (peak_bf16 if bf16 else peak)
                print(f"  threads {nt} batch {b} {name:22s} {sec * 1e3:8.1f} ms/clip  {flops / sec / 1e9:6.1f} GFLOP/s  "
                      f"matmul {peak / 1e9:6.1f} GFLOP/s  {sec / floor:5.2f}x the matmul floor")
                best = min(best, sec / floor)
    if compile_:
        torch.set_num_threads(threads[-1])
        m = torch.compile(model.to(memory_format=torch.contiguous_format))
        t = time.perf_counter()
        with torch.inference_mode():
            m.features(x1)
        first = time.perf_counter() - t
        with torch.inference_mode():
            sec, _ = best_time_and_rate(lambda: m.features(x1), 1)
        print(f"  torch.compile: first call {first:.1f} s, then {sec * 1e3:.1f} ms/clip")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="extraction at 112 x 112, the I3D forward at 224 x 224 on 1 thread, batch 1 (< 60 s)")
    parser.add_argument("--compile", action="store_true", help="with --quick: also time torch.compile")
    parser.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = parser.parse_args()
    ratios_file = ratios_path(args.ratios, args.quick)  # None: a quick run without --ratios writes nothing
    root = SHARED_DATA / "video-clips"
    if not root.is_dir():
        print(f"skipped: {root} is absent (the real clips from ../shared/data; set MYOVISION_SHARED_DATA)")
        return
    videos = [root / "kinetics_arm_wrestling.mp4", root / "pool_cleaning.mp4"]
    cores = torch.get_num_threads()
    print(f"torch {torch.__version__}, PyAV {av.__version__}, {cores} threads")
    start = time.perf_counter()
    bench_decoding(videos)
    if args.quick:
        bench_extraction(videos[:1], crop=112, clips=2)
        best = bench_forward(crop=224, batches=[1], threads=[1], compile_=args.compile, reps=2)
    else:
        bench_extraction(videos, crop=224, clips=CLIPS)
        best = bench_forward(crop=224, batches=[1, 4], threads=sorted({1, cores}), compile_=True, reps=3)
    print(f"I3D best time per {FRAMES}x224x224 clip / FLOP floor: {best:.2f}x (goal <= 1.5x)")
    record(ratios_file, "i3d_time_vs_flop_floor", best, quick=args.quick, higher_is_better=False,
           command="python benchmarks/bench_video.py" + (" --quick" if args.quick else ""),
           means=f"I3D time per {FRAMES}x224x224 clip (best variant) / (conv FLOPs / measured matmul rate)")
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
