"""Classifiers on hand-crafted sEMG features: linear discriminant analysis and an MLP.

LDA on time-domain features (Hudgins et al. 1993; Englehart and Hudgins 2003) is the field's standard
baseline for Myo gesture recognition; it is fitted in closed form, not by gradient descent.
"""

from __future__ import annotations

import torch
from torch import nn

from myovision.registry import register_model


class FeatureScaler(nn.Module):
    """Standardise features with a mean and std fitted on training data; x (N, F) -> (N, F)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> "FeatureScaler":
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-8))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class LinearDiscriminant(nn.Module):
    """Gaussian classifier with one shared covariance (LDA); scores (N, K) are log-posteriors up to a constant.

    score_k(x) = x^T S^-1 mu_k - mu_k^T S^-1 mu_k / 2 + log pi_k, with S the pooled within-class covariance
    shrunk towards a scaled identity: S = (1 - shrinkage) S + shrinkage * tr(S)/F * I.
    """

    def __init__(self, num_features: int, num_classes: int, shrinkage: float = 1e-3):
        super().__init__()
        if not 0.0 <= shrinkage <= 1.0:
            raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
        self.shrinkage = shrinkage
        self.register_buffer("weight", torch.zeros(num_features, num_classes, dtype=torch.float64))
        self.register_buffer("bias", torch.zeros(num_classes, dtype=torch.float64))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, y: torch.Tensor) -> "LinearDiscriminant":
        """Fit on features x (N, F) and integer labels y (N,) in [0, K); a class absent from y scores -inf."""
        x = x.to(torch.float64)
        num_classes = self.bias.numel()
        counts = torch.bincount(y, minlength=num_classes).to(torch.float64)
        present = counts > 0
        means = torch.zeros(num_classes, x.shape[1], dtype=torch.float64).index_add_(0, y, x)
        means /= counts.clamp_min(1)[:, None]
        centred = x - means[y]
        cov = centred.T @ centred / max(len(x) - int(present.sum()), 1)
        f = cov.shape[0]
        cov = (1 - self.shrinkage) * cov + self.shrinkage * torch.trace(cov) / f * torch.eye(f, dtype=torch.float64)
        solved = torch.linalg.solve(cov, means.T)  # (F, K) = S^-1 mu_k
        self.weight.copy_(solved)
        bias = -0.5 * (means.T * solved).sum(0) + torch.log(counts / counts.sum())
        self.weight[:, ~present] = 0.0
        self.bias.copy_(torch.where(present, bias, torch.tensor(-torch.inf, dtype=torch.float64)))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(torch.float64) @ self.weight + self.bias).to(torch.float32)


@register_model("lda")
def lda(*, num_features: int, num_classes: int, shrinkage: float = 1e-3) -> LinearDiscriminant:
    """LDA on a feature vector (N, num_features) -> class scores (N, num_classes); fit with `.fit(x, y)`."""
    return LinearDiscriminant(num_features, num_classes, shrinkage)


@register_model("feature_mlp")
def feature_mlp(
    *, num_features: int, num_classes: int, hidden: tuple[int, ...] = (256, 128), dropout: float = 0.2
) -> nn.Sequential:
    """Standardise -> [Linear, BatchNorm, ReLU, Dropout] x len(hidden) -> Linear; (N, F) -> (N, K).

    Its first module is a `FeatureScaler`: call `model[0].fit(train_features)` before training.
    """
    layers: list[nn.Module] = [FeatureScaler(num_features)]
    width = num_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
