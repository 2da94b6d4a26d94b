"""`myovision stream`: live recognition on an sEMG stream (a replayed recording or an LSL inlet), and publishing a
recording as an LSL outlet. Records go to stdout as JSON lines; the last line is the summary (also on stderr)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from myovision.cli import command_group, example_parser
from myovision.config import option
from myovision.emg_typing.config import STREAM_BACKENDS, DecodingOptions
from myovision.stream.options import DecisionOptions, PublishOptions, SourceOptions

GESTURES_EXAMPLE = ("myovision stream gestures --model runs/myo --source lsl:myo --calibrate "
                    "data/myo/EvaluationDataset/Female0/Test0/classe_0.npy --vote 5")


@dataclass
class GestureStreamConfig:
    """`myovision stream gestures`: which gesture run, its calibration, the stream and the decision rules."""

    model: str = option("", "a `gestures train` run folder (or one of its folds/<fold> folders)", metavar="RUN")
    fold: str | None = option(None, "the fold whose model to use, when the run has several")
    calibrate: str | None = option(None, "comma-separated recordings of the wearer whose windows give the frozen "
                                   "standardisation (needed when the run standardises per subject or session)",
                                   metavar="FILES")
    stream: SourceOptions = option(factory=SourceOptions, help="source and sinks")
    decisions: DecisionOptions = option(factory=DecisionOptions, help="smoothing, vote, rejection")


@dataclass
class TypingStreamConfig:
    """`myovision stream typing`: which typing run, the stream and the beam search (with --lm: the LM)."""

    model: str = option("", "a `typing train` run folder (or a checkpoint with --model-name)", metavar="RUN")
    model_name: str | None = option(None, "registered model of a checkpoint without model.json (e.g. tds_conv_ctc)")
    backend: str = option("auto", "what runs the model once its context is full: onnxruntime (about 2x faster on "
                          "one CPU core at 50 ms chunks), torch, or auto (onnxruntime when the onnx extra is "
                          "installed and the model runs on the CPU)", choices=STREAM_BACKENDS)
    stream: SourceOptions = option(factory=SourceOptions, help="source and sinks")
    decoding: DecodingOptions = option(factory=DecodingOptions, help="beam search and LM")


def add_parser(groups) -> None:
    from myovision.config import add_config_arguments

    sub = command_group(groups, "stream", "real-time recognition on a replayed or LSL sEMG stream", GESTURES_EXAMPLE)
    gestures = example_parser(sub, "gestures", "classify a stream window by window with a `gestures train` run "
                              "(smoothing, majority vote, rejection)", GESTURES_EXAMPLE)
    add_config_arguments(gestures, GestureStreamConfig)
    gestures.set_defaults(func=_gestures)

    typing = example_parser(sub, "typing", "decode a 2 x 16-channel 2 kHz stream to text with a typing run and "
                            "the streaming CTC beam search (partial text after each chunk)",
                            "myovision stream typing --model runs/typing --lm runs/typing/lm.arpa "
                            "--source replay:data/typing/synthetic-005.hdf5")
    add_config_arguments(typing, TypingStreamConfig)
    typing.set_defaults(func=_typing)

    publish = example_parser(sub, "publish", "replay a recording as an LSL outlet (test the live path without an "
                             "armband)", "myovision stream publish data/myo/EvaluationDataset/Female0/Test0/"
                             "classe_0.npy --rate 200 --name myo")
    publish.add_argument("file", help="recording: .hdf5 emg2qwerty session, .npy .npz .csv .txt .dat")
    add_config_arguments(publish, PublishOptions)
    publish.set_defaults(func=_publish)


def _gestures(args: argparse.Namespace) -> int:
    from myovision.config import config_from_args, print_config_if_asked
    from myovision.errors import InputError
    from myovision.gestures.online import load_online_classifier
    from myovision.data.recordings import read_recording

    config = config_from_args(GestureStreamConfig, args)
    if print_config_if_asked(config, args):
        return 0
    if not config.model:
        raise InputError("--model is required (a gestures train run folder)")
    options = config.stream
    calibration = [read_recording(path, options.channels) for path in (config.calibrate or "").split(",") if path]
    return _run(load_online_classifier(config.model, fold=config.fold, default_rate=options.rate,
                                       calibration=calibration, decisions=config.decisions), options)


def _typing(args: argparse.Namespace) -> int:
    from myovision.config import config_from_args, print_config_if_asked
    from myovision.emg_typing.online import load_online_typing
    from myovision.errors import InputError

    config = config_from_args(TypingStreamConfig, args)
    if print_config_if_asked(config, args):
        return 0
    if not config.model:
        raise InputError("--model is required (a typing train run folder)")
    return _run(load_online_typing(config.model, options=config.decoding, lm=config.decoding.lm,
                                   model=config.model_name, backend=config.backend), config.stream)


def _run(recogniser, options) -> int:
    from myovision.errors import InputError
    from myovision.stream import JsonLines, LSLStringOutlet, open_source, run_stream

    if not options.source:
        raise InputError("--source is required (replay:FILE or lsl:NAME)")
    source = open_source(options.source, sample_rate=options.rate or recogniser.sample_rate, channels=options.channels,
                         chunk_ms=options.chunk_ms, paced=not options.as_fast_as_possible, timeout=options.timeout)
    sinks = [JsonLines()] + ([LSLStringOutlet(options.lsl_out)] if options.lsl_out else [])
    summary = run_stream(source, recogniser, sinks)
    print(json.dumps(summary), flush=True)
    s = summary["summary"]
    p50, p99 = s["latency_p50_ms"], s["latency_p99_ms"]
    print(f"stream {s['stopped']}: {s['samples']} samples ({s['signal_seconds']:.1f} s) in {s['chunks']} chunks, "
          f"{s['records']} records, {s['skipped_samples']} samples skipped (NaN/Inf), latency per chunk "
          + (f"p50 {p50:.2f} ms, p99 {p99:.2f} ms" if p50 is not None else "-"), file=sys.stderr)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from myovision.config import config_from_args, print_config_if_asked
    from myovision.stream.lsl import publish
    from myovision.stream.sources import read_stream_file

    options = config_from_args(PublishOptions, args)
    if print_config_if_asked(options, args):
        return 0
    data, fs = read_stream_file(args.file, sample_rate=options.rate, channels=options.channels)
    print(f"publishing {args.file} ({data.shape[1]} channels at {fs:g} Hz, {len(data) / fs:.1f} s) as LSL stream "
          f"{options.name!r}; waiting up to {options.wait:g} s for a consumer", file=sys.stderr, flush=True)
    try:
        sent = publish(data, fs, options.name, kind=options.type, chunk_ms=options.chunk_ms,
                       paced=not options.as_fast_as_possible, wait_s=options.wait, linger_s=options.linger)
    except KeyboardInterrupt:
        print("publish interrupted", file=sys.stderr)
        return 0
    print(f"published {sent} samples", file=sys.stderr)
    return 0
