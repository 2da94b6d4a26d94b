"""The sEMG preprocessing pipeline of the RGB+sEMG fusion paper, as the paper states it and as its code does it.

Steps, in this order, each off unless its keyword turns it on:
notch (``notch_hz``) -> high-pass (``highpass_hz``) -> moving RMS (``rms_window``) -> min-max normalisation
(``normalise``) -> absolute value (``absolute``) -> Butterworth low-pass (``lowpass_hz``).

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(1600, 8))
>>> preprocess(x, fs=160, preset="authors-code").shape
(1600, 8)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from myovision.errors import InputError
from myovision.signals.filters import (
    _filter_in_place,
    _minmax_in_place,
    _moving_rms_into,
    butter_design,
    notch_coefficients,
)
from myovision.signals.validation import as_signal, check_fs, check_int

NORMALISE_MODES = ("per_channel", "global", None)

#: Every keyword :func:`preprocess` takes, with its value when neither a preset nor the caller sets it.
DEFAULTS: dict[str, Any] = {
    "notch_hz": None,  # mains notch frequency (Hz), e.g. 50.0
    "notch_quality": 30.0,
    "highpass_hz": None,  # Butterworth high-pass cut-off (Hz), zero-phase like the low-pass
    "highpass_order": 4,
    "rms_window": None,  # moving RMS window (samples)
    "rms_mode": "symmetric",  # numpy.pad mode at the edges (see filters.moving_rms)
    "normalise": None,  # "per_channel" | "global" (one min/max per recording) | None
    "absolute": False,  # take |x| after normalising
    "lowpass_hz": None,  # Butterworth low-pass cut-off (Hz)
    "lowpass_order": 4,
    "zero_phase": True,  # filtfilt (True) or causal lfilter (False) for high-pass and low-pass
    "padtype": "odd",  # filtfilt edge extension: "odd" | "even" | "constant" | None
    "padlen": None,  # None: scipy default 3*max(len(a), len(b)); "matlab": 3*(max(len(a), len(b)) - 1); or int
    "filter_form": "auto",  # "ba" | "sos" | "auto" (see filters.butter_filter)
}

#: Named settings. "paper": the paper's text (Sec. 3.3); "authors-code": what its released code does
#: (al3ssandrocaruso/MLDL2023, preprocessing-actionSense/preprocess_EMG.py; see papers/NOTES).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "rms_window": 32,
        "rms_mode": "symmetric",
        "normalise": "per_channel",
        "absolute": False,
        "lowpass_hz": 5.0,
        "lowpass_order": 5,
        "zero_phase": True,
        "padtype": "odd",
        "padlen": None,
        "filter_form": "auto",
    },
    "authors-code": {
        "rms_window": 32,
        "rms_mode": "symmetric",
        "normalise": "global",
        "absolute": True,
        "lowpass_hz": 1.0,
        "lowpass_order": 4,
        "zero_phase": True,
        "padtype": "odd",
        "padlen": "matlab",  # the code passes padlen=3*(max(len(b), len(a)) - 1) = 12, not scipy's default 15
        "filter_form": "ba",  # butter(..., output="ba") + filtfilt(b, a)
    },
}


def resolve_settings(preset: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The full keyword set :func:`preprocess` will use: defaults, then the preset, then ``overrides``."""
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preprocessing preset {preset!r}; valid: {', '.join(sorted(PRESETS))} (or None)")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise InputError(f"unknown preprocessing keyword(s) {', '.join(unknown)}; valid: {', '.join(DEFAULTS)}")
    settings = {**DEFAULTS, **(PRESETS[preset] if preset is not None else {}), **overrides}
    if settings["normalise"] not in NORMALISE_MODES:
        raise InputError(f"unknown normalise mode {settings['normalise']!r}; valid: 'per_channel', 'global', None")
    if not isinstance(settings["absolute"], (bool, np.bool_)):
        raise InputError(f"absolute must be True or False, got {settings['absolute']!r}")
    return settings


def preprocess(x: Any, fs: float, preset: str | None = None, **overrides: Any) -> Any:
    """Run the sEMG preprocessing steps on ``x``: (..., T, C) -> (..., T, C), same type as ``x``.

    ``preset``: "paper" (RMS over 32 samples, per-channel min-max to [0, 1], 5th-order Butterworth
    low-pass at 5 Hz, zero-phase) or "authors-code" (RMS over 32 samples with symmetric padding, ONE min-max
    over all channels of each recording, absolute value, 4th-order Butterworth low-pass at 1 Hz by
    ``filtfilt(b, a)`` with odd padding of 3*(max(len(a), len(b)) - 1) samples) or None (only the steps
    the keywords turn on). Keywords (see :data:`DEFAULTS`) override the preset. Every leading index of a
    batched input is its own recording: give two arms as (2, T, 8) to normalise each arm on its own, as the
    authors do. Raises InputError for an unknown preset or keyword, NaN/Inf samples, an RMS window longer
    than the signal, or a cut-off at or above fs/2.
    """
    settings = resolve_settings(preset, **overrides)
    arr, restore = as_signal(x, keep_float=True)  # float32 stays float32: each chunk is done in float64
    fs = check_fs(fs)
    work = None  # an array this call owns and may overwrite (arr may be the caller's memory)

    def owned() -> np.ndarray:
        nonlocal work
        if work is None:
            work = arr.copy()
        return work

    if settings["notch_hz"] is not None:
        b, a = notch_coefficients(fs, settings["notch_hz"], settings["notch_quality"])
        _filter_in_place(owned(), (b, a), "ba", settings["zero_phase"], "odd", 3 * len(a))
    if settings["highpass_hz"] is not None:
        coeffs, form, padlen = butter_design(fs, settings["highpass_hz"], "high", settings["highpass_order"],
                                             settings["filter_form"], settings["padlen"])
        _filter_in_place(owned(), coeffs, form, settings["zero_phase"], settings["padtype"], padlen)
    if settings["rms_window"] is not None:
        source = work if work is not None else arr
        work = np.empty(source.shape, dtype=source.dtype)
        _moving_rms_into(source, work, check_int(settings["rms_window"], "RMS window"), settings["rms_mode"])
        del source
    if settings["normalise"] is not None:
        _minmax_in_place(owned(), per_channel=settings["normalise"] == "per_channel")
    if settings["absolute"]:
        np.abs(owned(), out=work)
    if settings["lowpass_hz"] is not None:
        coeffs, form, padlen = butter_design(fs, settings["lowpass_hz"], "low", settings["lowpass_order"],
                                             settings["filter_form"], settings["padlen"])
        _filter_in_place(owned(), coeffs, form, settings["zero_phase"], settings["padtype"], padlen)
    return restore(work if work is not None else arr.copy())
