"""Tests for myovision.signals.features.

1. Every supported feature against the MATLAB values LibEMG ships (real Myo sEMG, windows of 200, step 25).
2. Hypothesis properties of the definitions (scaling, invariances, identities, batching, window layout).
3. Known answers (an AR process, a sinusoid) and the errors users see.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from myovision.errors import InputError
from myovision.signals.features import FEATURE_NAMES, FS_FEATURES, features

REFERENCE = "libemg-feature-reference"
WINDOW, STEP = 200, 25  # as in the reference's get_feature_values.m
MANDATORY = (
    "MAV RMS WL ZC SSC WAMP VAR IAV DASDV LS MFL MSR SKEW KURT MNF MDF MNP M0 M2 M4 AR CC".split()
)
# IEMG is the field's other name for IAV; the reference ships its values as matlab_IAV.csv.
REFERENCE_FILE = {"IEMG": "IAV"}
# Floor of the denominator of the relative difference. No reference value is 0 (the smallest magnitude,
# an AR coefficient, is 3.4e-5), so it never rescales a real value; it only keeps the ratio finite if a
# future reference held an exact 0, where any ours below 1e-11 still counts as a match.
EPS = 1e-9
FS = 1000.0  # the MATLAB reference's sample rate; any rate serves the property tests

PROPERTY = settings(max_examples=30, deadline=None)


# --- 1. the MATLAB reference ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ours(folder: str) -> dict[str, np.ndarray]:
    emg = np.loadtxt(Path(folder) / "emg_data_myo.csv", delimiter=",")  # (500, 8)
    return features(emg, FEATURE_NAMES, window=WINDOW, step=STEP, fs=1000.0)  # as get_feature_values.m assumes


def _reference_as_ours(name: str, ref: np.ndarray, n_channels: int = 8) -> np.ndarray:
    """MATLAB's (n_windows, columns) table in our layout."""
    n_windows = ref.shape[0]
    if name in ("AR", "CC"):  # columns are channel-major: ch1 a1..a4, ch2 a1..a4, ...
        return ref.reshape(n_windows, n_channels, -1)
    if name in ("RMSPHASOR", "WLPHASOR"):  # 28 pair log-distances, then 28 pair log-ratios
        return ref.reshape(n_windows, 2, -1).transpose(0, 2, 1)
    return ref


@pytest.mark.real
@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_matches_matlab_reference(shared_data: Path, name: str):
    folder = shared_data / REFERENCE
    if not folder.exists():
        pytest.skip(f"real data not available: {folder} is absent")
    ours = _ours(str(folder))[name]
    ref = np.loadtxt(folder / f"matlab_{REFERENCE_FILE.get(name, name)}.csv", delimiter=",")
    ref = _reference_as_ours(name, ref)
    assert ours.shape == ref.shape
    relative = np.abs(ours - ref) / np.maximum(np.abs(ref), EPS)
    assert np.median(relative) < 0.01, f"{name}: median relative difference {np.median(relative):.2e}"
    # The csv keeps 5 significant digits (up to 5e-5 relative rounding), so a correct definition stays far
    # below 1e-3 in every cell; a wrong threshold or off-by-one moves a few cells well past it.
    assert relative.max() < 1e-3, f"{name}: worst relative difference {relative.max():.2e}"


def test_supports_the_mandatory_features():
    assert set(MANDATORY) <= set(FEATURE_NAMES)


# --- 2. properties ----------------------------------------------------------------------------------


@st.composite
def layouts(draw, min_channels: int = 1, batch: tuple[int, ...] = ()):
    """(x, window, step): integer-valued (like Myo int8 samples) float signal and a window layout."""
    n_time = draw(st.integers(8, 40))
    n_channels = draw(st.integers(min_channels, 3))
    x = draw(hnp.arrays(np.int16, (*batch, n_time, n_channels), elements=st.integers(-128, 127)))
    window = draw(st.integers(5, n_time))
    step = draw(st.integers(1, 12))
    return x.astype(np.float64), window, step


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-9) -> bool:
    return np.allclose(a, b, rtol=rtol, atol=1e-9, equal_nan=True)


@PROPERTY
@given(layouts(), st.floats(0.01, 100.0))
def test_amplitude_features_scale_with_amplitude(layout, scale):
    x, window, step = layout
    names = ["MAV", "RMS", "IAV", "WL", "DASDV", "MAVFD", "MZP", "LS", "MPK", "VAR", "TM", "MSR"]
    base, scaled = features(x, names, window, step), features(scale * x, names, window, step)
    for name in names[:-3]:
        assert _close(scaled[name], scale * base[name]), name
    assert _close(scaled["VAR"], scale**2 * base["VAR"])
    assert _close(scaled["TM"], scale**3 * base["TM"])
    assert _close(scaled["MSR"], np.sqrt(scale) * base["MSR"])


@PROPERTY
@given(layouts(), st.integers(-6, 6))
def test_shape_features_invariant_to_positive_scaling(layout, exponent):
    x, window, step = layout
    names = ["ZC", "SSC", "AR", "CC", "MNF", "MDF", "SKEW", "KURT"]
    scale = 2.0**exponent  # exact in floating point: counts must not move by a single crossing
    base, scaled = features(x, names, window, step, fs=FS), features(scale * x, names, window, step, fs=FS)
    for name in ("ZC", "SSC"):
        np.testing.assert_array_equal(scaled[name], base[name], err_msg=name)
    for name in names[2:]:
        assert _close(scaled[name], base[name]), name


@PROPERTY
@given(layouts())
def test_amplitude_identities(layout):
    x, window, step = layout
    f = features(x, ["MAV", "RMS", "IAV", "IEMG", "VAR", "WL", "MAVFD", "MFL", "DASDV", "MZP"], window, step)
    assert np.all(f["MAV"] <= f["RMS"] * (1 + 1e-12))  # mean <= quadratic mean
    assert _close(f["IAV"], window * f["MAV"])
    np.testing.assert_array_equal(f["IEMG"], f["IAV"])
    assert _close(f["VAR"], f["RMS"] ** 2)  # the reference's VAR is the mean square (zero-mean EMG)
    assert _close(f["WL"], (window - 1) * f["MAVFD"])
    with np.errstate(divide="ignore"):
        assert _close(f["MFL"], np.log10(f["WL"]))
    assert _close(f["MZP"] ** 2 * window, f["DASDV"] ** 2 * (window - 1))


@PROPERTY
@given(layouts())
def test_zero_crossings_match_a_direct_count(layout):
    x, window, step = layout
    zc = features(x, ["ZC"], window, step)["ZC"]
    for i in range(zc.shape[0]):
        w = x[i * step : i * step + window]
        expected = np.sum(w[1:] * w[:-1] < 0, axis=0)
        np.testing.assert_array_equal(zc[i], expected)


@PROPERTY
@given(layouts(min_channels=2, batch=(3,)))
def test_batched_input_equals_a_loop_over_items(layout):
    x, window, step = layout  # (3, T, C)
    batched = features(x, FEATURE_NAMES, window, step, fs=FS)
    single = [features(item, FEATURE_NAMES, window, step, fs=FS) for item in x]
    for name in FEATURE_NAMES:
        assert _close(batched[name], np.stack([s[name] for s in single]), rtol=1e-12), name


@PROPERTY
@given(layouts(min_channels=2))
def test_channels_are_computed_independently(layout):
    x, window, step = layout
    per_channel = [n for n in FEATURE_NAMES if n not in ("RMSPHASOR", "WLPHASOR")]  # those compare pairs
    together = features(x, per_channel, window, step, fs=FS)
    last = features(x[:, -1:], per_channel, window, step, fs=FS)
    for name in per_channel:
        assert _close(together[name][:, -1], last[name][:, 0], rtol=1e-12), name


@PROPERTY
@given(layouts(min_channels=2))
def test_window_layout(layout):
    x, window, step = layout
    n_time, n_channels = x.shape
    n_windows = 1 + (n_time - window) // step
    out = features(x, FEATURE_NAMES, window, step, fs=FS)
    for name, value in out.items():
        assert value.shape[0] == n_windows, name
        if name in ("AR", "CC"):
            assert value.shape == (n_windows, n_channels, 4)
        elif name in ("RMSPHASOR", "WLPHASOR"):
            assert value.shape == (n_windows, n_channels * (n_channels - 1) // 2, 2)
        else:
            assert value.shape == (n_windows, n_channels), name
    # Window i is x[i*step : i*step + window] and nothing else (FUZZYEN excepted: its tolerance comes
    # from the whole channel, as in the reference).
    local = [n for n in FEATURE_NAMES if n != "FUZZYEN"]
    for i in {0, n_windows - 1}:
        alone = features(x[i * step : i * step + window], local, window, 1, fs=FS)
        for name in local:
            assert _close(out[name][i], alone[name][0], rtol=1e-9), name


def test_torch_input_gives_the_numpy_result():
    x = np.random.default_rng(1).standard_normal((120, 3))
    ours = features(torch.from_numpy(x).float(), ["MAV", "AR", "MNF"], 50, 10, fs=FS)
    ref = features(x.astype(np.float32), ["MAV", "AR", "MNF"], 50, 10, fs=FS)
    for name in ours:
        assert isinstance(ours[name], np.ndarray) and ours[name].dtype == np.float64
        np.testing.assert_array_equal(ours[name], ref[name])


# --- 3. known answers, edge cases and errors ---------------------------------------------------------


def test_ar_recovers_a_known_process_with_matlab_lpc_signs():
    rng = np.random.default_rng(0)
    e = rng.standard_normal(20_000)
    x = np.zeros_like(e)
    for n in range(2, len(e)):  # x_n = 0.6 x_{n-1} - 0.3 x_{n-2} + e_n
        x[n] = 0.6 * x[n - 1] - 0.3 * x[n - 2] + e[n]
    out = features(x[:, None], ["AR", "CC"], window=len(x), step=1)
    # prediction-error filter 1 + a1 z^-1 + a2 z^-2: a = (-0.6, 0.3, 0, 0)
    np.testing.assert_allclose(out["AR"][0, 0], [-0.6, 0.3, 0.0, 0.0], atol=0.03)
    assert out["CC"][0, 0, 0] == pytest.approx(-out["AR"][0, 0, 0])


@pytest.mark.parametrize("fs", [200.0, 1000.0])
def test_spectral_features_locate_a_sinusoid(fs):
    freq = fs / 8
    t = np.arange(512) / fs
    x = np.sin(2 * np.pi * freq * t)[:, None]
    out = features(x, ["MNF", "MDF"], window=256, step=256, fs=fs)
    bin_width = fs / 2 / 127  # frequency axis linspace(0, fs/2, nfft/2) with nfft = 256
    assert out["MNF"][0, 0] == pytest.approx(freq, abs=bin_width)
    assert out["MDF"][0, 0] == pytest.approx(freq, abs=bin_width)
    at_1000 = features(x, ["MNF", "SM"], window=256, step=256, fs=1000.0)  # the same samples read at 1 kHz
    assert out["MNF"][0, 0] == pytest.approx(at_1000["MNF"][0, 0] * fs / 1000)


def test_features_in_hz_need_fs_and_the_others_do_not():
    x = np.random.default_rng(3).standard_normal((300, 2))
    assert set(FS_FEATURES) == {"MNF", "MDF", "SM"}
    for name in FS_FEATURES:
        with pytest.raises(InputError, match=rf"{name} .*need the sampling rate: pass fs="):
            features(x, ["MAV", name], window=100, step=50)
    with pytest.raises(InputError, match=r"feature\(s\) MNF, SM are in Hz"):
        features(x, ["MNF", "MAV", "SM", "MNF"], window=100, step=50)
    others = [n for n in FEATURE_NAMES if n not in FS_FEATURES]
    without = features(x, others, window=100, step=50)  # no fs needed
    with_fs = features(x, others, window=100, step=50, fs=200.0)
    for name in others:
        np.testing.assert_array_equal(without[name], with_fs[name], err_msg=name)
    with pytest.raises(InputError, match=r"sampling rate fs \(Hz\) must be a positive finite number"):
        features(x, ["MAV"], window=100, step=50, fs=0.0)


def test_fs_features_are_exactly_those_that_depend_on_fs():
    x = np.random.default_rng(4).standard_normal((300, 3))
    at_200 = features(x, FEATURE_NAMES, window=100, step=50, fs=200.0)
    at_1000 = features(x, FEATURE_NAMES, window=100, step=50, fs=1000.0)
    depends = {n for n in FEATURE_NAMES if not np.array_equal(at_200[n], at_1000[n], equal_nan=True)}
    assert depends == set(FS_FEATURES)
    np.testing.assert_allclose(at_1000["MNF"], 5 * at_200["MNF"])  # Hz scale with fs
    np.testing.assert_allclose(at_1000["SM"], 25 * at_200["SM"])  # Hz^2


def test_an_all_zero_signal_is_computed_not_rejected():
    out = features(np.zeros((60, 3)), FEATURE_NAMES, window=20, step=10, fs=FS)
    assert set(out) == set(FEATURE_NAMES)
    assert np.all(out["MAV"] == 0) and np.all(out["ZC"] == 0)
    assert np.all(out["AR"] == 0) and np.all(out["CC"] == 0)  # no prediction from silence
    assert np.all(np.isnan(out["MNF"])) and np.all(np.isnan(out["MDF"]))


def test_unknown_name_is_named_with_the_valid_ones():
    x = np.ones((50, 2))
    with pytest.raises(InputError, match=r"unknown feature name 'FOO'.*valid names: MAV, RMS"):
        features(x, ["MAV", "FOO"], 10, 5)
    with pytest.raises(InputError, match=r"did you mean 'MAV'"):
        features(x, ["mav"], 10, 5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_rejected(bad):
    x = np.ones((50, 2))
    x[7, 1] = bad
    with pytest.raises(InputError, match=r"1 non-finite value\(s\) \(NaN/Inf\); first at time 7, channel 1"):
        features(x, ["MAV"], 10, 5)


@pytest.mark.parametrize(
    ("x", "window", "step", "message"),
    [
        (np.ones((50, 2)), 51, 5, "window of 51 samples is longer than the signal \\(50 samples\\)"),
        (np.ones((50, 2)), 0, 5, "window must be an integer >= 1, got 0"),
        (np.ones((50, 2)), 10, 0, "step must be an integer >= 1, got 0"),
        (np.ones((50, 2)), 10.0, 5, "window must be an integer >= 1, got 10.0"),
        (np.ones(50), 10, 5, "shaped \\(time, channels\\)"),
        (np.ones((50, 2)), 4, 1, "AR needs a window of at least 5"),
        (np.ones((50, 1)), 10, 5, "RMSPHASOR compares channel pairs"),
    ],
)
def test_bad_layouts_are_rejected(x, window, step, message):
    name = "RMSPHASOR" if "PHASOR" in message else "AR"
    with pytest.raises(InputError, match=message):
        features(x, [name], window, step)
