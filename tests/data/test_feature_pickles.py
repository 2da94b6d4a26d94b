"""Feature-pickle import: real numpy/pandas pickles load, anything else is refused before it can run."""

from __future__ import annotations

import os
import pickle
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

from myovision.data.feature_pickles import import_feature_pickle, restricted_load, restricted_loads
from myovision.data.store import FeatureStore
from myovision.errors import InputError


def _entries(n: int = 6, emg: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        rgb = rng.standard_normal((5, 1024)).astype(np.float32)  # (clips, dim)
        e = {"uid": 1000 + i, "video_name": f"P08_{i:02d}", "features_RGB": rgb}
        if emg:
            e["features_EMG"] = rng.standard_normal((5, 64)).astype(np.float32)
        out.append(e)
    return out


def _write(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_course_repo_layout_imports_bit_exact_for_every_protocol(tmp_path, protocol):
    entries = _entries(emg=True)
    pkl = _write(tmp_path / "D1_train.pkl", {"features": entries}, protocol)
    store = FeatureStore(tmp_path / "store")
    assert import_feature_pickle(pkl, store, shard_size=4) == 6
    assert import_feature_pickle(pkl, store, modality="emg", key="features_EMG") == 6
    store = FeatureStore(tmp_path / "store")
    assert store.uids("rgb") == [str(e["uid"]) for e in entries]
    rgb = store.stack([e["uid"] for e in entries], "rgb")
    assert rgb.tobytes() == np.stack([e["features_RGB"] for e in entries]).tobytes()
    assert store.get(1003, "emg").tobytes() == entries[3]["features_EMG"].tobytes()


@pytest.mark.parametrize("wrap", [True, False])
@pytest.mark.parametrize("protocol", [2, 5])
def test_dataframe_layouts_import(tmp_path, wrap, protocol):
    entries = _entries(4)
    df = pd.DataFrame(entries)  # columns uid, video_name, features_RGB (object column of arrays)
    df["narration"] = pd.Categorical(["open", "close", "open", "wash"])
    df["start"] = pd.to_datetime(["2020-01-01"] * 4)
    pkl = _write(tmp_path / "f.pkl", {"features": df} if wrap else df, protocol)
    loaded = restricted_load(pkl)
    assert (loaded["features"] if wrap else loaded).drop(columns="features_RGB").equals(df.drop(columns="features_RGB"))
    store = FeatureStore(tmp_path / "store")
    assert import_feature_pickle(pkl, store) == 4
    assert store.stack([1000, 1003], "rgb").tobytes() == np.stack(
        [entries[0]["features_RGB"], entries[3]["features_RGB"]]).tobytes()


def test_import_resumes_skipping_stored_uids(tmp_path):
    entries = _entries(6)
    store = FeatureStore(tmp_path / "store")
    assert import_feature_pickle(_write(tmp_path / "a.pkl", {"features": entries[:2]}), store) == 2
    pkl = _write(tmp_path / "b.pkl", {"features": entries})
    assert import_feature_pickle(pkl, store) == 4
    assert import_feature_pickle(pkl, store) == 0
    assert len(FeatureStore(tmp_path / "store").uids("rgb")) == 6


def test_numpy_1_pickles_load_without_deprecation_warnings():
    data = pickle.dumps({"x": np.arange(3.0), "s": np.float32(2)}, protocol=2)
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # GLOBAL opcodes are text lines
    assert b"numpy.core.multiarray" in old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj = restricted_loads(old)
    assert obj["x"].tolist() == [0.0, 1.0, 2.0] and obj["s"] == np.float32(2)


class _Pwn:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["touch", "x"],))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


class _ReadPickle:
    def __reduce__(self):
        return (pd.read_pickle, ("elsewhere.pkl",))


def test_a_malicious_pickle_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Pwn(f"echo pwned > {marker}")
    pkl = _write(tmp_path / "evil.pkl", {"features": [*_entries(2), {"uid": 3, "features_RGB": evil}]})
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(InputError, match=r"refused to unpickle global '(posix|nt)\.system'") as err:
        import_feature_pickle(pkl, store)
    assert err.value.path == str(pkl)
    assert not marker.exists()
    assert len(store) == 0  # nothing was imported from the file
    pickle.loads(pickle.dumps(evil))  # the control: a plain unpickle does run it
    assert marker.exists()


@pytest.mark.parametrize("payload, name", [
    (_Popen(), "subprocess.Popen"), (_Eval(), "builtins.eval"), (_ReadPickle(), "pandas.read_pickle"),
    (pd.eval, "pandas.eval"), (np.load, "numpy.load"), (getattr, "builtins.getattr"),
])
def test_other_disallowed_globals_are_named(tmp_path, payload, name):
    pkl = _write(tmp_path / "x.pkl", {"features": [payload]})
    with pytest.raises(InputError, match=rf"x\.pkl: refused to unpickle global '{name}'"):
        restricted_load(pkl)


def test_dotted_names_cannot_reach_beyond_an_allowed_class():
    data = b"\x80\x04cpandas\nDataFrame.to_pickle\n."  # PROTO 4, GLOBAL, STOP: protocol 4 resolves dots
    assert pickle.loads(data) is pd.DataFrame.to_pickle  # the control: a plain unpickle hands the method out
    with pytest.raises(InputError, match=r"refused to unpickle global 'pandas.DataFrame.to_pickle'"):
        restricted_loads(data)


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable pickle"),
    (pickle.dumps({"features": _entries(1)})[:-40], "not a readable pickle"),
    (pickle.dumps({"feats": []}), r"expected \{'features'.*found a dict with keys \['feats'\]"),
    (pickle.dumps({"features": [{"uid": 1, "features_EMG": np.zeros((5, 4))}]}),
     r"entry 0 lacks \['features_RGB'\]; its keys are \['features_EMG', 'uid'\]"),
    (pickle.dumps({"features": [{"uid": 9, "features_RGB": np.full((5, 4), np.nan)}]}), "entry 0: .*'9'.*NaN"),
])
def test_bad_feature_files_get_clear_errors(tmp_path, content, message):
    pkl = tmp_path / "bad.pkl"
    pkl.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        import_feature_pickle(pkl, FeatureStore(tmp_path / "store"))
    assert err.value.path == str(pkl)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="no such feature pickle"):
        import_feature_pickle(tmp_path / "nope.pkl", FeatureStore(tmp_path / "store"))
