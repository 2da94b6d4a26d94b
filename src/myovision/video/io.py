"""Reading video frames by index with PyAV: container files (mp4, avi, mpg, mkv, webm, gif, ...) and
EPIC-Kitchens frame folders (`myovision.video.frames`).

Frame-accurate seeking. On opening, the video stream's packets are demuxed once, without decoding: the
sorted presentation timestamps (pts) of the packets are the frames in display order, so frame `i` is the
one whose pts is the i-th smallest. This holds for variable frame rates (no `i / fps` arithmetic). Reading
frames [i, j, ...] seeks to the last keyframe at or before the first of them, decodes forward, converts to
RGB only the frames asked for, and keeps the decoder position, so the next request for later frames goes
on from there when no keyframe lies between. Containers whose decoded pts are not in display order (AVI
with packed B-frames) are detected on the fly, and MPEG program and transport streams (whose seeks are not
exact) are known in advance; both are read by counting decoded frames from the start.

A frame that does not decode (a decoder error, a truncated file) is an `InputError` naming the file and
the frame, or, with `on_error="skip"`, replaced by the nearest requested frame that did decode and recorded in
`reader.problems`. Callers that read whole videos first ask `check_complete(reader)`: a file holding fewer
frames than its container declares (by more than `FRAME_TOLERANCE`) is an `InputError` naming both counts, or,
with `on_error="skip"`, a `TruncatedVideoWarning` and an entry in `reader.problems`.
"""

from __future__ import annotations

import bisect
import itertools
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from myovision.data.grid import FRAME_TOLERANCE
from myovision.data.manifest import inside_root
from myovision.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mpg", ".mpeg", ".mkv", ".webm", ".mov", ".gif", ".m4v")
ON_ERROR = ("raise", "skip")
_UNSEEKABLE_FORMATS = {"mpeg", "mpegts", "mpegvideo"}


@dataclass(frozen=True)
class VideoInfo:
    """What a reader knows about its video before decoding any frame."""

    path: str
    num_frames: int
    fps: float | None  # mean frame rate, frames / duration (None when unknown: a frame folder without fps)
    width: int
    height: int
    variable_frame_rate: bool = False
    declared_frames: int | None = None  # the container header's count, when it states one


@dataclass(frozen=True)
class FrameProblem:
    """A frame that could not be read (with `on_error="skip"`), and the frame given in its place."""

    index: int
    problem: str
    replaced_by: int | None


class TruncatedVideoWarning(UserWarning):
    """A video holds fewer frames than its container declares (read on with `on_error="skip"`)."""


def check_complete(reader, tolerance: int = FRAME_TOLERANCE) -> str | None:
    """None when `reader`'s video holds its container's declared frame count (less at most `tolerance` frames, a
    codec's lost tail frame) or declares none; else the problem, as an InputError naming the file and both
    counts, or, when the reader was opened with `on_error="skip"`, as a `TruncatedVideoWarning` recorded in
    `reader.problems` (index: the first missing frame) and returned.

    The frames counted are the packets the demuxer found (`VideoInfo.num_frames`), so a file cut short is found
    on opening, before any frame is decoded.
    """
    info = reader.info
    if info.declared_frames is None or info.num_frames >= info.declared_frames - tolerance:
        return None
    problem = (f"{info.num_frames} frames in the file, but the container declares {info.declared_frames} "
               f"(a truncated video?)")
    if reader.on_error == "raise":
        raise InputError(problem, info.path)
    warnings.warn(f"{info.path}: {problem}", TruncatedVideoWarning, stacklevel=2)
    reader.problems.append(FrameProblem(info.num_frames, problem, None))
    return problem


def output_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """(height, width) after resizing the shorter side to `short_side`, keeping the aspect ratio.

    >>> output_size(256, 340, 128), output_size(480, 270, 224), output_size(256, 340, None)
    ((128, 170), (398, 224), (256, 340))
    """
    if short_side is None:
        return height, width
    if height <= width:
        return short_side, max(1, round(width * short_side / height))
    return max(1, round(height * short_side / width)), short_side


def check_indices(indices: Sequence[int] | np.ndarray, num_frames: int, path: str) -> np.ndarray:
    """Indices as an int64 array, or an InputError when one lies outside 0 .. num_frames - 1."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    bad = idx[(idx < 0) | (idx >= num_frames)]
    if len(bad):
        raise InputError(f"frame index {int(bad[0])} is outside the video's {num_frames} frames "
                         f"(0..{num_frames - 1})", path)
    return idx


def fill_missing(frames: dict[int, np.ndarray], wanted: np.ndarray, path: str,
                 problems: list[FrameProblem], reasons: dict[int, str]) -> np.ndarray:
    """Stack `frames[i]` for i in `wanted` (N, H, W, 3); a missing frame takes the nearest decoded one."""
    if not frames:
        raise InputError(f"none of the {len(np.unique(wanted))} requested frames could be read "
                         f"({next(iter(reasons.values()), 'no frame decoded')})", path)
    have = np.array(sorted(frames))
    out = []
    for i in wanted.tolist():
        if i not in frames:
            j = int(have[np.argmin(np.abs(have - i))])
            problems.append(FrameProblem(i, reasons.get(i, "did not decode"), j))
            frames[i] = frames[j]
        out.append(frames[i])
    return np.stack(out)  # (N, H, W, 3)


class VideoReader:
    """Frames of one video file by index; `read(indices)` -> uint8 (N, H, W, 3) RGB.

    threads: decoder threads (0 lets FFmpeg choose); on_error: "raise" or "skip" (see the module notes).
    Use it as a context manager, or call `close()`.
    """

    def __init__(self, path: str | PathLike, *, on_error: str = "raise", threads: int = 0):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.path = Path(path)
        self.on_error = on_error
        self.threads = threads
        self.problems: list[FrameProblem] = []
        if not self.path.is_file():
            raise InputError("video file not found" if not self.path.exists() else "not a file", self.path)
        self._container = self._open()
        self._stream = self._container.streams.video[0]
        self._pts, self._keys, declared = self._scan()
        self._index_of = {p: i for i, p in enumerate(self._pts)}
        # count mode: number frames by counting from the start, when decoded pts cannot be trusted (AVI with
        # packed B-frames, found on the fly) or seeks are not exact (MPEG program/transport streams: after a
        # seek, frames can come out with a neighbour's pts)
        self._count_mode = self._container.format.name in _UNSEEKABLE_FORMATS
        self._frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._next = 0  # index of the frame `_frames` yields next (a lower bound)
        # the reader's own one-thread scaler, not PyAV's per-thread one: a process forked from one that scaled with a
        # thread pool (a DataLoader worker) inherits that pool's state without its threads, and tearing it down hangs
        self._scaler = VideoReformatter()
        self.info = self._info(declared)

    # ------------------------------------------------------------------ opening
    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot open as a video ({getattr(exc, 'strerror', None) or exc})", self.path) from None
        if not container.streams.video:
            container.close()
            raise InputError("the file holds no video stream", self.path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = self.threads
        return container

    def _scan(self) -> tuple[list[int], list[int], int | None]:
        """Demux every packet (no decoding): sorted frame pts, keyframe indices, the header's frame count."""
        stream = self._stream
        pts, key_pts = [], []
        try:
            for packet in self._container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if packet.size == 0 or packet.is_discard or stamp is None:
                    continue
                pts.append(stamp)
                if packet.is_keyframe:
                    key_pts.append(stamp)
        except av.FFmpegError as exc:  # a damaged tail: keep the frames before it
            self.problems.append(FrameProblem(len(pts), f"demuxing stopped early ({exc})", None))
        if not pts:
            raise InputError("the video stream holds no frames", self.path)
        pts.sort()
        rank = {p: i for i, p in enumerate(pts)}
        keys = sorted({0} | {rank[p] for p in key_pts})  # 0: the start is always a place to decode from
        return pts, keys, (stream.frames or None)

    def _info(self, declared: int | None) -> VideoInfo:
        stream, n = self._stream, len(self._pts)
        tb = float(stream.time_base)
        steps = np.diff(np.asarray(self._pts, dtype=np.float64)) * tb  # seconds between frames
        if len(steps) and steps.mean() > 0:
            fps = round(1.0 / float(steps.mean()), 6)
            vfr = bool(steps.max() - steps.min() > 0.1 * steps.mean())
        else:
            rate = stream.average_rate or stream.guessed_rate
            fps, vfr = (float(rate) if rate else None), False
        return VideoInfo(str(self.path), n, fps, stream.codec_context.width, stream.codec_context.height,
                         vfr, declared)

    @property
    def timestamps(self) -> np.ndarray:
        """Presentation time of every frame in seconds from the first, float64 (num_frames,)."""
        pts = np.asarray(self._pts, dtype=np.float64)
        return (pts - pts[0]) * float(self._stream.time_base)

    # ------------------------------------------------------------------ decoding
    def _seek(self, target: int) -> None:
        """Position the decoder at the last keyframe at or before `target` (the start in counting mode).

        Some demuxers (MPEG program streams) land after the timestamp asked for; then an earlier keyframe
        is tried, and at last the file is reopened to decode from its first byte.
        """
        k = 0 if self._count_mode else self._keys[bisect.bisect_right(self._keys, target) - 1]
        reopen = self._count_mode  # counting needs the very first frame: decode from the first byte
        while True:
            if reopen:
                self._container.close()
                self._container = self._open()
                self._stream = self._container.streams.video[0]
            else:
                self._container.seek(self._pts[k], stream=self._stream, backward=True, any_frame=False)
                self._stream.codec_context.flush_buffers()
            frames = self._numbered(k)
            try:
                first = [next(frames)]
            except (StopIteration, _SeekMissed):  # nothing from k on, or not k first: start earlier
                if reopen:  # even from the first byte: the stream has no decodable frame
                    self._frames, self._next = iter(()), k
                    return
                reopen = k == 0
                k = self._keys[max(bisect.bisect_left(self._keys, k) - 1, 0)]
                continue
            self._frames, self._next = itertools.chain(first, frames), k
            return

    def _numbered(self, start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) in display order from keyframe `start`; frames before `start` are dropped."""
        last, count = start - 1, 0
        for frame in self._container.decode(self._stream):
            if self._count_mode:
                index, count = count, count + 1
            else:
                index = -1 if frame.pts is None else self._index_of.get(frame.pts, -1)
                if index < 0:
                    raise _UnorderedPts(frame.pts)
                if index < start:
                    continue  # a leading B-frame of an open GOP, decoded after the seek
                if index <= last:
                    raise _UnorderedPts(frame.pts)
                if last < start < index:
                    raise _SeekMissed(index)
            last = index
            yield index, frame

    def _can_continue(self, target: int) -> bool:
        if self._frames is None or self._next > target:
            return False
        return self._count_mode or self._keys[bisect.bisect_right(self._keys, target) - 1] <= self._next

    def read(self, indices: Sequence[int] | np.ndarray, short_side: int | None = None) -> np.ndarray:
        """RGB frames at `indices` (any order, repeats allowed) as uint8 (N, H, W, 3).

        short_side: resize while converting (FFmpeg's swscale, bilinear), keeping the aspect ratio.
        Frames the header declares but the file lacks (a truncated file) are frames that do not decode.
        """
        n, declared = len(self._pts), self.info.declared_frames or 0
        lost = f"not in the file (the header declares {declared} frames, {n} are present: truncated?)"
        if declared > n and self.on_error == "raise":
            beyond = [int(i) for i in np.asarray(indices).reshape(-1) if n <= i < declared]
            if beyond:
                raise InputError(f"frame {beyond[0]} is {lost}", self.path)
        idx = check_indices(indices, max(n, declared), str(self.path))
        wanted = np.unique(idx[idx < n])
        try:
            frames, reasons = self._decode(wanted, short_side)
        except _UnorderedPts:
            self._count_mode, self._frames = True, None
            frames, reasons = self._decode(wanted, short_side)
        reasons.update({int(i): lost for i in np.unique(idx[idx >= n])})
        if len(frames) < len(wanted) and self.on_error == "raise":
            first = min(set(wanted.tolist()) - set(frames))
            raise InputError(f"frame {first} of {n} did not decode "
                             f"({reasons.get(first, 'the stream ended before it')})", self.path)
        return fill_missing(frames, idx, str(self.path), self.problems, reasons)

    def _decode(self, wanted: np.ndarray, short_side: int | None) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        h, w = output_size(self.info.height, self.info.width, short_side)
        todo, frames, reasons = set(wanted.tolist()), {}, {}
        for target in wanted.tolist():
            if target in frames or target in reasons:
                continue
            try:
                if not self._can_continue(target):
                    self._seek(target)  # decodes the keyframe it lands on: may fail too
                for index, frame in self._frames:
                    self._next = index + 1
                    if index in todo:
                        frames[index] = self._scaler.reformat(frame, format="rgb24", width=w, height=h,
                                                              threads=1).to_ndarray()
                    if index >= target:
                        break
                else:
                    self._frames = None
            except av.FFmpegError as exc:  # the decoder failed inside the stream: resume after the next keyframe
                self._frames = None
                after = [t for t in todo if t >= self._next and t not in frames]
                reasons.update({t: f"decoder error ({exc})" for t in after
                                if t < self._next_key(self._next)})
                if target not in frames:
                    reasons.setdefault(target, f"decoder error ({exc})")
        return frames, reasons

    def _next_key(self, index: int) -> int:
        i = bisect.bisect_right(self._keys, index)
        return self._keys[i] if i < len(self._keys) else len(self._pts)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._frames = None
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"VideoReader({i.path!r}, {i.num_frames} frames, {i.width}x{i.height}, fps {i.fps})"


class _UnorderedPts(Exception):
    """Decoded pts are missing or out of display order: the reader falls back to counting frames."""


class _SeekMissed(Exception):
    """The demuxer's seek landed after the keyframe asked for."""


def open_video(path: str | PathLike, *, on_error: str = "raise", threads: int = 0, fps: float | None = None):
    """A reader for `path`: a `FrameFolderReader` for a folder of frames, else a `VideoReader`.

    fps: the frame rate of a frame folder (a folder does not store one); ignored for files.
    """
    from myovision.video.frames import FrameFolderReader

    path = Path(path)
    if not path.exists():
        raise InputError("not found (neither a video file nor a frame folder)", path)
    if path.is_dir():
        return FrameFolderReader(path, on_error=on_error, fps=fps)
    return VideoReader(path, on_error=on_error, threads=threads)


def find_video(root: str | PathLike, video_id: str, *, allow_outside_root: bool = False) -> Path:
    """`<root>/<video_id>` as a frame folder or `<root>/<video_id>.<ext>` for a known video suffix.

    A video_id that resolves outside `root` (``..``, an absolute path, a link) is an InputError unless
    `allow_outside_root`."""
    from myovision.errors import excerpt

    root = Path(root)
    base = root / video_id
    outside = inside_root(base, root, allow_outside_root)
    if outside:
        raise InputError(f"video id {excerpt(video_id)}: {outside}", root)
    if base.is_dir() or (base.is_file() and base.suffix.lower() in VIDEO_SUFFIXES):
        return base
    for suffix in VIDEO_SUFFIXES:
        for candidate in (base.with_name(base.name + suffix), base.with_name(base.name + suffix.upper())):
            if candidate.is_file():
                return candidate
    raise InputError(f"no frame folder or video file for video {video_id!r} "
                     f"(looked for {video_id}/ and {video_id}{{{','.join(VIDEO_SUFFIXES)}}})", root)
