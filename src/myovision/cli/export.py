"""`myovision export RUN --format {onnx,pt2} --out FILE`: a trained model as one file, front-end inside.

Run folders with model.json go through `myovision.export.recipes.run_spec`; two layouts of system rooms are
composed here, where the command line may read every room:
- a `gestures train` run (or one of its `folds/<fold>` folders): the classifier's representation (log-power
  spectrogram, Hudgins features, or feature_lda / feature_mlp's rich feature set) goes in front of the fold's
  model, per-group standardisation becomes two graph inputs when the run used it;
- the fusion system's sEMG backbone folder (`emg_backbone.json`): its mel spectrogram, log and standardisation
  go in front of its CNN.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import example_parser
from myovision.export import FORMATS

TOLERANCE = 1e-4  # max |exported - PyTorch| the check accepts


def add_parser(groups) -> None:
    parser = example_parser(groups, "export", "export a run folder's model to ONNX or torch.export (.pt2) with its "
                            "signal front-end inside the graph and dynamic batch and time axes",
                            "myovision export runs/typing --format onnx --out typing.onnx")
    parser.add_argument("run", help="a run folder (model.json + model.safetensors), a gestures run or one of its "
                        "folds/<fold> folders, or an emg_backbone folder")
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx (run with onnxruntime) or pt2 "
                        "(torch.export.save; read back with torch.export.load)")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--streaming", action="store_true", help="typing runs: export the model's steady-state "
                        "step on a live stream instead (new log-spectrogram frames and each valid convolution's "
                        "context in, log-probabilities and the next context out; what `stream typing` runs)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    parser.add_argument("--no-check", action="store_true", help="do not run the written file against PyTorch "
                        f"(the check: inputs of another batch size and length, max difference <= {TOLERANCE:g})")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from myovision.errors import InputError
    from myovision.export.writers import max_difference, write

    out = Path(args.out)
    if out.exists() and not args.overwrite:  # before loading anything
        raise InputError("already exists: give another --out, or --overwrite to replace it", out)
    spec = streaming_export_spec(args.run) if args.streaming else export_spec(args.run)
    write(spec, out, args.format, overwrite=args.overwrite)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {spec.description}")
    if not args.no_check:
        inputs = spec.check_inputs()
        diff = max_difference(out, args.format, spec, inputs)
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(spec.input_names, inputs))
        runtime = "onnxruntime" if args.format == "onnx" else "torch.export.load"
        print(f"check ({runtime} vs PyTorch on {shapes}): max difference {diff:.2e}")
        if diff > TOLERANCE:
            raise InputError(f"the exported model differs from PyTorch by {diff:.2e} > {TOLERANCE:g}", out)
    return 0


def export_spec(run: str | Path):
    """The ExportSpec of `run`: an emg backbone folder, a gestures run or fold, or any run folder with a model."""
    from myovision.errors import InputError
    from myovision.export.recipes import run_spec

    run = Path(run)
    if not run.is_dir():
        raise InputError("run folder not found", run)
    if (run / "emg_backbone.json").is_file():
        return backbone_spec(run)
    gestures = gestures_run(run)
    if gestures is not None:
        return gesture_spec(*gestures)
    return run_spec(run)


def streaming_export_spec(run: str | Path):
    """The streaming step (`myovision.emg_typing.online.StreamingStep`) of a typing run's model."""
    from myovision.emg_typing.evaluate import load_typing_model
    from myovision.emg_typing.online import streaming_spec, streaming_stages
    from myovision.errors import InputError
    from myovision.runs import read_model_spec

    if not read_model_spec(Path(run))["model"].endswith("_ctc"):
        raise InputError("--streaming exports typing runs (a *_ctc model) only", Path(run) / "model.json")
    model, _ = load_typing_model(run)
    return streaming_spec(streaming_stages(model.eval()))


def gestures_run(run: Path) -> tuple[dict, Path] | None:
    """(config, fold folder) of a `gestures train` run or fold folder; None for another layout. A run with
    several fold models is an InputError listing them (export one fold)."""
    from myovision.errors import InputError
    from myovision.gestures import CLASSIFIER_NAMES
    from myovision.runs import CONFIG, read_config

    for top, fold in ((run, None), (run.parent.parent, run)):
        config_file = top / CONFIG
        if not (config_file.is_file() and (top / "folds").is_dir() and (fold is None or run.parent.name == "folds")):
            continue
        config = read_config(config_file)
        if config.get("model") not in CLASSIFIER_NAMES or "protocol" not in config:
            continue
        if fold is None:
            folds = sorted(p.parent for p in (top / "folds").glob("*/model.json"))
            if len(folds) != 1:
                names = ", ".join(str(p) for p in folds[:4]) or "none"
                raise InputError(f"a gestures run with {len(folds)} fold models; export one of them: {names}", run)
            fold = folds[0]
        return config, fold
    return None


def gesture_spec(config: dict, fold: Path):
    """A gestures fold's model with its classifier's representation in front (see the module docstring)."""
    from myovision.errors import InputError
    from myovision.export.recipes import window_classifier_spec
    from myovision.gestures.classifiers import LOG_FEATURES, RICH_FEATURES
    from myovision.gestures.online import manifest_rate
    from myovision.models.frontends import HudginsFeatures, LogPowerSpectrogram, RichFeatures
    from myovision.registry import create_model
    from myovision.runs import CONFIG, read_model_spec
    from myovision.signals.features_spectral import AR_ORDER

    spec = read_model_spec(fold)
    model = create_model(checkpoint=fold).eval()
    classifier, kwargs = config["model"], spec["kwargs"]
    standardise = config.get("normalise", "none") != "none"
    rate = config.get("sample_rate") or manifest_rate(config.get("manifest"))  # as `gestures online` finds it
    if classifier == "spectrogram_cnn":  # log_power_windows: n_fft 16, hop 4, centred -> frames = 1 + W // 4
        freq, frames = kwargs["input_size"]
        return window_classifier_spec(model, LogPowerSpectrogram(16, 4), channels=int(kwargs["in_channels"]),
                                      window=4 * (int(frames) - 1), fixed_window=True,
                                      standardise=(int(kwargs["in_channels"]), int(freq), 1) if standardise else None,
                                      what="log-power spectrogram (n_fft 16, hop 4)")
    features = int(kwargs["num_features"])
    if classifier == "lda":
        window = round(config["window_ms"] * rate / 1000) if rate else 40
        return window_classifier_spec(model, HudginsFeatures(), channels=features // 4, window=window,
                                      fixed_window=False, standardise=(features,) if standardise else None,
                                      what="log-MAV, log-WL, ZC, SSC per channel")
    if not rate:  # feature_lda / feature_mlp: MNF and MDF are in Hz, and the window is fixed in samples
        raise InputError("the run does not say its sample rate (no sample_rate in its config, no single one in its "
                         "manifest): add sample_rate to its config", fold.parent.parent / CONFIG)
    front = RichFeatures(round(config["window_ms"] * rate / 1000), rate, RICH_FEATURES, LOG_FEATURES)
    if features % front.columns_per_channel:
        raise InputError(f"{features} model inputs are no whole number of channels of {front.columns_per_channel} "
                         "rich features", fold / "model.json")
    return window_classifier_spec(model, front, channels=features // front.columns_per_channel, window=front.window,
                                  fixed_window=True, standardise=(features,) if standardise else None,
                                  what=f"feature_matrix's {', '.join(RICH_FEATURES)} (AR order {AR_ORDER}) per "
                                  f"channel at {rate:g} Hz")


def backbone_spec(folder: Path):
    """The fusion paper's sEMG backbone folder, mel front-end inside (ActionSense: 160 Hz, MEL_CLIP settings)."""
    import inspect

    import torch

    from myovision.actions.backbone import EmgBackbone
    from myovision.data.actionsense_samples import MEL_CLIP, emg_mel_spectrograms
    from myovision.export.recipes import mel_cnn_spec

    backbone = EmgBackbone.load(folder)
    frames = backbone.input_shape[2]
    fs = float(inspect.signature(emg_mel_spectrograms).parameters["fs"].default)  # the rate the clips were made at
    return mel_cnn_spec(backbone.cnn, torch.from_numpy(backbone.mean), torch.from_numpy(backbone.std), fs=fs,
                        mel=MEL_CLIP, clip=MEL_CLIP["hop_length"] * (frames - 1),
                        log_eps=backbone.log_eps if backbone.log_power else None)
