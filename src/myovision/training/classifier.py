"""Supervised training of a classifier on in-memory tensors with Lightning.

Inputs are a tensor (N, ...) or a dict of modality -> tensor (N, ...) (fusion models); the model returns
class scores: logits, or log-probabilities (cross-entropy on log-probabilities equals the NLL, since
log_softmax leaves them unchanged). Model selection uses a validation set carved from the training data
(never the test set): the weights of the epoch with the best validation accuracy are restored at the end.
"""

from __future__ import annotations

import copy
import logging
import warnings

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

Inputs = torch.Tensor | dict[str, torch.Tensor]
OPTIMIZERS = ("adamw", "adam", "sgd")


class SupervisedDataset(Dataset):
    """In-memory (inputs, y) indexed by a whole batch of indices at once: inputs a tensor (N, ...) or a dict
    of tensors (N, ...). One gather per batch instead of collating `batch_size` items (the small heads of
    the fusion paper train 5-10x faster this way)."""

    def __init__(self, inputs: Inputs, y: torch.Tensor):
        self.inputs, self.y = inputs, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: list[int]):
        i = torch.as_tensor(index)
        if isinstance(self.inputs, dict):
            return {k: v[i] for k, v in self.inputs.items()}, self.y[i]
        return self.inputs[i], self.y[i]


def batch_loader(dataset: SupervisedDataset, batch_size: int, *, shuffle: bool = False,
                 generator: torch.Generator | None = None, drop_last: bool = False) -> DataLoader:
    """A DataLoader that yields whole batches of `dataset` (the same order as `DataLoader(shuffle=...)`)."""
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None)


class ClassifierModule(L.LightningModule):
    """Cross-entropy training of `model` (inputs -> class scores).

    optimizer: "adamw" (default, cosine schedule), "adam" (cosine), or "sgd" with `momentum` (constant lr,
    as the fusion paper: lr 0.01, momentum 0.9, weight decay 1e-7). When the model has `weight_dict()`
    (learnable late-fusion weights), its value is recorded after every step in `weight_history`.
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, weight_decay: float = 1e-4, label_smoothing: float = 0.0,
                 optimizer: str = "adamw", momentum: float = 0.9):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.momentum = momentum
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.weight_history: list[tuple[int, dict[str, float]]] = []
        self.best_val_accuracy = -1.0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._val_correct = 0
        self._val_total = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss(self.model(x), y)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(y))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if hasattr(self.model, "weight_dict"):
            self.weight_history.append((self.global_step, self.model.weight_dict()))

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self._val_correct += int((self.model(x).argmax(1) == y).sum())
        self._val_total += len(y)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking or self._val_total == 0:
            self._val_correct = self._val_total = 0
            return
        accuracy = self._val_correct / self._val_total
        self.log("val_accuracy", accuracy, prog_bar=True)
        if accuracy > self.best_val_accuracy:
            self.best_val_accuracy = accuracy
            self.best_state = copy.deepcopy(self.model.state_dict())
        self._val_correct = self._val_total = 0

    def configure_optimizers(self):
        params = self.model.parameters()
        if self.optimizer_name == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        cls = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
        opt = cls(params, lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.trainer.max_epochs, 1))
        return [opt], [sched]


def fit_classifier(
    model: nn.Module,
    x_train: Inputs,
    y_train: torch.Tensor,
    x_val: Inputs | None = None,
    y_val: torch.Tensor | None = None,
    *,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    optimizer: str = "adamw",
    momentum: float = 0.9,
    seed: int = 0,
    progress: bool = False,
    log_dir: str | None = None,
    weight_history: list | None = None,
    patience: int | None = None,
    stats: dict | None = None,
) -> nn.Module:
    """Train `model` on (x_train (N, ...) or {modality: (N, ...)}, y_train (N,)); keep the best validation epoch.

    log_dir: write Lightning's CSV log (metrics.csv: train loss, validation accuracy) and a TensorBoard
    event file there. weight_history: a list that
    receives (step, {modality: weight}) after every step for models with learnable fusion weights.
    patience: with a validation set, stop when validation accuracy has not improved for that many epochs.
    stats: a dict that receives "epochs" and "steps" run and "best_val_accuracy". Returns the model in eval mode.
    """
    L.seed_everything(seed, verbose=False)
    module = ClassifierModule(model, lr=lr, weight_decay=weight_decay, optimizer=optimizer, momentum=momentum)
    generator = torch.Generator().manual_seed(seed)
    train_loader = batch_loader(SupervisedDataset(x_train, y_train), batch_size, shuffle=True, generator=generator,
                                drop_last=len(y_train) > batch_size)
    val_loader = None
    if x_val is not None and y_val is not None and len(y_val):
        val_loader = batch_loader(SupervisedDataset(x_val, y_val), 1024)
    with quiet_lightning():
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="auto",
            logger=[CSVLogger(log_dir, name="", version=""), TensorBoardLogger(log_dir, name="", version="")]
            if log_dir else False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            num_sanity_val_steps=0,
            log_every_n_steps=max(1, min(50, len(train_loader))),
            callbacks=[EarlyStopping("val_accuracy", mode="max", patience=patience)]
            if patience is not None and val_loader is not None else None,
        )
        trainer.fit(module, train_loader, val_loader)
    if module.best_state is not None:
        model.load_state_dict(module.best_state)
    if weight_history is not None:
        weight_history.extend(module.weight_history)
    if stats is not None:
        stats.update(epochs=trainer.current_epoch, steps=trainer.global_step,
                     best_val_accuracy=module.best_val_accuracy if module.best_state is not None else None)
    return model.eval()


class quiet_lightning:  # noqa: N801  (used as a context manager, named like one)
    """Silence Lightning's per-fit banner and data-loader worker warnings (we fit many small models)."""

    def __enter__(self):
        self._level = logging.getLogger("lightning.pytorch").level
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
        return self

    def __exit__(self, *exc):
        self._warnings.__exit__(*exc)
        logging.getLogger("lightning.pytorch").setLevel(self._level)
        return False
