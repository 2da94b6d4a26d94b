"""`myovision emg`: preprocess a recording, compute classic features or spectrograms, one file at a time."""

from __future__ import annotations

import argparse

import numpy as np

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "emg", "sEMG signal processing on one recording (.npy/.npz/.csv/.dat)",
                        "myovision emg preprocess rec.npy --fs 160 --preset authors-code --out rec_clean.npy")

    pre = example_parser(sub, "preprocess", "RMS, normalisation and low-pass, as a preset or explicit steps",
                         "myovision emg preprocess rec.npy --fs 160 --preset paper --out rec_clean.npy")
    _input_args(pre)
    pre.add_argument("--preset", default="paper", choices=["paper", "authors-code", "none"],
                     help="a published pipeline, or none to give every step with --set")
    pre.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                     help="override a preset step, e.g. lowpass_hz=2 rms_window=64")
    pre.set_defaults(func=_preprocess)

    feat = example_parser(sub, "features", "classic sEMG features per window, saved as .npz (one array per feature)",
                          "myovision emg features rec.npy --fs 200 --names MAV WL ZC SSC MNF --window 200 --step 25 "
                          "--out feats.npz")
    _input_args(feat)
    feat.add_argument("--names", nargs="+", default=["MAV", "WL", "ZC", "SSC"],
                      help="features to compute, LibEMG names (default: MAV WL ZC SSC)")
    feat.add_argument("--window", type=int, default=200, help="samples")
    feat.add_argument("--step", type=int, default=25, help="samples")
    feat.set_defaults(func=_features)

    spec = example_parser(sub, "spectrogram", "mel-spectrogram per channel, saved as .npy (channels, n_mels, frames)",
                          "myovision emg spectrogram rec.npy --fs 160 --n-mels 10 --n-fft 32 --hop 4 --out mel.npy")
    _input_args(spec)
    spec.add_argument("--n-mels", type=int, default=10, help="mel bands (default: 10, the fusion paper's)")
    spec.add_argument("--n-fft", type=int, default=32, help="FFT length in samples (default: 32)")
    spec.add_argument("--hop", type=int, default=4, help="hop between frames in samples (default: 4)")
    spec.add_argument("--f-max", type=float, default=None, help="highest mel frequency in Hz (default: fs / 2)")
    spec.add_argument("--normalized", action="store_true", help="divide the STFT by the window's L2 norm")
    spec.set_defaults(func=_spectrogram)


def _input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="recording (time, channels): .npy, .npz, .csv/.txt or int16 .dat")
    parser.add_argument("--fs", type=float, default=None, help="sample rate in Hz")
    parser.add_argument("--channels", type=int, default=None, help="channel count (needed for .dat)")
    parser.add_argument("--out", required=True, help="output file (never the input; an existing file only with "
                        "--overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out when it exists")


def _read(args, suffix: str):
    """The input recording, once the arguments and --out are checked (nothing is computed before)."""
    from myovision.data import read_recording
    from myovision.errors import InputError
    from myovision.fileio import check_output

    if args.fs is not None and not (args.fs > 0 and np.isfinite(args.fs)):
        raise InputError(f"--fs must be a positive sample rate in Hz, got {args.fs}")
    if args.channels is not None and args.channels < 1:
        raise InputError(f"--channels must be a positive channel count, got {args.channels}")
    check_output(args.out, inputs=[args.input], overwrite=args.overwrite, suffixes=(suffix,))
    return read_recording(args.input, channels=args.channels)


def _need_fs(args) -> float:
    from myovision.errors import InputError

    if not args.fs:
        raise InputError("--fs (sample rate in Hz) is required here", args.input)
    return args.fs


def _parse_overrides(items: list[str]) -> dict:
    import yaml

    from myovision.errors import InputError

    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out


def _preprocess(args) -> int:
    from myovision.fileio import atomic_path
    from myovision.signals import preprocess

    preset = None if args.preset == "none" else args.preset
    y = preprocess(_read(args, ".npy"), _need_fs(args), preset=preset, **_parse_overrides(args.set))
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(y, dtype=np.float32), allow_pickle=False)
    print(f"{args.out}: {y.shape[0]} samples x {y.shape[1]} channels")
    return 0


def _features(args) -> int:
    from myovision.fileio import atomic_path
    from myovision.signals import features

    from myovision.signals import FS_FEATURES

    needs_fs = sorted(set(args.names) & set(FS_FEATURES))
    fs = _need_fs(args) if needs_fs else args.fs
    values = features(_read(args, ".npz"), args.names, window=args.window, step=args.step, fs=fs)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **values)
    print(f"{args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in values.items()))
    return 0


def _spectrogram(args) -> int:
    from myovision.fileio import atomic_path
    from myovision.signals import mel_spectrogram

    s = mel_spectrogram(_read(args, ".npy"), _need_fs(args), n_mels=args.n_mels, n_fft=args.n_fft, hop_length=args.hop,
                        f_max=args.f_max, normalized=args.normalized)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(s, dtype=np.float32), allow_pickle=False)
    print(f"{args.out}: {tuple(s.shape)} (channels, n_mels, frames)")
    return 0
