"""The language sources of MAXI (suppl. Sec. 2), produced from local Hugging Face model folders:

- `caption_videos`: BLIP image captions of 8 uniformly sampled frames per video (MAXI: BLIP ViT-L, frames at
  384 px), one caption per line in `<out>/<video stem>.txt` (`textbags.caption_file`);
- `generate_phrases`: a causal language model asked MAXI's GPT-3 instruction "Generate 5 phrases to describe the
  action of <action> in simple words." at temperature 0.4, the phrases one per line in `<out>/<action>.txt`
  (`textbags.phrase_file`).

Both files are read by `zeroshot train` (`textbags.read_captions`, `read_phrases`).
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Callable, Sequence

import torch

from myovision.errors import InputError
from myovision.zeroshot.textbags import caption_file, phrase_file

CAPTION_FRAMES = 8  # frames captioned per video (MAXI)
CAPTION_SIDE = 384  # BLIP's input side in MAXI
PHRASE_PROMPT = "Generate {n} phrases to describe the action of {action} in simple words."
PHRASES = 5
TEMPERATURE = 0.4


def _load_local(model_folder: str | PathLike, what: str, processor_class, model_class):
    """(processor or tokenizer, model in eval mode) from a local Hugging Face folder; one InputError line when
    the folder is missing or does not hold `what`."""
    folder = Path(model_folder)
    if not (folder / "config.json").is_file():
        raise InputError(f"not a Hugging Face {what} folder: config.json is missing", folder)
    try:
        processor = processor_class.from_pretrained(str(folder), local_files_only=True)
        model = model_class.from_pretrained(str(folder), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load a {what} ({str(exc).splitlines()[0]})", folder) from None
    return processor, model


def caption_videos(model_folder: str | PathLike, videos: Sequence[Path], out: str | PathLike, *,
                   frames: int = CAPTION_FRAMES, max_new_tokens: int = 30,
                   log: Callable[[str], None] = lambda s: None) -> list[Path]:
    """Caption `frames` frames of every video with the BLIP captioning model in `model_folder`; returns the
    caption files written."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    from myovision.fileio import atomic_write_text
    from myovision.zeroshot.videos import read_frames

    processor, model = _load_local(model_folder, "BLIP captioning model", BlipProcessor, BlipForConditionalGeneration)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for video in videos:
        images = list(read_frames(video, frames, CAPTION_SIDE).numpy())  # T x (H, W, 3) uint8
        inputs = processor(images=images, return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(pixel_values=inputs["pixel_values"], max_new_tokens=max_new_tokens, do_sample=False)
        captions = [" ".join(c.split()) or "(empty caption)" for c in processor.batch_decode(ids, skip_special_tokens=True)]
        written.append(caption_file(out, video))
        atomic_write_text(written[-1], "\n".join(captions) + "\n")
        log(f"{video}: {captions[0]!r} ...")
    return written


def split_phrases(text: str, n: int = PHRASES) -> list[str]:
    """The first `n` phrases of a language model's answer: one per line (or per ';'), list marks removed.

    >>> split_phrases("1. Slamming the ball\\n2) jump high\\n- dunk it\\n")
    ['Slamming the ball', 'jump high', 'dunk it']
    """
    parts = [re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", p).strip().strip('"') for p in re.split(r"[\n;]", text)]
    return [p for p in parts if p][:n]


def generate_phrases(model_folder: str | PathLike, actions: Sequence[str], out: str | PathLike, *,
                     n: int = PHRASES, temperature: float = TEMPERATURE, max_new_tokens: int = 80, seed: int = 0,
                     log: Callable[[str], None] = lambda s: None) -> list[Path]:
    """Ask the causal language model in `model_folder` for `n` phrases per action (sampling at `temperature`,
    seeded per action by (seed, its index)); returns the phrase files written."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from myovision.fileio import atomic_write_text

    tokenizer, model = _load_local(model_folder, "causal language model", AutoTokenizer, AutoModelForCausalLM)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, action in enumerate(actions):
        inputs = tokenizer(PHRASE_PROMPT.format(n=n, action=action), return_tensors="pt")
        torch.manual_seed(seed * 1_000_003 + k)
        with torch.no_grad():
            ids = model.generate(**inputs, do_sample=True, temperature=temperature, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                                 else tokenizer.eos_token_id)
        answer = tokenizer.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        phrases = split_phrases(answer, n)
        written.append(phrase_file(out, action))
        atomic_write_text(written[-1], "".join(f"{p}\n" for p in phrases))
        log(f"{action}: {len(phrases)} phrases")
    return written
