"""LRS2-BBC layout (Afouras et al. 2018): `<folder>/<id>.mp4` beside `<folder>/<id>.txt`, whose `Text:` line
holds the upper-case sentence (its word timing table, when present, is ignored). Ids are the paths relative
to the root without suffix, e.g. `5535415699068794046/00001`. Words are returned in lower case.

>>> import tempfile, pathlib
>>> txt = pathlib.Path(tempfile.mkdtemp()) / "00001.txt"
>>> _ = txt.write_text("Text:  WHEN YOU LOOK AT IT\\nConf:  4\\n")
>>> read_lrs2_transcript(txt)
('when', 'you', 'look', 'at', 'it')
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from myovision.data.grid import Utterance
from myovision.errors import InputError


def read_lrs2_transcript(path: str | PathLike) -> tuple[str, ...]:
    """Lower-cased words of the `Text:` line of an LRS2 transcript file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("transcript file not found", path)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Text:"):
            words = tuple(line[len("Text:"):].lower().split())
            if not words:
                raise InputError("the Text: line is empty", path)
            return words
    raise InputError("no `Text:` line", path)


def read_lrs2(root: str | PathLike) -> list[Utterance]:
    """Every `<id>.mp4` under `root` (recursively, sorted) with its transcript `<id>.txt`."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("LRS2-layout folder not found", root)
    videos = sorted(root.rglob("*.mp4"))
    if not videos:
        raise InputError("no .mp4 videos", root)
    return [Utterance(v.relative_to(root).with_suffix("").as_posix(), v, read_lrs2_transcript(v.with_suffix(".txt")))
            for v in videos]
