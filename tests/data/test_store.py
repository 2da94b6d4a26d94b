"""FeatureStore: bit-exact round trips, resumable and crash-consistent writes, lazy reads, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from myovision.data import store as store_mod
from myovision.data.store import FeatureStore
from myovision.errors import InputError


def _features(uid: int, clips: int = 5, dim: int = 16) -> np.ndarray:
    """Deterministic per-uid features, with awkward float32 values mixed in."""
    x = np.random.default_rng(uid).standard_normal((clips, dim)).astype(np.float32)  # (clips, dim)
    x[0, :4] = [-0.0, np.finfo(np.float32).tiny / 2, np.finfo(np.float32).max, np.nextafter(np.float32(1), 2)]
    return x


def _build(path, uids, modality="rgb", shard_size=3, dim=16):
    store = FeatureStore(path)
    with store.writer(modality, shard_size=shard_size) as w:
        for u in uids:
            w.add(u, _features(u, dim=dim))
    return store


class _ShardSpy:
    """Wraps `_write_shard`: records the uids of every shard, optionally fails on call number `fail_on`."""

    def __init__(self, monkeypatch, fail_on: int | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        real = store_mod._write_shard

        def spy(path, tensors, metadata):
            self.calls.append([k.split("/", 1)[1] for k in tensors])
            if len(self.calls) == self.fail_on:
                raise RuntimeError("disk on fire")
            real(path, tensors, metadata)

        monkeypatch.setattr(store_mod, "_write_shard", spy)


def test_round_trip_is_bit_exact_across_shards_modalities_and_reopen(tmp_path):
    uids = list(range(10))
    _build(tmp_path / "s", uids, "rgb", shard_size=4)
    store = FeatureStore(tmp_path / "s")
    with store.writer("emg", shard_size=3) as w:
        for u in uids:
            assert w.add(str(u), _features(100 + u, dim=8))
    store = FeatureStore(tmp_path / "s")  # reopen from disk
    assert store.modalities() == ["rgb", "emg"] and len(store) == 20
    assert store.uids("rgb") == [str(u) for u in uids]
    for u in uids:
        got = store.get(u, "rgb")
        assert got.dtype == np.float32 and got.tobytes() == _features(u).tobytes()
        assert store.get(str(u), "emg").tobytes() == _features(100 + u, dim=8).tobytes()
    order = [7, 0, 3]
    stacked = store.stack(order, "rgb")  # (N, clips, dim)
    assert stacked.shape == (3, 5, 16)
    assert stacked.tobytes() == np.stack([_features(u) for u in order]).tobytes()
    pair = store.stack_modalities(order, ["rgb", "emg"])
    assert pair["rgb"].shape == (3, 5, 16) and pair["emg"].shape == (3, 5, 8)
    assert np.array_equal(pair["emg"][1], _features(100, dim=8))
    assert store.shape(3, "emg") == (5, 8) and store.dim("rgb") == 16 and store.dim("audio") is None
    index = json.loads((tmp_path / "s" / "index.json").read_text())
    assert {"uid": "0", "modality": "rgb", "shard": "shard-00000.safetensors", "shape": [5, 16]} in index["entries"]
    assert sorted(p.name for p in (tmp_path / "s").glob("shard-*")) == [f"shard-{i:05d}.safetensors" for i in range(7)]


def test_add_converts_to_float32_and_skips_stored_uids(tmp_path):
    store = FeatureStore(tmp_path)
    with store.writer("rgb", shard_size=10) as w:
        assert w.add(np.int64(3), np.arange(6, dtype=np.int32).reshape(2, 3))
        assert w.add("x", np.full((2, 3), 0.1))  # float64 -> float32
    with store.writer("rgb") as w:
        assert not w.add(3, np.zeros((2, 3)))
        assert (w.written, w.skipped) == (0, 1)
    assert store.get("3", "rgb").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert store.get("x", "rgb")[0, 0] == np.float32(0.1)
    with store.writer("rgb") as w1:  # a second writer on the store is refused, naming the first
        w1.add("y", np.ones((2, 3)))
        with pytest.raises(InputError, match=r"\.writer\.lock: locked by a running writer \(pid \d+ on host"):
            store.writer("emg")
    assert store.uids("rgb") == ["3", "x", "y"] and store.get("y", "rgb").sum() == 6
    assert store.stack([], "rgb").shape == (0, 0, 3)


def test_resume_after_failed_shard_write_writes_only_missing_uids(tmp_path, monkeypatch):
    spy = _ShardSpy(monkeypatch, fail_on=2)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _build(tmp_path, range(10), shard_size=3)
    assert spy.calls == [["0", "1", "2"], ["3", "4", "5"]]  # the failed flush is not retried on exit

    store = FeatureStore(tmp_path)
    assert store.uids("rgb") == ["0", "1", "2"]
    spy = _ShardSpy(monkeypatch)
    with store.writer("rgb", shard_size=3) as w:
        added = [w.add(u, _features(u)) for u in range(10)]
    assert added == [False] * 3 + [True] * 7
    assert spy.calls == [["3", "4", "5"], ["6", "7", "8"], ["9"]]  # finished uids never rewritten
    store = FeatureStore(tmp_path)
    assert store.stack(range(10), "rgb").tobytes() == np.stack([_features(u) for u in range(10)]).tobytes()


def test_exception_in_the_build_loop_keeps_finished_samples(tmp_path, monkeypatch):
    spy = _ShardSpy(monkeypatch)
    store = FeatureStore(tmp_path)
    with pytest.raises(ValueError, match="decoder crashed"):
        with store.writer("rgb", shard_size=3) as w:
            for u in range(10):
                if u == 5:
                    raise ValueError("decoder crashed")
                w.add(u, _features(u))
    assert spy.calls == [["0", "1", "2"], ["3", "4"]]  # the partial buffer is flushed on the way out
    store = FeatureStore(tmp_path)
    spy.calls.clear()
    with store.writer("rgb", shard_size=3) as w:
        for u in range(10):
            if not store.has(u, "rgb"):
                w.add(u, _features(u))
    assert spy.calls == [["5", "6", "7"], ["8", "9"]]


def test_crash_between_shard_and_index_leaves_an_ignored_orphan_that_is_reused(tmp_path, monkeypatch):
    real_index = store_mod._write_index
    calls = []

    def failing_index(path, text):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed after shard-00001 hit the disk, before the index did
        real_index(path, text)

    monkeypatch.setattr(store_mod, "_write_index", failing_index)
    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path, range(6), shard_size=3)
    monkeypatch.setattr(store_mod, "_write_index", real_index)

    (tmp_path / "shard-00042.safetensors").write_bytes(b"half a shard from some other crash")
    (tmp_path / ".shard-00007.tmp.abc.safetensors").write_bytes(b"\0" * 10)
    store = FeatureStore(tmp_path)
    assert store.uids("rgb") == ["0", "1", "2"] and not store.has(3, "rgb")
    assert {p.name for p in store.orphans()} == {
        "shard-00001.safetensors", "shard-00042.safetensors", ".shard-00007.tmp.abc.safetensors"}
    assert store.stack([0, 1, 2], "rgb").shape == (3, 5, 16)

    with store.writer("rgb", shard_size=3) as w:
        for u in range(6):
            w.add(u, _features(u))
    store = FeatureStore(tmp_path)
    assert store.stack(range(6), "rgb").tobytes() == np.stack([_features(u) for u in range(6)]).tobytes()
    assert {e["shard"] for e in json.loads(store.index_path.read_text())["entries"]} == {
        "shard-00000.safetensors", "shard-00001.safetensors"}  # the orphan's name was reused
    assert {p.name for p in store.clean()} == {"shard-00042.safetensors", ".shard-00007.tmp.abc.safetensors"}
    assert store.orphans() == [] and len(FeatureStore(tmp_path)) == 6


def test_a_killed_build_resumes(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from myovision.data.store import FeatureStore
        store = FeatureStore({str(tmp_path)!r})
        with store.writer("rgb", shard_size=2) as w:
            for u in range(10):
                if u == 5:
                    os.kill(os.getpid(), signal.SIGKILL)
                w.add(u, np.full((5, 4), u, np.float32))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode != 0
    store = FeatureStore(tmp_path)
    assert store.uids("rgb") == ["0", "1", "2", "3"]  # the buffered uid 4 died with the process
    with store.writer("rgb", shard_size=2) as w:
        for u in range(10):
            w.add(u, np.full((5, 4), u, np.float32))
    assert (w.written, w.skipped) == (6, 4)
    assert FeatureStore(tmp_path).stack(range(10), "rgb")[:, 0, 0].tolist() == list(range(10))


def test_stack_reads_only_the_requested_samples(tmp_path):
    _build(tmp_path, range(200), shard_size=50, dim=1024)  # 4 MB in 4 shards
    for name in ["shard-00001.safetensors", "shard-00002.safetensors", "shard-00003.safetensors"]:
        (tmp_path / name).write_bytes(b"corrupt")  # never opened when only shard 0 is asked for
    store = FeatureStore(tmp_path)
    tracemalloc.start()
    try:
        x = store.stack([17, 3], "rgb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(x, np.stack([_features(17, dim=1024), _features(3, dim=1024)]))
    assert peak < 400_000, peak  # two samples are 40 kB; the store is 4 MB
    assert len(store._handles) == 1  # one cached handle, reused
    store.get(5, "rgb")
    assert len(store._handles) == 1
    with pytest.raises(InputError, match="shard-00002.safetensors"):
        store.get(120, "rgb")


def test_nan_inf_shape_dim_and_duplicate_features_are_refused_naming_the_uid(tmp_path):
    store = FeatureStore(tmp_path)
    bad = _features(1)
    bad[2, 3] = np.nan
    with store.writer("rgb") as w:
        with pytest.raises(InputError, match=r"uid 'u1' \(rgb\) hold 1 NaN/Inf"):
            w.add("u1", bad)
        with pytest.raises(InputError, match="'u2'.*NaN/Inf"):
            w.add("u2", np.full((5, 16), 1e300))  # finite float64, inf as float32
        with pytest.raises(InputError, match=r"'u3'.*shape \(16,\)"):
            w.add("u3", np.zeros(16))
        with pytest.raises(InputError, match="'u4'.*not numbers"):
            w.add("u4", np.array([["a"]]))
        w.add("ok", _features(5))
        with pytest.raises(InputError, match="'u5'.*dim 8.*16"):
            w.add("u5", np.zeros((5, 8)))
        with pytest.raises(InputError, match="'ok'.*added twice"):
            w.add("ok", _features(5))
        with pytest.raises(InputError, match="must be a string or an integer"):
            w.add(1.5, _features(5))
    assert store.uids("rgb") == ["ok"]
    with pytest.raises(InputError, match="modality"):
        store.writer("rgb/x")
    with pytest.raises(InputError, match="shard_size"):
        store.writer("rgb", shard_size=0)


def test_missing_uids_are_listed(tmp_path):
    store = _build(tmp_path, range(4))
    with pytest.raises(InputError, match=r"8 of 10 uids missing from modality 'rgb': '10', '11', '12', '13', "
                                         r"'14' and 3 more") as err:
        store.stack([0, 1, *range(10, 18)], "rgb")
    assert err.value.path == str(tmp_path)
    with pytest.raises(InputError, match="missing from modality 'emg'"):
        store.get(0, "emg")


def test_check_lists_uids_missing_from_a_modality_or_with_mismatched_clip_counts(tmp_path):
    store = _build(tmp_path, range(4))
    with store.writer("emg") as w:
        for u in range(3):
            w.add(u, np.zeros((5 if u != 1 else 4, 8)))
    with pytest.raises(InputError, match=r"emg: 1 missing \('3'\)"):
        store.check(range(4), ["rgb", "emg"])
    with pytest.raises(InputError, match=r"clip counts differ between modalities for 1 uids: '1' \(rgb 5, emg 4\)"):
        store.stack_modalities(range(3), ["rgb", "emg"])
    store.check([0, 2], ["rgb", "emg"])  # consistent subset passes
    with pytest.raises(InputError, match=r"differ in shape.*\(4, 8\): '1'"):
        store.stack(range(3), "emg")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deleted"])
def test_a_corrupt_shard_is_named(tmp_path, damage):
    _build(tmp_path, range(6), shard_size=3)
    shard = tmp_path / "shard-00001.safetensors"
    if damage == "garbage":
        shard.write_bytes(b"\xff" * 64)
    elif damage == "truncated":
        shard.write_bytes(shard.read_bytes()[:-20])
    else:
        shard.unlink()
    store = FeatureStore(tmp_path)
    assert store.get(0, "rgb").shape == (5, 16)  # the other shard still reads
    with pytest.raises(InputError, match="shard-00001.safetensors") as err:
        store.stack(range(6), "rgb")
    assert err.value.path == str(shard)


def test_a_corrupt_index_or_a_file_path_is_refused(tmp_path):
    _build(tmp_path / "s", range(2))
    (tmp_path / "s" / "index.json").write_text('{"format": "myovision-feature-store", "entries": [{"uid": 1')
    with pytest.raises(InputError, match="unreadable feature-store index") as err:
        FeatureStore(tmp_path / "s")
    assert err.value.path == str(tmp_path / "s" / "index.json")
    _build(tmp_path / "t", range(2))
    index = tmp_path / "t" / "index.json"
    index.write_text(index.read_text().replace("[5, 16]", "[5, 15]"))
    with pytest.raises(InputError, match=r"uid '0' \(rgb\) is float32 \(5, 16\), the index says float32 \(5, 15\)"):
        FeatureStore(tmp_path / "t").get(0, "rgb")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="must be a folder"):
        FeatureStore(tmp_path / "f")
