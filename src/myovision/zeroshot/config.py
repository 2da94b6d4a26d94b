"""The MIL fine-tuning recipes and the configuration of `myovision zeroshot demo` (options generated from it)."""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.errors import InputError
from myovision.training.options import TrainerOptions


@dataclass(frozen=True)
class MILRecipe:
    """How MIL fine-tuning is run: loss (`myovision.zeroshot.mil`), N_bag, AdamW's lr and weight decay at an
    effective batch (reached by gradient accumulation), epochs, warm-up epochs before the cosine decay (None:
    constant lr), frames per training and evaluation video, and whether training clips are augmented."""

    loss: str
    n_bag: int
    lr: float
    effective_batch: int
    epochs: int
    warmup_epochs: float | None
    weight_decay: float
    train_frames: int
    eval_frames: int
    augment: bool


#: MAXI (Lin et al., ICCV 2023; its code's configs and suppl. Sec. 2): video -> bag MIL-NCE with same-pseudo-label
#: videos positive, N_bag 16, lr 5e-6 (the paper; its k400/maxi.yaml says 8e-6) at effective batch 256, 10 epochs,
#: 5 warm-up epochs then cosine (ViFi-CLIP's scheduler), weight decay 0.001, 16 training / 32 evaluation frames,
#: multi-scale crop, flip, colour jitter and grayscale.
MAXI = MILRecipe("maxi", 16, 5e-6, 256, 10, 5, 0.001, 16, 32, True)
#: myovision's earlier demo recipe: symmetric MIL-NCE, N_bag 4, lr 3e-4 at batch 32, constant lr, 6 frames, no
#: augmentation (sized for a tiny CLIP on a few hundred synthetic videos).
MYOVISION = MILRecipe("symmetric", 4, 3e-4, 32, 10, None, 0.01, 6, 6, False)
RECIPES = {"maxi": MAXI, "myovision": MYOVISION}


@dataclass
class MILOptions:
    """The recipe of MIL fine-tuning and its overrides (unset: the recipe's), shared by the demo and `train`."""

    recipe: str = option("maxi", "MIL fine-tuning recipe: maxi (the paper's) or myovision (the earlier demo's)",
                         choices=tuple(RECIPES))
    p: float = option(0.5, "fraction of each text bag kept by similarity filtering")
    n_bag: int | None = option(None, "texts sampled from a video's bag per step (default: the recipe's)")
    epochs: int | None = option(None, "epochs of MIL fine-tuning (default: the recipe's)")
    lr: float | None = option(None, "learning rate of MIL fine-tuning (default: the recipe's)")
    warmup_epochs: float | None = option(None, "epochs of linear warm-up before the cosine decay (default: the "
                                         "recipe's; maxi 5, myovision none: a constant lr)")
    train_frames: int | None = option(None, "frames per MIL training video (default: the recipe's)")
    eval_frames: int | None = option(None, "frames per evaluation video (default: the recipe's)")
    trainer: TrainerOptions = option(factory=lambda: TrainerOptions(deterministic=True),
                                     help="hardware, precision, accumulation, seed")

    def mil_recipe(self) -> MILRecipe:
        """The recipe with this config's overrides."""
        from dataclasses import replace

        given = {k: getattr(self, k) for k in ("n_bag", "epochs", "lr", "warmup_epochs", "train_frames",
                                                 "eval_frames")
                 if getattr(self, k) is not None}
        if not given.get("warmup_epochs", 0) >= 0:  # also refuses NaN
            raise InputError(f"--warmup-epochs must be >= 0, got {self.warmup_epochs}")
        return replace(RECIPES[self.recipe], **given)


@dataclass
class DemoConfig(MILOptions):
    """Sizes of the demo run."""

    seeds: list[int] = option(factory=lambda: [0, 1, 2, 3, 4], help="seeds to average over (each seed is the "
                              "trainer seed of its run, replacing --seed)")
    pretrain_frames: int = option(6, "frames per synthetic video whose frames pretrain the tiny CLIP")
    size: int = option(32, "frame height and width in pixels")
    pretrain_videos: int = option(300, "videos whose frames and static captions pretrain the tiny CLIP")
    pretrain_epochs: int = option(4, "epochs of image-text pretraining")
    train_videos: int = option(240, "unlabelled videos (every motion) for MIL fine-tuning")
    test_videos: int = option(150, "videos of the 12 held-out classes for zero-shot top-1")
    batch_size: int = option(32, "videos per MIL fine-tuning batch (gradients accumulate up to the recipe's "
                             "effective batch)")


#: `--quick`: a tiny run that checks the path (numbers not meaningful)
QUICK = {"pretrain_videos": 24, "pretrain_epochs": 1, "train_videos": 32, "test_videos": 24, "epochs": 1}


@dataclass
class VideoTrainConfig(MILOptions):
    """`myovision zeroshot train`: MAXI on a user's unlabelled videos with a CLIP checkpoint."""

    videos: str = option("", "video list: one path per line, a path,... CSV or 'path label' lines (relative to "
                         "--root, default the list's folder)", metavar="LIST")
    dictionary: str = option("", "the action dictionary: one class name per line", metavar="FILE")
    checkpoint: str = option("", "CLIP folder (config.json + model.safetensors + tokenizer files)", metavar="CLIP")
    captions: str | None = option(None, "folder of frame captions, <video stem>.txt (zeroshot captions)",
                                  metavar="DIR")
    phrases: str | None = option(None, "folder of language-model phrases, <dictionary text>.txt (zeroshot "
                                 "phrases)", metavar="DIR")
    root: str | None = option(None, "folder the list's paths are relative to (default: the list's folder)")
    skip_bad: bool = option(False, "leave out listed videos that are missing (each named on stderr)")
    batch_size: int = option(4, "videos per batch (gradients accumulate up to the recipe's effective batch)")
