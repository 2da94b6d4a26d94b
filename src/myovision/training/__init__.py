"""Training loops (Lightning) shared by the systems."""

from myovision.training.classifier import ClassifierModule, fit_classifier

__all__ = ["ClassifierModule", "fit_classifier"]
