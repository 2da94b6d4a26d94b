"""Synthetic I3D-shaped RGB clip features (N, clips, 1024) whose only class information is the appearance.

Model of one clip's pre-activation (per feature dimension)::

    z = background                       shared by every clip (the kitchen; some dims always active)
      + w_clip * strength * prototype[a] the class's APPEARANCE id a (objects on camera): classes sharing
                                         an appearance share this exactly, so video cannot tell them apart
      + subject offset                   per subject (scene, lighting, camera placement)
      + instance offset                  per activity instance (its sub-actions look alike)
      + clip motion + noise              per clip
    feature = max(z, 0)                  post-ReLU, as I3D's average-pooled Mixed_5c: >= 0, many zeros, 0-2

w_clip: how much of the objects a clip shows. The first clip is the least informative (the hands
reach in), each clip's weight varies, and now and then one clip is occluded (weight near 0), so
attention over clips has something to find. All draws come from generators keyed by the seed and the
sample's uid, subject or activity instance, never by its label: the label reaches the features only
through its appearance prototype, and a sample's features do not depend on which others are built with it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from myovision.data.synthetic import SYNTHETIC_CLASSES
from myovision.errors import InputError

_PROTOTYPE, _BACKGROUND, _SUBJECT, _INSTANCE, _SAMPLE = 11, 12, 13, 14, 15  # generator streams


def synthetic_appearances() -> dict[str, int]:
    """label -> appearance id of `SYNTHETIC_CLASSES` (the video side of the synthetic ActionSense classes)."""
    return {c.label: c.appearance for c in SYNTHETIC_CLASSES}


def appearance_prototype(appearance: int, dim: int = 1024, *, seed: int = 0, support: float = 0.3) -> np.ndarray:
    """(dim,) float64 direction of one appearance: N(0, 1) on a random `support` fraction of the dims, 0 elsewhere."""
    rng = np.random.default_rng([seed, _PROTOTYPE, int(appearance)])
    on = rng.random(dim) < support
    return np.where(on, rng.normal(0.0, 1.0, dim), 0.0)


def synthetic_rgb_features(samples_or_table: Any, *, appearance_of_label: Mapping[str, int] | Callable[[str], int]
                           | None = None, dim: int = 1024, clips: int = 5, seed: int = 0, strength: float = 0.15,
                           subject_sd: float = 0.25, instance_sd: float = 0.12, clip_sd: float = 0.2,
                           noise_sd: float = 0.35) -> np.ndarray:
    """I3D-shaped clip features for each sample: (N, clips, dim) float32, >= 0.

    samples_or_table: a `SubActionSamples`, a DataFrame or a mapping of equal-length columns with
        ``label`` and optionally ``uid`` (default: row number), ``subject`` (default one subject) and
        ``activity_index`` (default: each sample its own instance).
    appearance_of_label: label -> appearance id (mapping or function); default `synthetic_appearances()`.
    strength: scale of the appearance prototype; the *_sd arguments scale the nuisance terms (module
        docstring). With the defaults, clip-averaged features separate different appearances well but
        not perfectly, and same-appearance classes not at all.
    The same arguments always give the same features. Raises InputError for a label without an
    appearance, missing ``label``, or non-positive dim / clips.
    """
    for name, value in (("dim", dim), ("clips", clips)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    labels, uids, subjects, instances = _columns(samples_or_table)
    lookup = synthetic_appearances() if appearance_of_label is None else appearance_of_label
    appearance = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels):
        try:
            appearance[i] = lookup(label) if callable(lookup) else lookup[label]
        except (KeyError, IndexError, ValueError):
            raise InputError(f"label {label!r} (row {i}) has no appearance id") from None
    background = np.random.default_rng([seed, _BACKGROUND]).normal(0.1, 0.5, dim)  # (dim,)
    prototypes = {a: appearance_prototype(a, dim, seed=seed) for a in np.unique(appearance).tolist()}
    subject_offset = {s: np.random.default_rng([seed, _SUBJECT, _key(s)]).normal(0.0, subject_sd, dim)
                      for s in set(subjects)}
    out = np.empty((len(labels), clips, dim), dtype=np.float32)
    for i in range(len(labels)):
        inst = np.random.default_rng([seed, _INSTANCE, _key(subjects[i]), _key(instances[i])])
        rng = np.random.default_rng([seed, _SAMPLE, _key(uids[i])])
        weights = clip_weights(clips, rng)  # (clips,)
        z = (background + subject_offset[subjects[i]] + inst.normal(0.0, instance_sd, dim))[None, :]  # (1, dim)
        z = z + weights[:, None] * strength * prototypes[int(appearance[i])][None, :]  # (clips, dim)
        z = z + rng.normal(0.0, clip_sd, (clips, dim)) + rng.normal(0.0, noise_sd, (clips, dim))
        out[i] = np.maximum(z, 0.0)
    return out


def clip_weights(clips: int, rng: np.random.Generator, *, first: float = 0.3, occlusion: float = 0.25) -> np.ndarray:
    """(clips,) informativeness of each clip: the first `first`, the others ~1; sometimes one occluded (~0.1)."""
    weights = np.ones(clips)
    weights[0] = first
    weights *= rng.uniform(0.75, 1.25, clips)
    if clips > 1 and rng.random() < occlusion:
        weights[rng.integers(1, clips)] = 0.1
    return weights


def _columns(source: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """labels, uids, subjects, activity instances (as strings) of a samples object, DataFrame or mapping."""
    def get(name: str) -> Any:
        if hasattr(source, "columns") or isinstance(source, Mapping):
            return source[name] if name in source else None
        return getattr(source, name, None)

    labels = get("label")
    if labels is None:
        raise InputError("samples need a 'label' column to build RGB features")
    labels = [str(v) for v in np.asarray(labels).tolist()]
    n = len(labels)
    out = [labels]
    for name, default in (("uid", None), ("subject", "S00"), ("activity_index", None)):
        values = get(name)
        if values is None:
            values = [f"#{i}" for i in range(n)] if default is None else [default] * n
        values = [str(v) for v in np.asarray(values).tolist()]
        if len(values) != n:
            raise InputError(f"column {name!r} has {len(values)} values, label has {n}")
        out.append(values)
    if len(set(out[1])) != n:
        raise InputError("uids repeat: each sample needs its own uid")
    return out[0], out[1], out[2], out[3]


def _key(text: str) -> int:
    """A stable 32-bit key of a string (Python's hash() is salted per process)."""
    return zlib.crc32(str(text).encode("utf-8"))
