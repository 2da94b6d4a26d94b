"""CLIP for video, as ViFi-CLIP (Rasheed et al. 2023) uses it and MAXI (Lin et al., ICCV 2023) fine-tunes it:
every frame goes through CLIP's image encoder, the frame embeddings are mean-pooled over time, and
classes are scored by the cosine between the video embedding and the text embeddings of their prompts,
times a learned temperature `exp(logit_scale)`.

The submodules are those of `transformers.CLIPModel` under the same names (`vision_model`, `text_model`,
`visual_projection`, `text_projection`, `logit_scale`), so a CLIPModel state dict loads as-is and a
folder written by `CLIPModel.save_pretrained` (plus its tokenizer files) loads with `load_clip_video`.

In a run folder (`save_clip_video`), `model.json` names "clip_video" with its CLIPConfig, cross-frame layers and,
for a word tokenizer, its words, so `create_model(checkpoint=RUN)` rebuilds the model, tokenizer included; a
BPE tokenizer (too large for model.json) is written beside as its own files, which `load_clip_video(RUN)` reads.

Options: cross-frame attention in the last k vision layers (MAXI supplementary, Sec. 3.4: the keys of frames
t-1, t, t+1 for the queries of frame t) and patch-to-text similarity maps (Sec. 3.1).
"""

from __future__ import annotations

import json
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from myovision.errors import InputError
from myovision.models.clip_tokenizer import TextTokenizer, WordTokenizer, load_tokenizer
from myovision.registry import register_model

if TYPE_CHECKING:  # transformers is imported when a model is built, not when it is registered
    from transformers import CLIPConfig

VIDEO_CONFIG_FILE = "clip_video.json"  # the video options (cross-frame layers) beside config.json


@lru_cache(maxsize=None)
def cross_frame_attention_class() -> type:
    """`CrossFrameAttention`, a subclass of transformers' CLIPAttention (built on first use, so that registering
    the model does not import transformers)."""
    from transformers.models.clip.modeling_clip import CLIPAttention

    class CrossFrameAttention(CLIPAttention):
        """CLIP attention whose frame t attends with the mean of the keys of frames t-1, t, t+1 that exist (MAXI
        suppl. Eq. 1: the mean of Q_t K_{t+i}^T over i equals Q_t times the mean key; at the first and last frame
        MAXI's code, `clip/tempMultiheadAttention.py`, divides by 2, the two keys there are). Same parameters as
        CLIPAttention; `num_frames` is set by `CLIPVideo` before each call. Input (B*T, N, D).
        """

        num_frames: int = 1

        def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
            bt, n, d = hidden_states.shape
            t = self.num_frames
            shape = (bt, n, self.num_heads, self.head_dim)
            q, k, v = (p(hidden_states).view(shape).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
            k = k.reshape(bt // t, t, self.num_heads, n, self.head_dim)  # (B, T, heads, N, head_dim)
            total, count = k.clone(), torch.ones(t, device=k.device, dtype=k.dtype)
            total[:, 1:] += k[:, :-1]  # the previous frame's key
            total[:, :-1] += k[:, 1:]  # the next frame's key
            count[1:] += 1
            count[:-1] += 1
            k = total / count.view(1, t, 1, 1, 1)
            k = k.reshape(bt, self.num_heads, n, self.head_dim)  # (B*T, heads, N, head_dim)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask, scale=self.scale,
                                                 dropout_p=self.dropout if self.training else 0.0)
            return self.out_proj(out.transpose(1, 2).reshape(bt, n, d)), None

    return CrossFrameAttention


class CLIPVideo(nn.Module):
    """ViFi-CLIP video-text model on `transformers` CLIP modules.

    video: float (B, T, 3, H, W), frames normalised with CLIP's mean and std. Texts: token ids (K, L).
    `forward({"video": ..., "input_ids": ..., "attention_mask": ...})` -> logits (B, K).
    """

    def __init__(self, config: CLIPConfig, *, tokenizer: TextTokenizer | None = None, cross_frame_layers: int = 0):
        from transformers import CLIPModel

        super().__init__()
        clip = CLIPModel(config)
        self.config = clip.config
        self.vision_model, self.text_model = clip.vision_model, clip.text_model
        self.visual_projection, self.text_projection = clip.visual_projection, clip.text_projection
        self.logit_scale = clip.logit_scale
        self.tokenizer = tokenizer
        layers = self.vision_model.encoder.layers
        if not 0 <= cross_frame_layers <= len(layers):
            raise InputError(f"cross_frame_layers must lie in 0..{len(layers)}, got {cross_frame_layers}")
        self.cross_frame_layers = cross_frame_layers
        for layer in layers[len(layers) - cross_frame_layers:] if cross_frame_layers else []:
            attention = cross_frame_attention_class()(self.config.vision_config)
            attention.load_state_dict(layer.self_attn.state_dict())
            layer.self_attn = attention

    @property
    def context_length(self) -> int:
        return self.config.text_config.max_position_embeddings

    @property
    def image_size(self) -> int:
        return self.config.vision_config.image_size

    # ------------------------------------------------------------------ text
    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """L2-normalised text embeddings (K, D) of token ids (K, L)."""
        pooled = self.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output  # (K, width)
        return F.normalize(self.text_projection(pooled), dim=-1)

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tokenizer is None:
            raise InputError("this CLIP video model has no tokenizer (give one, or load a folder that has one)")
        return self.tokenizer(list(texts), self.context_length)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """L2-normalised embeddings (K, D) of strings, tokenised with the model's tokenizer."""
        device = self.logit_scale.device
        parts = []
        for i in range(0, len(texts), batch_size):
            ids, mask = self.tokenize(texts[i:i + batch_size])
            parts.append(self.encode_text(ids.to(device), mask.to(device)))
        return torch.cat(parts) if parts else torch.zeros(0, self.config.projection_dim, device=device)

    # ------------------------------------------------------------------ video
    def _vision(self, video: torch.Tensor):
        if video.ndim != 5 or video.shape[2] != 3:
            raise InputError(f"video must be (batch, frames, 3, height, width), got {tuple(video.shape)}")
        b, t = video.shape[:2]
        for layer in self.vision_model.encoder.layers:
            if hasattr(layer.self_attn, "num_frames"):
                layer.self_attn.num_frames = t
        return self.vision_model(pixel_values=video.flatten(0, 1))  # frames as images: (B*T, 3, H, W)

    def encode_frames(self, video: torch.Tensor) -> torch.Tensor:
        """Projected frame embeddings (B, T, D), not normalised."""
        b, t = video.shape[:2]
        return self.visual_projection(self._vision(video).pooler_output).view(b, t, -1)  # (B, T, D)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """L2-normalised video embeddings (B, D): the mean of the frame embeddings (ViFi-CLIP)."""
        return F.normalize(self.encode_frames(video).mean(dim=1), dim=-1)

    def logits(self, video_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """exp(logit_scale) * cosine, (B, K) from normalised (B, D) and (K, D)."""
        return self.logit_scale.exp() * video_embeds @ text_embeds.T

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits (B, K) of videos `inputs["video"]` against texts `inputs["input_ids"]` (+ attention_mask)."""
        text = self.encode_text(inputs["input_ids"], inputs.get("attention_mask"))
        return self.logits(self.encode_video(inputs["video"]), text)

    def patch_text_similarity(self, video: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
        """Cosine between every patch token (after the final layer norm and projection, as the class token)
        and each text embedding: (B, T, K, grid_h, grid_w), for MAXI's attention heatmaps (suppl. Sec. 3.1)."""
        b, t, _, h, w = video.shape
        p = self.config.vision_config.patch_size
        tokens = self._vision(video).last_hidden_state[:, 1:]  # (B*T, N, width), class token dropped
        patches = F.normalize(self.visual_projection(self.vision_model.post_layernorm(tokens)), dim=-1)
        sim = patches @ text_embeds.T  # (B*T, N, K)
        return sim.view(b, t, h // p, w // p, -1).permute(0, 1, 4, 2, 3)  # (B, T, K, grid_h, grid_w)

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, folder: str | PathLike) -> Path:
        """Write config.json + model.safetensors (CLIPModel's layout), the tokenizer and clip_video.json."""
        from myovision.fileio import atomic_write_text
        from myovision.runs import save_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "config.json", self.config.to_json_string())
        save_weights(folder / "model.safetensors", self.state_dict(), metadata={"format": "pt"})
        atomic_write_text(folder / VIDEO_CONFIG_FILE, json.dumps({"cross_frame_layers": self.cross_frame_layers}))
        if self.tokenizer is not None:
            self.tokenizer.save(folder)
        return folder


def tiny_clip_config(*, image_size: int = 32, patch_size: int = 8, width: int = 64, layers: int = 2, heads: int = 2,
                     projection_dim: int = 32, vocab_size: int = 516, context_length: int = 16,
                     eos_token_id: int | None = None) -> CLIPConfig:
    """A small CLIP configuration (vision and text transformers of the same width) for tests and demos."""
    from transformers import CLIPConfig

    common = dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers, num_attention_heads=heads)
    text = dict(common, vocab_size=vocab_size, max_position_embeddings=context_length,
                eos_token_id=vocab_size - 1 if eos_token_id is None else eos_token_id, bos_token_id=0, pad_token_id=1)
    vision = dict(common, image_size=image_size, patch_size=patch_size)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)


@register_model("clip_video")
def clip_video(*, pretrained: str | PathLike | None = None, config: CLIPConfig | dict | None = None,
               cross_frame_layers: int | None = None, tokenizer: TextTokenizer | list[str] | None = None,
               **tiny: int) -> CLIPVideo:
    """CLIP video model: from a local folder (`pretrained`), a CLIPConfig (or its dict), or `tiny_clip_config`
    keywords (`image_size`, `patch_size`, `width`, `layers`, `heads`, `projection_dim`, `vocab_size`,
    `context_length`). Without any of them: CLIP ViT-B/16's architecture, randomly initialised.
    tokenizer: a tokenizer, or the words of a `WordTokenizer`."""
    from transformers import CLIPConfig

    if isinstance(tokenizer, (list, tuple)):
        tokenizer = WordTokenizer(tokenizer)

    if pretrained is not None:
        return load_clip_video(pretrained, cross_frame_layers=cross_frame_layers)
    if config is None:
        config = tiny_clip_config(**tiny) if tiny else CLIPConfig(
            text_config={}, vision_config=dict(patch_size=16, image_size=224), projection_dim=512)
    elif isinstance(config, dict):
        config = CLIPConfig(**config)
    return CLIPVideo(config, tokenizer=tokenizer, cross_frame_layers=cross_frame_layers or 0)


def save_clip_video(out: str | PathLike, model: CLIPVideo) -> Path:
    """`model` into the run folder `out` (runs.save_model: model.json + model.safetensors), so that
    `create_model(checkpoint=out)` rebuilds it: its CLIPConfig and cross-frame layers as builder keywords, a word
    tokenizer's words too; any other tokenizer is saved beside as its own files (read by `load_clip_video`)."""
    from myovision.runs import save_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {"config": model.config.to_diff_dict(), "cross_frame_layers": model.cross_frame_layers}
    if isinstance(model.tokenizer, WordTokenizer):
        kwargs["tokenizer"] = model.tokenizer.tokens[len(WordTokenizer.specials):]
    elif model.tokenizer is not None:
        model.tokenizer.save(out)
    return save_model(out, model, "clip_video", kwargs)


def load_clip_video(folder: str | PathLike, *, cross_frame_layers: int | None = None) -> CLIPVideo:
    """A CLIP video model from a local folder: config.json + model.safetensors (or pytorch_model.bin, read
    weights-only) as `transformers.CLIPModel.save_pretrained` writes them, and the tokenizer files when
    present; or a run folder written by `save_clip_video`. Every weight of the model must be in the file
    (missing keys are an InputError)."""
    from transformers import CLIPConfig

    from myovision.registry import create_model, read_state_dict
    from myovision.runs import MODEL

    folder = Path(folder)
    if (folder / MODEL).is_file():
        extra = {} if cross_frame_layers is None else {"cross_frame_layers": cross_frame_layers}
        model = create_model("clip_video", checkpoint=folder, **extra)
        if model.tokenizer is None:
            model.tokenizer = load_tokenizer(folder)
        return model.eval()
    if not (folder / "config.json").is_file():
        raise InputError("not a CLIP model folder: config.json is missing", folder)
    try:
        config = CLIPConfig.from_json_file(str(folder / "config.json"))
    except (ValueError, OSError, TypeError) as exc:
        raise InputError(f"unreadable CLIP config ({exc})", folder / "config.json") from exc
    options = {}
    if (folder / VIDEO_CONFIG_FILE).is_file():
        options = json.loads((folder / VIDEO_CONFIG_FILE).read_text())
    if cross_frame_layers is None:
        cross_frame_layers = int(options.get("cross_frame_layers", 0))
    model = CLIPVideo(config, tokenizer=load_tokenizer(folder), cross_frame_layers=cross_frame_layers)
    weights = [folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()]
    if not weights:
        raise InputError("no model.safetensors or pytorch_model.bin in the folder", folder)
    state = {k: v for k, v in read_state_dict(weights[0]).items() if not k.endswith("position_ids")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or wrong:
        raise InputError(f"weights do not fit the config: missing {missing[:5]}, wrong shapes {wrong[:5]}", weights[0])
    model.load_state_dict(state, strict=False)
    return model.eval()
