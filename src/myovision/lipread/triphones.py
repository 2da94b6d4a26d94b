"""Triphone units for the hybrid lip reader, the HTK / Kaldi recipe (Young, Odell, Woodland, "Tree-based state
tying for high accuracy acoustic modelling", HLT 1994; the paper's tied triphone HMMs, Zeng, Du, Wang section 2):

1. alignment: a trained monophone run's hybrid scores (eq. 3) drive Viterbi over each training transcript's
   graph of untied word-internal triphones, every triphone state scored by its centre phone's monophone
   state, so each frame gets its triphone in context (`monophone_alignments`);
2. statistics: frame count, sum and sum of squares of the monophone network's front-end features (its
   per-frame output before the back-end, (T, D), standardised over the training frames so the tree's variance
   floor is relative to each dimension's spread, as HTK's is) at the frames of each triphone state;
3. tying: a phonetic decision tree per (centre phone, HMM state) (`myovision.decoding.triphone.build_tree`),
   every leaf one tied state, the network's output;
4. targets: each frame's triphone state mapped to its leaf (`tie_triphones`); the triphone network trains on
   these, and every graph (GRID's grammar, the word loop, transcripts for alignment and LF-MMI) is built from
   the triphone lexicon and the tied `HmmSet` as for monophones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from myovision.data.grid import Utterance
from myovision.decoding.hmm import forced_align, scaled_log_likelihoods
from myovision.decoding.lexicon import SILENCE, HmmSet, Lexicon
from myovision.decoding.triphone import DecisionTree, accumulate, build_tree, split_triphone
from myovision.errors import InputError
from myovision.lipread.config import LipReadConfig
from myovision.lipread.run import LipReadRun, lexicon_for, model_device, split_heads


@dataclass
class TiedTriphones:
    """The triphone lexicon, its tied HMM set (self-loops not yet estimated), the tree, and per training
    utterance its tied-state targets (T,)."""

    lexicon: Lexicon
    hmms: HmmSet
    tree: DecisionTree
    targets: list[np.ndarray]


def untied_hmms(lexicon: Lexicon, mono: LipReadRun) -> tuple[HmmSet, np.ndarray]:
    """Every unit of the triphone `lexicon` with its own states, and per state (S_untied,) the monophone
    state of `mono` that scores it (the centre phone's, same position k); self-loops the monophone's."""
    if mono.config.units != "phones" or mono.config.objective == "ctc":
        raise InputError(f"triphones are aligned with a monophone HMM run (units phones, objective hmm or joint); "
                         f"this one has units {mono.config.units!r}, objective {mono.config.objective!r}")
    k_states = mono.hmms.states_per_unit
    centre = [mono.lexicon.silence if u == SILENCE else split_triphone(u)[1] for u in lexicon.units]
    scored_by = np.array([mono.hmms.states_of(c)[k] for c in centre for k in range(k_states)])
    return HmmSet(lexicon.units, k_states, mono.hmms.self_loop[scored_by]), scored_by


@torch.no_grad()
def monophone_alignments(mono: LipReadRun, utterances: Sequence[Utterance], crops: Sequence[torch.Tensor],
                         lexicon: Lexicon) -> tuple[HmmSet, list[np.ndarray], list[np.ndarray]]:
    """(untied triphone HMM set, per utterance its untied triphone state per frame (T,), the monophone
    network's front-end features (T, D)): forced alignment of each transcript with the monophone's scores."""
    untied, scored_by = untied_hmms(lexicon, mono)
    model = mono.model.eval()
    if not hasattr(model, "frontend"):
        raise InputError("the monophone run's network has no front-end to take features from (an ensemble?)")
    device = model_device(model)
    alignments, features = [], []
    for utt, video in zip(utterances, crops):
        feats = model.frontend(video[None, None].to(device))  # (1, T, D)
        hmm_logp = split_heads(model.backend(feats).float(), mono.hmms.num_states)[0][0]  # (T, S_mono)
        ll = scaled_log_likelihoods(hmm_logp.cpu().numpy(), mono.log_priors, mono.config.kappa)
        alignments.append(forced_align(ll[:, scored_by], utt.words, lexicon, untied))
        features.append(feats[0].double().cpu().numpy())
    return untied, alignments, features


def tie_triphones(mono: LipReadRun, utterances: Sequence[Utterance], crops: Sequence[torch.Tensor],
                  config: LipReadConfig) -> TiedTriphones:
    """Steps 1-4 of the module docstring for the training `utterances` and their mouth `crops` (T, h, w);
    tree thresholds from `config` (tree_min_count, tree_min_gain, tree_max_states)."""
    if mono.hmms.states_per_unit != config.states_per_unit:
        raise InputError(f"the monophone run has {mono.hmms.states_per_unit} states per phone, the triphones "
                         f"{config.states_per_unit}: train both with the same --states-per-unit")
    if mono.config.crop != config.crop:
        raise InputError(f"the monophone run was trained on other mouth crops ({mono.config.crop}) than the "
                         f"triphones' ({config.crop}): give both the same crop options")
    lexicon = lexicon_for("triphones", [w for u in utterances for w in u.words])
    untied, alignments, features = monophone_alignments(mono, utterances, crops, lexicon)
    frames = np.concatenate(features)  # (sum of T, D)
    mean, std = frames.mean(0), np.maximum(frames.std(0), 1e-8)
    features = [(f - mean) / std for f in features]
    stats = accumulate(alignments, features, untied.state_names())
    tree = build_tree(stats, config.states_per_unit, config.tree_min_count, config.tree_min_gain,
                      config.tree_max_states, lexicon.units)
    hmms = HmmSet(lexicon.units, config.states_per_unit, tied=tree.tying(lexicon.units))
    leaf = np.array([s for u in untied.units for s in hmms.states_of(u)])  # untied state id -> tied state id
    return TiedTriphones(lexicon, hmms, tree, [leaf[a] for a in alignments])
