"""Training lip readers (Zeng, Du, Wang, section 2) in Lightning: the hybrid HMM model with per-frame state
targets from forced alignment, and the CTC baseline, on the same network (`lipreader`).

The network's output layer scores `num_states` HMM states followed by the CTC labels (blank, space, a-z);
each part gets its own log-softmax. `objective` picks the loss: "hmm" (frame cross-entropy on the states),
"ctc" (CTC on the characters) or "joint" (their sum: one network, both heads, half the cost of training two,
though on GRID it trains the HMM head worse than "hmm" alone). Units: GRID at 25 fps has a median of ~2.25
frames per phone and 1.9 per character, so the paper's 3-state HMMs cannot fit most words; the default is one
state per phone (GRID's words through `GRID_PHONES`), per character (`units="characters"`) or per word
(`units="words"`, whole-word HMMs for small vocabularies), each with a trained self-loop.

Targets: first from the word alignments when the data has them (each word's unit states spread evenly over
its frames, silences as `sil`), else a flat start; every `realign_every` epochs from `realign_after` on, the
training set is re-aligned with the model (Viterbi on the transcript's graph, hybrid scores), and the state
priors (eq. 3) and self-loops are re-counted from the alignments.

Sequence training: with `mmi_weight` > 0 the HMM head's frame cross-entropy gets a lattice-free MMI term over
GRID's grammar (`myovision.lipread.mmi`, Povey et al. 2016): the transcript's paths against every sentence's,
with the hybrid scores the decoder uses, so training sees the competing words the decoder will weigh;
`mmi_boost` > 0 makes it boosted MMI, a margin growing with each competing path's frame errors.

Regularisation for small corpora: each training draw is flipped at random and shifted by up to `shift` pixels
(`myovision.video.mouth_augment`). Off by default, each measured on GRID by `bench_lipread_grid.py`: time
masking (`time_masks`), speed perturbation (`speed_change`: frames dropped or repeated, targets follow),
mixup (`mixup`: a convex mix of two videos of the batch, every loss taken against both items' targets) and
word splicing (`splice`: new sentences cut and joined from the aligned words, `lipread_data`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import lightning as L
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader

from myovision.data.grid import Utterance
from myovision.decoding.grammar import GRID_GRAMMAR, GRID_PHONES
from myovision.decoding.hmm import (DecodingGraph, forced_align, grammar_graph, log_state_priors,
                                    scaled_log_likelihoods, transcript_graph)
from myovision.decoding.lexicon import HmmSet, Lexicon, estimate_self_loops
from myovision.errors import InputError
from myovision.fileio import atomic_path, atomic_write_text
from myovision.registry import create_model
from myovision.training.harness import quiet_lightning
from myovision.lipread.data import CTC_LABELS, LipReadingSet, collate, initial_alignment, word_spans
from myovision.lipread.mmi import GraphTensors, mmi_loss
from myovision.video.mouth import GRID_S1_BOX, MouthBox, MouthCache, MouthCropSettings
from myovision.video.mouth_augment import MouthAugment, SpeedPerturbation

OBJECTIVES = ("hmm", "ctc", "joint")
UNITS = ("phones", "characters", "words")


@dataclass
class LipReadConfig:
    """Everything that defines a lip-reading run (saved as config.json beside the weights)."""

    frontend: str = "stires3d"
    frontend_kwargs: dict[str, Any] = field(default_factory=dict)
    backend_kwargs: dict[str, Any] = field(default_factory=dict)
    objective: str = "joint"
    units: str = "phones"
    states_per_unit: int = 1
    crop_box: tuple[int, int, int, int] = astuple(GRID_S1_BOX)  # top, left, height, width in source pixels
    crop_size: tuple[int, int] = (44, 44)
    shift: int = 2  # augmentation (MouthAugment): random translation in pixels, after a random flip
    time_masks: int = 0  # and this many spans of up to `mask_frames` frames masked (hurt on GRID-200)
    mask_frames: int = 8
    speed_change: float = 0.0  # and played at a random rate in 1 +- this (SpeedPerturbation), targets resampled
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup between the videos of a batch (0: off)
    splice: float = 0.0  # fraction of training draws that are spliced sentences (lipread_data.LipReadingSet)
    epochs: int = 30
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-2
    realign_after: int = 10
    realign_every: int = 5
    kappa: float = 1.0
    mmi_weight: float = 0.0  # objective "hmm" / "joint": + this x lattice-free MMI over GRID's grammar (mmi.py)
    mmi_boost: float = 0.0  # boosted MMI: competing paths gain this per frame off the state targets
    seed: int = 0

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.units not in UNITS:
            raise InputError(f"units must be one of {UNITS}, got {self.units!r}")
        if self.mmi_weight < 0 or (self.mmi_weight and self.objective == "ctc"):
            raise InputError(f"mmi_weight must be >= 0 and needs an HMM head (objective hmm or joint), "
                             f"got {self.mmi_weight} with objective {self.objective!r}")
        if self.mmi_boost < 0 or (self.mmi_boost and not self.mmi_weight):
            raise InputError(f"mmi_boost must be >= 0 and boosts the MMI term (mmi_weight > 0), got "
                             f"{self.mmi_boost} with mmi_weight {self.mmi_weight}")

    @property
    def crop(self) -> MouthCropSettings:
        return MouthCropSettings(MouthBox(*self.crop_box), tuple(self.crop_size))


def lexicon_for(units: str, words: Sequence[str]) -> Lexicon:
    """The lexicon of `words` (GRID's grammar words always included, so the grammar decoder has every unit)."""
    words = sorted(set(words) | set(GRID_GRAMMAR.words))
    if units == "characters":
        return Lexicon.spelled(words)
    if units == "words":
        return Lexicon({w: (w,) for w in words})
    missing = [w for w in words if w not in GRID_PHONES]
    if missing:
        raise InputError(f"no phones for {missing[:5]}: use units='characters' outside GRID's vocabulary")
    return Lexicon({w: tuple(GRID_PHONES[w].split()) for w in words})


def split_heads(scores: torch.Tensor, num_states: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Network scores (B, T, S + C) -> log p(state) (B, T, S) and CTC log-probabilities (B, T, C)."""
    return scores[..., :num_states].log_softmax(-1), scores[..., num_states:].log_softmax(-1)


class LipReadingModule(L.LightningModule):
    """Frame cross-entropy on HMM state targets and/or CTC, per `objective`, plus `mmi_weight` x lattice-free
    MMI over GRID's grammar; re-aligns its training set."""

    def __init__(self, model: nn.Module, config: LipReadConfig, hmms: HmmSet, lexicon: Lexicon,
                 train_set: LipReadingSet):
        super().__init__()
        self.model, self.config, self.hmms, self.lexicon, self.train_set = model, config, hmms, lexicon, train_set
        self.log_priors = log_state_priors(train_set.states, hmms.num_states)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self.history: list[dict] = []
        self.rng = np.random.default_rng(config.seed + 2)  # mixup draws
        self.numerators: dict[tuple[str, ...], DecodingGraph] = {}  # MMI numerator graph per transcript
        if config.mmi_weight:
            rejected = [" ".join(w) for w in train_set.words if not GRID_GRAMMAR.accepts(w)]
            if rejected:
                raise InputError(f"MMI training runs over GRID's grammar, which rejects {rejected[:3]}")
            self._build_mmi_graphs()

    def _build_mmi_graphs(self) -> None:
        """The grammar (denominator) graph with the current self-loops; numerators are rebuilt as drawn."""
        self.denominator = GraphTensors.stack([grammar_graph(GRID_GRAMMAR, self.lexicon, self.hmms)])
        self.numerators.clear()

    def numerator(self, words: tuple[str, ...]) -> DecodingGraph:
        if words not in self.numerators:
            self.numerators[words] = transcript_graph(words, self.lexicon, self.hmms)
        return self.numerators[words]

    def training_step(self, batch, batch_idx):
        video, lengths = batch["video"], batch["lengths"]  # (B, 1, T, h, w), (B,)
        mixes = [(1.0, torch.arange(len(lengths)))]  # (weight, which item's targets) pairs
        if self.config.mixup:  # Zhang et al. 2018: a convex mix of two videos, trained on both their targets
            lam = float(self.rng.beta(self.config.mixup, self.config.mixup))
            partner = torch.from_numpy(self.rng.permutation(len(lengths)))
            video = lam * video + (1 - lam) * video[partner]
            lengths = torch.maximum(lengths, lengths[partner])
            mixes = [(lam, mixes[0][1]), (1 - lam, partner)]
        hmm_logp, ctc_logp = split_heads(self.model(video, lengths), self.hmms.num_states)
        loss = sum(w * self.target_loss(hmm_logp, ctc_logp, batch, order) for w, order in mixes)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(lengths))
        return loss

    def target_loss(self, hmm_logp: torch.Tensor, ctc_logp: torch.Tensor, batch: dict,
                    order: torch.Tensor) -> torch.Tensor:
        """The objective's loss of log p(state) (B, T, S) and CTC log-probabilities (B, T, C) against the targets
        of the batch's items `order` (B,) (the identity, or a mixup partner)."""
        c = self.config
        lengths = batch["lengths"][order]
        loss = hmm_logp.new_zeros(())
        if c.objective in ("hmm", "joint"):
            loss = loss + nn.functional.nll_loss(hmm_logp.flatten(0, 1), batch["states"][order].flatten())
        if c.mmi_weight:
            log_likes = hmm_logp - c.kappa * torch.as_tensor(self.log_priors, dtype=hmm_logp.dtype,
                                                             device=hmm_logp.device)
            numerators = GraphTensors.stack([self.numerator(batch["words"][i]) for i in order.tolist()])
            loss = loss + c.mmi_weight * mmi_loss(log_likes, lengths, numerators.to(log_likes.device),
                                                  self.denominator.to(log_likes.device), c.mmi_boost,
                                                  batch["states"][order])
        if c.objective in ("ctc", "joint"):
            labels = torch.split(batch["labels"], batch["label_lengths"].tolist())
            loss = loss + self.ctc(ctc_logp.transpose(0, 1), torch.cat([labels[i] for i in order.tolist()]),
                                   lengths, batch["label_lengths"][order])
        return loss

    def on_train_epoch_end(self):
        epoch = self.current_epoch + 1
        loss = self.trainer.callback_metrics.get("train_loss")
        self.history.append({"epoch": epoch, "train_loss": None if loss is None else float(loss)})
        c = self.config
        if (c.objective != "ctc" and epoch >= c.realign_after and epoch < c.epochs
                and (epoch - c.realign_after) % c.realign_every == 0):
            self.realign()

    @torch.no_grad()
    def realign(self) -> None:
        """Forced alignment of the training set with the current model; re-count priors and self-loops."""
        was_training = self.model.training
        self.model.eval()
        aligned = []
        for crops, words in zip(self.train_set.crops, self.train_set.words):
            scores = self.model(crops[None, None])[0]  # (T, S + C)
            hmm_logp = split_heads(scores, self.hmms.num_states)[0].numpy()
            ll = scaled_log_likelihoods(hmm_logp, self.log_priors, self.config.kappa)
            aligned.append(forced_align(ll, words, self.lexicon, self.hmms))
        changed = float(np.mean([(a != b).mean() for a, b in zip(aligned, self.train_set.states)]))
        self.train_set.states = aligned
        self.log_priors = log_state_priors(aligned, self.hmms.num_states)
        self.hmms = self.hmms.with_self_loops(estimate_self_loops(aligned, self.hmms.num_states))
        if self.config.mmi_weight:
            self._build_mmi_graphs()
        self.history[-1]["realigned_frames"] = changed
        self.model.train(was_training)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.config.lr,
                                                    total_steps=max(1, self.trainer.estimated_stepping_batches),
                                                    pct_start=0.1)
        return [opt], [{"scheduler": sched, "interval": "step"}]


@dataclass
class LipReadRun:
    """A trained lip reader: network, config, HMM set (with self-loops), state priors, lexicon."""

    model: nn.Module
    config: LipReadConfig
    hmms: HmmSet
    log_priors: np.ndarray
    lexicon: Lexicon
    history: list[dict] = field(default_factory=list)


def build_network(config: LipReadConfig, num_states: int) -> nn.Module:
    return create_model("lipreader", num_outputs=num_states + len(CTC_LABELS), frontend=config.frontend,
                        frontend_kwargs=config.frontend_kwargs, **config.backend_kwargs)


def fit_lipreader(utterances: Sequence[Utterance], config: LipReadConfig, cache: MouthCache,
                  progress: bool = False) -> LipReadRun:
    """Train on `utterances` (crops from `cache`); returns the run in eval mode."""
    if not utterances:
        raise InputError("no training utterances")
    L.seed_everything(config.seed, verbose=False)
    lexicon = lexicon_for(config.units, [w for u in utterances for w in u.words])
    hmms = HmmSet(lexicon.units, config.states_per_unit)
    crops = [cache(u.video) for u in utterances]
    states = [initial_alignment(u, len(c), lexicon, hmms) for u, c in zip(utterances, crops)]
    hmms = hmms.with_self_loops(estimate_self_loops(states, hmms.num_states))
    augment = MouthAugment(True, config.shift, config.time_masks, config.mask_frames,
                           np.random.default_rng(config.seed))
    speed = None
    if config.speed_change:
        speed = SpeedPerturbation(config.speed_change, np.random.default_rng(config.seed + 1))
    train_set = LipReadingSet(crops, states, [u.words for u in utterances], augment, speed, splice=config.splice,
                              spans=[word_spans(u, len(c)) for u, c in zip(utterances, crops)],
                              rng=np.random.default_rng(config.seed + 3))
    model = build_network(config, hmms.num_states)
    module = LipReadingModule(model, config, hmms, lexicon, train_set)
    loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(config.seed))
    with quiet_lightning():
        trainer = L.Trainer(max_epochs=config.epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                            enable_model_summary=False, enable_progress_bar=progress, num_sanity_val_steps=0)
        trainer.fit(module, loader)
    return LipReadRun(model.eval(), config, module.hmms, module.log_priors, lexicon, module.history)


def save_run(run: LipReadRun, out: str | Path) -> Path:
    """`out/model.safetensors` + `out/config.json` (no pickle anywhere)."""
    out = Path(out)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in run.model.state_dict().items()}, str(tmp))
    meta = {"config": asdict(run.config), "units": list(run.hmms.units), "states_per_unit": run.hmms.states_per_unit,
            "self_loop": run.hmms.self_loop.tolist(), "log_priors": run.log_priors.tolist(),
            "lexicon": {w: list(p) for w, p in run.lexicon.pronunciations.items()}, "history": run.history}
    atomic_write_text(out / "config.json", json.dumps(meta, indent=1))
    return out


def load_run(path: str | Path) -> LipReadRun:
    """A run written by `save_run`; a missing or inconsistent file is an InputError naming it."""
    path = Path(path)
    config_file, weights = path / "config.json", path / "model.safetensors"
    for f in (config_file, weights):
        if not f.is_file():
            raise InputError("not a lip-reading run (file missing)", f)
    try:
        meta = json.loads(config_file.read_text())
        config = LipReadConfig(**meta["config"])
        lexicon = Lexicon({w: tuple(p) for w, p in meta["lexicon"].items()})
        hmms = HmmSet(tuple(meta["units"]), meta["states_per_unit"], np.asarray(meta["self_loop"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"malformed run config ({exc})", config_file) from None
    model = build_network(config, hmms.num_states)
    try:
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:  # safetensors' own error type, or a shape mismatch
        raise InputError(f"weights do not fit the configured network ({str(exc)[:200]})", weights) from None
    return LipReadRun(model.eval(), config, hmms, np.asarray(meta["log_priors"]), lexicon, meta.get("history", []))
