"""Multi-head attention that the TorchScript ONNX exporter traces with dynamic batch and time.

torch's `nn.MultiheadAttention` (hence `nn.TransformerEncoderLayer`) reshapes with the traced sequence length
as a constant: a graph exported at 8 frames fails at 11 (checked in tests/export). While exporting, each
attention module without masks runs this forward instead: the same computation (Vaswani et al. 2017: packed
in-projection, softmax(Q K^T / sqrt(d)) V per head, out-projection) with head splits by `unflatten`, so no
size is baked in. Calls with masks, bias_k/bias_v or attention weights requested keep torch's forward.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


def _projections(mha: nn.MultiheadAttention) -> tuple[torch.Tensor, ...]:
    """(w_q, w_k, w_v) and their biases (None without bias) of `mha`."""
    if mha._qkv_same_embed_dim:
        weights = mha.in_proj_weight.chunk(3)
    else:
        weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
    biases = mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None)
    return (*weights, *biases)


def traceable_forward(mha: nn.MultiheadAttention):
    """A forward for `mha` with the signature of nn.MultiheadAttention.forward (see the module docstring)."""
    original = mha.forward

    def forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if (key_padding_mask is not None or attn_mask is not None or need_weights or mha.bias_k is not None
                or mha.add_zero_attn):
            return original(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                            attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal)
        if not mha.batch_first:  # (L, B, E) -> (B, L, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        wq, wk, wv, bq, bk, bv = _projections(mha)
        heads, head_dim = mha.num_heads, mha.embed_dim // mha.num_heads
        q, k, v = (F.linear(x, w, b).unflatten(-1, (heads, head_dim)).transpose(1, 2)  # (B, heads, L, head_dim)
                   for x, w, b in ((query, wq, bq), (key, wk, bk), (value, wv, bv)))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (B, heads, L, head_dim)
        out = mha.out_proj(out.transpose(1, 2).flatten(-2))  # (B, L, E)
        return (out if mha.batch_first else out.transpose(0, 1)), None

    return forward


@contextmanager
def traceable_attention(module: nn.Module) -> Iterator[None]:
    """Within the block every nn.MultiheadAttention inside `module` runs `traceable_forward`."""
    patched = [m for m in module.modules() if isinstance(m, nn.MultiheadAttention)]
    for mha in patched:
        mha.forward = traceable_forward(mha)
    try:
        yield
    finally:
        for mha in patched:
            del mha.forward  # the class's forward again
