"""What defines a lip-reading run, stated once: `LipReadConfig` (network, units, objective, augmentation,
schedule, realignment, hardware) is what the library trains from and what a run folder records;
`LipReadTrainConfig` adds the data of `myovision lipread train`, whose options are generated from it."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Any

from myovision.config import from_dict, option, to_dict
from myovision.errors import InputError
from myovision.training.options import TrainerOptions
from myovision.video.crop_settings import (CROP_METHODS, GRID_S1_BOX, MTCNN_WEIGHTS_ENV, CropSettings, MouthBox,
                                           crop_settings, resolve_crop_method)

OBJECTIVES = ("hmm", "ctc", "joint")
UNITS = ("phones", "characters", "words", "triphones")
#: The default back-end: a 3-layer Transformer of width 128 (the paper's is 6 x 512; GRID's 200 videos and a CPU)
SMALL_TRANSFORMER = {"d_model": 128, "num_layers": 3, "num_heads": 4, "dim_feedforward": 256}


@dataclass
class LipReadConfig:
    """Everything that defines a trained lip reader (saved in the run folder beside the weights)."""

    frontend: str = option("all3d", "front-end: all3d, resnet18_3dstem, p3d, sti3d or stires3d (all3d: the best "
                           "measured on GRID's validation videos, benchmarks/RESULTS.md)")
    frontend_kwargs: dict[str, Any] = option(
        factory=lambda: {"widths": [16, 32, 64, 128]},
        help='front-end keywords as JSON, e.g. \'{"widths": [16, 32, 64, 128], "omega": 2}\'')
    backend_kwargs: dict[str, Any] = option(
        factory=lambda: dict(SMALL_TRANSFORMER), help='back-end keywords as JSON: the Transformer\'s (d_model, num_layers, num_heads, '
                           'dim_feedforward, dropout; default the paper\'s 6 x 512), or {"backend": "lip_gru", '
                           '"hidden": 128, "num_layers": 2} for LipNet\'s bidirectional GRU')
    objective: str = option("hmm", "hmm: frame cross-entropy on HMM states; ctc: CTC on characters; joint: both",
                            choices=OBJECTIVES)
    units: str = option("phones", "HMM units: phones (monophones), characters, words, or triphones (word-internal, "
                        "states tied by a phonetic decision tree grown on a monophone network's alignments)",
                        choices=UNITS)
    states_per_unit: int = option(1, "left-to-right HMM states per unit")
    monophone_run: str = option("", "triphones: a run folder trained with --units phones (same --states-per-unit) "
                                "whose network aligns the training videos and gives the front-end features of the "
                                "tree's statistics (default: train one first, saved as OUT/monophone)", metavar="DIR")
    monophone_epochs: int = option(10, "triphones: epochs of the monophone network trained first (without "
                                       "--monophone-run)")
    tree_max_states: int = option(0, "triphones: at most this many tied states besides silence's (0: no limit)")
    tree_min_gain: float = option(50.0, "triphones: split a tree leaf while the log-likelihood gain is at least this")
    tree_min_count: float = option(20.0, "triphones: frames each side of a split must keep")
    crop_box: tuple[int, int, int, int] = option(astuple(GRID_S1_BOX),
                                                 "fixed mouth box TOP,LEFT,HEIGHT,WIDTH in source pixels")
    crop_size: tuple[int, int] = option((32, 48), "mouth crop HEIGHT,WIDTH in pixels (at most 88)")
    mouth_crop: str = option("auto", "mouth crop: mtcnn (aligned on the mouth corners MTCNN finds on every frame, "
                             "smoothed over frames; the box is the reported fallback of a video without a face), box "
                             "(the fixed --crop-box), or auto: mtcnn when MTCNN's weights are found (--crop-weights "
                             f"or ${MTCNN_WEIGHTS_ENV}), else box; a run records what auto chose",
                             choices=("auto", *CROP_METHODS))
    crop_weights: str = option("", "folder of MTCNN's pnet.pt, rnet.pt and onet.pt, e.g. ../shared/data/face-mtcnn "
                               f"(empty: the folder ${MTCNN_WEIGHTS_ENV} names, if set)", metavar="DIR")
    shift: int = option(2, "augmentation: random shift of the crops by up to this many pixels, after a random flip")
    time_masks: int = option(0, "augmentation: this many spans of up to --mask-frames frames masked")
    mask_frames: int = option(8, "augmentation: longest time mask in frames")
    speed_change: float = option(0.0, "augmentation: play each training video at a random rate in 1 +- this")
    mixup: float = option(0.0, "augmentation: Beta(alpha, alpha) mixup between the videos of a batch (0: off)")
    splice: float = option(0.5, "augmentation: this fraction of training draws are sentences spliced from the "
                                "aligned words of random training videos (needs word alignments; 0: off)")
    epochs: int = option(60, "passes over the training data")
    batch_size: int = option(8, "videos per batch")
    lr: float = option(2e-3, "peak AdamW learning rate (one-cycle schedule)")
    weight_decay: float = option(1e-2, "AdamW weight decay")
    realign: bool = option(False, "re-align the HMM state targets with the model every --realign-every epochs "
                                  "from --realign-after on (default: the word alignments' targets throughout)")
    realign_after: int = option(10, "first re-alignment after this many epochs")
    realign_every: int = option(5, "then every this many epochs")
    kappa: float = option(1.0, "prior scale of the hybrid scores log p(s|x) - kappa log p(s)")
    mmi_weight: float = option(1.0, "add this x lattice-free MMI over GRID's grammar to the HMM head's frame "
                                    "cross-entropy (GRID transcripts only; no effect with objective ctc)")
    mmi_boost: float = option(0.0, "boosted MMI: competing paths gain this per frame off the state targets")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="hardware, precision, seed")

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.units not in UNITS:
            raise InputError(f"units must be one of {UNITS}, got {self.units!r}")
        if self.mmi_weight < 0:
            raise InputError(f"mmi_weight must be >= 0, got {self.mmi_weight}")
        if self.mmi_boost < 0 or (self.mmi_boost and not self.mmi_weight):
            raise InputError(f"mmi_boost must be >= 0 and boosts the MMI term (mmi_weight > 0), got "
                             f"{self.mmi_boost} with mmi_weight {self.mmi_weight}")
        self.mouth_crop, self.crop_weights = resolve_crop_method(self.mouth_crop, self.crop_weights)
        if len(self.crop_box) != 4 or len(self.crop_size) != 2:
            raise InputError(f"crop_box takes 4 integers and crop_size 2, got {self.crop_box} and {self.crop_size}")
        if min(self.epochs, self.batch_size, self.realign_every, self.monophone_epochs) < 1:
            raise InputError("epochs, batch_size, realign_every and monophone_epochs must be at least 1")
        if self.units == "triphones" and self.objective == "ctc":
            raise InputError("triphone units are HMM states: train them with objective hmm or joint, not ctc")
        if self.monophone_run and self.units != "triphones":
            raise InputError(f"monophone_run aligns triphone training; units are {self.units!r}")

    @property
    def crop(self) -> CropSettings:
        return crop_settings(self.mouth_crop, tuple(self.crop_size), MouthBox(*self.crop_box), self.crop_weights)

    @property
    def sequence_trained(self) -> bool:
        """Whether the HMM head gets the MMI term (mmi_weight > 0 and an HMM head to train)."""
        return self.mmi_weight > 0 and self.objective != "ctc"

    @property
    def seed(self) -> int:
        return self.trainer.seed

    def realigns_after(self, epoch: int) -> bool:
        """Whether the training set is re-aligned once `epoch` epochs are done (never after the last)."""
        return (self.realign and self.objective != "ctc" and self.realign_after <= epoch < self.epochs
                and (epoch - self.realign_after) % self.realign_every == 0)

    def model_config(self) -> "LipReadConfig":
        """This config as a plain `LipReadConfig` (a `LipReadTrainConfig` without its data options)."""
        values = to_dict(self)
        return from_dict(LipReadConfig, {f.name: values[f.name] for f in fields(LipReadConfig)})


@dataclass
class LipReadTrainConfig(LipReadConfig):
    """`myovision lipread train`: a `LipReadConfig` plus its data."""

    data: str = option("", "GRID layout (video/ + align/) or LRS2 layout (<id>.mp4 + <id>.txt) folder", metavar="DIR")
    val_fraction: float = option(0.1, "fraction of the videos held out for validation (best epoch by its WER, "
                                      "and the report's WER); 0: train on all, no validation")
    cache: str = option("", "mouth-crop cache folder (default OUT/mouth_cache)", metavar="DIR")

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.val_fraction < 1:
            raise InputError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
