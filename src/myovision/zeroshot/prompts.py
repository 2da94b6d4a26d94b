"""Prompts for class names: CLIP's 28 Kinetics templates (prompt ensembling, used by MAXI to match videos to
the action dictionary) and ViFi-CLIP's single inference template.

Ensembling (Radford et al. 2021): a class embedding is the mean of its L2-normalised template embeddings,
normalised again.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

# github.com/openai/CLIP data/prompts.md, Kinetics700: 4 openings x 7 phrasings
KINETICS_TEMPLATES: tuple[str, ...] = tuple(
    f"{opening} of {middle}{{}}."
    for opening in ("a photo", "a video", "a example", "a demonstration")
    for middle in ("", "a person ", "a person using ", "a person doing ", "a person during ",
                   "a person performing ", "a person practicing "))
SINGLE_TEMPLATE = "a photo of a {}."  # ViFi-CLIP's (and MAXI's) one prompt at inference


def clean_class_name(name: str) -> str:
    """Dataset spellings as words: underscores and runs of spaces become single spaces.

    >>> clean_class_name("  kick_ball "), len(KINETICS_TEMPLATES), KINETICS_TEMPLATES[10]
    ('kick ball', 28, 'a video of a person doing {}.')
    """
    return " ".join(name.replace("_", " ").split())


def fill(templates: str | Sequence[str], names: Sequence[str]) -> list[list[str]]:
    """Prompts [class][template] for every class name in every template."""
    templates = [templates] if isinstance(templates, str) else list(templates)
    return [[t.format(clean_class_name(n)) for t in templates] for n in names]


@torch.no_grad()
def class_embeddings(model, names: Sequence[str], templates: str | Sequence[str] = SINGLE_TEMPLATE) -> torch.Tensor:
    """L2-normalised class embeddings (C, D): one template, or the ensemble of several."""
    prompts = fill(templates, names)
    per_template = len(prompts[0]) if prompts else 1
    flat = model.encode_texts([p for row in prompts for p in row])  # (C * templates, D)
    return F.normalize(flat.view(len(prompts), per_template, -1).mean(dim=1), dim=-1)  # (C, D)
