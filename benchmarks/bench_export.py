"""ONNX Runtime against PyTorch: inference time of every exported model family, front-ends inside, one thread each.

Each model is saved as a run folder (random weights: time does not depend on them), exported with
`myovision export`'s path (`myovision.cli.export.export_spec` + `writers.write`), checked (max |ONNX - PyTorch|
on the timed input), then timed: the median of `repeats` calls after one warm-up, PyTorch under `no_grad` with
`torch.set_num_threads(1)`, onnxruntime with one intra-op thread. Ratio = onnxruntime / PyTorch (< 1: ONNX
Runtime faster). Sizes are the systems' own (full) or tiny (--quick, for CI).

    python benchmarks/bench_export.py            # paper-sized models, 5 repeats
    python benchmarks/bench_export.py --quick    # CI: tiny models, 3 repeats
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from myovision.cli.export import export_spec
from myovision.config import to_dict
from myovision.export.writers import max_difference, onnx_session, write
from myovision.registry import create_model
from myovision.runs import CONFIG, dump_config, save_model

#: name -> (registered model, builder keywords full, keywords --quick, (batch, length) timed full, quick)
FAMILIES = {
    "typing tds_conv_ctc": ("tds_conv_ctc", {}, {"mlp_features": [16], "block_channels": [4], "kernel_width": 4},
                            (1, 8000), (1, 4000)),
    "typing tds_bilstm_ctc": ("tds_bilstm_ctc", {}, {"mlp": 16, "block_channels": [4], "kernel_width": 4,
                                                     "rnn_hidden": 8}, (1, 8000), (1, 4000)),
    "lip reader stires3d+transformer": ("lipreader", {"num_outputs": 200},
                                        {"num_outputs": 20, "frontend_kwargs": {"widths": [4, 4, 8, 8]},
                                         "d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32},
                                        (1, 25), (1, 8)),
    "fusion attention_late_fusion": ("attention_late_fusion", {"inputs": {"rgb": 1024, "emg": 1024},
                                                               "num_classes": 20},
                                     {"inputs": {"rgb": 16, "emg": 8}, "num_classes": 5}, (64, 5), (8, 5)),
    "fusion mid_fusion": ("mid_fusion", {"inputs": {"rgb": 1024, "emg": 1024}, "num_classes": 20},
                          {"inputs": {"rgb": 16, "emg": 8}, "num_classes": 5}, (64, 5), (8, 5)),
    "CLIP video image tower": ("clip_video", {"image_size": 224, "patch_size": 16, "width": 768, "layers": 12,
                                              "heads": 12, "projection_dim": 512},
                               {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "heads": 2,
                                "projection_dim": 16}, (1, 8), (1, 4)),
}


def make_runs(root: Path, quick: bool) -> dict[str, Path]:
    """A run folder per family, plus a gestures LDA and CNN run and an sEMG backbone folder."""
    from myovision.actions.backbone import EmgBackbone
    from myovision.gestures.config import GesturesConfig

    runs = {}
    torch.manual_seed(0)
    for label, (name, full, tiny, _, _) in FAMILIES.items():
        runs[label] = save_model(root / name, create_model(name, **(tiny if quick else full)), name,
                                 tiny if quick else full)
    channels = 8
    for classifier, fold_model, kwargs in (
            ("lda", "lda", {"num_features": 4 * channels, "num_classes": 7}),
            ("spectrogram_cnn", "emg_cnn", {"in_channels": channels, "num_classes": 7, "input_size": [9, 11],
                                            "widths": [32, 64], "embed_dim": 256})):
        run = root / f"gestures-{classifier}"
        (run / "folds").mkdir(parents=True)
        config = GesturesConfig(manifest="m.csv", model=classifier, normalise="none", sample_rate=200.0)
        (run / CONFIG).write_text(dump_config(to_dict(config)))
        model = create_model(fold_model, **kwargs)
        if fold_model == "lda":
            model.fit(torch.randn(200, kwargs["num_features"]), torch.arange(200) % 7)
        save_model(run / "folds" / "f", model, fold_model, kwargs)
        runs[f"gestures {classifier} (8 ch, 200 ms)"] = run
    cnn = create_model("emg_cnn", in_channels=16, num_classes=20, input_size=(10, 81),
                       embed_dim=64 if quick else 1024).eval()
    EmgBackbone(cnn, np.zeros((16, 10)), np.ones((16, 10))).save(root / "emg_backbone")
    runs["fusion sEMG backbone (mel + CNN)"] = root / "emg_backbone"
    return runs


def batch_and_length(label: str, spec, quick: bool) -> tuple[int, int]:
    for name, (_, _, _, full, tiny) in FAMILIES.items():
        if name == label:
            return tiny if quick else full
    return (64 if not quick else 8), spec.lengths[0]


def median_seconds(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny models, 3 repeats (CI)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per model (default 5, quick 3)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    torch.set_num_threads(1)
    print(f"{'model':40s} {'input':28s} {'torch ms':>9s} {'onnx ms':>9s} {'ratio':>6s} {'max diff':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in make_runs(Path(tmp), args.quick).items():
            spec = export_spec(run)
            path = write(spec, Path(tmp) / f"{run.name}.onnx", "onnx")
            batch, length = batch_and_length(label, spec, args.quick)
            inputs = spec.sample(batch, length)
            diff = max_difference(path, "onnx", spec, inputs)
            session = onnx_session(path, threads=1)
            feeds = {n: t.numpy() for n, t in zip(spec.input_names, inputs)}
            with torch.no_grad():
                torch_s = median_seconds(lambda: spec.module(*inputs), repeats)
            onnx_s = median_seconds(lambda: session.run(None, feeds), repeats)
            shape = "x".join(str(d) for d in inputs[0].shape)
            print(f"{label:40s} {shape:28s} {1e3 * torch_s:9.2f} {1e3 * onnx_s:9.2f} {onnx_s / torch_s:6.2f} "
                  f"{diff:9.1e}", flush=True)


if __name__ == "__main__":
    main()
