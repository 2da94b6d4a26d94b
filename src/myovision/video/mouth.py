"""Mouth-region crops for lip reading: grayscale, small (88 x 88 in the paper, or smaller), normalised per video,
cached on disk.

Where the crop lies: with a landmarks file, a box of the configured size centred on each frame's mouth
landmarks (the mean of iBUG points 48-67 when 68 points are given, else of all points given); without one,
the configured fixed box (GRID's speakers sit still in front of a plain background). The crop is resized to
`size` (bilinear, antialiased), converted to luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) and
standardised with the video's own mean and standard deviation.

Landmarks files: `.npy` (read without pickle) or text (`.txt` / `.csv`, one frame per row
`x0 y0 x1 y1 ...`), in source pixels, (T, K, 2) points.

>>> box = MouthBox(top=2, left=1, height=4, width=6)
>>> box.centred_at(x=10.0, y=20.0)
MouthBox(top=18, left=7, height=4, width=6)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from myovision.errors import InputError
from myovision.fileio import atomic_path
from myovision.video.io import VideoReader

MAX_SIZE = 88
LUMA = (0.299, 0.587, 0.114)
MOUTH_POINTS_68 = slice(48, 68)


@dataclass(frozen=True)
class MouthBox:
    """A crop box in source pixels."""

    top: int
    left: int
    height: int
    width: int

    def centred_at(self, x: float, y: float) -> "MouthBox":
        """The same size, centred on (x, y)."""
        return MouthBox(round(y - self.height / 2), round(x - self.width / 2), self.height, self.width)


#: The mouth of GRID speaker 1 in the 360 x 288 videos (found by eye on several of them, with margin).
GRID_S1_BOX = MouthBox(top=180, left=115, height=64, width=96)


@dataclass(frozen=True)
class MouthCropSettings:
    """Where to crop (`box`: fixed, or its size around landmarks) and the output `size` (height, width)."""

    box: MouthBox = GRID_S1_BOX
    size: tuple[int, int] = (44, 44)

    def __post_init__(self):
        h, w = self.size
        if not (0 < h <= MAX_SIZE and 0 < w <= MAX_SIZE):
            raise InputError(f"mouth crop size must be within 1..{MAX_SIZE} pixels per side, got {self.size}")
        if self.box.height < 1 or self.box.width < 1:
            raise InputError(f"mouth box must have a positive size, got {self.box}")


def read_landmarks(path: str | PathLike) -> np.ndarray:
    """Landmarks (T, K, 2) as (x, y) in source pixels from a .npy or text file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("landmarks file not found", path)
    try:
        if path.suffix == ".npy":
            points = np.load(path, allow_pickle=False)
        else:
            points = np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None, ndmin=2)
    except ValueError as exc:
        raise InputError(f"cannot read landmarks ({exc})", path) from None
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 2 and points.shape[1] % 2 == 0:
        points = points.reshape(len(points), -1, 2)  # (T, K, 2)
    if points.ndim != 3 or points.shape[2] != 2 or not np.isfinite(points).all():
        raise InputError(f"expected finite (frames, points, 2) landmarks, got shape {points.shape}", path)
    return points


def mouth_centres(landmarks: np.ndarray) -> np.ndarray:
    """(T, K, 2) landmarks -> (T, 2) mouth centres (x, y): iBUG mouth points for 68-point sets, else all."""
    mouth = landmarks[:, MOUTH_POINTS_68] if landmarks.shape[1] == 68 else landmarks
    return mouth.mean(axis=1)


def crop_frames(frames: np.ndarray, boxes: list[MouthBox], size: tuple[int, int]) -> torch.Tensor:
    """uint8 RGB frames (T, H, W, 3) -> float32 luma crops (T, h, w); boxes past the border are edge-padded."""
    t, height, width, _ = frames.shape
    out = torch.empty(t, *size)
    luma = torch.tensor(LUMA)
    for i, (frame, box) in enumerate(zip(frames, boxes)):
        rows = np.clip(np.arange(box.top, box.top + box.height), 0, height - 1)
        cols = np.clip(np.arange(box.left, box.left + box.width), 0, width - 1)
        patch = torch.from_numpy(frame[np.ix_(rows, cols)]).float() @ luma  # (box h, box w)
        out[i] = F.interpolate(patch[None, None], size=size, mode="bilinear", antialias=True,
                               align_corners=False)[0, 0]
    return out


def normalise(crops: torch.Tensor) -> torch.Tensor:
    """Standardise a video's crops (T, h, w) with their own mean and standard deviation."""
    return (crops - crops.mean()) / crops.std().clamp_min(1e-6)


def mouth_crops(video: str | PathLike, settings: MouthCropSettings = MouthCropSettings(),
                landmarks: str | PathLike | None = None) -> torch.Tensor:
    """Normalised grayscale mouth crops (T, h, w) of every frame of `video`."""
    with VideoReader(video) as reader:
        frames = reader.read(np.arange(reader.info.num_frames))  # (T, H, W, 3)
    if landmarks is None:
        boxes = [settings.box] * len(frames)
    else:
        centres = mouth_centres(read_landmarks(landmarks))
        if len(centres) != len(frames):
            raise InputError(f"{len(centres)} frames of landmarks for a video of {len(frames)} frames", landmarks)
        boxes = [settings.box.centred_at(x, y) for x, y in centres]
    return normalise(crop_frames(frames, boxes, settings.size))


class MouthCache:
    """Mouth crops cached as .npy files in `folder`, keyed by the video (path, size, mtime), the landmarks
    file and the settings; a changed video or setting gives a new key, never a stale crop."""

    def __init__(self, folder: str | PathLike, settings: MouthCropSettings = MouthCropSettings()):
        self.folder, self.settings = Path(folder), settings

    def key(self, video: Path, landmarks: Path | None) -> str:
        def stamp(p: Path | None):
            return None if p is None else [str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns]

        text = json.dumps([stamp(video), stamp(landmarks), asdict(self.settings)], sort_keys=True)
        return f"{video.stem}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"

    def __call__(self, video: str | PathLike, landmarks: str | PathLike | None = None) -> torch.Tensor:
        """Crops (T, h, w) of `video`, from the cache when present."""
        video = Path(video)
        if not video.is_file():
            raise InputError("video file not found", video)
        landmarks = None if landmarks is None else Path(landmarks)
        path = self.folder / f"{self.key(video, landmarks)}.npy"
        if path.is_file():
            return torch.from_numpy(np.load(path, allow_pickle=False))
        crops = mouth_crops(video, self.settings, landmarks)
        with atomic_path(path) as tmp:
            np.save(tmp, crops.numpy())
        return crops
