"""Action-dictionary matching (MAXI, Lin et al. ICCV 2023, Eq. 1): every unlabelled video gets the dictionary
text its CLIP video embedding is most similar to, with prompt ensembling over CLIP's 28 Kinetics templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Sequence

import torch

from myovision.errors import InputError
from myovision.zeroshot.prompts import KINETICS_TEMPLATES, class_embeddings, clean_class_name


def read_class_names(path: str | PathLike) -> list[str]:
    """A class list or action dictionary: one name per line (underscores read as spaces; blank lines and
    # comments skipped), e.g. label_map_k400.txt. Repeated names are an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError("class list not found", path)
    names = [clean_class_name(line) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise InputError("the class list is empty", path)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"class names listed twice: {repeated[:5]}", path)
    return names


@dataclass(frozen=True)
class DictionaryMatch:
    """Best dictionary entry per video: index (N,), text and cosine score (N,)."""

    index: torch.Tensor
    text: list[str]
    score: torch.Tensor


@torch.no_grad()
def match_dictionary(model, video_embeds: torch.Tensor, dictionary: Sequence[str],
                     templates: Sequence[str] = KINETICS_TEMPLATES) -> DictionaryMatch:
    """The dictionary text most similar to each normalised video embedding (N, D), templates ensembled."""
    if not dictionary:
        raise InputError("the action dictionary is empty")
    text = class_embeddings(model, dictionary, templates)  # (C, D)
    score, index = (video_embeds @ text.T).max(dim=1)
    return DictionaryMatch(index, [dictionary[i] for i in index.tolist()], score)
