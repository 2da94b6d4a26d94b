"""Model cost: parameters, parameter memory, multiply-adds counted on the modules, CPU latency.

Multiply-adds (MACs) are counted by forward hooks on the layers that do them, from the shapes of one real
forward pass, never from a per-model formula:

| layer                     | multiply-adds                                                        |
|---------------------------|----------------------------------------------------------------------|
| Conv1d/2d/3d              | output elements x (C_in / groups) x kernel volume                    |
| Linear                    | output elements x in_features                                         |
| MultiheadAttention        | Q, K, V and output projections + Q K^T + attention x V                |
| LSTM / GRU / RNN          | gates x (input + hidden) x hidden, per step, layer and direction       |

Batch norm (folded into the preceding convolution at inference), pooling, activations and additions are
element-wise and not counted, as in the lip-reading paper's cost formulas (Zeng, Du, Wang, eq. 4-6).
Memory is the parameters' storage in MiB (2^20 bytes) at their own dtype.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

_RNN_GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


@dataclass(frozen=True)
class Profile:
    """What `profile_model` measured; `asdict()` gives the CLI's JSON keys."""

    params: int
    macs: int
    memory_mb: float
    latency_ms: float | None

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters once)."""
    return sum(p.numel() for p in model.parameters())


def param_memory_mb(model: nn.Module) -> float:
    """Storage of the parameters in MiB (2^20 bytes)."""
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def _conv_macs(m: nn.Module, inputs: tuple, out: torch.Tensor) -> int:
    return out.numel() * (m.in_channels // m.groups) * int(torch.tensor(m.kernel_size).prod())


def _linear_macs(m: nn.Linear, inputs: tuple, out: torch.Tensor) -> int:
    return out.numel() * m.in_features


def _attention_macs(m: nn.MultiheadAttention, inputs: tuple, out: Any) -> int:
    query, key = inputs[0], inputs[1]
    batch_axis = 0 if m.batch_first else 1
    batch = query.shape[batch_axis] if query.dim() == 3 else 1
    lq, lk = query.shape[1 - batch_axis if query.dim() == 3 else 0], key.shape[1 - batch_axis if key.dim() == 3 else 0]
    e, kdim, vdim = m.embed_dim, m.kdim, m.vdim
    projections = lq * e * e + lk * kdim * e + lk * vdim * e + lq * e * e  # Q, K, V, output
    return batch * (projections + 2 * lq * lk * e)  # + Q K^T and weights x V over all heads


def _rnn_macs(m: nn.RNNBase, inputs: tuple, out: Any) -> int:
    x = inputs[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        steps = int(x.data.shape[0])  # total valid time steps over the batch
    else:
        steps = x.numel() // x.shape[-1]
    gates = next(g for cls, g in _RNN_GATES.items() if isinstance(m, cls))
    directions = 2 if m.bidirectional else 1
    hidden, total = m.hidden_size, 0
    for layer in range(m.num_layers):
        width = m.input_size if layer == 0 else hidden * directions
        total += directions * steps * gates * (width + hidden) * hidden
    return total


@runtime_checkable
class OwnMacs(Protocol):
    """A module that multiplies with parameters outside its submodules' forward (e.g. F.conv3d on a child's
    weight), so no layer hook sees those products: it counts them itself from its input and output."""

    def own_macs(self, x: torch.Tensor, out: torch.Tensor) -> int: ...


def _own_macs(m: OwnMacs, inputs: tuple, out: torch.Tensor) -> int:
    return m.own_macs(inputs[0], out)


_COUNTERS = (
    ((nn.Conv1d, nn.Conv2d, nn.Conv3d), _conv_macs),
    ((nn.Linear,), _linear_macs),
    ((nn.MultiheadAttention,), _attention_macs),
    ((nn.LSTM, nn.GRU, nn.RNN), _rnn_macs),
)


def count_macs(model: nn.Module, *inputs: Any, **kwargs: Any) -> int:
    """Multiply-adds of one forward pass of `model(*inputs, **kwargs)`, summed over its counted layers and the
    `OwnMacs` modules' own counts.

    The pass runs in eval mode with autograd on, so PyTorch's fused Transformer fast path (which bypasses
    the submodules) is not taken; the model's training flag is restored afterwards.

    >>> count_macs(nn.Linear(4, 3), torch.zeros(2, 4))  # 2 rows x 3 outputs x 4 inputs
    24
    """
    total = [0]

    def hook(counter):
        def record(module, args, out):
            total[0] += int(counter(module, args, out))
        return record

    handles = []
    for module in model.modules():
        for types, counter in ((OwnMacs, _own_macs), *_COUNTERS):
            if isinstance(module, types):
                handles.append(module.register_forward_hook(hook(counter)))
                break
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            model(*inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0]


def cpu_latency_ms(model: nn.Module, *inputs: Any, repeats: int = 5, warmup: int = 1,
                   on_pass: Callable[[], Any] | None = None) -> float:
    """Median wall time in ms of `model(*inputs)` in eval mode without autograd, after `warmup` runs.

    `on_pass`, if given, is called after each run (warm-up included), e.g. a progress `Heartbeat.update`.
    """
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model(*inputs)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000.0)
                if on_pass is not None:
                    on_pass()
    finally:
        model.train(was_training)
    return statistics.median(times)


def forward_passes(repeats: int = 5, warmup: int = 1) -> int:
    """How many forward passes `profile_model` runs: one counting MACs, plus the timed and warm-up runs."""
    return 1 + (warmup + repeats if repeats > 0 else 0)


def profile_model(model: nn.Module, input_shape: tuple[int, ...], repeats: int = 5, warmup: int = 1,
                  on_pass: Callable[[], Any] | None = None) -> Profile:
    """Parameters, memory, MACs and (with `repeats` > 0) CPU latency of `model` on a random input of `input_shape`.

    `on_pass`, if given, is called after each of the `forward_passes(repeats, warmup)` forward passes (for
    progress on large models, where one pass takes seconds).
    """
    x = torch.randn(*input_shape)
    latency = cpu_latency_ms(model, x, repeats=repeats, warmup=warmup, on_pass=on_pass) if repeats > 0 else None
    macs = count_macs(model, x)
    if on_pass is not None:
        on_pass()
    return Profile(count_params(model), macs, param_memory_mb(model), latency)
