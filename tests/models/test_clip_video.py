"""The CLIP video model: loading a transformers CLIPModel folder, mean pooling, cross-frame attention, heatmaps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import myovision as mv
from myovision.errors import InputError
from myovision.models.clip_tokenizer import WordTokenizer, write_byte_level_tokenizer
from myovision.models.clip_video import CLIPVideo, load_clip_video, tiny_clip_config

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """A folder written by transformers.CLIPModel.save_pretrained (tiny random config) + a BPE tokenizer."""
    folder = tmp_path_factory.mktemp("clip")
    torch.manual_seed(0)
    hf = transformers.CLIPModel(tiny_clip_config(vocab_size=516)).eval()
    hf.save_pretrained(folder)
    write_byte_level_tokenizer(folder, merges=[("j", "u"), ("ju", "m")])
    return folder, hf


def test_save_pretrained_folder_loads_and_reproduces_embeddings(hf_folder):
    folder, hf = hf_folder
    model = mv.create_model("clip_video", checkpoint=folder)
    assert set(model.state_dict()) == set(hf.state_dict()) - {k for k in hf.state_dict() if "position_ids" in k}
    ids, mask = model.tokenize(["a woman jumping", "jump"])
    assert ids[0, 0] == 514 and (ids == 515).any(1).all()  # <|startoftext|> ... <|endoftext|>
    frames = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        text = F.normalize(hf.get_text_features(input_ids=ids, attention_mask=mask).pooler_output, dim=-1)
        image = hf.get_image_features(pixel_values=frames.flatten(0, 1)).pooler_output.view(2, 3, -1)
        assert torch.allclose(model.encode_texts(["a woman jumping", "jump"]), text, atol=1e-5)
        assert torch.allclose(model.encode_frames(frames), image, atol=1e-5)
        video = F.normalize(image.mean(1), dim=-1)  # ViFi-CLIP: mean of the frame embeddings
        assert torch.allclose(model.encode_video(frames), video, atol=1e-5)
        logits = model({"video": frames, "input_ids": ids, "attention_mask": mask})
        assert torch.allclose(logits, hf.logit_scale.exp() * video @ text.T, atol=1e-4)


def test_missing_weights_are_named(hf_folder, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, _ = hf_folder
    for name in ("config.json", "vocab.json", "merges.txt"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    state = load_file(str(folder / "model.safetensors"))
    del state["text_projection.weight"]
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(InputError, match="text_projection.weight"):
        load_clip_video(tmp_path)
    with pytest.raises(InputError, match="config.json"):
        load_clip_video(tmp_path / "nowhere")


def test_own_folder_round_trip_with_word_tokenizer_and_cross_frame(tmp_path):
    tok = WordTokenizer(["a", "photo", "of", "jumping", "ball"])
    cfg = tiny_clip_config(vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id)
    model = mv.create_model("clip_video", config=cfg, tokenizer=tok, cross_frame_layers=1).eval()
    model.save_pretrained(tmp_path)
    back = load_clip_video(tmp_path)
    assert back.cross_frame_layers == 1 and back.tokenizer.tokens == tok.tokens
    video = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(back.encode_video(video), model.encode_video(video), atol=1e-6)
        assert torch.allclose(back.encode_texts(["a photo of jumping ball"]),
                              model.encode_texts(["a photo of jumping ball"]), atol=1e-6)


def test_cross_frame_attention_equals_hand_computed_key_average_at_first_middle_and_last_frame():
    """MAXI suppl. Eq. 1 with its code's ends: frame 0 uses (K0 + K1) / 2, frame T-1 (K_{T-2} + K_{T-1}) / 2, a
    middle frame (K_{t-1} + K_t + K_{t+1}) / 3; computed here per head with an explicit softmax."""
    from myovision.models.clip_video import cross_frame_attention_class

    torch.manual_seed(3)
    cfg = tiny_clip_config(width=8, heads=2).vision_config
    layer = cross_frame_attention_class()(cfg).eval()
    t, n, heads, hd = 4, 3, 2, 4
    layer.num_frames = t
    x = torch.randn(2 * t, n, 8)  # (B*T, N, D), two videos of 4 frames
    with torch.no_grad():
        out, _ = layer(x)
        q, k, v = (p(x).view(2, t, n, heads, hd) for p in (layer.q_proj, layer.k_proj, layer.v_proj))
        for frame, keys in {0: [0, 1], 1: [0, 1, 2], 3: [2, 3]}.items():
            key = sum(k[:, f] for f in keys) / len(keys)  # (B, N, heads, hd)
            attn = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q[:, frame], key) / hd ** 0.5, dim=-1)
            heads_out = torch.einsum("bhqk,bkhd->bqhd", attn, v[:, frame]).reshape(2, n, 8)
            expected = layer.out_proj(heads_out)
            assert torch.allclose(out.view(2, t, n, 8)[:, frame], expected, atol=1e-5), frame
        # the earlier variant (own key counted twice at the ends: (2 K0 + K1) / 3) differs at frame 0
        key = (2 * k[:, 0] + k[:, 1]) / 3
        attn = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q[:, 0], key) / hd ** 0.5, dim=-1)
        other = layer.out_proj(torch.einsum("bhqk,bkhd->bqhd", attn, v[:, 0]).reshape(2, n, 8))
        assert not torch.allclose(out.view(2, t, n, 8)[:, 0], other, atol=1e-4)


def test_cross_frame_attention_uses_neighbouring_frames():
    torch.manual_seed(1)
    plain = CLIPVideo(tiny_clip_config()).eval()
    cross = CLIPVideo(tiny_clip_config(), cross_frame_layers=2).eval()
    cross.load_state_dict(plain.state_dict())  # same parameters, only the attention differs
    still = torch.randn(1, 1, 3, 32, 32).expand(2, 5, 3, 32, 32)
    moving = torch.randn(2, 5, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(cross.encode_frames(still), plain.encode_frames(still), atol=1e-5)  # equal keys
        assert torch.allclose(cross.encode_frames(moving[:, :1]), plain.encode_frames(moving[:, :1]), atol=1e-5)
        assert not torch.allclose(cross.encode_frames(moving), plain.encode_frames(moving), atol=1e-3)
        # frame 0 of a clip sees frames 0 and 1 only: changing frame 3 leaves it alone, changes frame 2
        changed = moving.clone()
        changed[:, 3] += 1.0
        a, b = cross.encode_frames(moving), cross.encode_frames(changed)
        assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6) and not torch.allclose(a[:, 2], b[:, 2], atol=1e-4)
        # without cross-frame attention, frame order does not matter (mean pooling)
        assert torch.allclose(plain.encode_video(moving), plain.encode_video(moving.flip(1)), atol=1e-5)
    with pytest.raises(InputError, match="cross_frame_layers"):
        CLIPVideo(tiny_clip_config(), cross_frame_layers=3)


def test_patch_text_similarity_is_patch_cosine():
    model = CLIPVideo(tiny_clip_config()).eval()
    video, text = torch.randn(1, 2, 3, 32, 32), F.normalize(torch.randn(3, 32), dim=-1)
    with torch.no_grad():
        sim = model.patch_text_similarity(video, text)
        tokens = model.vision_model(pixel_values=video[0]).last_hidden_state[1, 1 + 4 * 1 + 2]  # frame 1, patch (1, 2)
        patch = F.normalize(model.visual_projection(model.vision_model.post_layernorm(tokens)), dim=-1)
    assert sim.shape == (1, 2, 3, 4, 4)
    assert torch.allclose(sim[0, 1, :, 1, 2], text @ patch, atol=1e-5)


@pytest.mark.real
def test_heatmap_png_for_a_real_clip(tmp_path, shared_data):
    from myovision.zeroshot.heatmaps import save_heatmap_png
    from myovision.zeroshot.videos import read_clip

    path = shared_data / "video-clips" / "kinetics_arm_wrestling.mp4"
    if not path.is_file():
        pytest.skip(f"real data not available: {path} is absent")
    clip = read_clip(path, frames=4, size=32)
    assert clip.shape == (4, 3, 32, 32)
    model = CLIPVideo(tiny_clip_config(vocab_size=WordTokenizer(["arm", "wrestling"]).vocab_size, eos_token_id=1),
                      tokenizer=WordTokenizer(["arm", "wrestling"]))
    png = save_heatmap_png(model, clip, "arm wrestling", tmp_path / "heat.png")
    from PIL import Image

    image = np.asarray(Image.open(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.shape[1] > 3 * image.shape[0]  # 4 panels side by side


def test_run_folder_rebuilds_the_model_with_its_tokenizer(hf_folder, tmp_path):
    from myovision.models.clip_video import save_clip_video
    from myovision.runs import read_model_spec

    folder, _ = hf_folder
    bpe = load_clip_video(folder, cross_frame_layers=1)  # a BPE tokenizer: its files go beside model.json
    tok = WordTokenizer(["a", "photo", "of", "jumping", "ball"])  # a word tokenizer: its words go in model.json
    word = CLIPVideo(tiny_clip_config(vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id), tokenizer=tok)
    video = torch.randn(1, 3, 3, 32, 32)
    for name, model in (("bpe", bpe), ("word", word)):
        with torch.no_grad():
            model.logit_scale.add_(0.5)  # not the initial value: the weights really travel
        save_clip_video(tmp_path / name, model.eval())
        spec = read_model_spec(tmp_path / name)
        assert spec["model"] == "clip_video" and ("tokenizer" in spec["kwargs"]) == (name == "word")
        back = load_clip_video(tmp_path / name)
        assert back.cross_frame_layers == model.cross_frame_layers
        with torch.no_grad():
            assert torch.equal(back.encode_video(video), model.encode_video(video))
            assert torch.equal(back.encode_texts(["a photo of jumping ball"]),
                               model.encode_texts(["a photo of jumping ball"]))
    rebuilt = mv.create_model(checkpoint=tmp_path / "word")  # the word tokenizer comes with create_model too
    assert rebuilt.tokenizer.tokens == tok.tokens and torch.equal(rebuilt.logit_scale, word.logit_scale)
