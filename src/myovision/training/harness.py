"""The one training harness every system uses: a Lightning Trainer built from `TrainerOptions`.

Hardware: `accelerator` "auto" takes a GPU when there is one; `devices` is 1 unless asked (Lightning's own
default, every GPU, silently re-launches the command once per GPU); more devices or nodes run DDP, with
outputs, evaluation and reports written on global rank 0 only (`is_global_zero`). Precision 32, bf16-mixed or
16-mixed; gradient accumulation; seeded and optionally deterministic.

What a long run needs: a Lightning checkpoint (`checkpoints/last.ckpt`, `LastCheckpoint`) after every epoch, so `resume=True`
continues a killed run where its last epoch ended; the best weights on the monitored validation metric
(`BestWeights`, also written as `checkpoints/best.safetensors`) restored at the end; optional early stopping;
CSV and TensorBoard logs under `logs/`; a stop signal (SIGINT, or SIGTERM/SIGHUP once
`myovision.errors.stop_on_signals` is set up, as the CLI does) ends `fit` with `Interrupted`, the last finished
epoch's checkpoint kept for `--resume`; progress as a bar on a terminal and a line at least every 10 s
otherwise. Training data is shuffled by `EpochShuffle`, which keys the order by (seed, epoch) and re-derives
every random state from (seed, epoch, rank) as the epoch starts, so a resumed run draws what the uninterrupted
run drew.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping
from torch.utils.data import Sampler

from myovision.training.options import TrainerOptions, check_devices
from myovision.errors import InputError
from myovision.runs import CHECKPOINTS, LAST_CHECKPOINT, LOGS, save_weights

BEST_WEIGHTS = "best.safetensors"


class SystemModule(L.LightningModule):
    """Base of every system's LightningModule: one `_step(batch, phase)` for train, val and test.

    `_step` returns the loss in phase "train" (and may log metrics in every phase). The module holds the
    network as `self.model`, so `model.safetensors` and the checkpoints share its parameter names.
    """

    def _step(self, batch: Any, phase: str) -> torch.Tensor | None:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._step(batch, "test")


class EpochShuffle(Sampler):
    """A random order of `n` items drawn from (seed, epoch), so a resumed run shuffles as the uninterrupted one;
    with `batch_size`, yields lists of indices (whole batches, for datasets indexed by a batch at once).

    Lightning calls `set_epoch` before every epoch (under DDP it shards this sampler's order across ranks), but
    after it has created the epoch's iterator: nothing is drawn until the first item is asked for, which with
    num_workers 0 comes after `set_epoch`. Worker processes prefetch at once, so a LightningDataModule whose
    loader has workers sets the epoch itself in `train_dataloader()`: `set_epoch(epoch_to_run(trainer))`.
    Starting an epoch's order also re-seeds Python, NumPy and torch from (seed, epoch, rank) (`seed_epoch`):
    Lightning asks for it after `set_epoch` and before the epoch's first item, whether the epoch is the first,
    a later one or the first after a resume, so dropout, and augmentation drawn in the main process
    (num_workers 0), draw the same in all three. Data-loading workers seed themselves from the loader, so
    augmentation drawn in workers is exact on resume only when keyed by (seed, epoch, item) (as the typing,
    lip-reading and zero-shot data sets do).
    """

    def __init__(self, n: int, seed: int = 0, batch_size: int | None = None, drop_last: bool = False):
        self.n, self.seed, self.epoch = n, seed, 0
        self.batch_size, self.drop_last = batch_size, drop_last

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator:  # a generator: nothing is drawn before the first item is asked for
        seed_epoch(self.seed, self.epoch)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=generator).tolist()
        if self.batch_size is None:
            yield from order
            return
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        yield from (order[i:i + self.batch_size] for i in range(0, stop, self.batch_size))

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.n
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


def epoch_to_run(trainer: L.Trainer) -> int:
    """The epoch the trainer is about to run, also right after resuming from an end-of-epoch checkpoint (where
    `trainer.current_epoch` is still the finished epoch's)."""
    return trainer.fit_loop.epoch_progress.current.processed


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed Python, NumPy and torch from (seed, epoch, this process's rank)."""
    rank = torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0
    value = (seed * 1_000_003 + epoch * 7919 + rank) % 2**32
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


class BestWeights(Callback):
    """Keep the model weights of the epoch with the best `monitor` value; restore them when training ends.

    The best state travels in Lightning checkpoints (a resumed run keeps its best epoch) and, with `dirpath`,
    is written as `best.safetensors` on global rank 0 whenever it improves.
    """

    def __init__(self, monitor: str, mode: str = "max", dirpath: str | Path | None = None):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be max or min, got {mode!r}")
        self.monitor, self.mode, self.dirpath = monitor, mode, dirpath
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer, pl_module):
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        value = float(value)
        better = self.best_score is None or (value > self.best_score if self.mode == "max" else value < self.best_score)
        if better:
            self.best_score, self.best_epoch = value, trainer.current_epoch
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in pl_module.state_dict().items()}
            if self.dirpath is not None and trainer.is_global_zero:
                save_weights(Path(self.dirpath) / BEST_WEIGHTS, self.best_state)

    def restore(self, pl_module) -> bool:
        """Load the best weights into `pl_module`; False when no validation ever ran."""
        if self.best_state is None:
            return False
        pl_module.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.best_state = state["best_state"]


class LastCheckpoint(Checkpoint):
    """A Lightning checkpoint after every training epoch, replacing the previous one atomically: a run killed at
    any moment resumes from its last finished epoch. As a `Checkpoint` it runs after the epoch's validation and
    after the module's own `on_train_epoch_end` (a realignment, a history row), so the checkpoint holds them.
    (Lightning's ModelCheckpoint with save_top_k=0 writes `last.ckpt` only when training ends.)"""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_epoch_end(self, trainer, pl_module):
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(tmp)  # collective under DDP; rank 0 writes
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            os.replace(tmp, self.path)


class LineProgress(Callback):
    """Progress as plain lines on stdout (a log file, a pipe): each epoch's end and at least every `every` s."""

    def __init__(self, every: float = 10.0, stream=None):
        self.every, self.stream = every, stream
        self._start = self._last = 0.0

    def _print(self, trainer, text: str) -> None:
        if trainer.is_global_zero:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            shown = "  ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
            print(f"{text}  {shown}  [{time.monotonic() - self._start:.0f} s]".rstrip(),
                  file=self.stream or sys.stdout, flush=True)
        self._last = time.monotonic()

    def on_train_start(self, trainer, pl_module):
        self._start = self._last = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if time.monotonic() - self._last >= self.every:
            total = trainer.num_training_batches
            self._print(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} "
                                 f"batch {batch_idx + 1}/{total}")

    def on_train_epoch_end(self, trainer, pl_module):
        self._print(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done, step {trainer.global_step}")


def build_trainer(options: TrainerOptions, out: str | Path | None = None, *, max_epochs: int, max_steps: int = -1,
                  monitor: str | None = None, mode: str = "max", patience: int | None = None,
                  checkpoints: bool = True, gradient_clip_val: float | None = None, progress: bool | None = None,
                  callbacks: Iterable[Callback] = (), **trainer_kwargs: Any) -> L.Trainer:
    """A Lightning Trainer for `options`, writing under the run folder `out` (nothing written without one).

    monitor/mode: the validation metric whose best epoch's weights are kept (`BestWeights`), and that early
    stopping watches with `patience` epochs. checkpoints: a Lightning checkpoint after every epoch
    (`out/checkpoints/last.ckpt`). progress: a bar on a terminal, lines otherwise (default), False: silent.
    """
    check_devices(options)
    extra: list[Callback] = []
    if monitor is not None:
        extra.append(BestWeights(monitor, mode, Path(out) / CHECKPOINTS if out and checkpoints else None))
        if patience is not None:
            extra.append(EarlyStopping(monitor, mode=mode, patience=patience))
    if out is not None and checkpoints:
        extra.append(LastCheckpoint(Path(out) / CHECKPOINTS / LAST_CHECKPOINT))
    bar = progress is not False and sys.stdout.isatty()
    if progress is not False and not bar:
        extra.append(LineProgress())
    loggers: list | bool = False
    if out is not None:
        from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

        loggers = [CSVLogger(str(out), name=LOGS, version=""), TensorBoardLogger(str(out), name=LOGS, version="")]
    L.seed_everything(options.seed, verbose=False)
    with quiet_lightning():
        return L.Trainer(
            accelerator=options.accelerator, devices=options.devices, strategy=options.strategy,
            num_nodes=options.num_nodes, precision=options.precision,
            accumulate_grad_batches=options.accumulate_grad_batches, deterministic=options.deterministic or None,
            max_epochs=max_epochs, max_steps=max_steps, logger=loggers, callbacks=[*extra, *callbacks],
            enable_checkpointing=out is not None and checkpoints, enable_progress_bar=bar,
            enable_model_summary=False, num_sanity_val_steps=0, gradient_clip_val=gradient_clip_val,
            default_root_dir=str(out) if out is not None else None, **trainer_kwargs)


def resume_checkpoint(out: str | Path) -> Path:
    """`out/checkpoints/last.ckpt`, checked to be a readable checkpoint (one-line InputError otherwise)."""
    from myovision.registry import read_state_dict

    path = Path(out) / CHECKPOINTS / LAST_CHECKPOINT
    if not path.is_file():
        raise InputError("nothing to resume: the run has no checkpoint yet", path)
    read_state_dict(path)  # InputError naming the file when it is truncated or not a checkpoint
    return path


class _StopSignal(Callback):
    """Records the KeyboardInterrupt (or `Interrupted`) Lightning caught, which Lightning turns into sys.exit(1)."""

    def __init__(self):
        self.stop: BaseException | None = None

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt):
            self.stop = exception


def fit(trainer: L.Trainer, module: L.LightningModule, *, datamodule: L.LightningDataModule | None = None,
        train_dataloaders: Any = None, val_dataloaders: Any = None, resume_from: str | Path | None = None) -> None:
    """`trainer.fit`, continuing from the run folder `resume_from`'s last checkpoint when given; then the best
    validation epoch's weights (when a metric was monitored) are loaded into `module`.

    A stop signal during the fit raises `myovision.errors.Interrupted` (the run folder keeps the checkpoint of
    the last finished epoch, for `--resume`) instead of Lightning's exit."""
    from myovision.errors import Interrupted

    ckpt = None if resume_from is None else resume_checkpoint(resume_from)
    if ckpt is not None:
        _keep_csv_log(trainer)
    stop = _StopSignal()
    trainer.callbacks.append(stop)
    try:
        with quiet_lightning():
            trainer.fit(module, train_dataloaders=train_dataloaders, val_dataloaders=val_dataloaders,
                        datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except SystemExit:
        if stop.stop is None:
            raise
        raise stop.stop if isinstance(stop.stop, Interrupted) else Interrupted() from None
    finally:
        trainer.callbacks.remove(stop)
    for callback in trainer.callbacks:
        if isinstance(callback, BestWeights):
            callback.restore(module)


def _keep_csv_log(trainer: L.Trainer) -> None:
    """A resumed run appends to its CSV log (Lightning's CSV logger would delete it when it starts)."""
    from lightning.pytorch.loggers import CSVLogger

    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):
            path = Path(logger.log_dir) / "metrics.csv"
            kept = path.read_bytes() if path.is_file() else None
            with quiet_lightning():
                writer = logger.experiment  # creating the writer deletes the file
            if kept is not None:
                path.write_bytes(kept)
                header = kept.decode().split("\n", 1)[0].strip()
                writer.metrics_keys = sorted(c for c in header.split(",") if c)  # rows to come may lack some


def best_score(trainer: L.Trainer) -> float | None:
    """The best monitored validation value of the run (None when nothing was monitored or validated)."""
    for callback in trainer.callbacks:
        if isinstance(callback, BestWeights):
            return callback.best_score
    return None


class quiet_lightning:  # noqa: N801  (used as a context manager, named like one)
    """Silence Lightning's per-fit banner and advice that does not apply (we fit many small models)."""

    def __enter__(self):
        self._level = logging.getLogger("lightning.pytorch").level
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        for message in (".*does not have many workers.*", ".*GPU available but not used.*", ".*LeafSpec.*",
                        ".*no `val_dataloader`.*", ".*`max_epochs` was not set.*", ".*is not a valid path.*",
                        ".*that has `shuffle=True`.*", ".*Checkpoint directory .* exists and is not empty.*",
                        ".*Experiment logs directory .* exists and is not empty.*"):
            warnings.filterwarnings("ignore", message=message)
        return self

    def __exit__(self, *exc):
        self._warnings.__exit__(*exc)
        logging.getLogger("lightning.pytorch").setLevel(self._level)
        return False
