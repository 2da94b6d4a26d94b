"""Classic windowed sEMG features (MAV, WL, ZC, SSC, AR, MNF, TDPSD, ...), vectorised over windows.

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal((500, 8))          # (time, channels)
>>> f = features(x, ["MAV", "ZC", "AR"], window=200, step=25)
>>> f["MAV"].shape, f["AR"].shape                                    # 1 + (500 - 200) // 25 = 13 windows
((13, 8), (13, 8, 4))

Definitions: Phinyomark et al. (2012), "Feature reduction and selection for EMG signal classification",
Expert Syst. Appl. 39; thresholds, normalisations and the spectrum follow the MATLAB reference shipped
with LibEMG (Eddy et al. 2023), which ``tests/signals/test_features.py`` checks every feature against.
The formulas live in ``features_time.py``, ``features_spectral.py`` and ``features_entropy.py``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from myovision.errors import InputError
from myovision.signals import features_entropy as _entropy
from myovision.signals import features_spectral as _spectral
from myovision.signals import features_time as _time
from myovision.signals.features_windowing import WindowedSignal

_Feature = Callable[[WindowedSignal, float], np.ndarray]


def _no_fs(fn: Callable[[WindowedSignal], np.ndarray]) -> _Feature:
    return lambda s, fs: fn(s)


# name -> (function, smallest window it is defined on)
_FEATURES: dict[str, tuple[_Feature, int]] = {
    "MAV": (_no_fs(_time.mav), 1),
    "RMS": (_no_fs(_time.rms), 1),
    "WL": (_no_fs(_time.wl), 2),
    "ZC": (_no_fs(_time.zc), 2),
    "SSC": (_no_fs(_time.ssc), 3),
    "WAMP": (_no_fs(_time.wamp), 2),
    "VAR": (_no_fs(_time.var), 1),
    "IAV": (_no_fs(_time.iav), 1),
    "IEMG": (_no_fs(_time.iav), 1),
    "DASDV": (_no_fs(_time.dasdv), 2),
    "LS": (_no_fs(_time.ls), 2),
    "MFL": (_no_fs(_time.mfl), 2),
    "MSR": (_no_fs(_time.msr), 1),
    "SKEW": (_no_fs(_time.skew), 2),
    "KURT": (_no_fs(_time.kurt), 2),
    "MNF": (_spectral.mnf, 2),
    "MDF": (_spectral.mdf, 2),
    "MNP": (_spectral.mnp, 2),
    "M0": (_spectral.m0, 2),
    "M2": (_spectral.m2, 3),
    "M4": (_spectral.m4, 3),
    "AR": (_spectral.ar, _spectral.AR_ORDER + 1),
    "CC": (_spectral.cc, _spectral.AR_ORDER + 1),
    "LD": (_no_fs(_time.ld), 1),
    "MAVFD": (_no_fs(_time.mavfd), 2),
    "MAVSLP": (_no_fs(_time.mavslp), 2),
    "MPK": (_no_fs(_time.mpk), 1),
    "MZP": (_no_fs(_time.mzp), 2),
    "PAP": (_no_fs(_time.pap), 3),
    "TM": (_no_fs(_time.tm), 1),
    "SM": (_spectral.sm, 2),
    "SPARSI": (_spectral.sparsi, 3),
    "IRF": (_spectral.irf, 3),
    "WLF": (_spectral.wlf, 3),
    "RMSPHASOR": (_no_fs(_time.rmsphasor), 2),
    "WLPHASOR": (_no_fs(_time.wlphasor), 3),
    "SAMPEN": (_entropy.sampen, _entropy.DIM + 2),
    "FUZZYEN": (_entropy.fuzzyen, _entropy.DIM + 2),
}

#: Every supported feature name. Per name the output is (..., n_windows, C), except AR and CC
#: (..., n_windows, C, 4) and the channel-pair features RMSPHASOR, WLPHASOR (..., n_windows, C(C-1)/2, 2).
FEATURE_NAMES: tuple[str, ...] = tuple(_FEATURES)

_PAIR_FEATURES = ("RMSPHASOR", "WLPHASOR")


def _as_float64(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise InputError(f"signal must hold real numbers, got dtype {array.dtype}")
    if array.ndim < 2:
        raise InputError(
            f"signal must be shaped (time, channels) or (..., time, channels), got shape {array.shape}; "
            "for one channel use x[:, None]"
        )
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"signal has {int(bad.sum())} NaN/Inf samples (first at index {first}); clean or drop them first"
        )
    return array


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{what} must be a whole number of samples, got {value!r}")
    if value < 1:
        raise InputError(f"{what} must be at least 1 sample, got {value}")
    return int(value)


def _check_names(names: str | Iterable[str]) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        if name not in _FEATURES:
            hint = f" (did you mean {name.upper()!r}?)" if isinstance(name, str) and name.upper() in _FEATURES else ""
            raise InputError(f"unknown feature name {name!r}{hint}; valid names: {', '.join(FEATURE_NAMES)}")
    return names


def features(
    x: Any, names: str | Iterable[str], window: int, step: int, *, fs: float = 1000.0
) -> dict[str, np.ndarray]:
    """Compute sEMG features over sliding windows.

    Args:
        x: signal (time, channels) or batched (..., time, channels); numpy array or torch tensor.
            Computed in float64; must be finite.
        names: feature names from :data:`FEATURE_NAMES` (or one name as a string).
        window: window length in samples; windows start every ``step`` samples and the tail shorter than
            a window is dropped: ``n_windows = 1 + (T - window) // step``.
        step: hop between window starts in samples.
        fs: sampling rate in Hz, used only by the frequency features MNF, MDF and SM. The default 1000 Hz
            is the MATLAB reference's; pass the real rate (e.g. 200 for the Myo armband) for values in Hz.

    Returns:
        ``{name: float64 array}`` shaped (..., n_windows, C), or (..., n_windows, C, 4) for AR and CC,
        or (..., n_windows, C(C-1)/2, 2) for RMSPHASOR and WLPHASOR (see their docstrings). Windows where
        a feature is undefined (e.g. a log or ratio of an all-zero window) hold NaN or +-inf.

    Raises:
        InputError: unknown name, non-finite samples, bad shapes, or a window that does not fit.
    """
    names = _check_names(names)
    signal = _as_float64(x)
    window = _positive_int(window, "window")
    step = _positive_int(step, "step")
    n_time, n_channels = signal.shape[-2:]
    if window > n_time:
        raise InputError(f"window of {window} samples is longer than the signal ({n_time} samples)")
    if not (isinstance(fs, numbers.Real) and np.isfinite(fs) and fs > 0):
        raise InputError(f"fs must be a positive sampling rate in Hz, got {fs!r}")
    for name in names:
        shortest = _FEATURES[name][1]
        if window < shortest:
            raise InputError(f"feature {name} needs a window of at least {shortest} samples, got {window}")
        if name in _PAIR_FEATURES and n_channels < 2:
            raise InputError(f"feature {name} compares channel pairs and needs at least 2 channels, got {n_channels}")
    windowed = WindowedSignal(signal, window, step)
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in names:
            if name not in out:
                out[name] = np.asarray(_FEATURES[name][0](windowed, float(fs)), dtype=np.float64)
    return out
