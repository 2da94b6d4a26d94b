"""Tiny GRID-layout folders for the lip-reading tests (a helper module with a unique name): MPEG-1 videos of a
dark "mouth" ellipse whose opening follows the word being said, and CRLF align files in 1/1000-frame units."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from myovision.decoding.grammar import grid_sentence

SIZE = (64, 80)  # frame height, width
BOX = (16, 16, 32, 48)  # the mouth region: top, left, height, width
IDS = ("bbaf2n", "lgin8p", "prwz5s")


def segments(utterance_id: str, n_frames: int) -> list[tuple[int, int, str]]:
    """Silence for 4 frames, the six words in equal spans, silence to the end (frames)."""
    words = grid_sentence(utterance_id)
    span = (n_frames - 8) // len(words)
    out, t = [(0, 4, "sil")], 4
    for w in words:
        out.append((t, t + span, w))
        t += span
    return out + [(t, n_frames, "sil")]


def write_mpg(path: Path, openings: list[float]) -> Path:
    """One frame per opening (0..1): a dark ellipse of that height in the mouth box, on a light face."""
    h, w = SIZE
    yy, xx = np.mgrid[:h, :w]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg1video", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for o in openings:
            inside = ((xx - 40) / 18) ** 2 + ((yy - 32) / (2 + 10 * o)) ** 2 <= 1
            image = np.where(inside, 40, 200).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(image[..., None], 3, axis=2), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


SOURCE = "Synthetic GRID-layout test data (tests/gridfiles.py): an ellipse opening with each word's first letter"


def write_grid(root: Path, ids=IDS, n_frames: int = 32, align: bool = True) -> Path:
    """root/video/<id>.mpg (+ root/align/<id>.align); openings depend on each word's first letter. SOURCE.md
    says the folder is synthetic (reports name their data from it)."""
    (root / "video").mkdir(parents=True, exist_ok=True)
    (root / "align").mkdir(exist_ok=True)
    (root / "SOURCE.md").write_text(f"# {SOURCE}\n")
    for uid in ids:
        segs = segments(uid, n_frames)
        openings = np.zeros(n_frames)
        for start, end, word in segs:
            if word != "sil":
                openings[start:end] = (ord(word[0]) - 96) / 26
        write_mpg(root / "video" / f"{uid}.mpg", openings.tolist())
        if align:
            lines = [f"{s * 1000} {e * 1000} {word}" for s, e, word in segs]
            (root / "align" / f"{uid}.align").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return root
