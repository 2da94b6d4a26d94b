"""Claim: ``signals.features`` computes the 34 classic features it shares with LibEMG >= 10x faster than LibEMG's
Python ``FeatureExtractor`` on the same windows (one hour of 8-channel 200 Hz sEMG, window 200, step 25), and
its cost grows linearly with the recording length.

Shared features: every name of ``FEATURE_NAMES`` that LibEMG (Eddy et al. 2023, ``libemg`` 2.x) also has, less
SAMPEN and FUZZYEN (O(N^2) per window on both sides) and MDF (LibEMG's ``getMDFfeat`` raises on numpy 2).
Ours: one ``features(x, names, 200, 25, fs=200)`` call on the raw (T, 8) signal. LibEMG: ``extract_features``
one feature at a time on the (n_windows, 8, 200) window array its ``get_windows`` would build, after a
warm-up call (its AR uses librosa's numba ``lpc``). LibEMG's LS, AR and CC loop over windows in Python
(minutes per hour of signal): they are timed on the first ``--sample-minutes`` of the same windows and scaled
by the window count; the json and the printout say so, and the ratio over the other 31 features alone, each
side measured on the whole signal, is reported beside the total.

LibEMG is loaded from its installed package (``pip install --no-deps libemg`` plus ``librosa PyWavelets``);
only its ``feature_extractor.py`` is imported (its package ``__init__`` pulls GUI and hardware packages).

    python benchmarks/bench_features.py            # one hour, plus 1/10/100 minutes of ours for linearity
    python benchmarks/bench_features.py --quick    # CI: one minute
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from check_ratios import RATIOS_HELP, ratios_path, record
from myovision.signals.features import FEATURE_NAMES, features

FS, WINDOW, STEP, CHANNELS = 200.0, 200, 25, 8
EXCLUDED = ("SAMPEN", "FUZZYEN", "MDF")
SAMPLED = ("LS", "AR", "CC")  # LibEMG loops over windows in Python for these
LIBEMG_ARGS = {"MNF_fs": FS, "SM_fs": FS}


def load_libemg_extractor():
    """LibEMG's FeatureExtractor from its installed ``feature_extractor.py`` alone, or None when absent."""
    spec = importlib.util.find_spec("libemg")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "feature_extractor.py"
    module_spec = importlib.util.spec_from_file_location("libemg_feature_extractor", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except ImportError as err:  # librosa or PyWavelets missing
        print(f"LibEMG's feature_extractor.py does not import ({err}): pip install librosa PyWavelets")
        return None
    return module.FeatureExtractor()


def myo_like(minutes: float, seed: int = 0) -> np.ndarray:
    """(T, 8) integer-valued sEMG like the Myo armband's int8 samples, with activation bursts."""
    rng = np.random.default_rng(seed)
    n = int(round(minutes * 60 * FS))
    t = np.arange(n) / FS
    gain = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5, CHANNELS) * t[:, None])
    return np.clip(np.round(rng.normal(size=(n, CHANNELS)) * 20 * gain), -128, 127)


def windows_of(x: np.ndarray) -> np.ndarray:
    """LibEMG's layout: (n_windows, C, window), materialised as its get_windows does."""
    view = np.lib.stride_tricks.sliding_window_view(x, WINDOW, axis=0)[::STEP]  # (n_windows, C, window)
    return np.ascontiguousarray(view)


def timed(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="signal length in minutes (default 60)")
    parser.add_argument("--quick", action="store_true", help="CI mode: 1 minute, LS/AR/CC of LibEMG on 0.2 minutes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours; the median counts (default 3)")
    parser.add_argument("--sample-minutes", type=float, default=5.0,
                        help="minutes of windows on which LibEMG's per-window loops (LS, AR, CC) are timed (default 5)")
    parser.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = parser.parse_args(argv)
    ratios_file = ratios_path(args.ratios, args.quick)  # None: a quick run without --ratios writes nothing
    minutes = 1.0 if args.quick else args.minutes
    sample_minutes = min(0.2 if args.quick else args.sample_minutes, minutes)
    extractor = load_libemg_extractor()
    if extractor is None:
        print("LibEMG is not installed (pip install --no-deps libemg; pip install librosa PyWavelets): nothing to compare")
        return 0
    names = [n for n in FEATURE_NAMES if n in extractor.get_feature_list() and n not in EXCLUDED]
    x = myo_like(minutes)
    win = windows_of(x)
    features(x[: 2 * WINDOW], names, WINDOW, STEP, fs=FS)  # warm-up (imports, caches)
    extractor.extract_features(names, win[:4], feature_dic=LIBEMG_ARGS)  # warm-up: numba compiles librosa's lpc
    t_ours = timed(lambda: features(x, names, WINDOW, STEP, fs=FS), args.repeats)

    n_sample = min(len(win), int(round(sample_minutes * 60 * FS - WINDOW)) // STEP + 1)
    per_feature = {}
    for name in names:
        sampled = name in SAMPLED and n_sample < len(win)
        rows = win[:n_sample] if sampled else win
        start = time.perf_counter()
        extractor.extract_features([name], rows, feature_dic=LIBEMG_ARGS)
        per_feature[name] = (time.perf_counter() - start) * (len(win) / len(rows)), sampled
    t_libemg = sum(t for t, _ in per_feature.values())
    direct = [n for n in names if n not in SAMPLED]
    t_ours_direct = timed(lambda: features(x, direct, WINDOW, STEP, fs=FS), args.repeats)
    t_libemg_direct = sum(per_feature[n][0] for n in direct)

    print(f"input: {minutes:g} min of {CHANNELS}-ch {FS:g} Hz ({x.shape[0]} samples), {len(win)} windows of "
          f"{WINDOW}, step {STEP}; {len(names)} shared features; ours median of {args.repeats}")
    for name, (t, sampled) in per_feature.items():
        note = f"  (timed on {n_sample} windows, scaled)" if sampled else ""
        print(f"  LibEMG {name:10s} {t:9.3f} s{note}")
    ratio = t_libemg / t_ours
    ratio_direct = t_libemg_direct / t_ours_direct
    print(f"ours, all {len(names)} in one call: {t_ours:.3f} s; LibEMG: {t_libemg:.2f} s -> {ratio:.1f}x (goal >= 10x)")
    print(f"without LS, AR, CC (both sides on every window): ours {t_ours_direct:.3f} s, LibEMG "
          f"{t_libemg_direct:.2f} s -> {ratio_direct:.1f}x")
    cmd = "python benchmarks/bench_features.py" + (" --quick" if args.quick else "")
    record(ratios_file, "features_vs_libemg", ratio, quick=args.quick, higher_is_better=True, command=cmd,
           means=f"LibEMG time / ours, {len(names)} shared features, 8-ch 200 Hz (full: 60 min, quick: 1 min; "
                 "LS, AR, CC of LibEMG timed on a prefix and scaled)")
    record(ratios_file, "features_vs_libemg_vectorised", ratio_direct, quick=args.quick, higher_is_better=True,
           command=cmd, means=f"LibEMG time / ours, the {len(direct)} shared features LibEMG vectorises, every window")
    if not args.quick:
        print("linearity (ours, one call, all shared features):")
        for length in (1.0, 10.0, 100.0):
            y = myo_like(length, seed=1)
            t = timed(lambda: features(y, names, WINDOW, STEP, fs=FS), args.repeats)
            print(f"  {length:5g} min: {t:8.3f} s = {t / length * 1000:7.1f} ms per minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
