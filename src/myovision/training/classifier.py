"""Supervised training of a classifier on in-memory tensors with Lightning.

Model selection uses a validation set carved from the training data (never the test set): the weights
of the epoch with the best validation accuracy are restored at the end.
"""

from __future__ import annotations

import copy
import logging
import warnings

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class ClassifierModule(L.LightningModule):
    """Cross-entropy training of `model` (inputs -> class scores) with AdamW and a cosine schedule."""

    def __init__(self, model: nn.Module, lr: float = 1e-3, weight_decay: float = 1e-4, label_smoothing: float = 0.0):
        super().__init__()
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.best_val_accuracy = -1.0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._val_correct = 0
        self._val_total = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss(self.model(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

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
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.trainer.max_epochs, 1))
        return [opt], [sched]


def fit_classifier(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    *,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = False,
) -> nn.Module:
    """Train `model` on (x_train (N, ...), y_train (N,)); with a validation set, keep the best epoch's weights.

    Returns the model in eval mode.
    """
    L.seed_everything(seed, verbose=False)
    module = ClassifierModule(model, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                              generator=generator, drop_last=len(x_train) > batch_size)
    val_loader = None
    if x_val is not None and y_val is not None and len(x_val):
        val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=1024)
    with _quiet_lightning():
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="auto",
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=progress,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train_loader, val_loader)
    if module.best_state is not None:
        model.load_state_dict(module.best_state)
    return model.eval()


class _quiet_lightning:
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
