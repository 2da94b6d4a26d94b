"""Claim: `preprocess` + `mel_spectrogram` over one hour of 16-channel 160 Hz sEMG is >= 20x faster than the
RGB+sEMG fusion authors' approach (a Python loop over samples for the RMS, per-channel scipy calls, one
mel-spectrogram per channel).

Baseline (re-created in their style, same math): per arm (8 channels) and per channel, RMS by a Python loop
over samples (``np.sqrt(np.mean(window ** 2))``, symmetric padding), per-channel min/max combined into ONE
min-max per arm, absolute value, per-channel ``scipy.signal.filtfilt`` (4th-order Butterworth 1 Hz, odd
padding, padlen 12), then a mel-spectrogram one channel at a time (numpy STFT + HTK mel filterbank with
torchaudio's MelSpectrogram conventions: centred reflect padding, periodic Hann, power 2, normalized=True).
Ours: ``preprocess(arms, 160, preset="authors-code")`` on both arms as one (2, T, 8) batch, then
``mel_spectrogram`` on all 16 channels at once. Outputs are compared (max abs difference) so the race is fair.

The mel step is also raced against a peer library: ``librosa.feature.melspectrogram`` on the same preprocessed
(16, T) signal, all channels in one call, with the same conventions (HTK mel scale without area normalisation,
periodic Hann, centred reflect padding, power 2; its power divided by the window's energy, torchaudio's
``normalized=True``). Skipped, with a message, when librosa is not installed (``bash scripts/setup.sh peers``).

    python benchmarks/bench_preprocess.py            # one hour (the claim)
    python benchmarks/bench_preprocess.py --quick    # CI: one minute of signal
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import scipy.signal as sps
from check_ratios import RATIOS_HELP, ratios_path, record

FS = 160
MEL = {"n_mels": 10, "n_fft": 32, "hop_length": 4, "f_min": 0.0, "f_max": 80.0, "power": 2.0, "normalized": True}


def synthetic_emg(minutes: float, seed: int = 0) -> np.ndarray:
    """(T, 16) raw-looking sEMG at 160 Hz: noise under slow, channel-specific activation bursts."""
    rng = np.random.default_rng(seed)
    n = int(round(minutes * 60 * FS))
    t = np.arange(n) / FS
    bursts = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5, 16) * t[:, None] + rng.uniform(0, 6.3, 16))
    return rng.normal(size=(n, 16)) * bursts * rng.uniform(5, 60, 16)


# ------------------------------------------------------------------ baseline: the authors' style


def baseline_rms(channel: np.ndarray, window: int = 32) -> np.ndarray:
    half = window // 2
    padded = np.pad(channel, (half, half), "symmetric")
    out = np.zeros(len(channel))
    for i in range(len(channel)):  # a Python loop over samples
        out[i] = np.sqrt(np.mean(padded[i : i + window] ** 2))
    return out


def baseline_preprocess_arm(arm: np.ndarray) -> np.ndarray:
    """(T, 8) -> (T, 8), one channel at a time."""
    rms = np.stack([baseline_rms(arm[:, c]) for c in range(arm.shape[1])], axis=1)
    lows = [rms[:, c].min() for c in range(rms.shape[1])]
    highs = [rms[:, c].max() for c in range(rms.shape[1])]
    lo, hi = min(lows), max(highs)  # ONE min-max per arm, from per-channel extremes
    b, a = sps.butter(4, 1.0 / (FS / 2), "low")
    out = np.empty_like(rms)
    for c in range(rms.shape[1]):
        norm = np.abs((rms[:, c] - lo) / (hi - lo))
        out[:, c] = sps.filtfilt(b, a, norm, padtype="odd", padlen=3 * (max(len(b), len(a)) - 1))
    return out


def htk_mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> np.ndarray:
    """(n_freqs, n_mels) triangular HTK mel filters, no area normalisation (torchaudio melscale_fbanks)."""
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    hz_to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    m_pts = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def baseline_mel_channel(channel: np.ndarray, n_mels, n_fft, hop_length, f_min, f_max, power, normalized) -> np.ndarray:
    """(T,) -> (n_mels, frames): centred reflect-padded STFT, periodic Hann window, |.|^power, mel filterbank."""
    padded = np.pad(channel, n_fft // 2, mode="reflect")
    n_frames = 1 + (len(padded) - n_fft) // hop_length
    starts = np.arange(n_frames) * hop_length
    frames = padded[starts[:, None] + np.arange(n_fft)]  # (frames, n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    spec = np.fft.rfft(frames * window, axis=1)
    if normalized:
        spec = spec / np.sqrt(np.sum(window**2))
    spec = np.abs(spec) ** power  # (frames, n_freqs)
    fb = htk_mel_filterbank(n_fft // 2 + 1, f_min, f_max, n_mels, FS)
    return (spec @ fb).T


def baseline(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Returns (preprocessed (T, 16), mel (16, n_mels, frames), (preprocess seconds, mel seconds))."""
    start = time.perf_counter()
    pre = np.concatenate([baseline_preprocess_arm(x[:, :8]), baseline_preprocess_arm(x[:, 8:])], axis=1)
    middle = time.perf_counter()
    mel = np.stack([baseline_mel_channel(pre[:, c], **MEL) for c in range(pre.shape[1])])  # one channel at a time
    return pre, mel, (middle - start, time.perf_counter() - middle)


def librosa_mel(pre: np.ndarray) -> np.ndarray | None:
    """librosa's mel-spectrogram of ``pre`` (T, 16) -> (16, n_mels, frames) with MEL's conventions; None if absent."""
    try:
        import librosa
    except ImportError:
        return None
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL["n_fft"]) / MEL["n_fft"])  # periodic Hann
    mel = librosa.feature.melspectrogram(y=np.ascontiguousarray(pre.T), sr=FS, n_fft=MEL["n_fft"],
                                         hop_length=MEL["hop_length"], window="hann", center=True,
                                         pad_mode="reflect", power=MEL["power"], n_mels=MEL["n_mels"],
                                         fmin=MEL["f_min"], fmax=MEL["f_max"], htk=True, norm=None)
    return mel / np.sum(window**2)  # normalized=True: the STFT over the window's L2 norm, squared


RACE_REPEATS = 5


def race_librosa(pre: np.ndarray, mel_spectrogram) -> tuple[float, float, float] | None:
    """(librosa seconds, our seconds, max |difference| / max) of the mel step on ``pre`` (T, 16), each the best
    of RACE_REPEATS interleaved runs (the least disturbed by other work on the machine); None without librosa."""
    if librosa_mel(pre[: 10 * FS]) is None:  # also the warm-up
        return None
    t_peer, t_ours = [], []
    for _ in range(RACE_REPEATS):
        start = time.perf_counter()
        peer = librosa_mel(pre)
        middle = time.perf_counter()
        mel = np.asarray(mel_spectrogram(pre, FS, **MEL))
        t_peer.append(middle - start)
        t_ours.append(time.perf_counter() - middle)
    return min(t_peer), min(t_ours), float(np.abs(mel - peer).max() / np.abs(peer).max())


# ------------------------------------------------------------------ ours


def ours(x: np.ndarray, mel_spectrogram) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Same outputs as :func:`baseline`, vectorised over samples, channels and arms."""
    from myovision.signals.preprocess import preprocess

    start = time.perf_counter()
    arms = np.stack([x[:, :8], x[:, 8:]])  # (2, T, 8): each arm is one recording, normalised on its own
    pre = preprocess(arms, FS, preset="authors-code")
    pre = np.concatenate([pre[0], pre[1]], axis=1)  # (T, 16)
    middle = time.perf_counter()
    mel = np.asarray(mel_spectrogram(pre, FS, **MEL))  # (16, n_mels, frames), all channels at once
    return pre, mel, (middle - start, time.perf_counter() - middle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of 16-channel 160 Hz signal (default 60)")
    parser.add_argument("--quick", action="store_true", help="CI mode: 1 minute of signal")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours; the median counts (default 3)")
    parser.add_argument(
        "--min-ratio", type=float, default=None,
        help="exit 2 when the speed-up is below this (default 20; with --quick, 0: CI checks the path and the agreement, not the timing)",
    )
    parser.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = parser.parse_args(argv)
    ratios_file = ratios_path(args.ratios, args.quick)  # None: a quick run without --ratios writes nothing
    minutes = 1.0 if args.quick else args.minutes
    if args.min_ratio is None:
        args.min_ratio = 0.0 if args.quick else 20.0
    try:
        from myovision.signals.spectrogram import mel_spectrogram
    except ImportError as err:
        print(f"cannot import myovision.signals.spectrogram.mel_spectrogram: {err}", file=sys.stderr)
        return 1

    x = synthetic_emg(minutes)
    print(f"signal: {x.shape[0]} samples x {x.shape[1]} channels at {FS} Hz ({minutes:g} min)")
    ours(x[: 10 * FS], mel_spectrogram)  # warm-up (imports, first-call overheads)

    ref_pre, ref_mel, base_stages = baseline(x)
    t_base = sum(base_stages)
    runs = []
    for _ in range(max(1, args.repeats)):
        pre, mel, stages = ours(x, mel_spectrogram)
        runs.append(stages)
    our_stages = sorted(runs, key=sum)[len(runs) // 2]  # the median run (the baseline runs once: a minute)
    t_ours = sum(our_stages)

    diff_pre = float(np.abs(pre - ref_pre).max())
    diff_mel = float(np.abs(mel - ref_mel).max() / np.abs(ref_mel).max()) if mel.shape == ref_mel.shape else float("inf")
    ratio = t_base / t_ours
    print(f"{'seconds':<28}{'preprocess':>12}{'mel':>10}{'total':>10}")
    print(f"{'baseline (authors style)':<28}{base_stages[0]:>12.3f}{base_stages[1]:>10.3f}{t_base:>10.3f}")
    print(f"{'ours (median of ' + str(args.repeats) + ')':<28}{our_stages[0]:>12.3f}{our_stages[1]:>10.3f}{t_ours:>10.3f}")
    print(f"{'stage ratio':<28}{base_stages[0] / our_stages[0]:>11.1f}x{base_stages[1] / our_stages[1]:>9.1f}x{ratio:>9.1f}x")
    print(f"max |diff| preprocessed: {diff_pre:.2e}; mel (relative to max): {diff_mel:.2e}; mel shape {mel.shape} vs {ref_mel.shape}")
    print(f"ratio: {ratio:.1f}x faster (claim: >= 20x over one hour)")
    if not (diff_pre < 1e-6 and diff_mel < 1e-6):
        print("FAIL: outputs disagree, the comparison is not fair", file=sys.stderr)
        return 1
    race = race_librosa(pre, mel_spectrogram)
    if race is None:
        print("mel vs librosa: librosa is not installed (bash scripts/setup.sh peers), comparison skipped")
    else:
        t_librosa, t_mel, diff_peer = race
        mel_ratio = t_librosa / t_mel
        print(f"mel (best of {RACE_REPEATS}, interleaved): librosa {t_librosa:.3f} s, ours {t_mel:.3f} s: "
              f"{mel_ratio:.1f}x; max |diff| relative to max: {diff_peer:.2e}")
        if not diff_peer < 1e-5:
            print("FAIL: ours and librosa's mel-spectrograms disagree", file=sys.stderr)
            return 1
        record(ratios_file, "mel_vs_librosa", mel_ratio, quick=args.quick, higher_is_better=True,
               command="python benchmarks/bench_preprocess.py" + (" --quick" if args.quick else ""),
               means=f"librosa.feature.melspectrogram time / ours (best of {RACE_REPEATS} each), 16-ch 160 Hz, all "
                     "channels in one call each (full: 60 min, quick: 1 min)")
    record(ratios_file, "preprocess_vs_authors", ratio, quick=args.quick, higher_is_better=True,
           command="python benchmarks/bench_preprocess.py" + (" --quick" if args.quick else ""),
           means="authors-style loops time / ours, preprocess + mel, 16-ch 160 Hz (full: 60 min, quick: 1 min)")
    if ratio < args.min_ratio:
        print(f"FAIL: speed-up {ratio:.1f}x is below {args.min_ratio:g}x", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
