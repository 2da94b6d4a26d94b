"""How the action-recognition room trains: `TrainConfig` (the Table 2 heads' optimisation, the library's) and the
configurations of `myovision experiment actionsense` / `experiment epic` built on it.

The command options' defaults are read from `TrainConfig` (the fusion paper's SGD recipe), so they are stated
once; `heads()` builds the `TrainConfig` the library trains with. Light: no torch here, so option parsers
load fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from myovision.actions.splits import FOLD_PROTOCOLS
from myovision.config import option

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class BackboneRecipe:
    """How the sEMG CNN (`myovision.actions.backbone`) trains: optimiser (a `fit_classifier` name), its
    settings, and the input transform (log of the mel power or the power itself)."""

    optimizer: str
    lr: float
    weight_decay: float
    batch_size: int
    log_power: bool
    momentum: float = 0.9


# "paper": the optimiser the paper states for all its networks (section 4), on mel power as the authors' code
# computed it; "myovision": ours (see `myovision.actions.backbone`).
BACKBONE_RECIPES = {
    "myovision": BackboneRecipe("adamw", lr=1e-3, weight_decay=1e-4, batch_size=64, log_power=True),
    "paper": BackboneRecipe("sgd", lr=0.01, weight_decay=1e-7, batch_size=32, log_power=False),
}


@dataclass
class TrainConfig:
    """Optimisation of the heads: the paper's SGD (lr 0.01, momentum 0.9, weight decay 1e-7, batch 32,
    2,000 iterations) by default; `optimizer="adam"` for Adam. Training stops early when validation accuracy
    has not improved for `patience` epochs (None: never). `backbone_epochs` and `backbone_recipe` (a name in
    `BACKBONE_RECIPES`) train the sEMG CNN."""

    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-7
    batch_size: int = 32
    iterations: int = 2000
    patience: int | None = 30
    backbone_epochs: int = 30
    backbone_recipe: str = "myovision"

    def epochs(self, n_train: int) -> int:
        steps_per_epoch = max(1, n_train // self.batch_size)
        return max(1, int(np.ceil(self.iterations / steps_per_epoch)))

    def describe(self) -> str:
        """One line: optimizer, lr, steps, patience and backbone epochs (for logs and --help)."""
        patience = "no early stop" if self.patience is None else f"early stop after {self.patience} epochs"
        return (f"{self.optimizer} lr {self.lr:g}, <= {self.iterations} steps of {self.batch_size} a row "
                f"({patience} without validation gain), sEMG CNN {self.backbone_epochs} epochs "
                f"({self.backbone_recipe} recipe)")


# `myovision demo`'s schedules on the synthetic default (250 training actions, 7 steps an epoch).
# DEMO: Adam converges in a fraction of SGD's steps; validation accuracy stops each row (after 5-10 epochs
# there) and picks its epoch. The sEMG CNN's validation accuracy peaks in its first epochs at this lr (with
# 2 or 3 epochs the first is kept: the same features), so 2. Under 90 s and 180 CPU-s on 2 idle cores:
# benchmarks/bench_demo.py.
# DEMO_FULL: the demo's earlier schedule (the paper's SGD, 300 steps a row, 10 backbone epochs).
DEMO_SCHEDULE = TrainConfig(optimizer="adam", lr=1e-3, iterations=80, patience=4, backbone_epochs=2)
DEMO_FULL_SCHEDULE = TrainConfig(iterations=300, backbone_epochs=10)


@dataclass
class HeadTraining:
    """How every row's head (and the sEMG CNN) trains; the defaults are `TrainConfig`'s."""

    optimizer: str = option(TrainConfig.optimizer, "sgd: the paper's (momentum 0.9); adam", choices=OPTIMIZERS)
    lr: float = option(TrainConfig.lr, "learning rate (the paper: 0.01 with SGD; use 0.001 with adam)")
    momentum: float = option(TrainConfig.momentum, "SGD momentum")
    weight_decay: float = option(TrainConfig.weight_decay, "weight decay")
    batch_size: int = option(TrainConfig.batch_size, "actions per step")
    iterations: int = option(TrainConfig.iterations, "training steps per row at most (paper: 2000, batch 32)")
    patience: int | None = option(TrainConfig.patience, "stop a row after this many epochs without validation "
                                  "gain (None: never)")
    backbone_epochs: int = option(TrainConfig.backbone_epochs, "epochs of the sEMG CNN backbone")
    recipe: str = option(TrainConfig.backbone_recipe, "how the sEMG CNN trains: paper (SGD lr 0.01, momentum 0.9, "
                         "weight decay 1e-7, batch 32, on mel power) or myovision (AdamW lr 1e-3, weight decay "
                         "1e-4, batch 64, on log mel power)", choices=tuple(BACKBONE_RECIPES))

    def heads(self) -> TrainConfig:
        """The library's `TrainConfig` with these values."""
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, batch_size=self.batch_size, iterations=self.iterations,
                           patience=self.patience, backbone_epochs=self.backbone_epochs,
                           backbone_recipe=self.recipe)


@dataclass
class ActionSenseConfig:
    """`experiment actionsense`: the fusion paper's Table 2 on an ActionSense-layout folder."""

    data: str = option("", "folder with ActionSense *.hdf5, optional subactions_<S>.csv, and a FeatureStore of "
                       "RGB clip features in features/ (modality rgb, keyed by sub-action uid)", metavar="DIR")
    seeds: int = option(3, "seeds: each a new split (random protocols) and new initial weights")
    protocol: str = option("activity", "activity-grouped split; held-out subjects; leave-one-subject-out (one fold "
                           "per subject, test sides pooled); a random split of sub-actions (the authors' style); "
                           "or the authors' own 799/343 split (needs split_S04S07S08_{train,test}.csv in --data)",
                           choices=FOLD_PROTOCOLS)
    allow_outside_root: bool = option(False, "accept split tables that resolve outside --data (refused by "
                                      "default)")
    training: HeadTraining = option(factory=HeadTraining, help="how the heads train")


@dataclass
class EpicConfig:
    """`experiment epic`: EPIC-Kitchens verbs from I3D clip features, linear / LSTM / Transformer heads."""

    train: str = option("", "training annotation CSV (D1/D2/D3 columns)", metavar="CSV")
    test: str = option("", "test annotation CSV", metavar="CSV")
    features: str = option("", "FeatureStore with (clips, dim) RGB features per uid (modality rgb), e.g. from "
                           "`myovision video extract`", metavar="DIR")
    seeds: int = option(3, "seeds (new initial weights and validation videos)")
    training: HeadTraining = option(factory=HeadTraining, help="how the heads train")
