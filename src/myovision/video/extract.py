"""Clip-feature extraction: actions -> decoded clips (worker processes) -> I3D features -> a FeatureStore.

For every action (uid) the store receives float32 (clips, 1024): the Mixed_5c feature of each clip
(`InceptionI3d.features`), the input of the fusion paper's clip heads. Decoding runs in DataLoader worker
processes while the main process runs the forward pass on batches of `batch_size` clips. Finished uids
are skipped when a run is restarted (the store's index says what is done; shards are written atomically);
a restart first verifies the store and drops the uids of damaged shards, so they are computed again. Video
files holding fewer frames than their containers declare (`myovision.video.io.check_complete`) are found
before any decoding: an InputError, or their actions skipped and reported with `skip_bad`. A stop
signal (SIGINT, SIGTERM, SIGHUP, as `myovision.errors.stop_on_signals` sets up) flushes the finished uids
and re-raises with the run's report attached (`exc.report`). Under `torchrun` each rank takes its share of
videos (see `myovision.video.distributed`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from os import PathLike
from typing import Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from myovision.data.epic import read_annotation_csv
from myovision.data.store import FeatureStore
from myovision.errors import InputError
from myovision.video.clips import ClipDataset, ClipSpec, ClipTask, DecodedAction, keep_as_is
from myovision.video.io import VideoReader, check_complete, find_video
from myovision.video.transforms import ScaleToSymmetric, ToChannelsFirst

ACTION_COLUMNS = {"uid": "str", "video_id": "str", "start_frame": "nonneg", "stop_frame": "nonneg"}


@dataclass
class ExtractionReport:
    """What a run did: uids computed now, found already done, and skipped for bad input."""

    computed: list[str] = field(default_factory=list)
    already_done: int = 0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (uid, path, problem)
    repaired: list[tuple[str, str]] = field(default_factory=list)  # (uid, "frame i -> j: why")
    clips: int = 0
    seconds: float = 0.0
    merged: int = 0  # uids copied from per-rank parts into the store (distributed runs)
    dropped: list[str] = field(default_factory=list)  # uids of damaged shards dropped by the resume's verify
    took_over: str | None = None  # whose writer lock this run took over (a killed earlier run)
    interrupted: str | None = None  # the signal that stopped the run, when one did

    @property
    def clips_per_s(self) -> float:
        return self.clips / self.seconds if self.seconds > 0 else 0.0


def read_action_tasks(annotations: str | PathLike, videos: str | PathLike, *, frame_base: int = 1,
                      allow_outside_root: bool = False) -> list[ClipTask]:
    """Actions of an annotation CSV (columns uid, video_id, start_frame, stop_frame; EPIC tables qualify).

    frame_base: the number of a video's first frame in the table (1 for EPIC, whose frame files start at
    img_0000000001.jpg); frames become 0-based indices. Each video_id is looked up under `videos` as a
    frame folder or a video file (`find_video`); a missing one, or one outside `videos` (unless
    `allow_outside_root`), is an InputError naming it.
    """
    table = read_annotation_csv(annotations, ACTION_COLUMNS, unique="uid", frame_pair=("start_frame", "stop_frame"))
    if (table["start_frame"] < frame_base).any():
        row = int((table["start_frame"] < frame_base).to_numpy().nonzero()[0][0])
        raise InputError(f"row {row}: start_frame {table['start_frame'].iloc[row]} is below the first frame "
                         f"number {frame_base} (use --frame-base 0 for 0-based tables)", annotations)
    sources = {v: find_video(videos, v, allow_outside_root=allow_outside_root) for v in table["video_id"].unique()}
    return [ClipTask(str(r.uid), sources[r.video_id], int(r.start_frame) - frame_base, int(r.stop_frame) - frame_base)
            for r in table.itertuples(index=False)]


class ClipEncoder:
    """uint8 clips (N, T, H, W, C) -> features (N, dim) with `model.features` (I3D: inputs in [-1, 1]).

    bf16: autocast to bfloat16 (CPU or GPU); channels_last: keep the (N, C, T, H, W) input in the
    channels_last_3d memory order it arrives in, with the model converted to match.
    """

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", *, bf16: bool = False,
                 channels_last: bool = False):
        self.device, self.bf16, self.channels_last = torch.device(device), bf16, channels_last
        self.model = model.to(self.device).eval()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self._scale, self._layout = ScaleToSymmetric(), ToChannelsFirst()

    @torch.inference_mode()
    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        x = self._layout(self._scale(clips.to(self.device, non_blocking=True)))  # (N, C, T, H, W), channels-last
        if not self.channels_last:
            x = x.contiguous()
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
        with autocast:
            return self.model.features(x).float().cpu()  # (N, dim)


def extract_features(
    tasks: Sequence[ClipTask],
    encoder: ClipEncoder,
    store: FeatureStore,
    spec: ClipSpec,
    *,
    modality: str = "rgb",
    batch_size: int = 8,
    workers: int = 0,
    skip_bad: bool = False,
    shard_size: int = 64,
    progress: bool = True,
    done: Iterable[str] = (),
    desc: str = "extract",
    verify: bool = True,
) -> ExtractionReport:
    """Write (clips, dim) features of every task's uid into `store`; uids in the store or in `done` are skipped.

    batch_size: clips per forward pass (actions are not split across batches, so a batch may hold more).
    workers: decoding processes (0: decode in this process, no overlap). skip_bad: an action whose video
    or frames cannot be read, or whose video file is truncated (fewer frames than its container declares), is
    recorded in the report instead of raising InputError. verify: on a store that
    holds something, first drop the uids of damaged shards (`FeatureStore.repair`) so they are computed again.
    """
    report = ExtractionReport()
    if verify and len(store):  # a resume: damaged shards' uids are dropped and computed again
        report.dropped = [uid for problem in store.repair() for _, uid in problem.uids]
    done = set(done)
    todo = [t for t in tasks if t.uid not in done and not store.has(t.uid, modality)]
    report.already_done = len(tasks) - len(todo)
    todo = _complete_videos(todo, skip_bad, report)
    if not todo:
        return report
    loader = DataLoader(ClipDataset(todo, spec), batch_size=None, num_workers=workers, collate_fn=keep_as_is,
                        prefetch_factor=4 if workers else None, persistent_workers=False)
    pending: list[DecodedAction] = []
    start = time.perf_counter()
    try:
        _run(loader, encoder, store, spec, report, pending, modality=modality, batch_size=batch_size,
             skip_bad=skip_bad, shard_size=shard_size, bar_total=len(todo) * spec.clips, progress=progress, desc=desc)
    except KeyboardInterrupt as stop:  # the writer has flushed every finished uid
        report.interrupted = getattr(stop, "signal_name", "SIGINT")
        report.seconds = time.perf_counter() - start
        stop.report = report
        raise
    report.seconds = time.perf_counter() - start
    return report


def _complete_videos(tasks: list[ClipTask], skip_bad: bool, report: ExtractionReport) -> list[ClipTask]:
    """The tasks whose video files hold the frames their containers declare (`check_complete`, a demux without
    decoding); a truncated file is an InputError, or with `skip_bad` its actions go to `report.skipped`.
    Frame folders declare no count; files that do not open are left to the loader, which names each action."""
    truncated: dict[str, str] = {}
    for source in dict.fromkeys(str(t.source) for t in tasks):
        try:
            reader = VideoReader(source)
        except InputError:
            continue
        with reader:
            try:
                check_complete(reader)
            except InputError as exc:
                if not skip_bad:
                    raise
                truncated[source] = exc.problem
    report.skipped += [(t.uid, str(t.source), truncated[str(t.source)]) for t in tasks if str(t.source) in truncated]
    return [t for t in tasks if str(t.source) not in truncated]


def _run(loader, encoder, store, spec, report, pending, *, modality, batch_size, skip_bad, shard_size, bar_total,
         progress, desc) -> None:
    """The decode -> encode -> store loop of `extract_features`."""
    with store.writer(modality, shard_size=shard_size) as writer, \
            tqdm(total=bar_total, unit="clip", desc=desc, disable=not progress, smoothing=0.1) as bar:
        report.took_over = writer.took_over

        def run_batch() -> None:
            feats = encoder(torch.cat([a.clips for a in pending]))  # (sum of clips, dim)
            for action, f in zip(pending, feats.split([len(a.clips) for a in pending])):
                writer.add(action.uid, f.numpy())
                report.computed.append(action.uid)
                report.repaired += [(action.uid, r) for r in action.repaired]
            report.clips += len(feats)
            bar.update(len(feats))
            pending.clear()

        for action in loader:
            if action.clips is None:
                if not skip_bad:
                    raise InputError(f"action {action.uid!r}: {action.problem}", action.path)
                report.skipped.append((action.uid, action.path or "", action.problem or ""))
                bar.update(spec.clips)
                continue
            pending.append(action)
            if sum(len(a.clips) for a in pending) >= batch_size:
                run_batch()
        if pending:
            run_batch()
