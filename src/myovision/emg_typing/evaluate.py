"""Whole-session evaluation of a typing model: emissions of each session in one pass, decoded greedy, by beam
search and by beam search with a character n-gram LM; CER per decoder in metrics.json's schema (fractions of
reference characters, with the counts beside them).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import TypingSession, read_session
from myovision.decoding.ctc import CTCBeamDecoder, ctc_greedy
from myovision.emg_typing.config import DecodingOptions
from myovision.metrics import character_error_rate
from myovision.signals.spectrogram import log_spectrogram

#: what an LM scores for each label: its character, or None for blank and backspace (not text)
LABEL_CHARS = [None if i in (CHARSET.blank, CHARSET.key_to_label("Key.backspace")) else CHARSET.label_to_char(i)
               for i in range(CHARSET.num_classes)]


def decoders(options: DecodingOptions, lm_path: str | Path | None = None) -> dict[str, CTCBeamDecoder | None]:
    """``{"greedy": None, "beam": beam search, "beam_lm": beam search with the LM at lm_path}`` (no beam_lm
    without an LM)."""
    from myovision.decoding.lm import load_lm

    found: dict[str, CTCBeamDecoder | None] = {"greedy": None, "beam": CTCBeamDecoder(beam_size=options.beam_size)}
    if lm_path:
        found["beam_lm"] = CTCBeamDecoder(beam_size=options.beam_size, lm=load_lm(lm_path),
                                          label_chars=LABEL_CHARS, lm_weight=options.lm_weight,
                                          insertion_bonus=options.insertion_bonus)
    return found


def training_text_words(sessions: Sequence[str | Path | TypingSession]) -> list[list[str]]:
    """The words typed in ``sessions`` (after backspaces), as lists of characters: an LM's training text."""
    words = []
    for s in sessions:
        session = s if isinstance(s, TypingSession) else read_session(s)
        words += [list(w) for w in CHARSET.edited(session.text).split()]
    return words


def load_typing_model(checkpoint: str | Path, model: str | None = None):
    """(network, description) from a run folder, a model.safetensors with model.json beside it, or a checkpoint
    file of the registered `model` (e.g. Meta's emg2qwerty .ckpt with tds_conv_ctc)."""
    from myovision.errors import InputError
    from myovision.registry import create_model
    from myovision.runs import MODEL, WEIGHTS, read_model_spec

    checkpoint = Path(checkpoint)
    if not checkpoint.exists():
        raise InputError("checkpoint not found", checkpoint)
    run = checkpoint if checkpoint.is_dir() else checkpoint.parent
    if checkpoint.is_dir() or (model is None and checkpoint.name == WEIGHTS and (run / MODEL).is_file()):
        spec = read_model_spec(run)  # a one-line InputError when the folder holds no model
        return create_model(model, checkpoint=run), f"{spec['model']} ({run})"
    name = model or "tds_conv_ctc"
    return create_model(name, checkpoint=checkpoint), f"{name} ({checkpoint.name})"


@torch.inference_mode()
def session_log_probs(model: nn.Module, session: TypingSession) -> np.ndarray:
    """Emissions of a whole session in one pass on the model's device: ``(T', 99)`` natural-log probabilities."""
    x = torch.from_numpy(log_spectrogram(session.emg()))[:, None]  # (T', 1, 2, 16, 33)
    param = next(model.parameters())
    return model.eval()(x.to(param.device, param.dtype))[:, 0].float().cpu().numpy()  # (T', 99)


def evaluate_typing(model: nn.Module, sessions: Sequence[str | Path | TypingSession],
                    decoders: dict[str, CTCBeamDecoder | None], *, progress: bool = False) -> dict:
    """CER of each decoder (None: greedy) over whole ``sessions``, with the decoded text per session.

    Returns ``{name: {"cer", "errors", "reference_chars", substitution/insertion/deletion counts and rates,
    "frames", "decode_seconds"}, ..., "sessions": [{"session", "reference", name: text, ...}, ...]}``.
    progress: a progress line per session, and a line per decoder with its CER when done.
    """
    from myovision.progress import progress as show_progress

    hyps: dict[str, list[str]] = {name: [] for name in decoders}
    seconds = dict.fromkeys(decoders, 0.0)
    refs, rows, frames = [], [], 0
    for s in show_progress(sessions, desc=f"evaluating ({', '.join(decoders)})", unit="session",
                           disable=not progress):
        session = s if isinstance(s, TypingSession) else read_session(s)
        log_probs = session_log_probs(model, session)
        frames += len(log_probs)
        refs.append(session.text)
        row = {"session": session.path.name, "reference": session.text}
        for name, decoder in decoders.items():
            start = time.perf_counter()
            labels = ctc_greedy(log_probs, CHARSET.blank) if decoder is None else decoder.decode(log_probs)
            seconds[name] += time.perf_counter() - start
            hyps[name].append(CHARSET.labels_to_str(labels))
            row[name] = hyps[name][-1]
        rows.append(row)
    result: dict = {}
    for name in decoders:
        result[name] = {**character_error_rate(hyps[name], refs), "frames": frames, "decode_seconds": seconds[name]}
        if progress:
            print(f"{name:8s} CER {result[name]['cer']:.4f} ({result[name]['errors']} errors in "
                  f"{result[name]['reference_chars']} characters; {frames / max(seconds[name], 1e-9):.0f} frames/s)",
                  flush=True)
    result["sessions"] = rows
    return result
