"""Run folders: the one reader and the one writer of what a train or experiment command leaves behind.

A run folder IS a checkpoint. Every train command writes into its ``--out`` folder:

- ``config.yaml``: the fully resolved configuration, defaults included (``--config`` reads it back);
- ``run.json``: command line, versions (myovision, torch, lightning, numpy, Python), git revision, device,
  seed, and every data path with its size and modification time;
- ``model.safetensors`` + ``model.json`` (registered model name and builder keywords): enough for
  ``create_model(checkpoint=RUN)`` to rebuild the model; a system may add files of its own beside them;
- ``checkpoints/last.ckpt`` (and ``best.ckpt``): Lightning checkpoints for ``--resume``;
- ``metrics.json``: one schema across systems: lower-case keys, rates as fractions, counts beside rates;
- ``logs/``: CSV (``metrics.csv``) and TensorBoard logs; ``report.html``: self-contained.

Nothing is written outside the folder, every file is written atomically, and a folder holding another run is
refused unless it is resumed with the same configuration.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import yaml

from myovision.errors import InputError
from myovision.fileio import atomic_path, atomic_write_text, read_yaml

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "myovision.run/1"
CONFIG, RUN, MODEL, WEIGHTS, METRICS = "config.yaml", "run.json", "model.json", "model.safetensors", "metrics.json"
CHECKPOINTS, LOGS, REPORT = "checkpoints", "logs", "report.html"
LAST_CHECKPOINT = "last.ckpt"
_KEY = re.compile(r"^[a-z0-9_@.\-]+$")


def is_run(path: str | Path) -> bool:
    """Whether `path` is a run folder with a model (model.json beside model.safetensors)."""
    path = Path(path)
    return (path / MODEL).is_file() and (path / WEIGHTS).is_file()


def holds_work(path: str | Path) -> bool:
    """Whether `path` holds anything a new run must not overwrite: any entry besides the config.yaml and
    run.json of a run that stopped on bad input before it wrote anything else."""
    path = Path(path)
    return path.is_dir() and any(p.name not in (CONFIG, RUN) for p in path.iterdir())


def read_config(path: str | Path) -> dict:
    """The mapping in a YAML config file; InputError naming the file when it is missing or not a mapping."""
    return read_yaml(path)


def dump_config(config: dict) -> str:
    """YAML text of a resolved configuration (keys in the given order)."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)


def start_run(out: str | Path, config: dict, *, command: Iterable[str] | None = None, seed: int | None = None,
              data: Iterable[str | Path] = (), device: str | None = None, resume: bool = False,
              ignore_on_resume: Iterable[str] = ()) -> Path:
    """Create (or, with `resume`, re-open) the run folder `out`; write config.yaml and run.json.

    A folder that already holds a run is refused unless `resume` is set; a resumed run must have been
    started with the same configuration (keys in `ignore_on_resume`, such as the number of devices, may
    differ). Returns the folder.
    """
    out = Path(out)
    existing = out / CONFIG
    if resume:
        if not existing.is_file():
            raise InputError("--resume needs a run folder written by a train command (config.yaml missing)", out)
        differences = config_differences(read_config(existing), config, ignore=set(ignore_on_resume))
        if differences:
            raise InputError(f"--resume with another configuration than the run's ({'; '.join(differences[:3])})",
                             existing)
    elif holds_work(out):
        raise InputError("already holds a run: give another --out, or --resume to continue it", out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(existing, dump_config(config))
    info = run_info(command=command, seed=seed, data=data, device=device)
    if resume and (out / RUN).is_file():
        previous = json.loads((out / RUN).read_text())
        info["resumed"] = previous.get("resumed", []) + [previous.get("started")]
        info["started"] = previous.get("started", info["started"])
    atomic_write_text(out / RUN, json.dumps(info, indent=1) + "\n")
    return out


def config_differences(old: dict, new: dict, ignore: set[str], prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf that differs between two nested configs (dotted keys in `ignore` skipped)."""
    found = []
    for key in dict.fromkeys([*old, *new]):
        name = f"{prefix}{key}"
        if name in ignore:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += config_differences(a, b, ignore, f"{name}.")
        elif _plain(a) != _plain(b):
            found.append(f"{name}: {a!r} -> {b!r}")
    return found


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal (YAML reads tuples back as lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_info(*, command: Iterable[str] | None = None, seed: int | None = None, data: Iterable[str | Path] = (),
             device: str | None = None) -> dict:
    """What run.json records: the command line, versions, git revision, device, seed and data files."""
    import datetime

    from myovision import __version__

    versions = {"myovision": __version__, "python": platform.python_version()}
    for name in ("torch", "lightning", "numpy"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        versions[name] = getattr(module, "__version__", None)
    return {
        "format": FORMAT,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": list(sys.argv if command is None else command),
        "cwd": os.getcwd(),
        "versions": versions,
        "git_revision": git_revision(),
        "host": platform.node(),
        "device": device,
        "seed": seed,
        "data": [describe_path(p) for p in data],
    }


def git_revision() -> str | None:
    """The myovision source tree's git commit (with '+dirty' for uncommitted changes), or None outside git."""
    source = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10)
        if rev.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() + ("+dirty" if dirty else "")


def describe_path(path: str | Path) -> dict:
    """{"path", "bytes", "files", "modified"} of a data file or folder (a folder: totals over its files)."""
    import datetime

    path = Path(path)
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
    else:
        files = [path] if path.is_file() else []
    stats = [f.stat() for f in files]
    modified = max((s.st_mtime for s in stats), default=None)
    return {"path": str(path.resolve()), "bytes": sum(s.st_size for s in stats), "files": len(files),
            "modified": None if modified is None else
            datetime.datetime.fromtimestamp(modified, datetime.timezone.utc).isoformat(timespec="seconds")}


def save_model(out: str | Path, model: nn.Module, name: str, kwargs: dict | None = None,
               extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``model.json`` (the registered `name` and builder `kwargs`, plus
    `extra` fields a system needs) so that ``create_model(checkpoint=out)`` rebuilds the model."""
    out = Path(out)
    save_weights(out / WEIGHTS, model.state_dict())
    spec = {"format": FORMAT, "model": name, "kwargs": kwargs or {}, **(extra or {})}
    atomic_write_text(out / MODEL, json.dumps(spec, indent=1) + "\n")
    return out


def save_weights(path: str | Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """A state dict as a safetensors file, written atomically (tensors made contiguous and moved to the CPU)."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
    return Path(path)


def read_model_spec(path: str | Path) -> dict:
    """model.json of a run folder: {"model": name, "kwargs": {...}, ...}; InputError naming what is missing."""
    path = Path(path)
    for required in (MODEL, WEIGHTS):
        if not (path / required).is_file():
            raise InputError(f"not a run folder with a model ({required} missing)", path)
    try:
        spec = json.loads((path / MODEL).read_text())
        if not isinstance(spec, dict) or not isinstance(spec.get("model"), str):
            raise ValueError("no model name")
        if not isinstance(spec.setdefault("kwargs", {}), dict):
            raise ValueError("kwargs is not a mapping")
    except ValueError as exc:
        raise InputError(f"malformed model spec ({exc})", path / MODEL) from None
    return spec


def write_metrics(out: str | Path, metrics: dict) -> Path:
    """metrics.json in the one schema: lower-case metric names (the top-level keys, checked here; class names
    below them are data), rates as fractions, counts beside rates."""
    bad = [k for k in metrics if not _KEY.match(str(k))]
    if bad:
        raise ValueError(f"metrics keys must be lower-case: {bad[:5]}")
    return atomic_write_text(Path(out) / METRICS, json.dumps(metrics, indent=1, default=_json_default) + "\n")


def read_metrics(path: str | Path) -> dict:
    """metrics.json of a run folder."""
    file = Path(path) / METRICS
    if not file.is_file():
        raise InputError("run has no metrics.json", path)
    return json.loads(file.read_text())


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays as JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
