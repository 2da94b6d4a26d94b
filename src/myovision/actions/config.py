"""The configurations of `myovision experiment actionsense` and `experiment epic`: every option and its help.

The optimisation defaults are `TrainConfig`'s (the fusion paper's SGD recipe), read from it, so they are stated
once; `heads()` builds the `TrainConfig` the library trains with.
"""

from __future__ import annotations

from dataclasses import dataclass

from myovision.actions.splits import FOLD_PROTOCOLS
from myovision.actions.table2 import TrainConfig
from myovision.config import option

OPTIMIZERS = ("sgd", "adam")


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

    def heads(self) -> TrainConfig:
        """The library's `TrainConfig` with these values."""
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, batch_size=self.batch_size, iterations=self.iterations,
                           patience=self.patience, backbone_epochs=self.backbone_epochs)


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
