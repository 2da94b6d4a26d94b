"""What an export needs: a module taking positional tensors, their names, and which axes may vary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn


@dataclass
class ExportSpec:
    """A model ready to export.

    module: in eval mode, forward(*inputs) -> one tensor or a tuple. sample(batch, length): example inputs with
    `batch` items and `length` steps on the time axis (in the input's own unit: samples, frames, clips).
    lengths: (the length traced, another one the check runs: equal when time is fixed by the model).
    dynamic_axes: {input or output name: {axis: "batch" | "time" | ...}}, as torch.onnx.export takes it.
    description: what the graph computes, its layouts and front-end, in one or two sentences.
    """

    module: nn.Module
    sample: Callable[[int, int], tuple[torch.Tensor, ...]]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    lengths: tuple[int, int]
    description: str
    metadata: dict[str, str] = field(default_factory=dict)

    def example(self) -> tuple[torch.Tensor, ...]:
        """The inputs traced: batch 2 at the first length."""
        return self.sample(2, self.lengths[0])

    def check_inputs(self) -> tuple[torch.Tensor, ...]:
        """Inputs of another batch size (3) and, where time is dynamic, another length: they test the axes."""
        return self.sample(3, self.lengths[1])


class Positional(nn.Module):
    """A model that takes a dict {name: tensor} (fusion heads) called with the tensors in `names` order."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, tuple(names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.names, tensors)))


class Composed(nn.Module):
    """front(x) then model: a signal front-end inside the exported graph."""

    def __init__(self, front: nn.Module, model: nn.Module):
        super().__init__()
        self.front, self.model = front, model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.front(x))


class Standardised(nn.Module):
    """front(x), standardised with statistics given at run time, then model: (x, mean, std) -> scores.

    For models trained on inputs standardised per session or subject with that group's own windows (gestures'
    `normalise`): the caller passes its group's mean and std of front(x) (shapes broadcast against it)."""

    def __init__(self, front: nn.Module, model: nn.Module):
        super().__init__()
        self.front, self.model = front, model

    def forward(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return self.model((self.front(x) - mean) / std)


class Method(nn.Module):
    """One method of a model as forward (e.g. CLIP's `encode_video`, the emg backbone's `embed`)."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(*tensors)
