"""A trained lip reader (`LipReadRun`) and its run folder: the network through `myovision.runs.save_model`
(so `create_model(checkpoint=RUN)` rebuilds it), and beside it `lipread.json`: the config, the HMM set (units,
states per unit, trained self-loops), the state priors, the lexicon and the training history; with triphone
units also `tree.json`, the phonetic decision tree that ties their states (`myovision.decoding.triphone`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from myovision.config import from_dict, to_dict
from myovision.decoding.grammar import GRID_GRAMMAR, GRID_PHONES
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.pronounce import pronounce
from myovision.decoding.triphone import DecisionTree, triphone_lexicon
from myovision.errors import InputError
from myovision.fileio import atomic_write_text
from myovision.lipread.config import LipReadConfig
from myovision.lipread.data import CTC_LABELS
from myovision.registry import create_model
from myovision.runs import read_model_spec, save_model

MODEL_NAME = "lipreader"
HMM_FILE = "lipread.json"
WORD_LM_FILE = "words.arpa"  # the word n-gram of the training transcripts (`lipread train`)
DECODING_FILE = "decoding.json"  # kappa and LM weights chosen on the validation split (`lipread train`)
TREE_FILE = "tree.json"  # the decision tree of a triphone run


@dataclass
class LipReadRun:
    """A trained lip reader: network, config, HMM set (with self-loops), state priors, lexicon; for triphone
    units the decision tree whose leaves are the HMM states (`hmms.tied` holds the lexicon's triphones)."""

    model: nn.Module
    config: LipReadConfig
    hmms: HmmSet
    log_priors: np.ndarray
    lexicon: Lexicon
    history: list[dict] = field(default_factory=list)
    tree: DecisionTree | None = None

    def has_hmm(self, unit: str) -> bool:
        """Whether `unit` has states: one of the HMM set's units, or a triphone the tree can place."""
        return unit in self.hmms.units or (self.tree is not None and self.tree.covers(unit))

    def states_of(self, unit: str) -> tuple[int, ...]:
        """The HMM states of `unit`; a triphone outside the lexicon gets its states from the tree's questions."""
        if self.tree is not None and unit not in self.hmms.units:
            return self.tree.tying([unit])[unit]
        return self.hmms.states_of(unit)


def lexicon_for(units: str, words: Sequence[str], oov: str = "rules") -> Lexicon:
    """The lexicon of `words` (GRID's grammar words always included, so the grammar decoder has every unit).
    Phones: GRID's words as `GRID_PHONES` (its letters read as letter names), any other word from the CMU
    dictionary with the `oov` fallback of `myovision.decoding.pronounce`. Triphones: those phones rewritten as
    word-internal triphones."""
    words = sorted(set(words) | set(GRID_GRAMMAR.words))
    if units == "triphones":
        return triphone_lexicon(lexicon_for("phones", words, oov))
    if units == "characters":
        return Lexicon.spelled(words)
    if units == "words":
        return Lexicon({w: (w,) for w in words})
    missing = [w for w in words if w not in GRID_PHONES]
    others = pronounce(missing, oov) if missing else {}
    return Lexicon({w: tuple(GRID_PHONES[w].split()) if w in GRID_PHONES else others[w] for w in words})


def split_heads(scores: torch.Tensor, num_states: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Network scores (B, T, S + C) -> log p(state) (B, T, S) and CTC log-probabilities (B, T, C)."""
    return scores[..., :num_states].log_softmax(-1), scores[..., num_states:].log_softmax(-1)


def network_kwargs(config: LipReadConfig, num_states: int) -> dict:
    """The `lipreader` builder's keywords for `config` with `num_states` HMM states (JSON-ready)."""
    return json.loads(json.dumps({"num_outputs": num_states + len(CTC_LABELS), "frontend": config.frontend,
                                  "frontend_kwargs": config.frontend_kwargs, **config.backend_kwargs}))


def build_network(config: LipReadConfig, num_states: int) -> nn.Module:
    return create_model(MODEL_NAME, **network_kwargs(config, num_states))


def model_device(model: nn.Module) -> torch.device:
    """Where `model`'s parameters are (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def save_run(run: LipReadRun, out: str | Path) -> Path:
    """`out/model.safetensors` + `model.json` (the network) and `out/lipread.json` (config, HMMs, priors,
    lexicon, history); no pickle anywhere."""
    out = Path(out)
    config = run.config.model_config()
    save_model(out, run.model, MODEL_NAME, network_kwargs(config, run.hmms.num_states),
               extra={"system": "lipread", "hmm_file": HMM_FILE})
    meta = {"config": to_dict(config), "units": list(run.hmms.units), "states_per_unit": run.hmms.states_per_unit,
            "self_loop": run.hmms.self_loop.tolist(), "log_priors": np.asarray(run.log_priors).tolist(),
            "lexicon": {w: list(p) for w, p in run.lexicon.pronunciations.items()}, "history": run.history}
    atomic_write_text(out / HMM_FILE, json.dumps(meta, indent=1) + "\n")
    if run.tree is not None:
        save_tree(run.tree, out)
    return out


def save_tree(tree: DecisionTree, out: str | Path) -> Path:
    """out/tree.json: the decision tree of a triphone run (JSON)."""
    return atomic_write_text(Path(out) / TREE_FILE, json.dumps(tree.to_dict(), indent=1) + "\n")


def load_tree(path: str | Path) -> DecisionTree:
    """The tree `save_tree` wrote in the run folder `path`; missing or malformed is an InputError naming it."""
    tree_file = Path(path) / TREE_FILE
    if not tree_file.is_file():
        raise InputError("a triphone run needs its decision tree, and it is missing", tree_file)
    try:
        return DecisionTree.from_dict(json.loads(tree_file.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"malformed decision tree ({exc})", tree_file) from None


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LipReadRun:
    """A run written by `save_run` (or `myovision lipread train`), its network on `device`; a missing or
    inconsistent file is an InputError naming it."""
    path = Path(path)
    meta_file = path / HMM_FILE
    if not meta_file.is_file():
        raise InputError(f"not a lip-reading run ({HMM_FILE} missing)", meta_file)
    read_model_spec(path)  # model.json + model.safetensors present and readable
    try:
        meta = json.loads(meta_file.read_text())
        # runs saved before mouth crops had a choice used the box (never the "auto" of today's default)
        config = from_dict(LipReadConfig, {"mouth_crop": "box", **meta["config"]}, meta_file)
        lexicon = Lexicon({w: tuple(p) for w, p in meta["lexicon"].items()})
        units, self_loop = tuple(meta["units"]), np.asarray(meta["self_loop"])
        hmms = HmmSet(units, meta["states_per_unit"], self_loop) if config.units != "triphones" else None
        log_priors = np.asarray(meta["log_priors"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"malformed lip-reading run ({exc})", meta_file) from None
    tree = load_tree(path) if hmms is None else None
    if tree is not None:
        hmms = HmmSet(units, tree.states_per_unit, self_loop, tree.tying(units))
    if len(log_priors) != hmms.num_states:
        raise InputError(f"{len(log_priors)} state priors for {hmms.num_states} HMM states", meta_file)
    try:
        model = create_model(checkpoint=path)
    except InputError:
        raise
    except Exception as exc:  # safetensors' own error type, or a shape mismatch
        raise InputError(f"weights do not fit the configured network ({str(exc)[:200]})", path) from None
    return LipReadRun(model.to(device).eval(), config, hmms, log_priors, lexicon, meta.get("history", []), tree)
