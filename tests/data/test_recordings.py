"""Recording files: every format round-trips; every kind of bad file gives an InputError naming it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.data import RECORDING_SUFFIXES, read_recording, write_recording
from myovision.errors import InputError


def _emg(t: int = 50, c: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(t, c)).astype(np.int16)


@pytest.mark.parametrize("suffix", RECORDING_SUFFIXES)
def test_round_trip_every_format(tmp_path: Path, suffix: str):
    x = _emg()
    path = write_recording(tmp_path / f"rec{suffix}", x)
    y = read_recording(path, channels=8)
    assert y.dtype == np.float32 and y.shape == (50, 8)
    np.testing.assert_array_equal(y, x)


def test_float_csv_round_trip_with_header(tmp_path: Path):
    x = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    path = write_recording(tmp_path / "rec.csv", x, header=True)
    assert path.read_text().splitlines()[0] == "ch0,ch1,ch2"
    np.testing.assert_allclose(read_recording(path), x, rtol=1e-6)


def test_text_variants(tmp_path: Path):
    whitespace = tmp_path / "a.txt"
    whitespace.write_text("# exported by a tool\nemg1 emg2\n1   2\n\n3\t4  # comment\n")
    np.testing.assert_array_equal(read_recording(whitespace), [[1, 2], [3, 4]])
    comma = tmp_path / "b.csv"
    comma.write_text("1.5, -2\n3,4e1\n")
    np.testing.assert_array_equal(read_recording(comma), [[1.5, -2], [3, 40]])


def test_one_dimensional_array_is_one_channel(tmp_path: Path):
    np.save(tmp_path / "a.npy", np.arange(5))
    assert read_recording(tmp_path / "a.npy").shape == (5, 1)


def test_npz_keys(tmp_path: Path):
    x = _emg(10, 4)
    np.savez(tmp_path / "single.npz", signal=x)
    np.testing.assert_array_equal(read_recording(tmp_path / "single.npz"), x)
    np.savez(tmp_path / "named.npz", emg=x, label=np.array([1]))
    np.testing.assert_array_equal(read_recording(tmp_path / "named.npz"), x)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    with pytest.raises(InputError, match="two.npz.*'emg' or name its key"):
        read_recording(tmp_path / "two.npz")
    np.testing.assert_array_equal(read_recording(tmp_path / "two.npz", key="b"), x)
    with pytest.raises(InputError, match="two.npz: has no array 'c'"):
        read_recording(tmp_path / "two.npz", key="c")


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 40), c=st.integers(1, 16), suffix=st.sampled_from(RECORDING_SUFFIXES),
       seed=st.integers(0, 2**16))
def test_round_trip_property(t: int, c: int, suffix: str, seed: int):
    x = np.random.default_rng(seed).integers(-32768, 32768, size=(t, c)).astype(np.int16)
    with tempfile.TemporaryDirectory() as d:
        y = read_recording(write_recording(Path(d) / f"r{suffix}", x), channels=c)
    np.testing.assert_array_equal(y, x.astype(np.float32))


# --- bad input: each names the file and says what is wrong -------------------------------------------------

def test_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match=r"nothere\.npy: file not found"):
        read_recording(tmp_path / "nothere.npy")


@pytest.mark.parametrize("suffix", RECORDING_SUFFIXES)
def test_empty_file(tmp_path: Path, suffix: str):
    (tmp_path / f"empty{suffix}").touch()
    with pytest.raises(InputError, match=rf"empty{suffix}: empty file"):
        read_recording(tmp_path / f"empty{suffix}", channels=8)


def test_header_only_csv_has_no_samples(tmp_path: Path):
    (tmp_path / "h.csv").write_text("a,b,c\n")
    with pytest.raises(InputError, match="h.csv: no samples"):
        read_recording(tmp_path / "h.csv")


def test_truncated_dat(tmp_path: Path):
    path = tmp_path / "classe_3.dat"
    path.write_bytes(_emg(10, 8).tobytes()[:-6])  # 154 bytes: not whole 8-channel samples
    with pytest.raises(InputError, match=r"classe_3\.dat: truncated \.dat: 154 bytes"):
        read_recording(path, channels=8)


def test_dat_needs_channel_count(tmp_path: Path):
    path = write_recording(tmp_path / "a.dat", _emg())
    with pytest.raises(InputError, match="a.dat: a .dat recording has no header: give its channel count"):
        read_recording(path)


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".npz"])
def test_nan_and_inf_name_rows_and_channels(tmp_path: Path, suffix: str):
    x = _emg(30, 4).astype(np.float32)
    x[7, 2] = np.nan
    x[12, 2] = np.inf
    x[12, 0] = np.nan
    path = write_recording(tmp_path / f"noisy{suffix}", x)
    with pytest.raises(InputError) as err:
        read_recording(path)
    message = str(err.value)
    assert f"noisy{suffix}" in message
    assert "3 NaN/Inf samples at rows [7, 12] in channels [0, 2]" in message


def test_many_bad_rows_are_summarised(tmp_path: Path):
    x = np.zeros((100, 2))
    x[10:60, 1] = np.nan
    np.save(tmp_path / "a.npy", x)
    with pytest.raises(InputError, match=r"50 NaN samples at rows \[10, 11, 12, 13, 14, \.\.\.\] \(50 in all\)"):
        read_recording(tmp_path / "a.npy")


def test_wrong_channel_count(tmp_path: Path):
    path = write_recording(tmp_path / "seven.npy", _emg(10, 7))
    with pytest.raises(InputError, match="seven.npy: wrong channel count: 7 channels, expected 8"):
        read_recording(path, channels=8)


def test_pickled_npy_is_refused(tmp_path: Path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="obj.npy: holds Python objects"):
        read_recording(tmp_path / "obj.npy")


def test_corrupt_binary_files(tmp_path: Path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    with pytest.raises(InputError, match="bad.npy: not a readable .npy"):
        read_recording(tmp_path / "bad.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK not a zip")
    with pytest.raises(InputError, match="bad.npz: not a readable .npz"):
        read_recording(tmp_path / "bad.npz")


def test_non_numeric_and_ragged_text(tmp_path: Path):
    (tmp_path / "words.csv").write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(InputError, match="words.csv: not a numeric table"):
        read_recording(tmp_path / "words.csv")
    (tmp_path / "ragged.txt").write_text("1 2 3\n4 5\n")
    with pytest.raises(InputError, match="ragged.txt: not a numeric table"):
        read_recording(tmp_path / "ragged.txt")


def test_unknown_suffix_and_too_many_dimensions(tmp_path: Path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    with pytest.raises(InputError, match="a.wav: unknown recording format '.wav'"):
        read_recording(tmp_path / "a.wav")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(InputError, match=r"cube.npy: expected a \(time, channels\) array, found shape \(2, 3, 4\)"):
        read_recording(tmp_path / "cube.npy")


def test_dat_writer_refuses_non_int16_values(tmp_path: Path):
    with pytest.raises(InputError, match="a.dat: .dat stores int16"):
        write_recording(tmp_path / "a.dat", np.array([[0.5, 1.0]]))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["REC.NPY", "rec.Npz"])
def test_upper_case_numpy_suffix_is_written_in_place(tmp_path: Path, name: str):
    x = _emg()
    np.testing.assert_array_equal(read_recording(write_recording(tmp_path / name, x)), x)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no stray temporary file


def test_os_read_error_names_the_file(tmp_path: Path, monkeypatch):
    path = write_recording(tmp_path / "rec.dat", _emg())

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(np, "fromfile", denied)
    with pytest.raises(InputError, match="rec.dat: cannot read the file \\(Permission denied\\)"):
        read_recording(path, channels=8)
