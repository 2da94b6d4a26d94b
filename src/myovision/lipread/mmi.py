"""Sequence-discriminative training of hybrid HMM models: maximum mutual information over a decoding graph,
without lattices (Povey et al., "Purely sequence-trained neural networks for ASR based on lattice-free MMI",
Interspeech 2016), here over the small, exact graph of a finite-state grammar such as GRID's.

    MMI loss = -[log p(x | transcript graph) - log p(x | grammar graph)]     (per utterance)

Both terms are forward-algorithm totals over a `myovision.decoding.hmm.DecodingGraph` with the hybrid emission
scores the decoder uses (log p(s | x_t) - kappa * log p(s)). The denominator sums over every sentence of the
grammar, so the gradient pushes up the states of the right words exactly where a competing word (another
letter, another preposition) would otherwise win: what frame cross-entropy on one fixed alignment never sees.
The loss is >= 0 whenever the transcript's paths are paths of the grammar, and 0 when the grammar has only
that sentence.

The forward recursion runs in probability space with a per-frame rescaling (Rabiner 1989, section V.A):
alpha_t = (alpha_{t-1} @ P) * exp(emit_t), one (B, N) x (N, N) product per frame, exact in log space after
adding back the scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from myovision.decoding.hmm import DecodingGraph


@dataclass(frozen=True)
class GraphTensors:
    """A decoding graph (or a batch of them padded to one size) as tensors for the forward algorithm.

    transitions (G, N, N): probability of moving from node i to node j (self-loops on the diagonal);
    emission (G, N): state id scored at each node (0 on padding nodes); initial, final (G, N): log entry and
    exit scores (-inf where impossible, and on padding nodes). G is 1 for a graph shared by a whole batch.
    """

    transitions: torch.Tensor
    emission: torch.Tensor
    initial: torch.Tensor
    final: torch.Tensor

    @classmethod
    def stack(cls, graphs: Sequence[DecodingGraph]) -> "GraphTensors":
        """Graphs padded to the largest one's node count (padding nodes are unreachable)."""
        n = max(g.num_nodes for g in graphs)
        transitions = torch.zeros(len(graphs), n, n, dtype=torch.float64)
        emission = torch.zeros(len(graphs), n, dtype=torch.long)
        initial = torch.full((len(graphs), n), -torch.inf, dtype=torch.float64)
        final = torch.full((len(graphs), n), -torch.inf, dtype=torch.float64)
        for i, g in enumerate(graphs):
            k = g.num_nodes
            transitions[i, np.arange(k), np.arange(k)] = torch.from_numpy(np.exp(g.self_logp))
            transitions[i, g.arc_src, g.arc_dst] = torch.from_numpy(np.exp(g.arc_logp))
            emission[i, :k] = torch.from_numpy(g.emission)
            initial[i, :k] = torch.from_numpy(g.initial)
            final[i, :k] = torch.from_numpy(g.final)
        return cls(transitions.float(), emission, initial.float(), final.float())

    def to(self, device: torch.device | str) -> "GraphTensors":
        return GraphTensors(*(t.to(device) for t in (self.transitions, self.emission, self.initial, self.final)))


def graph_log_likelihood(log_likes: torch.Tensor, lengths: torch.Tensor, graph: GraphTensors) -> torch.Tensor:
    """Forward algorithm: log of the summed score of every path through `graph`, per utterance.

    log_likes (B, T, S) emission scores per frame and state; lengths (B,) valid frames; graph with G = 1 or B.
    Returns (B,); -inf where no path fits an utterance's frames. Differentiable in `log_likes`.
    """
    b, t_frames, _ = log_likes.shape
    g = graph.transitions.shape[0]
    if g not in (1, b):
        raise ValueError(f"{g} graphs for {b} utterances: give one shared graph or one per utterance")
    emission = graph.emission.expand(b, -1)  # (B, N)
    emit = torch.gather(log_likes, 2, emission[:, None, :].expand(b, t_frames, -1))  # (B, T, N)
    transitions = graph.transitions if g == b else graph.transitions[0]  # (B, N, N) or (N, N)
    arcs = (transitions > 0).to(log_likes.dtype)
    tiny = torch.finfo(log_likes.dtype).tiny
    log_alpha = graph.initial.expand(b, -1) + emit[:, 0]  # (B, N)
    reached = torch.isfinite(log_alpha).to(log_likes.dtype)  # (B, N) nodes some path reaches by frame t
    for t in range(1, t_frames):
        scale = log_alpha.max(dim=1, keepdim=True).values.detach().clamp_min(-1e30)  # (B, 1)
        alpha = (log_alpha - scale).exp()[:, None, :]  # (B, 1, N)
        moved = (alpha @ transitions)[:, 0]  # (B, N)
        # an unreached node gets a score ~87 nats below the frame's best instead of -inf, so no gradient is NaN
        step = moved.clamp_min(tiny).log() + scale + emit[:, t]
        valid = (lengths > t)[:, None]
        log_alpha = torch.where(valid, step, log_alpha)
        reached = torch.where(valid, ((reached[:, None, :] @ arcs)[:, 0] > 0).to(reached), reached)
    total = torch.logsumexp(log_alpha + graph.final.expand(b, -1), dim=1)
    fits = ((reached > 0) & torch.isfinite(graph.final.expand(b, -1))).any(dim=1)
    return torch.where(fits, total, torch.full_like(total, -torch.inf))


def mmi_loss(log_likes: torch.Tensor, lengths: torch.Tensor, numerators: GraphTensors,
             denominator: GraphTensors, boost: float = 0.0, targets: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the batch of -(log p(x | numerator) - log p(x | denominator)) / frames (LF-MMI per frame).

    log_likes (B, T, S) hybrid emission scores; numerators one graph per utterance (G = B); denominator shared.
    Utterances whose transcript fits no path (too few frames) are left out of the mean.

    Boosted MMI (Povey et al., ICASSP 2008, with the frame-level accuracy of their section 3): with `boost` b > 0
    and reference states `targets` (B, T) (-100 on padding), every denominator path gains b for each frame
    whose state differs from the reference, so the loss asks for a margin that grows with the frame errors of
    a competing path.
    """
    num = graph_log_likelihood(log_likes, lengths, numerators)  # (B,)
    if boost:
        if targets is None:
            raise ValueError("boosted MMI needs the reference state of every frame (targets)")
        wrong = torch.ones_like(log_likes)  # (B, T, S): 1 where a state differs from the frame's reference
        frames = targets >= 0
        wrong[frames] = wrong[frames].scatter(1, targets[frames][:, None], 0.0)
        log_likes = log_likes + boost * wrong
    den = graph_log_likelihood(log_likes, lengths, denominator)  # (B,)
    ok = torch.isfinite(num) & torch.isfinite(den)
    if not ok.any():
        return log_likes.new_zeros(())
    return ((den - num)[ok] / lengths[ok].to(log_likes.dtype)).mean()
