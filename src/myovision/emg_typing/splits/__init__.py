"""emg2qwerty's user splits, bundled (Sivakumar et al. 2024, emg2qwerty's ``config/user/``).

``generic`` is the split of its generic model: train and val sessions of 96 training users, and as test the 2 test
sessions of each of its 8 held-out test users. ``user0`` ... ``user7`` are those 8 users' personalised splits (one
user's train, val and test sessions each; their test sessions are generic's). Each YAML is in emg2qwerty's layout
(``dataset: {train: [{user, session}, ...], val: ..., test: ...}``), as the repository publishes it (the commit is
in each file's header). The sessions themselves are emg2qwerty's data: :func:`read_bundled_split` finds them as
``ROOT/<session>.hdf5`` and names a missing one in one line. A split given as a name here or as a path to a YAML
of the same layout: :func:`resolve_split`.

>>> bundled_splits()
['generic', 'user0', 'user1', 'user2', 'user3', 'user4', 'user5', 'user6', 'user7']
>>> {part: len(v) for part, v in split_sessions("generic").items()}
{'train': 837, 'val': 192, 'test': 16}
>>> [len(v) for v in split_sessions("user1").values()]
[9, 2, 2]
"""

from __future__ import annotations

from pathlib import Path

from myovision.data.emg2qwerty import SPLITS, read_split
from myovision.errors import InputError
from myovision.fileio import read_yaml

FOLDER = Path(__file__).resolve().parent


def bundled_splits() -> list[str]:
    """Names of the bundled splits, sorted."""
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def resolve_split(split: str | Path) -> Path:
    """The YAML of ``split``: a bundled name (``user0``) or a path to a split YAML."""
    if (FOLDER / f"{split}.yaml").is_file() and Path(split).name == str(split):
        return FOLDER / f"{split}.yaml"
    path = Path(split)
    if path.suffix not in (".yaml", ".yml"):
        raise InputError(f"unknown split {str(split)!r}: give a split YAML or one of {', '.join(bundled_splits())}")
    return path


def split_sessions(split: str | Path) -> dict[str, list[str]]:
    """Session ids of each part of ``split`` (``{"train": [...], "val": [...], "test": [...]}``), no files read."""
    path = resolve_split(split)
    doc = read_yaml(path)
    doc = doc.get("dataset", doc)
    return {part: [e["session"] if isinstance(e, dict) else e for e in doc.get(part) or []] for part in SPLITS}


def read_bundled_split(split: str | Path, root: str | Path) -> dict[str, list[Path]]:
    """Session files of ``split`` under ``root`` (the folder of emg2qwerty's ``.hdf5`` sessions)."""
    return read_split(resolve_split(split), root=root)
