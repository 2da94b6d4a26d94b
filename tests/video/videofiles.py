"""Small videos written with PyAV for the video tests (a helper module, not a conftest, so its name is
unique): frame i is a flat grey of level `level(i)`, so a frame read back identifies itself by its mean
(lossy codecs keep a flat frame's mean within a few levels)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def level(i: int) -> int:
    """The grey level of frame i (distinct for i < 31, 8 levels apart)."""
    return 8 * (i % 31) + 4


def frame_ids(frames: np.ndarray) -> list[int]:
    """Frame numbers recovered from flat-grey frames (N, H, W, 3)."""
    return [int(round((float(f.mean()) - 4) / 8)) for f in frames]


def write_video(path: Path, n: int = 30, *, fps: int = 25, size: tuple[int, int] = (48, 64), codec: str = "libx264",
                pts: list[int] | None = None, gop: int = 8, options: dict | None = None, noise: int = 0) -> Path:
    """Write n flat-grey frames (height, width = size); `pts` in milliseconds makes a variable frame rate;
    `noise` adds a zero-mean random texture of that amplitude (bigger packets, as in real video)."""
    h, w = size
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.gop_size = gop
        if codec == "libx264":
            stream.options = {"bf": "0" if pts else "2", "crf": "10", "keyint": str(gop), "min-keyint": str(gop),
                              "scenecut": "0"}
        if pts is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i in range(n):
            texture = rng.integers(-noise, noise + 1, (h, w, 1)) if noise else np.zeros((h, w, 1))
            image = np.clip(level(i) + texture - texture.mean(), 0, 255).round().astype(np.uint8)  # (h, w, 1)
            frame = av.VideoFrame.from_ndarray(np.repeat(image, 3, axis=2), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_frame_folder(folder: Path, n: int = 12, size: tuple[int, int] = (40, 56), first_number: int = 1) -> Path:
    """EPIC layout: folder/img_{:010d}.jpg numbered from `first_number`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((*size, 3), level(i), np.uint8)).save(folder / f"img_{i + first_number:010d}.jpg",
                                                                      quality=95)
    return folder
