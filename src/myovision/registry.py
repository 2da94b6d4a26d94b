"""The model registry: one way to add a model (`@register_model`) and one way to build it (`create_model`).

Modelled on timm: a builder is a keyword-only function returning an `nn.Module`; pretrained weights are
loaded by `create_model(..., checkpoint=PATH)` apart from the architecture, with safe loading only.
"""

from __future__ import annotations

import fnmatch
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from myovision.errors import InputError

if TYPE_CHECKING:  # torch is imported when a model is built, so `import myovision` and the CLI start fast
    import torch
    from torch import nn

_BUILDERS: dict[str, Callable[..., "nn.Module"]] = {}


def register_model(name: str | None = None) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model builder under `name` (default: the function's name)."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or builder.__name__
        if key in _BUILDERS:
            raise KeyError(f"model {key!r} is already registered")
        _BUILDERS[key] = builder
        return builder

    return wrap


def _import_model_modules() -> None:
    """Import the built-in model modules, whose decorators register them."""
    import importlib

    importlib.import_module("myovision.models")


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a glob `pattern`, sorted."""
    _import_model_modules()
    return sorted(n for n in _BUILDERS if fnmatch.fnmatchcase(n, pattern))


def create_model(name: str | None = None, *, checkpoint: str | Path | None = None, **kwargs: Any) -> nn.Module:
    """Build model `name` with `kwargs`; load `checkpoint` (safetensors or a torch file) if given.

    A run folder written by a train command (``model.json`` + ``model.safetensors``) is a checkpoint too:
    ``create_model(checkpoint=RUN)`` rebuilds the model it names with its keywords (`kwargs` override them).
    Another folder (e.g. written by ``transformers.CLIPModel.save_pretrained``) is handed to builders that take
    a ``pretrained`` folder; for the others it is an InputError.
    """
    _import_model_modules()
    if checkpoint is not None and Path(checkpoint).is_dir() and (Path(checkpoint) / "model.json").is_file():
        from myovision.runs import WEIGHTS, read_model_spec

        spec = read_model_spec(checkpoint)
        if name is not None and name != spec["model"]:
            raise InputError(f"the run holds a {spec['model']!r} model, not {name!r}", checkpoint)
        return create_model(spec["model"], checkpoint=Path(checkpoint) / WEIGHTS, **{**spec["kwargs"], **kwargs})
    if name is None:
        raise InputError("give a model name, or a run folder as checkpoint", checkpoint)
    if name not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS))
        raise KeyError(f"unknown model {name!r}; registered: {known}")
    builder = _BUILDERS[name]
    if checkpoint is not None and Path(checkpoint).is_dir():
        if "pretrained" not in inspect.signature(builder).parameters:
            raise InputError(f"model {name!r} loads checkpoint files, not folders", checkpoint)
        return builder(pretrained=checkpoint, **kwargs)
    model = builder(**kwargs)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    return model


class _Inert:
    """Stand-in for a class outside torch's weights-only allowlist: records its arguments and state, runs no code."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state) -> None:
        self.state = state


def _stand_in(qualified: str) -> type:
    module, _, name = qualified.rpartition(".")
    cls = type(name, (_Inert,), {"__module__": module})
    cls.__qualname__ = name
    return cls


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint without running code from it.

    `.safetensors` files are read directly; anything else goes through `torch.load(weights_only=True)`.
    A Lightning checkpoint's `state_dict` entry is unwrapped. Lightning checkpoints of Hydra-configured
    modules (emg2qwerty's releases) pickle hyper-parameters as omegaconf objects, which the weights-only
    unpickler refuses: each such class is replaced by an inert stand-in (no code of it runs) and only the
    tensors are kept. The weights-only unpickler is never switched off.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint file not found", path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # SafetensorError for truncated or malformed files
            raise InputError(f"not a readable safetensors file ({exc})", path) from exc
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint (legacy format, truncated): torch.load below decides
        unsafe = []
    try:
        with torch.serialization.safe_globals([_stand_in(g) for g in unsafe]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or unsafe files
        # torch's own message goes on with advice to unpickle the file unsafely: only its first sentence is shown
        first = str(exc).strip().split("\n")[0].split(". ")[0][:120]
        raise InputError(f"not a loadable weights-only checkpoint ({type(exc).__name__}: {first})", path) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"expected a state dict of tensors, found {type(obj).__name__}", path)
    return obj


def load_checkpoint(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load a checkpoint into `model`; with `strict`, missing or unexpected keys are an error naming them.

    A tensor whose shape differs from the model's is always an InputError listing the first few.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise InputError(f"checkpoint shapes do not fit {type(model).__name__}: {wrong[:5]}", path)
    result = model.load_state_dict(state, strict=False)
    if strict and (result.missing_keys or result.unexpected_keys):
        raise InputError(
            f"checkpoint does not fit {type(model).__name__}: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}",
            path,
        )
    return model
