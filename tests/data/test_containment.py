"""Nothing outside the data set is read: HDF5 external links, external storage and virtual datasets are refused;
the unpickler refuses time-zone dtypes (they open files) and bytearray; declared sizes are checked first."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pandas as pd
import pytest

from myovision.data import write_synthetic_actionsense
from myovision.data.actionsense import read_actionsense
from myovision.data.feature_pickles import restricted_loads
from myovision.data.recordings import read_recording
from myovision.errors import InputError

STREAM = "myo-left/emg"


@pytest.fixture
def hdf5(tmp_path):
    (path, *_) = write_synthetic_actionsense(tmp_path / "data", n_subjects=1, seed=0)
    secret = tmp_path / "outside.hdf5"
    with h5py.File(secret, "w") as h5:
        h5["data"] = np.arange(80, dtype=np.float32).reshape(10, 8)
    return path, secret


def _replace(path, make):
    with h5py.File(path, "r+") as h5:
        del h5[f"{STREAM}/data"]
        make(h5)


@pytest.mark.parametrize("kind", ["external link", "external storage", "virtual"])
def test_hdf5_files_cannot_pull_data_from_other_files(hdf5, kind, tmp_path):
    path, secret = hdf5
    read_actionsense(path)  # the control: the untouched file reads
    if kind == "external link":
        _replace(path, lambda h5: h5.__setitem__(f"{STREAM}/data", h5py.ExternalLink(str(secret), "data")))
        match = "is an external link .* links to other files are refused"
    elif kind == "external storage":
        raw = tmp_path / "raw.bin"
        raw.write_bytes(b"\0" * 320)
        _replace(path, lambda h5: h5[STREAM].create_dataset("data", shape=(10, 8), dtype="<f4",
                                                             external=[(str(raw), 0, 320)]))
        match = "external-storage dataset"
    else:
        layout = h5py.VirtualLayout(shape=(10, 8), dtype="f4")
        layout[:] = h5py.VirtualSource(str(secret), "data", shape=(10, 8))
        _replace(path, lambda h5: h5[STREAM].create_virtual_dataset("data", layout))
        match = "virtual dataset"
    with pytest.raises(InputError, match=match):
        read_actionsense(path)


def test_an_hdf5_time_jump_that_would_need_a_huge_grid_is_refused(hdf5):
    path, _ = hdf5
    with h5py.File(path, "r+") as h5:
        t = h5[f"{STREAM}/time_s"]
        t[-1] = t[-2] + 1e7  # one jump of 10^7 s
    with pytest.raises(InputError, match=r"time_s spans .* s; a uniform grid at 200 Hz needs \d+ elements, above the"):
        read_actionsense(path)


def test_the_unpickler_refuses_tz_dtypes_and_bytearray():
    tz = pickle.dumps(pd.DatetimeTZDtype("ns", "UTC"))
    with pytest.raises(InputError, match="refused to unpickle global '.*DatetimeTZDtype'"):
        restricted_loads(tz)
    bomb = b"\x80\x04cbuiltins\nbytearray\nJ\x00\x00\x00\x40\x85R."  # bytearray(2**30) from 30 bytes
    with pytest.raises(InputError, match="refused to unpickle global 'builtins.bytearray'"):
        restricted_loads(bomb)


def test_declared_sizes_are_checked_before_allocating(tmp_path):
    npy = tmp_path / "big.npy"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 8), }"
    header += " " * (117 - len(header)) + "\n"
    npy.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())  # 193 bytes
    with pytest.raises(InputError, match=r"big.npy: the array declares 8000000000000 elements, above the limit"):
        read_recording(npy)
    small = tmp_path / "short.npy"
    np.save(small, np.zeros((100, 4)))
    small.write_bytes(small.read_bytes()[:-8])
    with pytest.raises(InputError, match=r"truncated .npy: shape \(100, 4\) of float64 needs 3200 bytes"):
        read_recording(small)
    import zipfile

    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("emg.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.zeros((2**17, 64), np.float32))  # 32 MiB inflated, ~32 KiB stored
    import os

    os.environ["MYOVISION_MAX_BYTES"] = str(2**20)
    try:
        with pytest.raises(InputError, match=r"bomb.npz: its arrays inflate to \d+ bytes, above the limit of 1048576"):
            read_recording(tmp_path / "bomb.npz")
    finally:
        del os.environ["MYOVISION_MAX_BYTES"]
