"""Mouth-region crops for lip reading: grayscale, small (88 x 88 in the paper, or smaller), normalised per video,
cached on disk.

Where the crop lies, by the settings' type:
- `MouthCropSettings` (crop "box"): with a landmarks file, a box of the configured size centred on each frame's
  mouth landmarks (the mean of iBUG points 48-67 when 68 points are given, else of all points given); without
  one, the configured fixed box (GRID's speakers sit still in front of a plain background).
- `AlignedCropSettings` (crop "mtcnn"): MTCNN (`myovision.video.mtcnn`) finds the face and its two mouth corners
  on every frame; the corners are smoothed over frames (centred moving average); each crop is centred between
  them, rotated so they are level, and spans `width` times the corner distance (the video's median, so the
  crop does not zoom as the lips round and spread). Frames without a face take corners interpolated from the
  nearest frames with one; a video without any face falls back to the fixed box. Both are reported
  (`CropReport`, a `NoFaceWarning`).

The crop is resized to `size` (bilinear, antialiased), converted to luma (ITU-R BT.601: 0.299 R + 0.587 G +
0.114 B) and standardised with the video's own mean and standard deviation.

Landmarks files: `.npy` (read without pickle) or text (`.txt` / `.csv`, one frame per row
`x0 y0 x1 y1 ...`), in source pixels, (T, K, 2) points. The settings themselves (`MouthBox`,
`MouthCropSettings`, `AlignedCropSettings`, `crop_settings`) live in `myovision.video.crop_settings`.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from os import PathLike
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from myovision.errors import InputError
from myovision.fileio import atomic_path
from myovision.models.mtcnn import MTCNN, LANDMARKS, load_mtcnn
from myovision.video.io import VideoReader
from myovision.video.crop_settings import AlignedCropSettings, CropSettings, MouthBox, MouthCropSettings
from myovision.video.mtcnn import DetectorSettings, Faces, detect_faces

LUMA = (0.299, 0.587, 0.114)
MOUTH_POINTS_68 = slice(48, 68)
MOUTH_CORNERS = [LANDMARKS.index("mouth_left"), LANDMARKS.index("mouth_right")]


class NoFaceWarning(UserWarning):
    """MTCNN found no face on some frames of a video (the crop used a fallback there)."""


@dataclass(frozen=True)
class CropReport:
    """How one video was cropped: frames decoded, frames the container declares (None: not stated), frames
    without a face (MTCNN crops) and the fallback used ("": none, "interpolated" corners, or the fixed "box")."""

    video: str
    frames: int
    declared_frames: int | None = None
    without_face: int = 0
    fallback: str = ""

    def line(self) -> str:
        where = f"all {self.frames}" if self.without_face == self.frames else f"{self.without_face} of {self.frames}"
        then = ("the fixed box" if self.fallback == "box"
                else "mouth corners interpolated from the nearest frames with a face")
        return f"{self.video}: no face found on {where} frames; cropped with {then}"


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


def fill_gaps(points: np.ndarray) -> np.ndarray:
    """(T, ...) points with NaN rows (no detection) -> linearly interpolated from the nearest rows with values
    (held constant past the first and last); needs at least one row with values."""
    flat = points.reshape(len(points), -1)  # (T, D)
    ok = np.isfinite(flat).all(axis=1)
    t = np.arange(len(points))
    filled = np.stack([np.interp(t, t[ok], flat[ok, d]) for d in range(flat.shape[1])], axis=1)
    return filled.reshape(points.shape)


def moving_average(points: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` frames of (T, ...) points; the window shrinks at the ends."""
    if window <= 1:
        return points
    flat = points.reshape(len(points), -1)  # (T, D)
    half = window // 2
    padded = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])  # (T + 1, D) prefix sums
    t = np.arange(len(points))
    lo, hi = np.maximum(t - half, 0), np.minimum(t + window - half, len(points))
    return ((padded[hi] - padded[lo]) / (hi - lo)[:, None]).reshape(points.shape)


@dataclass
class MouthTrack:
    """Where the aligned crop of each of T frames lies: the faces MTCNN found, the smoothed mouth corners
    (T, 2, 2) (left, right; x, y), crop centres (T, 2), rotations (T,) in radians (image y down) and the crop
    width in source pixels."""

    faces: Faces
    corners: np.ndarray
    centres: np.ndarray
    angles: np.ndarray
    width: float


@lru_cache(maxsize=2)
def _detector(weights: str) -> MTCNN:
    return load_mtcnn(weights)


def track_mouth(faces: Faces, settings: AlignedCropSettings) -> MouthTrack | None:
    """The mouth track of T frames' `faces`, or None when no frame shows a face."""
    if not faces.found.any():
        return None
    corners = moving_average(fill_gaps(faces.landmarks[:, MOUTH_CORNERS]), settings.smooth)  # (T, 2, 2)
    span = corners[:, 1] - corners[:, 0]  # (T, 2) left -> right corner
    width = settings.width * float(np.median(np.hypot(span[:, 0], span[:, 1])))
    return MouthTrack(faces, corners, corners.mean(axis=1), np.arctan2(span[:, 1], span[:, 0]), width)


def aligned_crops(luma: torch.Tensor, centres: np.ndarray, angles: np.ndarray, width: float,
                  size: tuple[int, int]) -> torch.Tensor:
    """Crops (T, h, w) of luma frames (T, H, W): each a `width` x `width * h / w` source-pixel rectangle about
    its centre (T, 2), turned by its angle (T,); sampled bilinearly at about one source pixel per sample
    (edge pixels repeat past the border), then resized to `size` with antialiasing."""
    t, height, frame_w = luma.shape
    h, w = size
    src_h = width * h / w
    gh, gw = max(h, math.ceil(src_h)), max(w, math.ceil(width))
    u = ((torch.arange(gw) + 0.5) / gw - 0.5).double() * width  # (gw,) along the mouth, source pixels
    v = ((torch.arange(gh) + 0.5) / gh - 0.5).double() * src_h  # (gh,) across it
    cos, sin = torch.from_numpy(np.cos(angles))[:, None, None], torch.from_numpy(np.sin(angles))[:, None, None]
    cx, cy = (torch.from_numpy(centres[:, i])[:, None, None] for i in (0, 1))
    x = cx + cos * u[None, None, :] - sin * v[None, :, None]  # (T, gh, gw)
    y = cy + sin * u[None, None, :] + cos * v[None, :, None]
    grid = torch.stack([(2 * x + 1) / frame_w - 1, (2 * y + 1) / height - 1], dim=-1).float()  # (T, gh, gw, 2)
    patches = F.grid_sample(luma[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return F.interpolate(patches, size=size, mode="bilinear", antialias=True, align_corners=False)[:, 0]


def crop_video(video: str | PathLike, settings: CropSettings = MouthCropSettings(),
               landmarks: str | PathLike | None = None) -> tuple[torch.Tensor, CropReport]:
    """Normalised grayscale mouth crops (T, h, w) of every frame of `video`, and how they were made; a
    fallback is also a `NoFaceWarning`."""
    with VideoReader(video) as reader:
        frames = reader.read(np.arange(reader.info.num_frames))  # (T, H, W, 3)
        report = CropReport(str(video), len(frames), reader.info.declared_frames)
    if isinstance(settings, AlignedCropSettings):
        if landmarks is not None:
            raise InputError("MTCNN crops find their own landmarks; give a landmarks file only with box crops",
                             landmarks)
        faces = detect_faces(_detector(settings.weights), frames, DetectorSettings(min_face=settings.min_face))
        track = track_mouth(faces, settings)
        missing = int((~faces.found).sum())
        if missing:
            report = replace(report, without_face=missing, fallback="box" if track is None else "interpolated")
            warnings.warn(report.line(), NoFaceWarning, stacklevel=2)
        if track is None:
            return normalise(crop_frames(frames, [settings.fallback] * len(frames), settings.size)), report
        luma = torch.from_numpy(frames).float() @ torch.tensor(LUMA)  # (T, H, W)
        return normalise(aligned_crops(luma, track.centres, track.angles, track.width, settings.size)), report
    if landmarks is None:
        boxes = [settings.box] * len(frames)
    else:
        centres = mouth_centres(read_landmarks(landmarks))
        if len(centres) != len(frames):
            raise InputError(f"{len(centres)} frames of landmarks for a video of {len(frames)} frames", landmarks)
        boxes = [settings.box.centred_at(x, y) for x, y in centres]
    return normalise(crop_frames(frames, boxes, settings.size)), report


def mouth_crops(video: str | PathLike, settings: CropSettings = MouthCropSettings(),
                landmarks: str | PathLike | None = None) -> torch.Tensor:
    """Normalised grayscale mouth crops (T, h, w) of every frame of `video` (`crop_video` without its report)."""
    return crop_video(video, settings, landmarks)[0]


def _stamp(path: Path | None) -> list | None:
    return None if path is None else [str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns]


class MouthCache:
    """Mouth crops cached as .npy files in `folder` (with a .json `CropReport` beside each), keyed by the video
    (path, size, mtime), the landmarks file, the settings and, for MTCNN crops, the weights files; a changed
    video, setting or weight gives a new key, never a stale crop. `reports` holds the report of every video
    asked for, whether cropped now or read back."""

    def __init__(self, folder: str | PathLike, settings: CropSettings = MouthCropSettings()):
        self.folder, self.settings = Path(folder), settings
        self.reports: dict[str, CropReport] = {}

    def key(self, video: Path, landmarks: Path | None) -> str:
        weights = []
        if isinstance(self.settings, AlignedCropSettings):
            weights = [_stamp(p) for p in sorted(Path(self.settings.weights).glob("*.pt"))]
        text = json.dumps([_stamp(video), _stamp(landmarks), type(self.settings).__name__, asdict(self.settings),
                           weights], sort_keys=True)
        return f"{video.stem}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"

    def __call__(self, video: str | PathLike, landmarks: str | PathLike | None = None) -> torch.Tensor:
        """Crops (T, h, w) of `video`, from the cache when present."""
        video = Path(video)
        if not video.is_file():
            raise InputError("video file not found", video)
        landmarks = None if landmarks is None else Path(landmarks)
        path = self.folder / f"{self.key(video, landmarks)}.npy"
        if path.is_file() and path.with_suffix(".json").is_file():
            self.reports[str(video)] = CropReport(**json.loads(path.with_suffix(".json").read_text()))
            return torch.from_numpy(np.load(path, allow_pickle=False))
        crops, report = crop_video(video, self.settings, landmarks)
        with atomic_path(path) as tmp:
            np.save(tmp, crops.numpy())
        with atomic_path(path.with_suffix(".json")) as tmp:
            Path(tmp).write_text(json.dumps(asdict(report)))
        self.reports[str(video)] = report
        return crops
