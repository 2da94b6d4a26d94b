"""Decoding and scoring a trained lip reader (`myovision.lipread.training`) with the three decoders compared by
Zeng, Du, Wang: hybrid HMM Viterbi over GRID's grammar (eq. 1-3), CTC greedy, and CTC prefix beam search with
a character n-gram LM (by default one estimated from the training transcripts, each word a sentence, as
`myovision.decoding.ctc` scores words).

WER is a fraction here; `metrics.json` also counts substitutions, deletions and insertions (one minimal
alignment per utterance), gives the accuracy per grammar slot when every reference is a GRID sentence, and
lists every hypothesis. `ensemble` combines runs that share one HMM state set (different seeds or front-ends)
into one run whose posteriors are the members' averaged log-probabilities.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein
from torch import nn

from myovision.data.grid import Utterance
from myovision.decoding.ctc import CTCBeamDecoder, ctc_greedy

from myovision.decoding.grammar import GRID_GRAMMAR, GRID_SLOT_NAMES, SlotGrammar
from myovision.decoding.hmm import grammar_graph, scaled_log_likelihoods, viterbi
from myovision.decoding.lm import NgramLM, estimate_arpa
from myovision.errors import InputError
from myovision.metrics import word_error_rate
from myovision.decoding.lexicon import HmmSet
from myovision.lipread.data import CTC_LABELS
from myovision.lipread.run import LipReadRun, model_device, split_heads
from myovision.video.mouth import MouthCache

DECODERS = ("hmm", "ctc", "ctc-lm")
TRAINED_HEAD = {"hmm": ("hmm", "joint"), "ctc": ("ctc", "joint"), "ctc-lm": ("ctc", "joint")}


def estimate_word_lm(utterances: Sequence[Utterance], order: int = 4) -> str:
    """ARPA text of a character n-gram over the words of `utterances` (each word one LM sentence)."""
    return estimate_arpa([list(w) for u in utterances for w in u.words], order=order)


class EnsembleReader(nn.Module):
    """Lip readers sharing `num_states` HMM states: video (B, 1, T, H, W) -> (B, T, S + C), each head's per-frame
    log-probabilities averaged over the members (a product of experts; `split_heads` renormalises it)."""

    def __init__(self, members: Sequence[nn.Module], num_states: int):
        super().__init__()
        self.members, self.num_states = nn.ModuleList(members), num_states

    def forward(self, video: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        heads = [split_heads(m(video, lengths), self.num_states) for m in self.members]
        return torch.cat([torch.stack(parts).mean(0) for parts in zip(*heads)], dim=-1)  # (B, T, S + C)


def ensemble(runs: Sequence[LipReadRun]) -> LipReadRun:
    """One run from several trained on the same units, objective and mouth crop (seeds or front-ends): the
    averaged network of `EnsembleReader`, state priors and self-loops averaged over the members."""
    if not runs:
        raise InputError("an ensemble needs at least one run")
    first = runs[0]
    for i, run in enumerate(runs[1:], 1):
        for what, a, b in (("HMM units", first.hmms.units, run.hmms.units),
                           ("states per unit", first.hmms.states_per_unit, run.hmms.states_per_unit),
                           ("lexicon", first.lexicon.pronunciations, run.lexicon.pronunciations),
                           ("objective", first.config.objective, run.config.objective),
                           ("mouth crop", first.config.crop, run.config.crop)):
            if a != b:
                raise InputError(f"run {i} of the ensemble differs from run 0 in its {what}: {b!r} vs {a!r}")
    priors = np.log(np.mean([np.exp(r.log_priors) for r in runs], axis=0))
    self_loops = np.mean([r.hmms.self_loop for r in runs], axis=0)
    hmms = HmmSet(first.hmms.units, first.hmms.states_per_unit, self_loops)
    model = EnsembleReader([r.model for r in runs], first.hmms.num_states).eval()
    return LipReadRun(model, first.config, hmms, priors, first.lexicon)


@torch.no_grad()
def log_posteriors(run: LipReadRun, crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mouth crops (T, h, w) -> log p(state | x) (T, S) and CTC log-probabilities (T, C), computed on the
    network's device."""
    scores = run.model(crops[None, None].to(model_device(run.model)))[0].float()  # (T, S + C)
    hmm_logp, ctc_logp = split_heads(scores, run.hmms.num_states)
    return hmm_logp.cpu().numpy(), ctc_logp.cpu().numpy()


def labels_to_words(labels: Sequence[int]) -> list[str]:
    return "".join(CTC_LABELS[i] for i in labels if i > 0).split()


class LipDecoder:
    """One of `DECODERS` for a run: `(hmm_logp (T, S), ctc_logp (T, C)) -> words`."""

    def __init__(self, run: LipReadRun, decoder: str, *, lm: NgramLM | None = None, lm_weight: float = 1.0,
                 insertion_bonus: float = 1.0, beam_size: int = 20, hmm_beam: float | None = None):
        if decoder not in DECODERS:
            raise InputError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if run.config.objective not in TRAINED_HEAD[decoder]:
            raise InputError(f"the {decoder} decoder needs a run trained with objective "
                             f"{' or '.join(TRAINED_HEAD[decoder])}; this one was trained with "
                             f"{run.config.objective!r}, so that head is untrained")
        self.run, self.decoder, self.hmm_beam = run, decoder, hmm_beam
        if decoder == "hmm":
            self.graph = grammar_graph(GRID_GRAMMAR, run.lexicon, run.hmms)
        if decoder == "ctc-lm":
            if lm is None:
                raise InputError("the ctc-lm decoder needs a language model")
            self.beam = CTCBeamDecoder(beam_size=beam_size, lm=lm, label_chars=CTC_LABELS, lm_weight=lm_weight,
                                       insertion_bonus=insertion_bonus, blank=0, backspace=None)

    def __call__(self, hmm_logp: np.ndarray, ctc_logp: np.ndarray) -> list[str]:
        if self.decoder == "hmm":
            ll = scaled_log_likelihoods(hmm_logp, self.run.log_priors, self.run.config.kappa)
            return viterbi(ll, self.graph, self.hmm_beam).words
        if self.decoder == "ctc":
            return labels_to_words(ctc_greedy(ctc_logp, blank=0))
        return labels_to_words(self.beam.decode(ctc_logp))


def score(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    """WER as a fraction with the word errors, substitution, deletion and insertion counts beside it."""
    rates = word_error_rate(hyps, refs)
    return {k: rates[k] for k in ("wer", "errors", "substitutions", "deletions", "insertions", "reference_words")}


def slot_accuracy(hyps: Sequence[str], refs: Sequence[str], grammar: SlotGrammar = GRID_GRAMMAR,
                  names: Sequence[str] = GRID_SLOT_NAMES) -> dict[str, float] | None:
    """Per slot of `grammar`, the fraction of reference words a minimal word alignment matches in the
    hypothesis; None when a reference is not a sentence of `grammar`.

    >>> slot_accuracy(["bin blue at f two now", "lay red at two now"], ["bin blue at f two now", "lay red by a two now"])
    {'command': 1.0, 'colour': 1.0, 'preposition': 0.5, 'letter': 0.5, 'digit': 1.0, 'adverb': 1.0}
    """
    refs_words = [r.split() for r in refs]
    if not refs_words or not all(grammar.accepts(r) for r in refs_words):
        return None
    correct = np.zeros(len(grammar.slots))
    for hyp, ref in zip(hyps, refs_words):
        for op in Levenshtein.opcodes(ref, hyp.split()):
            if op.tag == "equal":
                correct[op.src_start:op.src_end] += 1
    return {name: float(c / len(refs_words)) for name, c in zip(names, correct)}


def evaluate(run: LipReadRun, utterances: Sequence[Utterance], cache: MouthCache,
             decoders: dict[str, LipDecoder], progress: bool = False) -> dict[str, dict]:
    """Metrics per decoder name over `utterances` (the network runs once per utterance, on its device)."""
    from myovision.progress import progress as shown

    hyps: dict[str, list[str]] = {name: [] for name in decoders}
    for utt in shown(utterances, desc="decoding", unit="video", disable=not progress):
        hmm_logp, ctc_logp = log_posteriors(run, cache(utt.video))
        for name, decode in decoders.items():
            hyps[name].append(" ".join(decode(hmm_logp, ctc_logp)))
    refs = [utt.text for utt in utterances]
    results = {}
    for name, h in hyps.items():
        results[name] = {**score(h, refs), "decoder": name, "slot_accuracy": slot_accuracy(h, refs), "utterances": [
            {"id": u.id, "reference": r, "hypothesis": x} for u, r, x in zip(utterances, refs, h)]}
    return results
