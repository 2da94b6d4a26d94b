"""The one training harness (`harness`), its options (`options`) and the classifier loop (`classifier`).

`fit_classifier` and `ClassifierModule` are loaded on first use, so importing `myovision.training.options`
(every command's option parser does) loads neither torch nor Lightning.
"""

from __future__ import annotations

__all__ = ["ClassifierModule", "fit_classifier"]


def __getattr__(name: str):
    if name in __all__:
        from myovision.training import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'myovision.training' has no attribute {name!r}")
