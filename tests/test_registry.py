import pytest
import torch

import myovision as mv
from myovision.errors import InputError


def test_list_models_filters_with_glob():
    assert "emg_cnn" in mv.list_models()
    assert mv.list_models("feature_*") == ["feature_mlp"]
    assert mv.list_models("nothing*") == []


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="emg_cnn"):
        mv.create_model("no_such_model")


EXAMPLES = {  # every registered model: keyword arguments and an example input
    "emg_cnn": ({"in_channels": 16, "num_classes": 20, "input_size": (10, 81)}, torch.randn(3, 16, 10, 81)),
    "feature_mlp": ({"num_features": 12, "num_classes": 4}, torch.randn(5, 12)),
    "lda": ({"num_features": 12, "num_classes": 4}, torch.randn(5, 12)),
    **{h: ({"input_dim": 12, "num_classes": 4}, torch.randn(3, 5, 12))
       for h in ("clip_linear", "clip_lstm", "clip_gru", "clip_transformer")},
    **{f: ({"inputs": {"rgb": 12, "emg": 8}, "num_classes": 4},
           {"rgb": torch.randn(3, 5, 12), "emg": torch.randn(3, 5, 8)})
       for f in ("late_fusion", "mid_fusion", "attention_late_fusion")},
    **{b: ({"in_channels": 4, "out_channels": 6}, torch.randn(2, 4, 3, 5, 5))
       for b in ("conv3d_block", "p3d_block", "sti3d_block", "stires3d_block")},
    **{f: ({}, torch.randn(2, 1, 5, 16, 16)) for f in ("resnet18_3dstem", "all3d", "p3d", "sti3d", "stires3d")},
    "lip_transformer": ({"num_outputs": 4, "input_dim": 12, "d_model": 16, "num_heads": 2, "dim_feedforward": 32},
                        torch.randn(3, 5, 12)),
    "lip_gru": ({"num_outputs": 4, "input_dim": 12, "hidden": 8}, torch.randn(3, 5, 12)),
    "lipreader": ({"num_outputs": 4, "frontend": "sti3d", "d_model": 16, "num_heads": 2, "dim_feedforward": 32},
                  torch.randn(2, 1, 5, 16, 16)),
    "i3d": ({"num_classes": 4}, torch.randn(2, 3, 8, 32, 32)),
    "clip_video": ({"image_size": 16, "patch_size": 8, "width": 16, "layers": 1, "heads": 2, "projection_dim": 8,
                    "vocab_size": 20, "context_length": 6},  # id 19 (the last) ends each text
                   {"video": torch.randn(2, 3, 3, 16, 16), "input_ids": torch.cat([torch.randint(0, 19, (4, 5)),
                                                                                  torch.full((4, 1), 19)], 1)}),
    **{m: ({"num_classes": 99}, torch.randn(130, 2, 2, 16, 33)) for m in (
        "tds_conv_ctc", "tds_mlp480_ctc", "tds_mlp480_dropout_ctc", "tds_bilstm_ctc", "tds_bilstm_se_ctc",
        "cnn_gru_ctc", "cnn_transformer_ctc", "transformer_ctc", "residual_cnn_ctc")},
    "tds_reduced_ctc": ({"num_classes": 99, "kernel": 4}, torch.randn(130, 2, 2, 16, 33)),
}
CLOSED_FORM = {"lda"}  # fitted by .fit(), no gradient
OUTPUT_SHAPES = {  # models whose output is not (batch, num_classes)
    **{b: (2, 6, 3, 5, 5) for b in ("conv3d_block", "p3d_block", "sti3d_block", "stires3d_block")},
    **{f: (2, 5, 512) for f in ("resnet18_3dstem", "all3d", "p3d", "sti3d", "stires3d")},
    "lip_transformer": (3, 5, 4), "lip_gru": (3, 5, 4), "lipreader": (2, 5, 4), "clip_video": (2, 4),
}
CTC_MODELS = {"tds_conv_ctc", "tds_mlp480_ctc", "tds_mlp480_dropout_ctc", "tds_bilstm_ctc", "tds_bilstm_se_ctc",
              "cnn_gru_ctc", "cnn_transformer_ctc", "transformer_ctc", "tds_reduced_ctc",
              "residual_cnn_ctc"}  # (T, N, ...) -> (T', N, 99)


def test_every_registered_model_has_an_example():
    assert set(EXAMPLES) == set(mv.list_models())


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - CLOSED_FORM))
def test_every_trainable_model_runs_forward_and_backward(name):
    kwargs, x = EXAMPLES[name]
    model = mv.create_model(name, **kwargs)
    out = model(x)
    batch_size = next(iter(x.values())).shape[0] if isinstance(x, dict) else x.shape[0]
    if name in CTC_MODELS:  # time first; the TDS encoder shortens time by its receptive field
        assert out.shape[1:] == (x.shape[1], 99) and 0 < out.shape[0] <= x.shape[0]
    else:
        assert out.shape == OUTPUT_SHAPES.get(name, (batch_size, kwargs.get("num_classes")))
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_emg_cnn_embedding_is_the_first_fully_connected_layer():
    model = mv.create_model("emg_cnn", embed_dim=1024).eval()
    x = torch.randn(2, 16, 10, 81)
    e = model.embed(x)
    assert e.shape == (2, 1024)
    assert torch.allclose(model.fc2(e), model(x))


def test_checkpoint_round_trip_safetensors_and_torch(tmp_path):
    from safetensors.torch import save_file

    a = mv.create_model("feature_mlp", num_features=6, num_classes=3)
    b_path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in a.state_dict().items()}, str(b_path))
    b = mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=b_path)
    torch.save({"state_dict": a.state_dict()}, tmp_path / "w.ckpt")
    c = mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "w.ckpt")
    for m in (b, c):
        for k, v in a.state_dict().items():
            assert torch.equal(m.state_dict()[k], v)


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(InputError, match="evil.pt"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=path)


def test_checkpoint_that_does_not_fit_names_keys(tmp_path):
    torch.save({"weird.weight": torch.zeros(2)}, tmp_path / "w.pt")
    with pytest.raises(InputError, match="weird.weight"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "w.pt")
    torch.save(mv.create_model("feature_mlp", num_features=7, num_classes=3).state_dict(), tmp_path / "w7.pt")
    with pytest.raises(InputError, match="shapes do not fit"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "w7.pt")


def test_corrupt_safetensors_is_an_input_error(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(InputError, match="w.safetensors"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "w.safetensors")


def test_missing_and_truncated_checkpoints(tmp_path):
    with pytest.raises(InputError, match="not found"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "nope.pt")
    torch.save(mv.create_model("feature_mlp", num_features=6, num_classes=3).state_dict(), tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "w.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="w.pt"):
        mv.create_model("feature_mlp", num_features=6, num_classes=3, checkpoint=tmp_path / "w.pt")


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


def test_a_checkpoint_that_would_run_code_runs_none(tmp_path):
    from myovision.registry import read_state_dict

    target = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    for payload in ({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": _Exploit(target)},
                    {"state_dict": _Exploit(target)}):
        torch.save(payload, path)
        with pytest.raises(InputError, match="evil.ckpt.*not a loadable weights-only checkpoint"):
            read_state_dict(path)  # os.system is never resolved, not even as a stand-in
        assert not target.exists()
