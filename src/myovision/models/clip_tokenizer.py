"""Tokenizers for the CLIP text encoder, all offline: a local Hugging Face CLIP tokenizer folder, or a
word-level tokenizer for small models trained from scratch (the synthetic demo, tests).

Both turn a list of strings into `(input_ids, attention_mask)`, int64 (N, context_length), as CLIP does:
`<|startoftext|> tokens <|endoftext|>` padded with `<|endoftext|>` (the text encoder pools the first
end-of-text position), truncated so the end-of-text token always stays.
"""

from __future__ import annotations

import json
import re
from os import PathLike
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import torch

from myovision.errors import InputError

WORDS_FILE = "words.txt"  # a WordTokenizer's vocabulary, one token per line (id = line number)
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


class TextTokenizer(Protocol):
    bos_token_id: int
    eos_token_id: int
    vocab_size: int

    def __call__(self, texts: Sequence[str], context_length: int) -> tuple[torch.Tensor, torch.Tensor]: ...

    def save(self, folder: str | PathLike) -> None: ...


def _pack(token_ids: Iterable[list[int]], bos: int, eos: int, context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`[bos] + ids + [eos]`, cut to `context_length` (eos kept last), padded with eos; and the mask."""
    rows = [[bos, *ids[: context_length - 2], eos] for ids in token_ids]
    input_ids = torch.full((len(rows), context_length), eos, dtype=torch.long)
    mask = torch.zeros((len(rows), context_length), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return input_ids, mask


class WordTokenizer:
    """Lower-cased words and punctuation marks, one id each; unknown words share `<|unk|>`.

    Ids: 0 `<|startoftext|>`, 1 `<|endoftext|>`, 2 `<|unk|>`, then `words` in order. Meant for text encoders
    trained from scratch on a closed vocabulary; a pretrained CLIP needs its own BPE tokenizer.

    >>> tok = WordTokenizer(["a", "photo", "of", "jumping"])
    >>> ids, mask = tok(["a photo of Jumping!"], context_length=8)
    >>> ids.tolist(), mask.tolist()
    ([[0, 3, 4, 5, 6, 2, 1, 1]], [[1, 1, 1, 1, 1, 1, 1, 0]])
    """

    specials = ("<|startoftext|>", "<|endoftext|>", "<|unk|>")
    bos_token_id, eos_token_id, unk_token_id = 0, 1, 2

    def __init__(self, words: Iterable[str]):
        self.tokens = list(self.specials) + sorted(set(words) - set(self.specials), key=list(words).index)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.vocab_size = len(self.tokens)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordTokenizer:
        """A vocabulary of every word and mark in `texts`, in order of first appearance."""
        seen: dict[str, None] = {}
        for text in texts:
            seen.update(dict.fromkeys(_WORD.findall(text.lower())))
        return cls(seen)

    def __call__(self, texts: Sequence[str], context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ([self.index.get(w, self.unk_token_id) for w in _WORD.findall(t.lower())] for t in texts)
        return _pack(ids, self.bos_token_id, self.eos_token_id, context_length)

    def save(self, folder: str | PathLike) -> None:
        from myovision.fileio import atomic_write_text

        atomic_write_text(Path(folder) / WORDS_FILE, "\n".join(self.tokens[len(self.specials):]) + "\n")

    @classmethod
    def load(cls, folder: str | PathLike) -> WordTokenizer:
        return cls(Path(folder, WORDS_FILE).read_text().splitlines())


class HFCLIPTokenizer:
    """A Hugging Face `CLIPTokenizer` read from a local folder (vocab.json + merges.txt, or tokenizer.json)."""

    def __init__(self, folder: str | PathLike):
        from transformers import CLIPTokenizer

        try:
            self.hf = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # OSError, ValueError, or the tokenizers library's own exception types
            raise InputError(f"cannot read the CLIP tokenizer ({exc})", folder) from exc
        self.bos_token_id, self.eos_token_id = self.hf.bos_token_id, self.hf.eos_token_id
        self.vocab_size = len(self.hf)

    def __call__(self, texts: Sequence[str], context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.hf(list(texts), add_special_tokens=False)["input_ids"]
        return _pack(ids, self.bos_token_id, self.eos_token_id, context_length)

    def save(self, folder: str | PathLike) -> None:
        self.hf.save_pretrained(str(folder))


def load_tokenizer(folder: str | PathLike) -> TextTokenizer | None:
    """The tokenizer saved in `folder` (a Hugging Face CLIP tokenizer or a `words.txt`), or None."""
    folder = Path(folder)
    if (folder / "tokenizer.json").is_file() or ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()):
        return HFCLIPTokenizer(folder)
    if (folder / WORDS_FILE).is_file():
        return WordTokenizer.load(folder)
    return None


def byte_level_vocabulary(merges: Sequence[tuple[str, str]] = ()) -> list[str]:
    """CLIP's 256 byte symbols, each also with the end-of-word mark `</w>`, the results of `merges`, then
    `<|startoftext|>` and `<|endoftext|>` (the highest id, as in CLIP).

    With no merges this is a character-level CLIP BPE vocabulary (514 tokens): enough to build a tiny
    tokenizer folder offline (`write_byte_level_tokenizer`).
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars]
    vocab += [a + b for a, b in merges if a + b not in vocab]
    return vocab + ["<|startoftext|>", "<|endoftext|>"]


def write_byte_level_tokenizer(folder: str | PathLike, merges: Sequence[tuple[str, str]] = ()) -> Path:
    """Write vocab.json + merges.txt of a byte-level CLIP BPE tokenizer with `merges` (their results are
    added to the vocabulary); return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = byte_level_vocabulary(merges)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return folder
