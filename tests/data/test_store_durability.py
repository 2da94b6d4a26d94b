"""FeatureStore under concurrent writers and stop signals: the store after a resume is complete and bit-identical
to an uninterrupted build (writers run in forked processes: no interpreter start-up per case)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time

import numpy as np
import pytest

from myovision.data.store import LOCK_NAME, FeatureStore
from myovision.errors import InputError, Interrupted, stop_on_signals

UIDS = list(range(24))
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forked writers and POSIX signals")


def _features(uid: int) -> np.ndarray:
    return np.random.default_rng(uid).standard_normal((3, 8)).astype(np.float32)  # (clips, dim)


def _writer(path, started, barrier, added, delay, errors, refused=None):
    """A child process: the CLI's signal handling, then one writer adding UIDS (`delay` s per uid). With
    `refused` (an event two writers share): the one holding the lock adds nothing until the other was refused
    (so a loaded machine cannot let one finish before the other tries), and the refused one sets it."""
    stop_on_signals()
    code = 0
    try:
        if barrier is not None:
            barrier.wait()
        store = FeatureStore(path)
        with store.writer("rgb", shard_size=4) as w:
            errors.put(("took_over", w.took_over))
            started.set()
            if refused is not None:
                refused.wait(60)
            for u in UIDS:
                time.sleep(delay)
                w.add(u, _features(u))
                added.value += 1
    except Interrupted as stop:
        code = stop.code
    except InputError as e:
        errors.put(("error", str(e)))
        code = 2
        if refused is not None:
            refused.set()
    errors.close()
    errors.join_thread()  # the queue's feeder thread has sent everything before the hard exit
    os._exit(code)


def _start(path, delay=0.01, barrier=None, refused=None):
    ctx = mp.get_context("fork")
    started, added, errors = ctx.Event(), ctx.Value("i", 0), ctx.Queue()
    proc = ctx.Process(target=_writer, args=(str(path), started, barrier, added, delay, errors, refused))
    proc.start()
    return proc, started, added, errors


def _messages(errors) -> dict:
    found = {}
    while not errors.empty():
        kind, text = errors.get(timeout=5)
        found[kind] = text
    return found


def _assert_complete_and_identical(path):
    store = FeatureStore(path)
    assert store.verify() == [] and sorted(map(int, store.uids("rgb"))) == UIDS
    for u in UIDS:
        assert store.get(u, "rgb").tobytes() == _features(u).tobytes()


def _resume(path):
    proc, _, _, errors = _start(path, delay=0)
    proc.join(60)
    assert proc.exitcode == 0
    return _messages(errors)


def test_two_writers_started_together_one_is_refused_and_a_resume_completes(tmp_path):
    ctx = mp.get_context("fork")
    barrier, refused = ctx.Barrier(2), ctx.Event()
    runs = [_start(tmp_path, delay=0.005, barrier=barrier, refused=refused) for _ in range(2)]
    for proc, *_ in runs:
        proc.join(60)
    codes = sorted(proc.exitcode for proc, *_ in runs)
    assert codes == [0, 2]
    loser = next(_messages(errors) for proc, _, _, errors in runs if proc.exitcode == 2)
    assert "locked by a running writer (pid" in loser["error"]
    _resume(tmp_path)
    _assert_complete_and_identical(tmp_path)


@pytest.mark.parametrize("sig, seed", [(signal.SIGTERM, 1), (signal.SIGKILL, 2), (signal.SIGINT, 3),
                                       (signal.SIGHUP, 4), (signal.SIGTERM, 5), (signal.SIGKILL, 6)])
def test_a_writer_killed_at_a_random_point_resumes_to_the_uninterrupted_store(tmp_path, sig, seed):
    delay = 0.01
    proc, started, added, _ = _start(tmp_path, delay=delay)
    assert started.wait(30)
    time.sleep(np.random.default_rng(seed).uniform(0, delay * len(UIDS)))
    os.kill(proc.pid, sig)
    proc.join(60)
    store = FeatureStore(tmp_path)
    assert store.verify() == []
    if sig == signal.SIGKILL:
        assert proc.exitcode == -signal.SIGKILL
        assert (tmp_path / LOCK_NAME).read_text().startswith(f"pid {proc.pid} ")  # left behind
        assert f"pid {proc.pid} on host" in _resume(tmp_path)["took_over"]
    else:  # flushed: every uid added before the signal is in the store
        assert proc.exitcode in (0, 128 + sig)  # 0: the signal came after the last uid
        assert added.value <= len(store) <= added.value + 1
        assert (tmp_path / LOCK_NAME).read_text() == ""  # released
        assert _resume(tmp_path)["took_over"] is None
    _assert_complete_and_identical(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "deleted", "flipped"])
def test_verify_finds_a_damaged_shard_and_repair_lets_a_resume_recompute_it(tmp_path, damage):
    _resume(tmp_path)
    shard = tmp_path / "shard-00002.safetensors"
    data = shard.read_bytes()
    if damage == "truncated":
        shard.write_bytes(data[:-7])
    elif damage == "deleted":
        shard.unlink()
    else:  # one bit of one feature value: only the checksum sees it
        shard.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    store = FeatureStore(tmp_path)
    [problem] = store.verify()
    assert problem.shard == shard.name and len(problem.uids) == 4
    assert store.repair() == [problem] and len(store) == len(UIDS) - 4
    assert FeatureStore(tmp_path).verify() == []
    _resume(tmp_path)
    _assert_complete_and_identical(tmp_path)


def test_index_entries_cannot_point_outside_the_store_or_declare_huge_shapes(tmp_path):
    _resume(tmp_path)
    index = tmp_path / "index.json"
    text = index.read_text()
    index.write_text(text.replace('"shard": "shard-00000.safetensors"', '"shard": "../../etc/passwd"', 1))
    with pytest.raises(InputError, match="names a shard outside the store"):
        FeatureStore(tmp_path)
    index.write_text(text.replace("[3, 8]", "[1000000000, 1000000000]", 1))
    with pytest.raises(InputError, match=r"index.json: .*declares 1000000000000000000 elements, above the limit"):
        FeatureStore(tmp_path)


def test_store_verify_and_repair_commands(tmp_path, capsys):
    from myovision.cli import main

    _resume(tmp_path)
    assert main(["store", "verify", str(tmp_path)]) == 0
    assert f"{len(UIDS)} uids in 6 shards, all intact" in capsys.readouterr().out
    shard = tmp_path / "shard-00003.safetensors"
    shard.write_bytes(shard.read_bytes()[:-3])
    assert main(["store", "verify", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "shard-00003.safetensors: " in captured.out and len(captured.err.strip().splitlines()) == 1
    assert "1 damaged shards holding 4 uids" in captured.err
    assert main(["store", "repair", str(tmp_path)]) == 0
    assert "dropped 4 uids of 1 damaged shards, removed 1 orphan files; 20 uids remain" in capsys.readouterr().out
    _resume(tmp_path)
    _assert_complete_and_identical(tmp_path)
