"""Fusion of any number of modalities of clip features: late, mid and self-attention late fusion of the
RGB + sEMG paper (Bracci, Caruso, Clemente, "Integrating RGB and sEMG Signals for Egocentric Action
Recognition", sections 3.1-3.3).

A sample is a dict keyed by modality (pytorchvideo / TorchMultimodal style), each value clip features
(B, clips, dim), e.g. `{"rgb": (B, 5, 1024), "emg": (B, 5, 1024)}`; keys not named in `inputs` (such as
"label") are ignored. Every model here returns **log-probabilities** (B, num_classes) from `forward`:
train with `nn.NLLLoss` / `F.nll_loss` (for mid fusion this equals cross-entropy on its logits), predict
with `argmax`. `forward_details(batch)` returns a `FusionOutput` with the per-modality predictions, the
modality weights p and, for attention fusion, the clip weights (B, M, clips) of the paper's Figure 6.

Per-modality heads are built from a registered head name (`head="clip_linear" | "clip_lstm" | ...`,
see `myovision.models.heads`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from myovision.errors import InputError
from myovision.models import heads as _heads  # noqa: F401  (registers the heads built below by name)
from myovision.registry import create_model, register_model

_WEIGHTINGS = ("mean", "fixed", "learnable")
_COMBINES = ("probabilities", "logits")
MID_FUSION_BLOCKS = ("paper", "mlp")
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "none": nn.Identity}


@dataclass
class FusionOutput:
    """What a fusion model computed for a batch (M modalities in `modalities` order, C classes).

    log_probs: (B, C) fused log-probabilities (what `forward` returns).
    modality_log_probs: (B, M, C) each modality's own prediction, or None (mid fusion).
    weights: (M,) modality weights p used to fuse them, or None (mid fusion).
    clip_weights: (B, M, clips) attention weight of every clip (sums to 1 over clips), attention fusion only.
    scores: (B, M, clips, clips) attention matrices S (row i = attention of clip i to the others), or None.
    """

    log_probs: torch.Tensor
    modalities: tuple[str, ...]
    modality_log_probs: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    clip_weights: torch.Tensor | None = None
    scores: torch.Tensor | None = None


class ModalityWeights(nn.Module):
    """The weights p of M modalities in late fusion; they are >= 0 and sum to 1.

    weighting="mean": 1/M each (the paper's mean of predictions).
    weighting="fixed": constant; `p` a float for two modalities (p, 1 - p), or M weights summing to 1.
    weighting="learnable": two modalities: (sigmoid(theta), 1 - sigmoid(theta)), theta = logit(p) with
    p default 0.5, so p stays in [0, 1]; M != 2: softmax of M parameters (initially equal, or log p).
    """

    def __init__(self, modalities: Sequence[str], weighting: str = "mean", p: float | Sequence[float] | Mapping | None = None):
        super().__init__()
        if weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}, got {weighting!r}")
        self.modalities, self.weighting = tuple(modalities), weighting
        m = len(self.modalities)
        if weighting == "mean":
            if p is not None:
                raise ValueError('p is only used with weighting="fixed" or "learnable"')
            self.register_buffer("fixed", torch.full((m,), 1.0 / m))
        elif weighting == "fixed":
            if p is None:
                raise ValueError('weighting="fixed" needs p (a float for two modalities, or one weight per modality)')
            self.register_buffer("fixed", self._vector(p))
        elif m == 2:
            p0 = 0.5 if p is None else float(p) if not isinstance(p, (Sequence, Mapping)) else float(self._vector(p)[0])
            if not 0.0 < p0 < 1.0:
                raise ValueError(f"the initial learnable p must lie strictly between 0 and 1, got {p0}")
            self.theta = nn.Parameter(torch.tensor(math.log(p0 / (1.0 - p0))))  # sigmoid(theta) = p0
        else:
            init = torch.zeros(m) if p is None else self._vector(p).clamp_min(1e-6).log()
            self.theta = nn.Parameter(init)  # softmax(theta) = p0

    def _vector(self, p: float | Sequence[float] | Mapping) -> torch.Tensor:
        m = len(self.modalities)
        if isinstance(p, Mapping):
            if set(p) != set(self.modalities):
                raise ValueError(f"p must name exactly the modalities {list(self.modalities)}, got {list(p)}")
            p = [p[k] for k in self.modalities]
        elif not isinstance(p, Sequence):
            if m != 2:
                raise ValueError(f"a single p needs exactly two modalities, got {m}; give one weight per modality")
            p = [float(p), 1.0 - float(p)]
        w = torch.tensor([float(v) for v in p])
        if w.numel() != m or (w < 0).any() or (w > 1).any() or abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError(f"p must be {m} weights in [0, 1] summing to 1, got {w.tolist()}")
        return w

    def log_weights(self) -> torch.Tensor:
        """log p, (M,); computed stably (log-sigmoid / log-softmax) for learnable weights."""
        if self.weighting != "learnable":
            return self.fixed.log()
        if len(self.modalities) == 2:
            return torch.stack([F.logsigmoid(self.theta), F.logsigmoid(-self.theta)])
        return F.log_softmax(self.theta, dim=0)

    def forward(self) -> torch.Tensor:
        """p, (M,), in `modalities` order; differentiable when learnable."""
        return self.log_weights().exp()


class ClipSelfAttention(nn.Module):
    """Scaled dot-product self-attention between the clips of one action (paper, section 3.3).

    x (B, n, dim) -> Q = x Wq, K = x Wk (bias-free, (B, n, d_k));
    S = softmax(alpha * Q K^T / sqrt(d_k)) over keys with the diagonal set to -inf first (a clip does not
    attend to itself), (B, n, n), each row summing to 1 and S[i, i] = 0;
    clip weight w_j = mean over queries i of S[i, j] (the attention clip j receives), (B, n), summing to 1.
    A single clip has nobody to attend to: S = 0 and w = 1.
    """

    def __init__(self, input_dim: int, d_k: int | None = None, alpha: float = 1.25):
        super().__init__()
        self.d_k, self.alpha = d_k or input_dim, float(alpha)
        self.q = nn.Linear(input_dim, self.d_k, bias=False)
        self.k = nn.Linear(input_dim, self.d_k, bias=False)

    def log_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log S (B, n, n), log w (B, n)), in log space so no weight underflows to log 0."""
        b, n, _ = x.shape
        if n == 1:
            return x.new_full((b, 1, 1), -math.inf), x.new_zeros(b, 1)
        q, k = self.q(x), self.k(x)  # (B, n, d_k) each
        logits = self.alpha * (q @ k.transpose(1, 2)) / math.sqrt(self.d_k)  # (B, n queries, n keys)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        log_s = F.log_softmax(logits.masked_fill(eye, -math.inf), dim=-1)  # (B, n, n), rows sum to 1
        queries = torch.ones_like(log_s[:, :, :1]).sum(dim=1)  # (B, 1): n, as a tensor so export keeps it dynamic
        log_w = torch.logsumexp(log_s, dim=1) - torch.log(queries)  # (B, n): log of the mean over queries
        return log_s, log_w

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, n, dim) -> (S (B, n, n), w (B, n))."""
        log_s, log_w = self.log_forward(x)
        return log_s.exp(), log_w.exp()


class _ModalityFusion(nn.Module):
    """Shared checks: `inputs` maps modality -> feature dim; batches give (B, clips, dim) per modality."""

    def __init__(self, inputs: Mapping[str, int], num_classes: int):
        super().__init__()
        if not inputs:
            raise ValueError("inputs must name at least one modality and its feature dim")
        for name, dim in inputs.items():
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(f"modality names must be non-empty strings without '.', got {name!r}")
            if int(dim) <= 0:
                raise ValueError(f"feature dim of {name!r} must be positive, got {dim}")
        self.inputs = {k: int(v) for k, v in inputs.items()}
        self.modalities = tuple(self.inputs)
        self.num_classes = int(num_classes)

    def _features(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        missing = [m for m in self.modalities if m not in batch]
        if missing:
            raise InputError(f"batch lacks modalities {missing}; it has {sorted(batch)}")
        feats, shape = {}, None
        for m in self.modalities:
            x = batch[m]
            if x.dim() != 3 or x.shape[-1] != self.inputs[m]:
                raise InputError(f"modality {m!r}: expected (batch, clips, {self.inputs[m]}), got {tuple(x.shape)}")
            if shape is not None and tuple(x.shape[:2]) != shape[1]:
                raise InputError(f"modality {m!r} has (batch, clips) = {tuple(x.shape[:2])} but "
                                 f"{shape[0]!r} has {shape[1]}: every modality needs the same clips")
            shape = shape or (m, tuple(x.shape[:2]))
            feats[m] = x
        return feats

    def forward_details(self, batch: Mapping[str, torch.Tensor]) -> FusionOutput:  # pragma: no cover
        raise NotImplementedError

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """batch {modality: (B, clips, dim)} -> fused log-probabilities (B, num_classes); use NLLLoss."""
        return self.forward_details(batch).log_probs


def _build_heads(inputs: Mapping[str, int], num_classes: int, head: str | Mapping[str, str],
                 head_kwargs: Mapping | None) -> nn.ModuleDict:
    names = dict(head) if isinstance(head, Mapping) else {m: head for m in inputs}
    if set(names) != set(inputs):
        raise ValueError(f"head must name one head per modality {list(inputs)}, got {list(names)}")
    built = nn.ModuleDict()
    for m, dim in inputs.items():
        h = create_model(names[m], input_dim=dim, num_classes=num_classes, **dict(head_kwargs or {}))
        if not hasattr(h, "clip_logits"):
            raise ValueError(f"head {names[m]!r} has no clip_logits(x); use a clip head such as 'clip_linear'")
        built[m] = h
    return built


class _LateFusionBase(_ModalityFusion):
    """Per-modality heads whose predictions are fused with modality weights p."""

    def __init__(self, inputs, num_classes, head, head_kwargs, weighting, p, combine):
        super().__init__(inputs, num_classes)
        if combine not in _COMBINES:
            raise ValueError(f"combine must be one of {_COMBINES}, got {combine!r}")
        self.combine = combine
        self.heads = _build_heads(self.inputs, self.num_classes, head, head_kwargs)
        self.modality_weights = ModalityWeights(self.modalities, weighting, p)

    def weights(self) -> torch.Tensor:
        """Current modality weights p, (M,) in `modalities` order (for two modalities p = weights()[0])."""
        return self.modality_weights()

    def weight_dict(self) -> dict[str, float]:
        """Current p per modality as plain floats, for logging over training."""
        return dict(zip(self.modalities, self.weights().detach().cpu().tolist()))

    def _fuse(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """scores (B, M, C): log-probabilities ("probabilities") or logits ("logits") per modality.

        probabilities: log sum_m p_m P_m (the paper's mean / weighted mean of predictions).
        logits: log_softmax(M * sum_m p_m z_m); with equal p this is the plain SUM of logits of the
        authors' code. Returns (fused log-probabilities (B, C), per-modality log-probabilities (B, M, C)).
        """
        log_w = self.modality_weights.log_weights()  # (M,)
        if self.combine == "probabilities":
            return torch.logsumexp(log_w[None, :, None] + scores, dim=1), scores
        fused = len(self.modalities) * (log_w.exp()[None, :, None] * scores).sum(dim=1)  # (B, C)
        return F.log_softmax(fused, dim=-1), F.log_softmax(scores, dim=-1)


class LateFusion(_LateFusionBase):
    """Late fusion (paper, section 3.1): each modality's head predicts, the predictions are averaged.

    Y = sum_m p_m * P_m, P_m = softmax(head_m(x_m)) (B, C); p per `weighting` (see `ModalityWeights`).
    forward returns log Y (B, C), log-probabilities: use NLLLoss.
    """

    def __init__(self, inputs, num_classes, head="clip_linear", head_kwargs=None, weighting="mean", p=None,
                 combine="probabilities"):
        super().__init__(inputs, num_classes, head, head_kwargs, weighting, p, combine)

    def forward_details(self, batch: Mapping[str, torch.Tensor]) -> FusionOutput:
        feats = self._features(batch)
        logits = torch.stack([self.heads[m](feats[m]) for m in self.modalities], dim=1)  # (B, M, C)
        scores = F.log_softmax(logits, dim=-1) if self.combine == "probabilities" else logits
        log_probs, per_modality = self._fuse(scores)
        return FusionOutput(log_probs, self.modalities, per_modality, self.weights())


class AttentionLateFusion(_LateFusionBase):
    """Self-attention late fusion (paper, section 3.3), any number of modalities.

    For modality m with per-clip probabilities P_mj = softmax(head_m.clip_logits(x_m))_j (B, clips, C)
    and clip weights w_m (B, clips) from `ClipSelfAttention` over the clips of its source modality s(m):
    P_m = sum_j w_mj P_mj (B, C); the modalities are then late-fused, Y = sum_m p_m P_m (mean by default).
    `weights_from`: "self" (s(m) = m), "other" (two modalities: each takes the other's clips), a modality
    name (all take that one's clips), or a dict {modality: source}. With combine="logits" the clip logits
    are weighted instead (the authors' code) and fused as in `LateFusion`.
    forward returns log Y (B, C), log-probabilities: use NLLLoss.
    """

    def __init__(self, inputs, num_classes, head="clip_linear", head_kwargs=None, weights_from="self",
                 alpha=1.25, d_k=None, weighting="mean", p=None, combine="probabilities"):
        super().__init__(inputs, num_classes, head, head_kwargs, weighting, p, combine)
        self.sources = self._resolve_sources(weights_from)
        self.attention = nn.ModuleDict(
            {m: ClipSelfAttention(self.inputs[s], d_k, alpha) for m, s in self.sources.items()})

    def _resolve_sources(self, weights_from: str | Mapping[str, str]) -> dict[str, str]:
        mods = self.modalities
        if isinstance(weights_from, Mapping):
            sources = dict(weights_from)
        elif weights_from == "self":
            sources = {m: m for m in mods}
        elif weights_from == "other":
            if len(mods) != 2:
                raise ValueError(f'weights_from="other" needs exactly two modalities, got {list(mods)}')
            sources = {mods[0]: mods[1], mods[1]: mods[0]}
        else:
            sources = {m: weights_from for m in mods}
        if set(sources) != set(mods) or any(s not in mods for s in sources.values()):
            raise ValueError(f'weights_from must be "self", "other", a modality of {list(mods)} or a dict '
                             f"mapping each modality to one, got {weights_from!r}")
        return {m: sources[m] for m in mods}

    def forward_details(self, batch: Mapping[str, torch.Tensor]) -> FusionOutput:
        feats = self._features(batch)
        scores, log_ws, log_ss = [], [], []
        for m in self.modalities:
            log_s, log_w = self.attention[m].log_forward(feats[self.sources[m]])  # (B, n, n), (B, n)
            z = self.heads[m].clip_logits(feats[m])  # (B, n, C)
            if self.combine == "probabilities":  # log sum_j w_j P_j
                scores.append(torch.logsumexp(log_w[..., None] + F.log_softmax(z, dim=-1), dim=1))  # (B, C)
            else:  # sum_j w_j z_j
                scores.append((log_w.exp()[..., None] * z).sum(dim=1))  # (B, C)
            log_ws.append(log_w)
            log_ss.append(log_s)
        log_probs, per_modality = self._fuse(torch.stack(scores, dim=1))  # (B, M, C) in
        return FusionOutput(log_probs, self.modalities, per_modality, self.weights(),
                            clip_weights=torch.stack(log_ws, dim=1).exp(),  # (B, M, n)
                            scores=torch.stack(log_ss, dim=1).exp())  # (B, M, n, n)


class MidFusion(_ModalityFusion):
    """Mid fusion (paper, section 3.2): fuse clip features, then classify the fused clips.

    Per modality BatchNorm1d over its dim (the same as the authors' one BatchNorm over the concatenation: it
    normalises each feature alone); concatenate per clip (B, clips, sum of dims); a fusion block gives
    Z_fusion (B, clips, hidden); a clip head classifies each clip and averages over clips.

    block "paper": the paper and its code, concatenation and two linear layers, Linear(sum, hidden) ->
        Linear(hidden, classes) per clip, no non-linearity (the head is `head` without its BatchNorm);
    block "mlp": myovision's deeper block, Linear(sum, hidden) -> `activation` -> Dropout(`dropout`) ->
        Linear(hidden, hidden), then the head as registered (clip_linear: BatchNorm + Linear).
    forward returns log-probabilities (B, C): use NLLLoss.
    """

    def __init__(self, inputs, num_classes, hidden_dim=1024, block="paper", activation="relu", dropout=0.0,
                 head="clip_linear", head_kwargs=None):
        super().__init__(inputs, num_classes)
        width = sum(self.inputs.values())
        self.norms = nn.ModuleDict({m: nn.BatchNorm1d(d) for m, d in self.inputs.items()})
        head_kwargs = dict(head_kwargs or {})
        if block == "paper":
            if activation != "relu" or dropout:  # "relu" is the mlp block's default, not a request
                raise ValueError('block "paper" has no activation or dropout; use block="mlp" for them')
            self.fusion = nn.Linear(width, hidden_dim)
            if head == "clip_linear":
                head_kwargs = {"batch_norm": False, **head_kwargs}
        elif block == "mlp":
            act = "none" if activation is None else activation
            if act not in _ACTIVATIONS:
                raise ValueError(f"activation must be one of {list(_ACTIVATIONS)} or None, got {activation!r}")
            self.fusion = nn.Sequential(nn.Linear(width, hidden_dim), _ACTIVATIONS[act](), nn.Dropout(dropout),
                                        nn.Linear(hidden_dim, hidden_dim))
        else:
            raise ValueError(f"block must be one of {list(MID_FUSION_BLOCKS)}, got {block!r}")
        self.block = block
        self.head = create_model(head, input_dim=hidden_dim, num_classes=self.num_classes, **head_kwargs)

    def fused_features(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Z_fusion, (B, clips, hidden_dim)."""
        feats = self._features(batch)
        parts = []
        for m in self.modalities:
            b, n, d = feats[m].shape
            parts.append(self.norms[m](feats[m].reshape(b * n, d)).reshape(b, n, d))  # (B, clips, d_m)
        return self.fusion(torch.cat(parts, dim=-1))  # (B, clips, sum d_m) -> (B, clips, hidden)

    def forward_details(self, batch: Mapping[str, torch.Tensor]) -> FusionOutput:
        return FusionOutput(F.log_softmax(self.head(self.fused_features(batch)), dim=-1), self.modalities)


@register_model("late_fusion")
def late_fusion(*, inputs: Mapping[str, int], num_classes: int, head: str | Mapping[str, str] = "clip_linear",
                head_kwargs: Mapping | None = None, weighting: str = "mean", p=None,
                combine: str = "probabilities") -> LateFusion:
    """Late fusion of per-modality clip heads; forward -> log-probabilities (B, num_classes), use NLLLoss.

    weighting "mean" | "fixed" (p: float for two modalities, else one weight each) | "learnable" (p in
    [0, 1], initial `p` or 0.5; read it with `.weights()`); combine "probabilities" (paper) | "logits" (code).
    """
    return LateFusion(inputs, num_classes, head, head_kwargs, weighting, p, combine)


@register_model("attention_late_fusion")
def attention_late_fusion(*, inputs: Mapping[str, int], num_classes: int,
                          head: str | Mapping[str, str] = "clip_linear", head_kwargs: Mapping | None = None,
                          weights_from: str | Mapping[str, str] = "self", alpha: float = 1.25, d_k: int | None = None,
                          weighting: str = "mean", p=None, combine: str = "probabilities") -> AttentionLateFusion:
    """Self-attention late fusion; forward -> log-probabilities (B, num_classes), use NLLLoss.

    Clip weights (B, M, clips): `model.forward_details(batch).clip_weights`.
    """
    return AttentionLateFusion(inputs, num_classes, head, head_kwargs, weights_from, alpha, d_k, weighting, p, combine)


@register_model("mid_fusion")
def mid_fusion(*, inputs: Mapping[str, int], num_classes: int, hidden_dim: int = 1024, block: str = "paper",
               activation: str | None = "relu", dropout: float = 0.0, head: str = "clip_linear",
               head_kwargs: Mapping | None = None) -> MidFusion:
    """Mid fusion: BatchNorm, concatenated clip features, a fusion block ("paper": two linear layers; "mlp":
    myovision's deeper block with `activation` and `dropout`), clip head; forward -> log-probabilities."""
    return MidFusion(inputs, num_classes, hidden_dim, block, activation, dropout, head, head_kwargs)
