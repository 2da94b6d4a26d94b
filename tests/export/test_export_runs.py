"""`myovision export`: every model family of a run folder to ONNX, run by onnxruntime on inputs of another batch
size and length than the traced ones, equal to PyTorch within 1e-4; front-ends inside the graph equal the
systems' own pipelines; bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from myovision.cli import main
from myovision.config import to_dict
from myovision.registry import create_model
from myovision.runs import CONFIG, WEIGHTS, dump_config, save_model

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'myovision[onnx]')")

from myovision.cli.export import export_spec  # noqa: E402
from myovision.export.writers import max_difference, onnx_session, write  # noqa: E402

TOLERANCE = 1e-4


def saved(tmp_path, name: str, kwargs: dict, extra: dict | None = None, seed: int = 0):
    """A run folder holding a randomly initialised `name` model (eval mode: its outputs are what export sees)."""
    torch.manual_seed(seed)
    model = create_model(name, **kwargs)
    for module in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    out = tmp_path / name
    save_model(out, model, name, kwargs, extra)
    return out


def exported_close(run, path, fmt: str = "onnx"):
    spec = export_spec(run)
    write(spec, path, fmt)
    assert max_difference(path, fmt, spec) <= TOLERANCE
    return spec


TINY_TDS = {"mlp_features": [16], "block_channels": [4], "kernel_width": 4}
FAMILIES = {
    "tds_conv_ctc": TINY_TDS,
    "tds_bilstm_se_ctc": {"mlp": 16, "block_channels": [4], "kernel_width": 4, "rnn_hidden": 8, "se_reduction": 4},
    "lipreader": {"num_outputs": 7, "frontend": "stires3d", "frontend_kwargs": {"widths": [4, 4, 8, 8]},
                  "d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32, "input_dim": 8},
    "attention_late_fusion": {"inputs": {"rgb": 12, "emg": 8}, "num_classes": 5},
    "mid_fusion": {"inputs": {"rgb": 12, "emg": 8}, "num_classes": 5},
}


@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_exports_and_onnxruntime_matches_pytorch(tmp_path, name):
    kwargs = dict(FAMILIES[name])
    if name == "lipreader":
        kwargs.pop("input_dim")  # the builder takes it from the front-end
    run = saved(tmp_path, name, kwargs, {"system": "lipread"} if name == "lipreader" else None)
    if name == "lipreader":
        (run / "lipread.json").write_text('{"config": {"crop_size": [16, 24]}}')
    spec = exported_close(run, tmp_path / "m.onnx")
    assert spec.check_inputs()[0].shape != spec.example()[0].shape  # the check ran on other axes than traced
    assert spec.check_inputs()[0].shape[1:] != spec.example()[0].shape[1:]  # the time (frames, clips) axis too


def test_typing_graph_takes_raw_emg_as_the_system_feeds_its_model(tmp_path):
    from myovision.signals.spectrogram import log_spectrogram

    run = saved(tmp_path, "tds_conv_ctc", TINY_TDS)
    exported_close(run, tmp_path / "t.onnx")
    emg = 100.0 * np.random.default_rng(1).standard_normal((3000, 2, 16)).astype(np.float32)  # (T, bands, C)
    got = onnx_session(tmp_path / "t.onnx").run(None, {"emg": emg[:, None]})[0]  # (T', 1, 99)
    with torch.no_grad():  # as myovision.emg_typing.evaluate: log spectrogram (numpy), then the model
        expected = create_model(checkpoint=run).eval()(torch.from_numpy(log_spectrogram(emg))[:, None]).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_clip_video_image_tower(tmp_path):
    pytest.importorskip("transformers", reason="transformers is not installed (the zeroshot extra)")
    run = saved(tmp_path, "clip_video", {"image_size": 16, "patch_size": 8, "width": 16, "layers": 1, "heads": 2,
                                         "projection_dim": 8, "vocab_size": 40, "context_length": 8})
    spec = exported_close(run, tmp_path / "c.onnx")
    assert spec.output_names == ("video_embedding",)


def gestures_run(tmp_path, classifier: str, normalise: str, fold_model: str, kwargs: dict):
    """A `gestures train` run folder's layout: config.yaml (GesturesConfig) and one fold's model."""
    from myovision.gestures.config import GesturesConfig

    run = tmp_path / f"g-{classifier}-{normalise}"
    config = GesturesConfig(manifest="m.csv", model=classifier, normalise=normalise, sample_rate=200.0, window_ms=200)
    run.mkdir()
    (run / CONFIG).write_text(dump_config(to_dict(config)))
    saved(run / "folds", fold_model, kwargs).rename(run / "folds" / "subject-1")
    return run


@pytest.mark.parametrize("classifier, normalise", [("lda", "none"), ("spectrogram_cnn", "session")])
def test_gesture_runs_export_with_their_representation_inside(tmp_path, classifier, normalise):
    from myovision.gestures.classifiers import CLASSIFIERS

    channels = 8
    if classifier == "lda":
        fold_model, kwargs = "lda", {"num_features": 4 * channels, "num_classes": 3}
    else:
        fold_model, kwargs = "emg_cnn", {"in_channels": channels, "num_classes": 3, "input_size": [9, 11],
                                         "widths": [4, 8], "embed_dim": 16}
    run = gestures_run(tmp_path, classifier, normalise, fold_model, kwargs)
    if classifier == "lda":  # a fitted LDA, so scores are not all equal
        x = torch.randn(60, 4 * channels)
        model = create_model("lda", **kwargs).fit(x, torch.arange(60) % 3)
        save_model(run / "folds" / "subject-1", model, "lda", kwargs)
    spec = exported_close(run, tmp_path / "g.onnx")
    windows = np.random.default_rng(2).standard_normal((4, channels, spec.lengths[0])).astype(np.float32)
    feeds = {"windows": windows}
    clf = CLASSIFIERS[classifier]().load(run / "folds" / "subject-1")
    inputs = clf.transform(np.swapaxes(windows, 1, 2), 200.0)  # as gestures.evaluate: (N, W, C) windows
    if normalise != "none":
        axes = (0, inputs.ndim - 1)
        feeds["mean"] = inputs.mean(axis=axes)[..., None]  # (C, freq, 1): the session's statistics
        feeds["std"] = inputs.std(axis=axes)[..., None] + 1e-6
        inputs = (inputs - feeds["mean"]) / feeds["std"]
    got = onnx_session(tmp_path / "g.onnx").run(None, feeds)[0]
    np.testing.assert_allclose(got, clf.scores(inputs.astype(np.float32)), atol=1e-3)


def test_emg_backbone_folder_exports_with_its_mel_front_end(tmp_path):
    from myovision.actions.backbone import EmgBackbone
    from myovision.data.actionsense_samples import emg_mel_spectrograms

    torch.manual_seed(0)
    cnn = create_model("emg_cnn", in_channels=4, num_classes=3, input_size=(10, 81), widths=(4, 8), embed_dim=16)
    rng = np.random.default_rng(3)
    mean, std = rng.normal(-3, 1, (4, 10)), rng.uniform(0.5, 2, (4, 10))
    EmgBackbone(cnn.eval(), mean, std).save(tmp_path / "emg_backbone")
    exported_close(tmp_path / "emg_backbone", tmp_path / "b.onnx")
    emg = rng.standard_normal((2, 800, 4)).astype(np.float32)  # 2 actions of 5 clips of 160 samples
    mel_clips, _ = emg_mel_spectrograms(emg)  # (2, 5, 4, 10, 81): the fusion system's front-end
    expected = EmgBackbone.load(tmp_path / "emg_backbone").embed(mel_clips).reshape(10, 16)
    clips = emg.reshape(2, 5, 160, 4).reshape(10, 160, 4)
    got = onnx_session(tmp_path / "b.onnx").run(None, {"emg": clips})[0]
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_pt2_round_trip(tmp_path):
    run = saved(tmp_path, "late_fusion", {"inputs": {"rgb": 6, "emg": 4}, "num_classes": 3})
    exported_close(run, tmp_path / "m.pt2", "pt2")


def test_command_line_and_its_one_line_errors(tmp_path, capsys):
    run = saved(tmp_path, "mid_fusion", {"inputs": {"rgb": 6}, "num_classes": 3})
    out = tmp_path / "m.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert "max difference" in capsys.readouterr().out
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 2  # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", str(run), "--format", "onnx", "--out", str(out), "--overwrite"]) == 0
    (run / WEIGHTS).unlink()
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.safetensors missing" in err


def test_an_unsupported_operator_is_named_in_one_line(tmp_path):
    from myovision.errors import InputError
    from myovision.export.spec import ExportSpec

    class RunningMax(torch.nn.Module):
        def forward(self, x):
            return torch.cummax(x, dim=-1).values

    spec = ExportSpec(RunningMax(), lambda n, t: (torch.randn(n, t),), ("x",), ("y",), {"x": {0: "batch"}}, (5, 5),
                      "running maximum")
    with pytest.raises(InputError) as error:
        write(spec, tmp_path / "r.onnx", "onnx")
    assert str(error.value) == "cannot export to ONNX (opset 17): aten::cummax is not supported"
    assert not (tmp_path / "r.onnx").exists()



def test_streaming_export_of_a_typing_run_continues_the_whole_spectrograms_emissions(tmp_path, capsys):
    """Two steps of the exported graph (5 then 7 new frames), the second fed the first's context outputs, give
    the last 12 frames of the model run on the whole spectrogram at once; contexts are cut from each stage's
    input over the whole spectrogram."""
    import onnx

    from myovision.emg_typing.online import streaming_stages

    run = saved(tmp_path, "tds_conv_ctc", TINY_TDS)
    out = tmp_path / "step.onnx"
    assert main(["export", str(run), "--format", "onnx", "--streaming", "--out", str(out)]) == 0
    assert "max difference" in capsys.readouterr().out
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    model = create_model(checkpoint=run).eval()
    frames = torch.randn(60, 1, 2, 16, 33, generator=torch.Generator().manual_seed(3))  # (F, 1, bands, C, freq)
    contexts, y = [], frames
    with torch.no_grad():
        for stage, k in streaming_stages(model):
            if k:  # this stage's input just before the last 12 frames
                contexts.append(y[len(y) - 12 - k:len(y) - 12].numpy())
            y = stage(y)
        expected = model(frames).numpy()[-12:]  # (12, 1, classes)
    assert int(meta["myovision.stream_context_frames"]) == 60 - len(model(frames))
    session = onnx_session(out)
    names = [i.name for i in session.get_inputs()]
    first = session.run(None, dict(zip(names, [frames[-12:-7].numpy(), *contexts])))
    second = session.run(None, dict(zip(names, [frames[-7:].numpy(), *first[1:]])))
    np.testing.assert_allclose(np.concatenate([first[0], second[0]]), expected, atol=TOLERANCE)
    assert main(["export", str(saved(tmp_path, "late_fusion", {"inputs": {"rgb": 6}, "num_classes": 3})),
                 "--format", "onnx", "--streaming", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "typing runs" in capsys.readouterr().err
