"""Tests for myovision.signals.preprocess against straight-line reference compositions (numpy + scipy)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as sps
import torch

from myovision.errors import InputError
from myovision.signals.preprocess import DEFAULTS, PRESETS, preprocess, resolve_settings

FS = 160


def emg(n_time=1600, n_channels=8, seed=0):
    """Raw-looking sEMG: noise whose amplitude follows slow bursts, different per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time) / FS
    envelope = 1.0 + np.sin(2 * np.pi * 0.4 * t)[:, None] * rng.uniform(0.2, 0.9, n_channels)
    return rng.normal(size=(n_time, n_channels)) * envelope * rng.uniform(10, 60, n_channels)


def rms_reference(x, window=32):
    """Per-sample RMS: pad floor(w/2) at both ends with numpy 'symmetric', window starting at each of the T positions."""
    half = window // 2
    padded = np.pad(x, ((half, half), (0, 0)), "symmetric")
    return np.sqrt(np.stack([np.mean(padded[i : i + window] ** 2, axis=0) for i in range(len(x))]))


def authors_code_reference(x, cutoff=1.0):
    """What the fusion authors' released code does per arm (see papers/NOTES), written out step by step."""
    y = rms_reference(x)
    y = (y - y.min()) / (y.max() - y.min())  # ONE min-max over all channels
    y = np.abs(y)
    b, a = sps.butter(4, cutoff, fs=FS)
    return sps.filtfilt(b, a, y, axis=0, padtype="odd", padlen=3 * (max(len(a), len(b)) - 1))


def paper_reference(x):
    """The paper's text: RMS 32, per-channel min-max to [0, 1], 5th-order Butterworth low-pass 5 Hz, zero-phase."""
    y = rms_reference(x)
    y = (y - y.min(axis=0)) / (y.max(axis=0) - y.min(axis=0))
    b, a = sps.butter(5, 5.0, fs=FS)
    return sps.filtfilt(b, a, y, axis=0)


# A 4th-order (b, a) recursion at 1 Hz / 160 Hz amplifies last-bit differences in its input (our vectorised
# RMS vs the reference's per-sample loop) to ~1e-10: that is the tolerance's noise floor, far below any real
# difference (padlen 12 vs 15 changes the output by > 1e-4).
TOL = {"rtol": 1e-8, "atol": 1e-9}


def test_authors_code_preset_matches_reference():
    x = emg()
    np.testing.assert_allclose(preprocess(x, FS, preset="authors-code"), authors_code_reference(x), **TOL)


def test_authors_code_padlen_is_not_scipy_default():
    # scipy's filtfilt default padlen is 3*max(len(a), len(b)) = 15, the authors pass 12: the edges differ
    x = emg(seed=1)
    ours = preprocess(x, FS, preset="authors-code")
    y = np.abs(rms_reference(x))
    y = (y - y.min()) / (y.max() - y.min())
    b, a = sps.butter(4, 1.0, fs=FS)
    default = sps.filtfilt(b, a, y, axis=0)
    assert np.abs(ours - default).max() > 1e-4
    np.testing.assert_allclose(ours[400:-400], default[400:-400], atol=1e-2)  # same filter away from the edges


def test_paper_preset_matches_reference():
    x = emg(seed=2)
    np.testing.assert_allclose(preprocess(x, FS, preset="paper"), paper_reference(x), **TOL)


def test_paper_and_authors_code_differ():
    x = emg(seed=3)
    assert np.abs(preprocess(x, FS, preset="paper") - preprocess(x, FS, preset="authors-code")).max() > 0.05


def test_keyword_overrides_preset():
    x = emg(seed=4)
    np.testing.assert_allclose(
        preprocess(x, FS, preset="authors-code", lowpass_hz=2.0), authors_code_reference(x, cutoff=2.0), **TOL
    )
    no_lpf = preprocess(x, FS, preset="authors-code", lowpass_hz=None)
    ref = rms_reference(x)
    np.testing.assert_allclose(no_lpf, (ref - ref.min()) / (ref.max() - ref.min()), rtol=1e-10, atol=1e-12)


def test_explicit_keywords_without_preset():
    x = emg(seed=5)
    np.testing.assert_allclose(preprocess(x, FS, rms_window=32), rms_reference(x), rtol=1e-10)
    np.testing.assert_array_equal(preprocess(x, FS), x)  # no step turned on
    hp = preprocess(x, FS, highpass_hz=20.0, notch_hz=50.0)
    b, a = sps.iirnotch(50.0, 30.0, fs=FS)
    ref = sps.filtfilt(b, a, x, axis=0)
    b, a = sps.butter(4, 20.0, "highpass", fs=FS)
    np.testing.assert_allclose(hp, sps.filtfilt(b, a, ref, axis=0), rtol=1e-10, atol=1e-10)


def test_two_arms_batched_torch_equals_per_arm_numpy():
    left, right = emg(seed=6), 3 * emg(seed=7)
    arms = torch.from_numpy(np.stack([left, right]).astype(np.float32))  # (2, T, 8)
    out = preprocess(arms, FS, preset="authors-code")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 1600, 8)
    for i, arm in enumerate((left, right)):
        np.testing.assert_allclose(out[i].numpy(), preprocess(arm.astype(np.float32), FS, preset="authors-code"), atol=1e-5)
        np.testing.assert_allclose(out[i].numpy(), authors_code_reference(arm.astype(np.float32).astype(np.float64)), atol=1e-5)


def test_presets_contents():
    assert set(PRESETS) == {"paper", "authors-code"}
    for preset in PRESETS.values():
        assert set(preset) <= set(DEFAULTS)
    s = resolve_settings("authors-code", lowpass_order=2)
    assert s["lowpass_order"] == 2 and s["normalise"] == "global" and s["padlen"] == "matlab"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"preset": "papr"}, "valid: authors-code, paper"),
        ({"preset": "paper", "rms_windw": 32}, "unknown preprocessing keyword.*rms_windw.*valid: .*rms_window"),
        ({"preset": "paper", "lowpass_hz": 80.0}, "Nyquist"),
        ({"preset": "paper", "normalise": "per-channel"}, "valid: 'per_channel', 'global', None"),
        ({"rms_window": 5000}, "longer than the signal"),
        ({"preset": "paper", "absolute": "yes"}, "True or False"),
    ],
)
def test_preprocess_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        preprocess(emg(), FS, **kwargs)


def test_preprocess_rejects_nan_and_bad_rate():
    x = emg()
    x[100, 3] = np.nan
    with pytest.raises(InputError, match="non-finite.*time 100, channel 3"):
        preprocess(x, FS, preset="paper")
    with pytest.raises(InputError, match="positive"):
        preprocess(emg(), 0, rms_window=3)
