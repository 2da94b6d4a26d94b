"""Video lists and the evaluation protocol of MAXI (suppl. Sec. 1), following XCLIP and ViFi-CLIP:

- `read_path_list`: the videos of a list file (one path per line, a `path,...` CSV, or a split file's
  "path label" lines), checked to exist; missing ones are an InputError naming them, or skipped with `skip_bad`;
  every listed path (and every split file's) resolves inside its root (`..`, absolute paths and links out of it
  refused) unless `allow_outside_root`;
- `ucf101_split` / `hmdb51_split`: the test videos of split 1, 2 or 3 of the official split files, with labels
  (UCF101: classInd.txt + testlist0k.txt; HMDB51: <class>_test_split<k>.txt, id 2 = test); report the mean and
  std over the three splits (`mean_std`);
- `k600_zero_shot_classes`: the Kinetics-600 classes not in Kinetics-400 (220), three random subsets of 160 from a seed;
- `noisy_dictionary`: the action dictionary padded with N distractor names (suppl. Table 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from myovision.data.manifest import inside_root
from myovision.errors import InputError, excerpt
from myovision.zeroshot.prompts import clean_class_name

SPLITS = (1, 2, 3)


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError("list file not found", path)
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def check_exist(paths: Sequence[Path], source: str | PathLike, skip_bad: bool = False, *,
                root: str | PathLike | None = None, allow_outside_root: bool = False) -> list[Path]:
    """`paths` that exist (files, or frame folders); a missing one is an InputError naming the first few (or, with
    `skip_bad`, dropped with a line on stderr). With `root`, a path resolving outside it (`inside_root`) is an
    InputError naming `source`, never skipped, unless `allow_outside_root`."""
    import sys

    if root is not None:
        for p in paths:
            problem = inside_root(p, Path(root), allow_outside_root)
            if problem:
                raise InputError(f"listed video {excerpt(str(p))}: {problem}", source)
    missing = [p for p in paths if not p.exists()]
    if missing and not skip_bad:
        raise InputError(f"{len(missing)} listed videos are missing: {', '.join(str(p) for p in missing[:3])}"
                         f"{' ...' if len(missing) > 3 else ''} (--skip-bad leaves them out)", source)
    if missing:
        print(f"{source}: skipping {len(missing)} missing videos: {', '.join(str(p) for p in missing[:3])}"
              f"{' ...' if len(missing) > 3 else ''}", file=sys.stderr)
    return [p for p in paths if p.exists()]


def read_path_list(path: str | PathLike, root: str | PathLike | None = None, *, skip_bad: bool = False,
                   allow_outside_root: bool = False) -> list[Path]:
    """Video paths of a list file, relative to `root` (default: the list's folder): one per line, the first
    comma-separated column of a CSV with a `path` header, or the first word of "path label" lines. A path
    resolving outside `root` is an InputError unless `allow_outside_root`."""
    path = Path(path)
    lines = _lines(path)
    if not lines:
        raise InputError("the video list is empty", path)
    if lines[0].split(",")[0].strip().lower() == "path":
        names = [line.split(",")[0].strip() for line in lines[1:]]
    else:
        names = [line.split(",")[0].split()[0] for line in lines]
    base = Path(root) if root is not None else path.parent
    return check_exist([base / n for n in names], path, skip_bad, root=base, allow_outside_root=allow_outside_root)


@dataclass(frozen=True)
class Split:
    """A test split: videos, class index per video, class names."""

    paths: list[Path]
    labels: list[int]
    classes: list[str]


def _split_class_name(name: str) -> str:
    """UCF101's CamelCase ("ApplyEyeMakeup") and HMDB51's snake_case ("brush_hair") as words."""
    return clean_class_name(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)).lower()


def ucf101_split(split_dir: str | PathLike, video_root: str | PathLike, split: int, *, skip_bad: bool = False,
                 allow_outside_root: bool = False) -> Split:
    """UCF101 test split `split` (1-3): classInd.txt ("1 ApplyEyeMakeup") and testlist0<split>.txt
    ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi") from ucfTrainTestlist, videos under `video_root` (a listed
    video resolving outside it is an InputError unless `allow_outside_root`)."""
    split_dir, root = Path(split_dir), Path(video_root)
    if split not in SPLITS:
        raise InputError(f"UCF101 has splits 1, 2, 3, not {split}")
    folders = [line.split()[1] for line in _lines(split_dir / "classInd.txt")]
    index = {f: i for i, f in enumerate(folders)}
    rows = [line.split()[0] for line in _lines(split_dir / f"testlist0{split}.txt")]
    unknown = [r for r in rows if r.split("/")[0] not in index]
    if unknown:
        raise InputError(f"class folder of {unknown[0]} is not in classInd.txt", split_dir / f"testlist0{split}.txt")
    keep = set(check_exist([root / r for r in rows], split_dir / f"testlist0{split}.txt", skip_bad, root=root,
                           allow_outside_root=allow_outside_root))
    pairs = [(root / r, index[r.split("/")[0]]) for r in rows if root / r in keep]
    return Split([p for p, _ in pairs], [y for _, y in pairs], [_split_class_name(f) for f in folders])


def hmdb51_split(split_dir: str | PathLike, video_root: str | PathLike, split: int, *, skip_bad: bool = False,
                 allow_outside_root: bool = False) -> Split:
    """HMDB51 test split `split` (1-3): the files <class>_test_split<split>.txt ("name.avi 2" marks a test video),
    classes in sorted order, videos at `video_root`/<class>/<name> (inside it unless `allow_outside_root`)."""
    split_dir, root = Path(split_dir), Path(video_root)
    if split not in SPLITS:
        raise InputError(f"HMDB51 has splits 1, 2, 3, not {split}")
    files = sorted(split_dir.glob(f"*_test_split{split}.txt"))
    if not files:
        raise InputError(f"no *_test_split{split}.txt files", split_dir)
    classes, paths, labels = [], [], []
    for k, f in enumerate(files):
        folder = f.name[:-len(f"_test_split{split}.txt")]
        classes.append(_split_class_name(folder))
        for line in _lines(f):
            name, mark = line.split()[:2]
            if mark == "2":
                paths.append(root / folder / name)
                labels.append(k)
    keep = set(check_exist(paths, split_dir, skip_bad, root=root, allow_outside_root=allow_outside_root))
    pairs = [(p, y) for p, y in zip(paths, labels) if p in keep]
    return Split([p for p, _ in pairs], [y for _, y in pairs], classes)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation over splits, as the three-split protocol reports them."""
    return float(np.mean(values)), float(np.std(values))


def k600_zero_shot_classes(k400: Sequence[str], k600: Sequence[str], seed: int = 0, splits: int = 3,
                           size: int = 160) -> list[list[str]]:
    """`splits` subsets of `size` classes drawn (seeded) from the Kinetics-600 classes not in Kinetics-400
    (220 with the official lists; compared as cleaned names), each in K600's order."""
    seen = {clean_class_name(n).lower() for n in k400}
    novel = [n for n in k600 if clean_class_name(n).lower() not in seen]
    if len(novel) < size:
        raise InputError(f"only {len(novel)} Kinetics-600 classes are not in Kinetics-400; a subset needs {size}")
    rng = np.random.default_rng(seed)
    return [[novel[i] for i in sorted(rng.choice(len(novel), size, replace=False))] for _ in range(splits)]


def noisy_dictionary(dictionary: Sequence[str], distractors: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """The dictionary followed by `n` distractor names (seeded draw, none already in it): the over-specified
    dictionaries of MAXI's Table 9 (K400 + verbs parsed from WebVid2.5M)."""
    have = set(dictionary)
    pool = list(dict.fromkeys(d for d in distractors if d not in have))
    if n > len(pool):
        raise InputError(f"{n} distractors asked for, {len(pool)} available")
    rng = np.random.default_rng(seed)
    return list(dictionary) + [pool[i] for i in rng.choice(len(pool), n, replace=False)]
