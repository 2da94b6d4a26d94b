"""Decoding and scoring a trained lip reader (`myovision.lipread.training`) with the decoders compared by
Zeng, Du, Wang: hybrid HMM search (eq. 1-3) over GRID's grammar ("hmm") or over an open-vocabulary word loop
with a word n-gram LM ("hmm-lm": an ARPA file, `myovision.decoding.word_lm`), both the token-passing beam
search of `myovision.decoding.token_passing` on the graph of `myovision.decoding.hclg`; CTC greedy; and CTC
prefix beam search with a character n-gram LM (by default one estimated from the training transcripts, each
word a sentence, as `myovision.decoding.ctc` scores words).

`select_decoding` picks the prior scale kappa (over `KAPPAS`, with the grammar), then at that kappa the word
LM's weight and word insertion penalty (`LM_WEIGHTS` x `WORD_PENALTIES`), and the character LM's weight, on
validation videos, never on the test videos.

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
from myovision.decoding.hclg import compose
from myovision.decoding.hmm import scaled_log_likelihoods
from myovision.decoding.lm import NgramLM, estimate_arpa
from myovision.decoding.token_passing import TokenPassingDecoder
from myovision.decoding.word_lm import ArpaModel, WordGrammar
from myovision.errors import InputError
from myovision.metrics import word_error_rate
from myovision.decoding.lexicon import HmmSet
from myovision.lipread.data import CTC_LABELS
from myovision.lipread.run import LipReadRun, lexicon_for, model_device, split_heads
from myovision.video.mouth import MouthCache

DECODERS = ("hmm", "hmm-lm", "ctc", "ctc-lm")
TRAINED_HEAD = {"hmm": ("hmm", "joint"), "hmm-lm": ("hmm", "joint"), "ctc": ("ctc", "joint"),
                "ctc-lm": ("ctc", "joint")}
KAPPAS = (0.0, 0.5, 1.0, 1.5)
LM_WEIGHTS = (0.5, 1.0, 2.0, 4.0)
WORD_PENALTIES = (-2.0, 0.0, 2.0)


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
    """One run from several trained on the same units (triphones: the same tied states), objective and mouth
    crop (seeds or front-ends): the averaged network of `EnsembleReader`, state priors and self-loops averaged
    over the members."""
    if not runs:
        raise InputError("an ensemble needs at least one run")
    first = runs[0]
    for i, run in enumerate(runs[1:], 1):
        for what, a, b in (("HMM units", first.hmms.units, run.hmms.units),
                           ("states per unit", first.hmms.states_per_unit, run.hmms.states_per_unit),
                           ("tied states", first.hmms.tied, run.hmms.tied),
                           ("lexicon", first.lexicon.pronunciations, run.lexicon.pronunciations),
                           ("objective", first.config.objective, run.config.objective),
                           ("mouth crop", first.config.crop, run.config.crop)):
            if a != b:
                raise InputError(f"run {i} of the ensemble differs from run 0 in its {what}: {b!r} vs {a!r}")
    priors = np.log(np.mean([np.exp(r.log_priors) for r in runs], axis=0))
    self_loops = np.mean([r.hmms.self_loop for r in runs], axis=0)
    hmms = HmmSet(first.hmms.units, first.hmms.states_per_unit, self_loops, first.hmms.tied)
    model = EnsembleReader([r.model for r in runs], first.hmms.num_states).eval()
    return LipReadRun(model, first.config, hmms, priors, first.lexicon, tree=first.tree)


@torch.no_grad()
def log_posteriors(run: LipReadRun, crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mouth crops (T, h, w) -> log p(state | x) (T, S) and CTC log-probabilities (T, C), computed on the
    network's device."""
    scores = run.model(crops[None, None].to(model_device(run.model)))[0].float()  # (T, S + C)
    hmm_logp, ctc_logp = split_heads(scores, run.hmms.num_states)
    return hmm_logp.cpu().numpy(), ctc_logp.cpu().numpy()


def labels_to_words(labels: Sequence[int]) -> list[str]:
    return "".join(CTC_LABELS[i] for i in labels if i > 0).split()


def hmm_graph(run: LipReadRun, grammar: WordGrammar, lm_weight: float = 1.0, word_penalty: float = 0.0,
              source: str = "the language model"):
    """The decoding graph of `grammar` with the run's units and HMMs (optional silence between words); words
    outside the run's lexicon get pronunciations as `lexicon_for` gives them. A word whose units the run has
    no HMM for is an InputError naming `source` (an ARPA file whose vocabulary the network cannot spell)."""
    missing = sorted(grammar.words - set(run.lexicon.pronunciations))
    extra = lexicon_for(run.config.units, missing).pronunciations if missing else {}
    unknown = sorted(w for w in grammar.words
                     if not all(map(run.has_hmm, extra.get(w) or run.lexicon.pronunciations[w])))
    if unknown:
        raise InputError(f"{source}: {len(unknown)} words have units this run has no HMM for (e.g. {unknown[:5]}); "
                         f"its {run.config.units} are {' '.join(run.hmms.units)}")

    def word_states(word: str) -> list[int]:
        units = extra.get(word) or run.lexicon.pronunciations[word]
        return [s for u in units for s in run.states_of(u)]

    return compose(grammar, word_states, run.hmms.self_loop, lm_weight=lm_weight, word_penalty=word_penalty,
                   silence_states=run.hmms.states_of(run.lexicon.silence))


class LipDecoder:
    """One of `DECODERS` for a run: `(hmm_logp (T, S), ctc_logp (T, C)) -> words`.

    lm: the character LM of ctc-lm; word_lm: the word n-gram of hmm-lm. lm_weight, word_penalty: of hmm-lm's
    word LM; lm_weight, insertion_bonus, beam_size: of ctc-lm's search. kappa: the prior scale (default the
    run's); hmm_beam, max_active: the HMM search's beam (nats) and histogram pruning."""

    def __init__(self, run: LipReadRun, decoder: str, *, lm: NgramLM | None = None, word_lm: ArpaModel | None = None,
                 lm_weight: float = 1.0, word_penalty: float = 0.0, insertion_bonus: float = 1.0,
                 beam_size: int = 20, hmm_beam: float = 20.0, max_active: int = 10000, kappa: float | None = None):
        if decoder not in DECODERS:
            raise InputError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if run.config.objective not in TRAINED_HEAD[decoder]:
            raise InputError(f"the {decoder} decoder needs a run trained with objective "
                             f"{' or '.join(TRAINED_HEAD[decoder])}; this one was trained with "
                             f"{run.config.objective!r}, so that head is untrained")
        self.run, self.decoder = run, decoder
        self.kappa = run.config.kappa if kappa is None else kappa
        if decoder == "hmm":
            graph = hmm_graph(run, WordGrammar.from_slots(GRID_GRAMMAR.slots), word_penalty=word_penalty,
                              source="GRID's grammar")
            self.search = TokenPassingDecoder(graph, hmm_beam, max_active)
        if decoder == "hmm-lm":
            if word_lm is None:
                raise InputError("the hmm-lm decoder needs a word n-gram language model (an ARPA file)")
            graph = hmm_graph(run, WordGrammar.from_arpa(word_lm), lm_weight, word_penalty, word_lm.path or "the LM")
            self.search = TokenPassingDecoder(graph, hmm_beam, max_active)
        if decoder == "ctc-lm":
            if lm is None:
                raise InputError("the ctc-lm decoder needs a language model")
            self.beam = CTCBeamDecoder(beam_size=beam_size, lm=lm, label_chars=CTC_LABELS, lm_weight=lm_weight,
                                       insertion_bonus=insertion_bonus, blank=0, backspace=None)

    def nbest(self, hmm_logp: np.ndarray, n: int) -> list[tuple[list[str], float]]:
        """The ``n`` best word sequences of the hmm / hmm-lm search and their scores, best first."""
        if self.decoder not in ("hmm", "hmm-lm"):
            raise InputError(f"n-best lists come from the hmm and hmm-lm decoders, not {self.decoder}")
        return self.search.nbest(scaled_log_likelihoods(hmm_logp, self.run.log_priors, self.kappa), n)

    def __call__(self, hmm_logp: np.ndarray, ctc_logp: np.ndarray) -> list[str]:
        if self.decoder in ("hmm", "hmm-lm"):
            ll = scaled_log_likelihoods(hmm_logp, self.run.log_priors, self.kappa)
            return self.search.decode(ll).words
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
             decoders: dict[str, LipDecoder], progress: bool = False, nbest: int = 1) -> dict[str, dict]:
    """Metrics per decoder name over `utterances` (the network runs once per utterance, on its device).

    nbest > 1: each utterance of an hmm / hmm-lm decoder also gets its `nbest` best word sequences with their
    scores (a second search, `TokenPassingDecoder.nbest`), and the decoder's metrics the oracle WER (each
    utterance's closest hypothesis of the list and its decode)."""
    from myovision.progress import progress as shown

    hyps: dict[str, list[str]] = {name: [] for name in decoders}
    lists: dict[str, list[list[tuple[list[str], float]]]] = {name: [] for name in decoders}
    for utt in shown(utterances, desc="decoding", unit="video", disable=not progress):
        hmm_logp, ctc_logp = log_posteriors(run, cache(utt.video))
        for name, decode in decoders.items():
            hyps[name].append(" ".join(decode(hmm_logp, ctc_logp)))
            if nbest > 1:
                lists[name].append(decode.nbest(hmm_logp, nbest))
    refs = [utt.text for utt in utterances]
    results = {}
    for name, h in hyps.items():
        entries = [{"id": u.id, "reference": r, "hypothesis": x} for u, r, x in zip(utterances, refs, h)]
        results[name] = {**score(h, refs), "decoder": name, "slot_accuracy": slot_accuracy(h, refs)}
        if lists[name]:
            for entry, best in zip(entries, lists[name]):
                entry["nbest"] = [{"hypothesis": " ".join(words), "score": value} for words, value in best]
            closest = [min([x, *(" ".join(w) for w, _ in best)], key=lambda y: Levenshtein.distance(r.split(), y.split()))
                       for r, x, best in zip(refs, h, lists[name])]  # with the decode itself: never above the WER
            results[name]["oracle_wer"] = score(closest, refs)["wer"]
            results[name]["nbest"] = nbest
        results[name]["utterances"] = entries
    return results


def select_decoding(run: LipReadRun, validation: Sequence[Utterance], cache: MouthCache, *,
                    word_lm: ArpaModel | None = None, char_lm: NgramLM | None = None) -> dict[str, dict]:
    """Per decoder the run's head supports, the settings with the lowest WER on the `validation` videos (ties:
    the first in grid order) and that WER: kappa for hmm; kappa, LM weight and word penalty for hmm-lm (with
    `word_lm`); LM weight for ctc-lm (with `char_lm`). The network runs once per video."""
    posteriors = [log_posteriors(run, cache(u.video)) for u in validation]
    refs = [u.text for u in validation]

    def wer(decoder: LipDecoder) -> float:
        return score([" ".join(decoder(h, c)) for h, c in posteriors], refs)["wer"]

    def pick(name: str, grid: list[dict]) -> dict:
        tried = [(wer(LipDecoder(run, name, word_lm=word_lm, lm=char_lm, **settings)), i) for i, settings in
                 enumerate(grid)]
        best, i = min(tried)
        return {**grid[i], "validation_wer": best}

    chosen = {}
    if run.config.objective != "ctc":
        chosen["hmm"] = pick("hmm", [{"kappa": k} for k in KAPPAS])
        if word_lm is not None:  # at the grammar's kappa: the network's scores do not depend on the LM
            kappa = chosen["hmm"]["kappa"]
            chosen["hmm-lm"] = pick("hmm-lm", [{"kappa": kappa, "lm_weight": w, "word_penalty": p}
                                               for w in LM_WEIGHTS for p in WORD_PENALTIES])
    if run.config.objective != "hmm" and char_lm is not None:
        chosen["ctc-lm"] = pick("ctc-lm", [{"lm_weight": w} for w in LM_WEIGHTS])
    return chosen
