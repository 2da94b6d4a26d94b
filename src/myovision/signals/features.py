"""Classic windowed sEMG features (MAV, WL, ZC, SSC, AR, MNF, TDPSD, ...), vectorised over windows.

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal((500, 8))          # (time, channels)
>>> f = features(x, ["MAV", "ZC", "AR"], window=200, step=25)
>>> f["MAV"].shape, f["AR"].shape                                    # 1 + (500 - 200) // 25 = 13 windows
((13, 8), (13, 8, 4))
>>> features(x, ["MNF", "MDF"], window=200, step=25, fs=200)["MNF"].shape   # in Hz: fs is required
(13, 8)

Definitions: Phinyomark et al. (2012), "Feature reduction and selection for EMG signal classification",
Expert Syst. Appl. 39; thresholds, normalisations and the spectrum follow the MATLAB reference shipped
with LibEMG (Eddy et al. 2023), which ``tests/signals/test_features.py`` checks every feature against.
The formulas live in ``features_time.py``, ``features_spectral.py`` and ``features_entropy.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

from myovision.errors import InputError
from myovision.signals import features_entropy as _entropy
from myovision.signals import features_spectral as _spectral
from myovision.signals import features_time as _time
from myovision.signals.features_windowing import WindowedSignal
from myovision.signals.validation import as_signal, check_fs, check_int


class _Feature(NamedTuple):
    fn: Callable[..., np.ndarray]  # fn(windowed) or, when uses_fs, fn(windowed, fs)
    min_window: int  # smallest window the feature is defined on
    uses_fs: bool = False  # its value is in Hz (or Hz^2): needs the real sample rate


_FEATURES: dict[str, _Feature] = {
    "MAV": _Feature(_time.mav, 1),
    "RMS": _Feature(_time.rms, 1),
    "WL": _Feature(_time.wl, 2),
    "ZC": _Feature(_time.zc, 2),
    "SSC": _Feature(_time.ssc, 3),
    "WAMP": _Feature(_time.wamp, 2),
    "VAR": _Feature(_time.var, 1),
    "IAV": _Feature(_time.iav, 1),
    "IEMG": _Feature(_time.iav, 1),
    "DASDV": _Feature(_time.dasdv, 2),
    "LS": _Feature(_time.ls, 2),
    "MFL": _Feature(_time.mfl, 2),
    "MSR": _Feature(_time.msr, 1),
    "SKEW": _Feature(_time.skew, 2),
    "KURT": _Feature(_time.kurt, 2),
    "MNF": _Feature(_spectral.mnf, 2, uses_fs=True),
    "MDF": _Feature(_spectral.mdf, 2, uses_fs=True),
    "MNP": _Feature(_spectral.mnp, 2),
    "M0": _Feature(_spectral.m0, 2),
    "M2": _Feature(_spectral.m2, 3),
    "M4": _Feature(_spectral.m4, 3),
    "AR": _Feature(_spectral.ar, _spectral.AR_ORDER + 1),
    "CC": _Feature(_spectral.cc, _spectral.AR_ORDER + 1),
    "LD": _Feature(_time.ld, 1),
    "MAVFD": _Feature(_time.mavfd, 2),
    "MAVSLP": _Feature(_time.mavslp, 2),
    "MPK": _Feature(_time.mpk, 1),
    "MZP": _Feature(_time.mzp, 2),
    "PAP": _Feature(_time.pap, 3),
    "TM": _Feature(_time.tm, 1),
    "SM": _Feature(_spectral.sm, 2, uses_fs=True),
    "SPARSI": _Feature(_spectral.sparsi, 3),
    "IRF": _Feature(_spectral.irf, 3),
    "WLF": _Feature(_spectral.wlf, 3),
    "RMSPHASOR": _Feature(_time.rmsphasor, 2),
    "WLPHASOR": _Feature(_time.wlphasor, 3),
    "SAMPEN": _Feature(_entropy.sampen, _entropy.DIM + 2),
    "FUZZYEN": _Feature(_entropy.fuzzyen, _entropy.DIM + 2),
}

#: Every supported feature name. Per name the output is (..., n_windows, C), except AR and CC
#: (..., n_windows, C, 4) and the channel-pair features RMSPHASOR, WLPHASOR (..., n_windows, C(C-1)/2, 2).
FEATURE_NAMES: tuple[str, ...] = tuple(_FEATURES)
#: The features whose values are in Hz (or Hz^2) and so need the sample rate ``fs``.
FS_FEATURES: tuple[str, ...] = tuple(name for name, spec in _FEATURES.items() if spec.uses_fs)

_PAIR_FEATURES = ("RMSPHASOR", "WLPHASOR")
# Features whose window values depend on the whole recording (FUZZYEN's tolerance is a per-channel std).
_WHOLE_SIGNAL = ("FUZZYEN",)
# Signal values (time x channels x batch) per time chunk: the per-sample quantities of one chunk stay in
# cache, peak memory stays bounded and the cost linear in the recording length.
CHUNK_VALUES = 1 << 18


def _check_names(names: str | Iterable[str]) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        if name not in _FEATURES:
            hint = f" (did you mean {name.upper()!r}?)" if isinstance(name, str) and name.upper() in _FEATURES else ""
            raise InputError(f"unknown feature name {name!r}{hint}; valid names: {', '.join(FEATURE_NAMES)}")
    return names


def features(
    x: Any, names: str | Iterable[str], window: int, step: int, *, fs: float | None = None
) -> dict[str, np.ndarray]:
    """Compute sEMG features over sliding windows.

    Args:
        x: signal (time, channels) or batched (..., time, channels); numpy array or torch tensor.
            Computed in float64; must be finite.
        names: feature names from :data:`FEATURE_NAMES` (or one name as a string).
        window: window length in samples; windows start every ``step`` samples and the tail shorter than
            a window is dropped: ``n_windows = 1 + (T - window) // step``.
        step: hop between window starts in samples.
        fs: sampling rate in Hz. Required by the features whose values are in Hz, :data:`FS_FEATURES`
            (MNF, MDF: Hz; SM: power times Hz^2); the others ignore it and need none. There is no default
            rate: pass the real one (200 for the Myo armband, 2000 for emg2qwerty; LibEMG's MATLAB
            reference assumes 1000).

    Returns:
        ``{name: float64 array}`` shaped (..., n_windows, C), or (..., n_windows, C, 4) for AR and CC,
        or (..., n_windows, C(C-1)/2, 2) for RMSPHASOR and WLPHASOR (see their docstrings). Windows where
        a feature is undefined (e.g. a log or ratio of an all-zero window) hold NaN or +-inf.

    Raises:
        InputError: unknown name, non-finite samples, bad shapes, a window that does not fit, a bad
            ``fs``, or a feature of :data:`FS_FEATURES` requested without ``fs``.
    """
    names = _check_names(names)
    signal, _ = as_signal(x)  # (..., T, C) float64, finite
    window = check_int(window, "window")
    step = check_int(step, "step")
    n_time, n_channels = signal.shape[-2:]
    if window > n_time:
        raise InputError(f"window of {window} samples is longer than the signal ({n_time} samples)")
    if fs is not None:
        fs = check_fs(fs)
    elif needs_fs := [name for name in dict.fromkeys(names) if _FEATURES[name].uses_fs]:
        raise InputError(
            f"feature(s) {', '.join(needs_fs)} are in Hz and need the sampling rate: pass fs=<Hz> "
            "(e.g. fs=200 for the Myo armband)"
        )
    for name in names:
        shortest = _FEATURES[name].min_window
        if window < shortest:
            raise InputError(f"feature {name} needs a window of at least {shortest} samples, got {window}")
        if name in _PAIR_FEATURES and n_channels < 2:
            raise InputError(f"feature {name} compares channel pairs and needs at least 2 channels, got {n_channels}")
    unique = list(dict.fromkeys(names))
    local = [name for name in unique if name not in _WHOLE_SIGNAL]
    n_windows = 1 + (n_time - window) // step
    per_chunk = max(1, CHUNK_VALUES // (step * signal[..., :1, :].size))  # windows per time chunk
    parts: dict[str, list[np.ndarray]] = {name: [] for name in local}
    with np.errstate(divide="ignore", invalid="ignore"):
        for begin in range(0, n_windows, per_chunk):
            end = min(begin + per_chunk, n_windows)
            piece = signal[..., begin * step : (end - 1) * step + window, :]  # the samples of windows [begin, end)
            windowed = WindowedSignal(piece, window, step, wanted=frozenset(local))
            for name in local:
                parts[name].append(_compute(name, windowed, fs))
        out = {name: np.concatenate(parts[name], axis=signal.ndim - 2) for name in local}
        for name in unique:
            if name in _WHOLE_SIGNAL:
                out[name] = _compute(name, WindowedSignal(signal, window, step), fs)
    return {name: out[name] for name in unique}


def _compute(name: str, windowed: WindowedSignal, fs: float | None) -> np.ndarray:
    spec = _FEATURES[name]
    value = spec.fn(windowed, fs) if spec.uses_fs else spec.fn(windowed)
    return np.asarray(value, dtype=np.float64)
