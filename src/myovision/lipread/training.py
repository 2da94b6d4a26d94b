"""Training lip readers (Zeng, Du, Wang, section 2) in Lightning: the hybrid HMM model with per-frame state
targets from forced alignment, and the CTC baseline, on the same network (`lipreader`).

The network's output layer scores `num_states` HMM states followed by the CTC labels (blank, space, a-z);
each part gets its own log-softmax. `objective` picks the loss: "hmm" (frame cross-entropy on the states),
"ctc" (CTC on the characters) or "joint" (their sum: one network, both heads, half the cost of training two,
though on GRID it trains the HMM head worse than "hmm" alone). Units: GRID at 25 fps has a median of ~2.25
frames per phone and 1.9 per character, so the paper's 3-state HMMs cannot fit most words; the default is one
state per phone (GRID's words through `GRID_PHONES`), per character (`units="characters"`) or per word
(`units="words"`, whole-word HMMs for small vocabularies), each with a trained self-loop. `units="triphones"`:
word-internal triphones whose states a phonetic decision tree ties (`myovision.lipread.triphones`), grown on
the alignments and front-end features of a monophone network (`monophone_run`, or one trained first for
`monophone_epochs` and kept as OUT/monophone); its targets are that network's alignments, mapped to the tree's
leaves, and every graph (grammar, transcripts, MMI) is built over the tied triphone HMMs.

Targets: first from the word alignments when the data has them (each word's unit states spread evenly over
its frames, silences as `sil`), else a flat start; every `realign_every` epochs from `realign_after` on, the
training set is re-aligned with the model (Viterbi on the transcript's graph, hybrid scores), and the state
priors (eq. 3) and self-loops are re-counted from the alignments.

Training runs on the harness (`myovision.training.harness`): any device, checkpoints every epoch, exact
resume. Priors and self-loops are buffers of the module (in every checkpoint, and restored with the best
validation epoch's weights); the alignments and the history go through `on_save_checkpoint`; every random
draw of the augmentations is seeded by (seed, epoch, item) (`LipReadingSet`) and mixup's by (seed, epoch,
batch). With validation videos, `val_wer` (the objective's decoder: HMM Viterbi over GRID's grammar, or CTC
greedy) picks the epoch whose weights are kept.

Sequence training: with `mmi_weight` > 0 the HMM head's frame cross-entropy gets a lattice-free MMI term over
GRID's grammar (`myovision.lipread.mmi`, Povey et al. 2016): the transcript's paths against every sentence's,
with the hybrid scores the decoder uses, so training sees the competing words the decoder will weigh;
`mmi_boost` > 0 makes it boosted MMI, a margin growing with each competing path's frame errors.

Regularisation for small corpora: each training draw is flipped at random and shifted by up to `shift` pixels
(`myovision.video.mouth_augment`). Off by default, each measured on GRID by `bench_lipread_grid.py`: time
masking (`time_masks`), speed perturbation (`speed_change`: frames dropped or repeated, targets follow),
mixup (`mixup`: a convex mix of two videos of the batch, every loss taken against both items' targets) and
word splicing (`splice`: new sentences cut and joined from the aligned words, `lipread.data`).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch import nn

from myovision.data.grid import Utterance
from myovision.decoding.grammar import GRID_GRAMMAR
from myovision.decoding.hmm import (DecodingGraph, forced_align, grammar_graph, log_state_priors,
                                    scaled_log_likelihoods, transcript_graph)
from myovision.decoding.lexicon import HmmSet, Lexicon, estimate_self_loops
from myovision.decoding.triphone import DecisionTree
from myovision.errors import InputError
from myovision.lipread.config import LipReadConfig
from myovision.lipread.data import LipReadDataModule, LipReadingSet, initial_alignment, word_spans
from myovision.lipread.evaluate import LipDecoder, score
from myovision.lipread.mmi import GraphTensors, mmi_loss
from myovision.lipread.run import HMM_FILE, LipReadRun, build_network, lexicon_for, load_run, save_run, split_heads
from myovision.lipread.triphones import tie_triphones
from myovision.training.harness import SystemModule, best_score, build_trainer, fit
from myovision.video.mouth import MouthCache
from myovision.video.mouth_augment import MouthAugment, SpeedPerturbation

STATE = "lipread"  # the module's entry in a Lightning checkpoint
MONOPHONE_DIR = "monophone"  # the monophone run a triphone run trained first, in its run folder


def validation_decoder(config: LipReadConfig) -> str:
    """The decoder whose validation WER picks the best epoch: the HMM's unless only CTC is trained."""
    return "ctc" if config.objective == "ctc" else "hmm"


class LipReadingModule(SystemModule):
    """Frame cross-entropy on HMM state targets and/or CTC, per `objective`, plus `mmi_weight` x lattice-free
    MMI over GRID's grammar; re-aligns its training set; logs `val_wer` (counts summed over devices)."""

    def __init__(self, model: nn.Module, config: LipReadConfig, hmms: HmmSet, lexicon: Lexicon,
                 train_set: LipReadingSet, tree: DecisionTree | None = None):
        super().__init__()
        self.model, self.config, self.lexicon, self.train_set, self.tree = model, config, lexicon, train_set, tree
        self.units, self.states_per_unit, self.tied = hmms.units, hmms.states_per_unit, hmms.tied
        priors = log_state_priors(train_set.states, hmms.num_states)
        self.register_buffer("state_log_priors", torch.as_tensor(np.asarray(priors, dtype=np.float64)))
        self.register_buffer("self_loops", torch.as_tensor(np.asarray(hmms.self_loop, dtype=np.float64)))
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self.history: list[dict] = []
        self.numerators: dict[tuple[str, ...], DecodingGraph] = {}  # MMI numerator graph per transcript
        self._graph_loops: np.ndarray | None = None  # the self-loops the MMI graphs were built with
        self._loss_sum, self._batches = 0.0, 0  # this epoch's training loss
        self._val_counts = torch.zeros(2, dtype=torch.float64)  # word errors, reference words
        self._decoder: LipDecoder | None = None
        if config.sequence_trained:
            rejected = [" ".join(w) for w in train_set.words if not GRID_GRAMMAR.accepts(w)]
            if rejected:
                raise InputError(f"MMI training runs over GRID's grammar, which rejects {rejected[:3]}")
            self._build_mmi_graphs()

    @property
    def hmms(self) -> HmmSet:
        return HmmSet(self.units, self.states_per_unit, self.self_loops.cpu().numpy(), self.tied)

    @property
    def log_priors(self) -> np.ndarray:
        return self.state_log_priors.cpu().numpy()

    def run(self) -> LipReadRun:
        """The lip reader as it stands (network, current HMM self-loops and priors)."""
        return LipReadRun(self.model, self.config, self.hmms, self.log_priors, self.lexicon, self.history, self.tree)

    def _build_mmi_graphs(self) -> None:
        """The grammar (denominator) graph with the current self-loops; numerators are rebuilt as drawn."""
        loops = self.self_loops.cpu().numpy()
        if self._graph_loops is not None and np.array_equal(loops, self._graph_loops):
            return
        self.denominator = GraphTensors.stack([grammar_graph(GRID_GRAMMAR, self.lexicon, self.hmms)])
        self.numerators.clear()
        self._graph_loops = loops.copy()

    def numerator(self, words: tuple[str, ...]) -> DecodingGraph:
        if words not in self.numerators:
            self.numerators[words] = transcript_graph(words, self.lexicon, self.hmms)
        return self.numerators[words]

    def _step(self, batch, phase: str):
        if phase != "train":
            return self._decode_step(batch)
        video, lengths = batch["video"], batch["lengths"]  # (B, 1, T, h, w), (B,)
        mixes = [(1.0, torch.arange(len(lengths), device=lengths.device))]  # (weight, which item's targets) pairs
        if self.config.mixup:  # Zhang et al. 2018: a convex mix of two videos, trained on both their targets
            rng = np.random.default_rng((self.config.seed, self.current_epoch, self._batches, 7))
            lam = float(rng.beta(self.config.mixup, self.config.mixup))
            partner = torch.from_numpy(rng.permutation(len(lengths))).to(lengths.device)
            video = lam * video + (1 - lam) * video[partner]
            lengths = torch.maximum(lengths, lengths[partner])
            mixes = [(lam, mixes[0][1]), (1 - lam, partner)]
        hmm_logp, ctc_logp = split_heads(self.model(video, lengths).float(), len(self.self_loops))
        loss = sum(w * self.target_loss(hmm_logp, ctc_logp, batch, order) for w, order in mixes)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(lengths))
        self._loss_sum += float(loss.detach())
        self._batches += 1
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
        if c.sequence_trained:
            log_likes = hmm_logp - c.kappa * self.state_log_priors.to(hmm_logp.dtype)
            numerators = GraphTensors.stack([self.numerator(batch["words"][i]) for i in order.tolist()])
            loss = loss + c.mmi_weight * mmi_loss(log_likes, lengths, numerators.to(log_likes.device),
                                                  self.denominator.to(log_likes.device), c.mmi_boost,
                                                  batch["states"][order])
        if c.objective in ("ctc", "joint"):
            labels = torch.split(batch["labels"], batch["label_lengths"].tolist())
            loss = loss + self.ctc(ctc_logp.transpose(0, 1), torch.cat([labels[i] for i in order.tolist()]),
                                   lengths, batch["label_lengths"][order])
        return loss

    @torch.no_grad()
    def _decode_step(self, batch) -> None:
        """Decode a validation batch with the objective's decoder; count word errors; log the objective's loss
        against the first targets (`val_loss`, the validation column of the paper's Table 3)."""
        if self._decoder is None:
            self._decoder = LipDecoder(self.run(), validation_decoder(self.config))
        scores = self.model(batch["video"], batch["lengths"]).float()  # (B, T, S + C)
        heads = split_heads(scores, len(self.self_loops))
        order = torch.arange(len(batch["lengths"]), device=batch["lengths"].device)
        self.log("val_loss", self.target_loss(*heads, batch, order), batch_size=len(order), sync_dist=True)
        hmm_logp, ctc_logp = (h.cpu().numpy() for h in heads)
        hyps = [" ".join(self._decoder(hmm_logp[b, :n], ctc_logp[b, :n]))
                for b, n in enumerate(batch["lengths"].tolist())]
        result = score(hyps, [" ".join(w) for w in batch["words"]])
        self._val_counts += torch.tensor([result["errors"], result["reference_words"]], dtype=torch.float64)

    def on_validation_epoch_start(self):
        self._decoder = None  # rebuilt with the current priors and self-loops

    def on_validation_epoch_end(self):
        counts = self.trainer.strategy.reduce(self._val_counts.to(self.device), reduce_op="sum")
        self._val_counts = torch.zeros(2, dtype=torch.float64)
        if counts[1] > 0:
            self.log("val_wer", float(counts[0] / counts[1]), prog_bar=True)

    def on_train_epoch_start(self):
        done = self.current_epoch  # epochs completed: re-align after the epochs that ask for it
        if done and self.config.realigns_after(done):
            self.realign()
        if self.config.sequence_trained:
            self._build_mmi_graphs()
        self._loss_sum, self._batches = 0.0, 0

    def _record_epoch(self) -> None:
        """Append this epoch's mean training loss to the history (once: the sums are emptied)."""
        if self._batches:
            self.history.append({"epoch": self.current_epoch + 1, "train_loss": self._loss_sum / self._batches})
            self._loss_sum, self._batches = 0.0, 0

    def on_train_epoch_end(self):
        self._record_epoch()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """The alignments and the history (priors and self-loops are buffers, in the state dict)."""
        self._record_epoch()  # the epoch-end checkpoint is written before this module's on_train_epoch_end
        checkpoint[STATE] = {"states": [np.asarray(s).tolist() for s in self.train_set.states],
                             "history": [dict(h) for h in self.history]}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint[STATE]
        if len(state["states"]) != len(self.train_set.states):
            raise InputError(f"the checkpoint has alignments of {len(state['states'])} training videos, "
                             f"the data {len(self.train_set.states)}: resume with the same data")
        self.train_set.states = [np.asarray(s, dtype=np.int64) for s in state["states"]]
        self.history = [dict(h) for h in state["history"]]
        self._graph_loops = None  # MMI graphs rebuilt from the restored self-loops at the next epoch's start

    @torch.no_grad()
    def realign(self) -> None:
        """Forced alignment of the training set with the current model; re-count priors and self-loops."""
        was_training = self.model.training
        self.model.eval()
        aligned = []
        for crops, words in zip(self.train_set.crops, self.train_set.words):
            scores = self.model(crops[None, None].to(self.device))[0].float()  # (T, S + C)
            hmm_logp = split_heads(scores, len(self.self_loops))[0].cpu().numpy()
            ll = scaled_log_likelihoods(hmm_logp, self.log_priors, self.config.kappa)
            aligned.append(forced_align(ll, words, self.lexicon, self.hmms))
        changed = float(np.mean([(a != b).mean() for a, b in zip(aligned, self.train_set.states)]))
        self.train_set.states = aligned
        num_states = len(self.self_loops)
        self.state_log_priors.copy_(torch.as_tensor(np.asarray(log_state_priors(aligned, num_states), np.float64)))
        self.self_loops.copy_(torch.as_tensor(estimate_self_loops(aligned, num_states), dtype=torch.float64))
        if self.history:
            self.history[-1]["realigned_frames"] = changed
        self.model.train(was_training)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.config.lr,
                                                    total_steps=max(1, self.trainer.estimated_stepping_batches),
                                                    pct_start=0.1)
        return [opt], [{"scheduler": sched, "interval": "step"}]


def training_set(utterances: Sequence[Utterance], config: LipReadConfig, crops: Sequence[torch.Tensor],
                 lexicon: Lexicon, hmms: HmmSet, states: Sequence[np.ndarray] | None = None) -> LipReadingSet:
    """The augmented training draws of `utterances` (crops given), first targets `states` (T,) per utterance
    (default: from their word alignments)."""
    if states is None:
        states = [initial_alignment(u, len(c), lexicon, hmms) for u, c in zip(utterances, crops)]
    augment = MouthAugment(True, config.shift, config.time_masks, config.mask_frames)
    speed = SpeedPerturbation(config.speed_change) if config.speed_change else None
    return LipReadingSet(crops, states, [u.words for u in utterances], augment, speed, splice=config.splice,
                         spans=[word_spans(u, len(c)) for u, c in zip(utterances, crops)], seed=config.seed)


def fit_lipreader(utterances: Sequence[Utterance], config: LipReadConfig, cache: MouthCache, *,
                  validation: Sequence[Utterance] = (), out: str | Path | None = None, resume: bool = False,
                  progress: bool | None = False, stats: dict | None = None) -> LipReadRun:
    """Train on `utterances` (crops from `cache`) with `config.trainer`'s hardware; returns the run in eval mode,
    the network on the device it trained on.

    validation: videos whose WER (`val_wer`) picks the epoch whose weights (and priors) are kept. out: the
    run folder for checkpoints (every epoch) and logs; `resume` continues its last checkpoint. progress: None
    for a bar on a terminal and lines otherwise, False for silence. stats: receives "best_val_wer" and "steps".
    """
    if not utterances:
        raise InputError("no training utterances")
    crops = [cache(u.video) for u in utterances]
    states, tree = None, None
    if config.units == "triphones":
        tied = tie_triphones(monophone_run(utterances, config, cache, out, progress), utterances, crops, config)
        lexicon, hmms, tree, states = tied.lexicon, tied.hmms, tied.tree, tied.targets
    else:
        lexicon = lexicon_for(config.units, [w for u in utterances for w in u.words])
        hmms = HmmSet(lexicon.units, config.states_per_unit)
    L.seed_everything(config.seed, verbose=False)  # after a monophone stage, whether trained now or loaded
    train_set = training_set(utterances, config, crops, lexicon, hmms, states)
    hmms = hmms.with_self_loops(estimate_self_loops(train_set.states, hmms.num_states))
    val_set = None
    if validation:
        crops = [cache(u.video) for u in validation]
        val_set = LipReadingSet(crops, [initial_alignment(u, len(c), lexicon, hmms) for u, c in zip(validation, crops)],
                                [u.words for u in validation])
    model = build_network(config, hmms.num_states)
    module = LipReadingModule(model, config, hmms, lexicon, train_set, tree)
    data = LipReadDataModule(train_set, val_set, batch_size=config.batch_size, seed=config.seed,
                             num_workers=config.trainer.num_workers)
    steps = -(-len(train_set) // config.batch_size)
    trainer = build_trainer(config.trainer, out, max_epochs=config.epochs, checkpoints=out is not None,
                            monitor="val_wer" if val_set is not None else None, mode="min", progress=progress,
                            log_every_n_steps=max(1, min(50, steps)))
    with warnings.catch_warnings():  # no validation videos: the data module's empty list of them
        warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
        fit(trainer, module, datamodule=data, resume_from=out if resume else None)
    module.to(trainer.strategy.root_device)
    if stats is not None:
        stats.update(best_val_wer=best_score(trainer), steps=trainer.global_step)
    return LipReadRun(model.eval(), config, module.hmms, module.log_priors, lexicon, module.history, tree)


def monophone_run(utterances: Sequence[Utterance], config: LipReadConfig, cache: MouthCache,
                  out: str | Path | None = None, progress: bool | None = False) -> LipReadRun:
    """The monophone run a triphone run aligns with: `config.monophone_run`; else OUT/monophone when an earlier
    (interrupted) call trained it; else one trained now with `config`'s recipe for `monophone_epochs` epochs
    (no validation: the last epoch), saved as OUT/monophone and read back, so a resumed run aligns with the
    same network on the same device."""
    if config.monophone_run:
        return load_run(config.monophone_run)
    folder = None if out is None else Path(out) / MONOPHONE_DIR
    if folder is not None and (folder / HMM_FILE).is_file():
        return load_run(folder)
    mono = fit_lipreader(utterances, replace(config.model_config(), units="phones", epochs=config.monophone_epochs),
                         cache, progress=progress)
    if folder is None:
        return mono
    save_run(mono, folder)
    return load_run(folder)
