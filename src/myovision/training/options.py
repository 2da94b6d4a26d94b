"""`TrainerOptions`: how a model is trained (hardware, precision, seeding), apart from what is trained.

Light on purpose (torch is imported only when a device is checked), so every command's options can be built
from it without loading torch or Lightning; `myovision.training.harness` turns it into a Trainer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from myovision.config import option
from myovision.errors import InputError

PRECISIONS = ("32", "bf16-mixed", "16-mixed")
OPTIMIZERS = ("adamw", "adam", "sgd")  # of `myovision.training.classifier.ClassifierModule`
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
#: options that may change when a run is resumed (where it runs, not what it computes)
HARDWARE_OPTIONS = ("trainer.accelerator", "trainer.devices", "trainer.strategy", "trainer.num_nodes",
                    "trainer.num_workers")

@dataclass
class TrainerOptions:
    """How a model is trained, apart from what is trained: hardware, precision, seeding."""

    accelerator: str = option("auto", "where to train: auto takes a GPU when present", choices=ACCELERATORS)
    devices: int = option(1, "devices (GPUs, or CPU processes with --accelerator cpu) per node; >1 runs DDP")
    strategy: str = option("auto", "Lightning strategy, e.g. ddp, ddp_spawn, fsdp (auto: DDP when >1 device)")
    num_nodes: int = option(1, "machines taking part (DDP across nodes, launched by torchrun or SLURM)")
    precision: str = option("32", "numeric precision of training", choices=PRECISIONS)
    accumulate_grad_batches: int = option(1, "sum gradients over this many batches before each optimiser step")
    num_workers: int = option(0, "data-loading worker processes per device")
    seed: int = option(0, "seed of every random draw (initial weights, shuffling, augmentation, dropout)")
    deterministic: bool = option(False, "use deterministic algorithms only (bit-exact repeats; can be slower)")

    def __post_init__(self):
        for name in ("devices", "num_nodes", "accumulate_grad_batches"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise InputError(f"--num-workers must be >= 0, got {self.num_workers}")


def available_devices(accelerator: str) -> tuple[str, int]:
    """(kind, count) of the devices `accelerator` would use on this machine ("auto": GPUs if any, else CPUs)."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and gpus):
        return "GPU", gpus
    if accelerator == "mps" or (accelerator == "auto" and torch.backends.mps.is_available()):
        return "MPS device", int(torch.backends.mps.is_available())
    return "CPU core", os.cpu_count() or 1


def check_devices(options: TrainerOptions) -> None:
    """InputError (one line) when the machine has fewer devices than asked for."""
    kind, count = available_devices(options.accelerator)
    if options.devices > count:
        hint = " (CPU processes: --accelerator cpu)" if kind == "GPU" else ""
        raise InputError(f"--devices {options.devices} asked for, but this machine has {count} {kind}"
                         f"{'s' if count != 1 else ''}{hint}")


def device_name(options: TrainerOptions) -> str:
    """A readable description of where training runs (for run.json)."""
    kind, _ = available_devices(options.accelerator)
    if kind == "GPU":
        import torch

        return f"{options.devices} x {torch.cuda.get_device_name(0)}"
    return f"{options.devices} x {kind}"
