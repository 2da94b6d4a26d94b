"""`myovision typing train`'s configuration: every option and its one default (emg2qwerty's recipe).

emg2qwerty trains its TDS model 150 epochs with a 10-epoch linear warm-up, Adam at lr 1e-3 with a cosine decay
to 1e-6, batches of 32 windows of 8,000 samples (4 s at 2 kHz); the library, the command line and config.yaml
all read those defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from myovision.config import option
from myovision.training.options import TrainerOptions

#: what runs a streaming typing model once its context is full (`OnlineTyping`, `myovision stream typing`)
STREAM_BACKENDS = ("auto", "torch", "onnxruntime")


@dataclass
class DecodingOptions:
    """How emissions become text: greedy, beam search, and beam search with a character n-gram LM."""

    lm: str | None = option(None, "character LM for beam search: an ARPA file (read in Python) or a KenLM binary "
                            "such as emg2qwerty's wikitext-103-6-gram-char-lm.bin (needs the [lm] extra); train: "
                            "estimated from the training text when not given", metavar="ARPA|BIN")
    lm_weight: float = option(2.0, "weight of the LM's log-probability in beam search")
    insertion_bonus: float = option(2.0, "score added per emitted character in LM beam search")
    beam_size: int = option(50, "beams kept per frame")


@dataclass
class AugmentOptions:
    """Training augmentation, emg2qwerty's by default; every Table 1 row of the CNN+BiLSTM study is a setting.

    Order (emg2qwerty's, the study's): band rotation, left/right jitter, magnitude warping, log spectrogram,
    SpecAugment.
    """

    band_rotation: bool = option(True, "rotate each band's 16 electrodes by a random -1/0/+1")
    jitter: int = option(120, "largest left/right misalignment in samples (0: none)")
    time_masks: int = option(3, "SpecAugment: most time masks per window")
    time_mask_width: int = option(25, "SpecAugment: time masks are 0 .. this - 1 frames wide")
    freq_masks: int = option(2, "SpecAugment: most frequency masks per window")
    freq_mask_width: int = option(4, "SpecAugment: frequency masks are 0 .. this - 1 bins wide")
    magnitude_warping: bool = option(False, "multiply the EMG by one smooth random curve shared by all channels "
                                     "(the study's magnitude warping)")
    warp_knots: int = option(4, "magnitude warping: inner knots of the cubic spline")
    warp_sigma: float = option(0.2, "magnitude warping: standard deviation of the knot values around 1")

    def __post_init__(self):
        from myovision.errors import InputError

        for name in ("jitter", "time_masks", "time_mask_width", "freq_masks", "freq_mask_width", "warp_knots"):
            if getattr(self, name) < 0:
                raise InputError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.warp_sigma < 0:
            raise InputError(f"--warp-sigma must be >= 0, got {self.warp_sigma}")


@dataclass
class TypingConfig:
    """Which sessions, which model, how it trains (emg2qwerty's recipe) and how the test sessions are decoded."""

    data: str | None = option(None, "folder of emg2qwerty session files with split.yaml", metavar="DIR")
    split: str | None = option(None, "emg2qwerty split YAML, or a bundled split: generic (emg2qwerty's generic "
                               "model) or user0..user7 (its test users); sessions under --data; default: "
                               "DATA/split.yaml", metavar="SPLIT")
    model: str = option("tds_conv_ctc", "registered model (myovision.list_models('*ctc*'))")
    model_kwargs: dict = option(factory=dict, help='JSON builder arguments, e.g. \'{"mlp_features": [64]}\'',
                                metavar="JSON")
    epochs: int = option(150, "passes over the training windows")
    batch_size: int = option(32, "training windows per batch (per device)")
    lr: float = option(1e-3, "Adam learning rate after warm-up")
    min_lr: float = option(1e-6, "learning rate at the end of the cosine decay")
    warmup_epochs: int = option(10, "epochs of linear learning-rate warm-up")
    window: int = option(8000, "training window in samples (2 kHz)")
    padding: tuple[int, ...] | None = option(None, "past,future context samples of each window (default: what "
                                             "the model's receptive field consumes; emg2qwerty's TDS: 1800,200)")
    augment: AugmentOptions = option(factory=AugmentOptions, help="training augmentation (the study's Table 1)")
    init_from: str | None = option(None, "start from these weights (emg2qwerty's personalisation): Meta's generic "
                                   ".ckpt, a .safetensors file or a typing run folder of the same --model",
                                   metavar="CKPT|RUN")
    cached_spectrograms: bool = option(False, "serve training windows in whole batches from each session's log "
                                       "spectrogram, computed once (memory-mapped in RUN/cache): window starts and "
                                       "jitter in whole 8 ms hops, band rotation and SpecAugment on the batch's "
                                       "device; fastest with --num-workers 0 (workers pass every 84 MB batch of "
                                       "32 through shared memory); not with magnitude warping")
    blank_bias: float | None = option(None, "start the output layer's blank bias here (from scratch; e.g. 5)")
    lm_order: int = option(4, "order of the character LM estimated from the training text when --lm is not given "
                           "(0: no LM)")
    decoding: DecodingOptions = option(factory=DecodingOptions, help="decoders of the test sessions")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="hardware, precision, seed")

    def __post_init__(self):
        from myovision.errors import InputError

        for name in ("epochs", "batch_size", "window"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.warmup_epochs < 0 or self.lm_order < 0:
            raise InputError("--warmup-epochs and --lm-order must be >= 0")
        if self.padding is not None and (len(self.padding) != 2 or min(self.padding) < 0):
            raise InputError(f"--padding must be two non-negative sample counts PAST,FUTURE, got {self.padding}")
        if self.cached_spectrograms and self.augment.magnitude_warping:
            raise InputError("--cached-spectrograms cannot apply magnitude warping (it acts on the raw EMG)")
        if not isinstance(self.model_kwargs, dict):
            raise InputError(f"--model-kwargs must be a JSON object, got {self.model_kwargs!r}")
