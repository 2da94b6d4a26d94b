"""Decoders from per-frame scores to label sequences, and the language models they use.

* :mod:`myovision.decoding.ctc`: :func:`ctc_greedy` and the streaming :class:`CTCBeamDecoder` (prefix beam
  search with a character n-gram LM, backspace-aware; emg2qwerty's decoder).
* :mod:`myovision.decoding.lm`: :class:`NgramLM`, back-off n-gram models read from ARPA files (characters
  or words), and :func:`estimate_arpa` to build one from text.

Other decoders (e.g. HMM Viterbi for lip reading) live beside these as their own modules.
"""

from myovision.decoding.ctc import CharLMScorer, CTCBeamDecoder, ctc_greedy
from myovision.decoding.lm import NgramLM, estimate_arpa

__all__ = ["CharLMScorer", "CTCBeamDecoder", "ctc_greedy", "NgramLM", "estimate_arpa"]
