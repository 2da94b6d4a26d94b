"""MTCNN face detection (Zhang et al., IEEE SPL 2016): an image pyramid scanned by P-Net, candidates refined by
R-Net and O-Net, each stage with bounding-box regression and non-maximum suppression (NMS); O-Net gives five
landmarks (eyes, nose tip, mouth corners). The networks are `myovision.models.mtcnn`.

The stages follow the authors' released detector (and facenet-pytorch's port of it, whose weights these are):
pyramid scales 12/min_face * factor^k while the short side stays >= 12 pixels, each level area-resampled;
P-Net cells become 12 x 12 windows at stride 2 (`cell_boxes`); NMS 0.5 within a level, 0.7 across levels;
boxes squared (`square`) and cut out of the frame zero-padded where they leave it (`crop_boxes`), resampled
to 24 x 24 for R-Net and 48 x 48 for O-Net; the last NMS uses the overlap over the smaller box ("Min").
Coordinates are pixels with the reference's convention: a box (x1, y1, x2, y2) covers the pixel columns
trunc(x1) - 1 .. trunc(x2) - 1 (0-based); landmarks are 0-based pixel positions.

Everything is batched over frames: boxes of different frames never suppress each other (`nms(groups=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from myovision.models.mtcnn import MTCNN
from myovision.video.crop_settings import MIN_FACE


@dataclass(frozen=True)
class DetectorSettings:
    """MTCNN's search settings (the authors' defaults)."""

    min_face: float = MIN_FACE
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709
    batch_frames: int = 25


@dataclass
class Faces:
    """The best face (highest O-Net probability) of each of T frames; NaN rows where none was found.

    boxes (T, 4) x1, y1, x2, y2; scores (T,); landmarks (T, 5, 2) (x, y) in `models.mtcnn.LANDMARKS` order."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: a face was found on the frame."""
        return np.isfinite(self.scores)


def normalise_pixels(x: torch.Tensor) -> torch.Tensor:
    """RGB pixel values 0..255 -> the networks' input scale (x - 127.5) / 128."""
    return (x - 127.5) * 0.0078125


def box_overlap(a: torch.Tensor, b: torch.Tensor, mode: str = "union") -> torch.Tensor:
    """Overlap of boxes a (N, 4) and b (N, 4) pair by pair: intersection over union, or over the smaller area
    ("min")."""
    w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp_min(0)
    h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp_min(0)
    inter = w * h
    area_a, area_b = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    denom = torch.minimum(area_a, area_b) if mode == "min" else area_a + area_b - inter
    return inter / denom.clamp_min(1e-12)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union",
        groups: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes (N, 4), by group then best score first. A box
    is dropped when it overlaps a kept, better-scoring box of the same group (e.g. frame) by more than
    `threshold` (`box_overlap`).

    Vectorised over groups: each step keeps the best remaining box of every group at once and compares it with
    all remaining boxes of its group, so the steps number the most boxes kept in one group."""
    if groups is None:
        groups = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True)
    order = order[groups[order].argsort(stable=True)]  # by group, best score first within each
    boxes, groups = boxes[order], groups[order]
    alive = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    kept = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    while alive.any():
        idx = alive.nonzero()[:, 0]  # (M,) remaining, grouped, best first
        g = groups[idx]
        starts = torch.ones_like(g, dtype=torch.bool)
        starts[1:] = g[1:] != g[:-1]
        leaders = idx[starts]  # (G,) best remaining box of each group
        leader_of = leaders[starts.cumsum(0) - 1]  # (M,)
        kept[leaders] = True
        alive[idx[box_overlap(boxes[leader_of], boxes[idx], mode) > threshold]] = False
        alive[leaders] = False
    return order[kept]


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes (N, 4) grown to squares of their longer side about the same centre."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1, y1 = boxes[:, 0] + (w - side) / 2, boxes[:, 1] + (h - side) / 2
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)


def regress(boxes: torch.Tensor, offsets: torch.Tensor, inclusive: bool = True) -> torch.Tensor:
    """Bounding-box regression: corners (N, 4) moved by offsets (N, 4) in units of the box's width and
    height (inclusive: pixel counts x2 - x1 + 1, as R-Net and O-Net were trained; P-Net's use x2 - x1)."""
    extra = 1.0 if inclusive else 0.0
    wh = torch.stack([boxes[:, 2] - boxes[:, 0] + extra, boxes[:, 3] - boxes[:, 1] + extra], dim=1)
    return boxes + offsets * wh.repeat(1, 2)


def integral_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> (B, C, H + 1, W + 1) exact integer sums of images[..., :i, :j] (int32 when the
    largest sum fits, which is faster, else int64)."""
    dtype = torch.int32 if 255 * images.shape[2] * images.shape[3] < 2**31 else torch.int64
    return F.pad(images.to(dtype).cumsum(2, dtype=dtype).cumsum(3, dtype=dtype), (1, 0, 1, 0))


def crop_boxes(integral: torch.Tensor, frame: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resampled crops (N, C, size, size) of boxes (N, 4) of frames `frame` (N,), read from their
    integral images (B, C, H + 1, W + 1). Each output pixel is the mean over its bin of the box (the bins of
    `F.interpolate(mode="area")`), counting pixels outside the frame as 0 (the reference pads with zeros)."""
    height, width = integral.shape[2] - 1, integral.shape[3] - 1
    x0, y0 = boxes[:, 0].trunc().long() - 1, boxes[:, 1].trunc().long() - 1  # (N,) 0-based first column, row
    w = (boxes[:, 2].trunc().long() - 1 - x0 + 1).clamp_min(1)
    h = (boxes[:, 3].trunc().long() - 1 - y0 + 1).clamp_min(1)
    i = torch.arange(size, device=boxes.device)

    def bins(start, length, limit):  # (N, size) clipped bin edges and the full bin lengths
        lo = start[:, None] + torch.div(i * length[:, None], size, rounding_mode="floor")
        hi = start[:, None] + torch.div((i + 1) * length[:, None] + size - 1, size, rounding_mode="floor")
        return lo.clamp(0, limit), hi.clamp(0, limit), (hi - lo)

    r0, r1, rn = bins(y0, h, height)
    c0, c1, cn = bins(x0, w, width)
    n = frame[:, None, None]

    def at(rows, cols):  # (N, size, size, C)
        return integral[n, :, rows[:, :, None], cols[:, None, :]]

    sums = at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0)
    counts = rn[:, :, None] * cn[:, None, :]
    return (sums / counts[..., None]).permute(0, 3, 1, 2).float()


def cell_boxes(prob: torch.Tensor, offsets: torch.Tensor, scale: float, threshold: float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """P-Net's cells over `threshold` as boxes in frame pixels: (frame (N,), boxes (N, 4), scores (N,),
    offsets (N, 4)) from probabilities (B, H', W') and offsets (B, 4, H', W') at pyramid `scale`."""
    cells = (prob >= threshold).nonzero()  # (N, 3): frame, row, column
    xy = cells[:, [2, 1]].to(prob.dtype)
    boxes = torch.cat([((2 * xy + 1) / scale).floor(), ((2 * xy + 12) / scale).floor()], dim=1)
    return cells[:, 0], boxes, prob[cells[:, 0], cells[:, 1], cells[:, 2]], \
        offsets.permute(0, 2, 3, 1)[cells[:, 0], cells[:, 1], cells[:, 2]]


def pyramid_scales(height: int, width: int, settings: DetectorSettings) -> list[float]:
    """Scales 12/min_face * factor^k while the scaled short side is at least 12 pixels."""
    scales, scale = [], 12.0 / settings.min_face
    short = min(height, width) * scale
    while short >= 12:
        scales.append(scale)
        scale, short = scale * settings.factor, short * settings.factor
    return scales


@torch.no_grad()
def propose(model: MTCNN, images: torch.Tensor, settings: DetectorSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """P-Net stage on frames (B, 3, H, W) 0..255: (frame (N,), squared boxes (N, 4))."""
    height, width = images.shape[2:]
    found = []
    for scale in pyramid_scales(height, width, settings):
        level = F.interpolate(images, size=(int(height * scale + 1), int(width * scale + 1)), mode="area")
        offsets, prob = model.pnet(normalise_pixels(level))
        frame, boxes, scores, offs = cell_boxes(prob, offsets, scale, settings.thresholds[0])
        keep = nms(boxes, scores, 0.5, groups=frame)
        found.append((frame[keep], boxes[keep], scores[keep], offs[keep]))
    frame, boxes, scores, offs = (torch.cat(parts) for parts in zip(*found))
    keep = nms(boxes, scores, 0.7, groups=frame)
    return frame[keep], square(regress(boxes[keep], offs[keep], inclusive=False))


@torch.no_grad()
def refine(model: MTCNN, integral: torch.Tensor, frame: torch.Tensor, boxes: torch.Tensor, threshold: float
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """R-Net stage: the candidates (frame (N,), boxes (N, 4)) it keeps, regressed and squared."""
    if len(boxes) == 0:
        return frame, boxes
    offsets, prob = model.rnet(normalise_pixels(crop_boxes(integral, frame, boxes, 24)))
    ok = prob > threshold
    frame, boxes, prob, offsets = frame[ok], boxes[ok], prob[ok], offsets[ok]
    keep = nms(boxes, prob, 0.7, groups=frame)
    return frame[keep], square(regress(boxes[keep], offsets[keep]))


@torch.no_grad()
def output(model: MTCNN, integral: torch.Tensor, frame: torch.Tensor, boxes: torch.Tensor, threshold: float
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """O-Net stage: (frame (N,), boxes (N, 4), scores (N,), landmarks (N, 5, 2)) of the faces it keeps."""
    if len(boxes) == 0:
        return frame, boxes, boxes.new_zeros(0), boxes.new_zeros(0, 5, 2)
    offsets, points, prob = model.onet(normalise_pixels(crop_boxes(integral, frame, boxes, 48)))
    ok = prob > threshold
    frame, boxes, prob, offsets, points = frame[ok], boxes[ok], prob[ok], offsets[ok], points[ok]
    wh = torch.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], dim=1)  # (N, 2)
    landmarks = points.view(-1, 2, 5).transpose(1, 2) * wh[:, None] + boxes[:, None, :2] - 1  # (N, 5, 2)
    boxes = regress(boxes, offsets)
    keep = nms(boxes, prob, 0.7, mode="min", groups=frame)
    return frame[keep], boxes[keep], prob[keep], landmarks[keep]


def detect_faces(model: MTCNN, frames: np.ndarray, settings: DetectorSettings = DetectorSettings()) -> Faces:
    """The most probable face of each uint8 RGB frame (T, H, W, 3), in batches of `settings.batch_frames`, on
    the device the model's weights are on."""
    t, device = len(frames), next(model.parameters()).device
    boxes, scores, landmarks = np.full((t, 4), np.nan), np.full(t, np.nan), np.full((t, 5, 2), np.nan)
    for first in range(0, t, settings.batch_frames):
        images = torch.from_numpy(frames[first:first + settings.batch_frames]).to(device).permute(0, 3, 1, 2)
        integral = integral_images(images)
        frame, cand = propose(model, images.float(), settings)
        frame, cand = refine(model, integral, frame, cand, settings.thresholds[1])
        frame, cand, prob, points = output(model, integral, frame, cand, settings.thresholds[2])
        frame, cand, prob, points = frame.cpu(), cand.cpu(), prob.cpu(), points.cpu()
        for i in prob.argsort().tolist():  # ascending: each frame ends with its most probable face
            k = first + int(frame[i])
            boxes[k], scores[k], landmarks[k] = cand[i].numpy(), float(prob[i]), points[i].numpy()
    return Faces(boxes, scores, landmarks)
