"""The GRID audio-visual corpus (Cooke et al., JASA 2006) in LipNet's layout: `video/<id>.mpg` and
`align/<id>.align` under one folder.

An align file has one `start end word` line per segment (CRLF line endings in the distributed files); times
are in 1/1000-frame units at 25 fps (frame = time // 1000); `sil` and `sp` are silence and short pause. The id
spells the sentence too (`grid_sentence`), and the reader checks both agree.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "align").mkdir(); (root / "video").mkdir()
>>> _ = (root / "align" / "bbaf2n.align").write_bytes(b"0 23750 sil\\r\\n23750 29500 bin\\r\\n")
>>> [(s.start, s.end, s.word) for s in read_align(root / "align" / "bbaf2n.align")]
[(0, 23, 'sil'), (23, 29, 'bin')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from myovision.decoding.grammar import grid_sentence
from myovision.errors import InputError, excerpt

FPS = 25
TIME_UNITS_PER_FRAME = 1000
SILENCES = ("sil", "sp")
#: Frames a video may lack against its alignment or its container's declared count (a codec's lost tail frame).
FRAME_TOLERANCE = 2
#: The latest align time read (one hour; a GRID sentence lasts 3 s): a larger one is an error, not a huge allocation.
MAX_ALIGN_TIME = 3600 * FPS * TIME_UNITS_PER_FRAME
_TIME = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Segment:
    """One aligned word (or silence) spanning frames [start, end)."""

    start: int
    end: int
    word: str
    line: int = field(default=0, compare=False)  # its line in the align file (0: not read from one)


@dataclass(frozen=True)
class Utterance:
    """One spoken sentence: its video, words and (when known) word segments in frames."""

    id: str
    video: Path
    words: tuple[str, ...]
    segments: tuple[Segment, ...] = ()
    align: Path | None = None  # the align file the segments come from

    @property
    def text(self) -> str:
        return " ".join(self.words)


def read_align(path: str | PathLike) -> list[Segment]:
    """Segments of a GRID align file, in frames. A missing file, a malformed line, a time that is not a whole
    number from 0 to `MAX_ALIGN_TIME` (negative, NaN, 1e26), or segments that run backwards or overlap are an
    InputError naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("alignment file not found", path)
    segments = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise InputError(f"line {lineno}: expected `start end word`, got {excerpt(line.strip())}", path)
        for value in fields[:2]:
            if not _TIME.fullmatch(value) or int(value) > MAX_ALIGN_TIME:
                raise InputError(f"line {lineno}: time {excerpt(value)} is not a whole number from 0 to "
                                 f"{MAX_ALIGN_TIME} (1/1000 frame units, one hour at {FPS} fps)", path)
        start, end = (int(v) // TIME_UNITS_PER_FRAME for v in fields[:2])
        if end < start or (segments and start < segments[-1].end):
            raise InputError(f"line {lineno}: segment {start}-{end} runs backwards or overlaps the previous", path)
        segments.append(Segment(start, end, fields[2], lineno))
    if not segments:
        raise InputError("alignment file holds no segments", path)
    return segments


def check_frame_count(utt: Utterance, frames: int, declared: int | None = None,
                      tolerance: int = FRAME_TOLERANCE) -> None:
    """InputError when a video and its alignment disagree by more than `tolerance` frames.

    frames: the frames decoded; declared: the count its container states (None: not stated). A video whose
    decoded frames fall short of the declared count, or (without one) of the alignment, is named as truncated;
    a complete video that an alignment segment runs past names the align file and the segment's line.
    """
    aligned = max((s.end for s in utt.segments), default=0)
    if declared is not None and frames < declared - tolerance:
        raise InputError(f"{frames} frames decoded, but the container declares {declared} (a truncated video?)",
                         utt.video)
    if frames >= aligned - tolerance:
        return
    if declared is None:
        raise InputError(f"{frames} frames decoded, but the alignment spans {aligned} (a truncated video?)",
                         utt.video)
    late = next(s for s in utt.segments if s.end > frames + tolerance)
    raise InputError(f"line {late.line}: segment {late.start}-{late.end} ends beyond the video's {frames} frames "
                     f"({utt.video})", utt.align or utt.video)


def read_grid_utterance(root: str | PathLike, utterance_id: str) -> Utterance:
    """`root/video/<id>.mpg` with `root/align/<id>.align`; the align words must spell the id's sentence."""
    root = Path(root)
    video = root / "video" / f"{utterance_id}.mpg"
    if not video.is_file():
        raise InputError("video file not found", video)
    align = root / "align" / f"{utterance_id}.align"
    segments = read_align(align)
    words = tuple(s.word for s in segments if s.word not in SILENCES)
    spelled = tuple(grid_sentence(utterance_id))
    if words != spelled:
        raise InputError(f"aligned words {' '.join(words)!r} differ from the sentence the id spells "
                         f"{' '.join(spelled)!r}", align)
    return Utterance(utterance_id, video, words, tuple(segments), align)


def read_grid(root: str | PathLike, ids: list[str] | None = None) -> list[Utterance]:
    """Every utterance of a GRID-layout folder (sorted by id), or the `ids` given."""
    root = Path(root)
    if not (root / "video").is_dir():
        raise InputError("not a GRID-layout folder (no video/ sub-folder)", root)
    if ids is None:
        ids = sorted(p.stem for p in (root / "video").glob("*.mpg"))
        if not ids:
            raise InputError("no .mpg videos in video/", root)
    return [read_grid_utterance(root, i) for i in ids]
