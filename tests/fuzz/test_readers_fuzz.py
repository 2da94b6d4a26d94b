"""Fuzzing every reader with corrupted real files (../shared/data) and synthetic ones in the real formats:
truncation, bit flips, header edits, huge declared sizes, path injection. Each case must end in InputError or
a correct result, never another exception, inside a memory cap (RLIMIT_AS in a forked child process).

Seeds are fixed (derandomize), so a failure reproduces. MYOVISION_FUZZ_COUNTS=<file.json> makes each reader
add its outcome counts per mutation to that file (RELIABILITY.md's table comes from it)."""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myovision.errors import InputError

MEMORY_CAP = 2 * 2**30  # bytes of address space the child may add to what it has mapped already
EXAMPLES = 30  # per reader: 12 readers x 30 keep the suite's time of 9 x 40
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork and RLIMIT_AS")

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("bitflip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), min_size=1, max_size=8)),
    st.tuples(st.just("header"), st.binary(min_size=1, max_size=16), st.integers(0, 128)),
    st.tuples(st.just("huge"), st.sampled_from([10**12, 2**40, 2**63 - 1])),
    st.tuples(st.just("inject"), st.sampled_from(["../../../../etc/passwd", "/etc/passwd", "a/../../x", "\x00"])),
)


def mutate(data: bytes, m) -> bytes:
    kind = m[0]
    if kind == "truncate":
        return data[:int(len(data) * m[1])]
    if kind == "bitflip":
        out = bytearray(data)
        for where, bit in m[1]:
            if out:
                out[min(int(where * len(out)), len(out) - 1)] ^= 1 << bit
        return bytes(out)
    if kind == "header":
        at = min(m[2], len(data))
        return data[:at] + m[1] + data[at + len(m[1]):]
    if kind == "huge":  # every number of the first 200 bytes (declared shapes, sizes) replaced by a huge one
        import re

        return re.sub(rb"\d+", str(m[1]).encode(), data[:200], count=3) + data[200:]
    return data.replace(b"shard-00000.safetensors", m[1].encode()).replace(b"rec.npy", m[1].encode())


def in_capped_child(run) -> None:
    """Run `run()` in a forked child under RLIMIT_AS; fail with the child's traceback if it raised."""
    import resource

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: cap, run, report, exit without running the parent's cleanup
        os.close(read)
        status = b"ok"
        try:
            mapped = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
            resource.setrlimit(resource.RLIMIT_AS, (mapped + MEMORY_CAP, resource.RLIM_INFINITY))
            run()
        except BaseException:  # noqa: BLE001 - reported to the parent
            status = traceback.format_exc().encode()[-4000:]
        os.write(write, status)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        status = fh.read()
    os.waitpid(pid, 0)
    assert status == b"ok", status.decode(errors="replace")


def fuzz(base: bytes, suffix: str, read, check, tmp: Path, name: str) -> None:
    """Hypothesis over `mutation`s of `base`, written as `tmp/case<suffix>` and given to `read(path)`: an
    InputError, or a result `check` accepts."""
    counts: Counter = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(mutation)
    def case(m):
        path = tmp / f"case{suffix}"
        path.write_bytes(mutate(base, m))
        try:
            result = read(path)
        except InputError as e:
            assert "\n" not in str(e) and len(str(e)) < 1000, str(e)
            counts[(m[0], "InputError")] += 1
            return
        check(result)
        counts[(m[0], "read correctly")] += 1

    def run():
        case()
        target = os.environ.get("MYOVISION_FUZZ_COUNTS")
        if target:
            doc = json.loads(Path(target).read_text()) if Path(target).exists() else {}
            doc[name] = {f"{k}: {o}": n for (k, o), n in sorted(counts.items())}
            Path(target).write_text(json.dumps(doc, indent=1))

    in_capped_child(run)


def recording_check(x):
    assert x.dtype == np.float32 and x.ndim == 2 and np.isfinite(x).all()


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".dat"])
def test_recording_readers(tmp_path, suffix, shared_data):
    from myovision.data.recordings import read_recording, write_recording

    real = np.loadtxt(shared_data / "libemg-feature-reference" / "emg_data_myo.csv", delimiter=",",
                      max_rows=300)[:, :8]  # (300, 8) real Myo samples
    source = write_recording(tmp_path / f"rec{suffix}", np.rint(real) if suffix == ".dat" else real)
    fuzz(source.read_bytes(), suffix, lambda p: read_recording(p, channels=8), recording_check, tmp_path,
         f"recording {suffix}")


def test_real_myo_dat_files(tmp_path, shared_data):
    from myovision.data.recordings import read_recording

    dat = shared_data / "myo-armband-7gestures" / "PreTrainingDataset" / "Male7" / "training0" / "classe_19.dat"
    fuzz(dat.read_bytes()[:20000], ".dat", lambda p: read_recording(p, channels=8), recording_check, tmp_path,
         "myo .dat")


def test_manifest_reader(tmp_path):
    from myovision.data.manifest import read_manifest

    np.save(tmp_path / "rec.npy", np.ones((50, 2), np.float32))
    text = "path,label,subject,session,sample_rate,split\n" + "".join(
        f"rec.npy,l{i % 2},s{i},d,200,train\n" for i in range(4))
    fuzz(text.encode(), ".csv", read_manifest, lambda m: all(p.resolve().parent == tmp_path.resolve()
                                                            for p in m.paths), tmp_path, "manifest")


def test_actionsense_hdf5_reader(tmp_path):
    from myovision.data import write_synthetic_actionsense
    from myovision.data.actionsense import read_actionsense

    (path, *_) = write_synthetic_actionsense(tmp_path / "src", n_subjects=1, seed=0)
    fuzz(Path(path).read_bytes(), ".hdf5", read_actionsense, lambda r: r.activities is not None, tmp_path,
         "actionsense hdf5")


def test_feature_store_index(tmp_path):
    from myovision.data.store import FeatureStore

    store = FeatureStore(tmp_path / "s")
    with store.writer("rgb", shard_size=2) as w:
        for u in range(4):
            w.add(u, np.full((3, 4), u, np.float32))
    index = (tmp_path / "s" / "index.json").read_bytes()

    def read(path):
        (tmp_path / "s" / "index.json").write_bytes(path.read_bytes())
        s = FeatureStore(tmp_path / "s")
        return [s.get(u, "rgb") for u in s.uids("rgb")]

    fuzz(index, ".json", read, lambda xs: all(x.shape == (3, 4) for x in xs), tmp_path, "feature-store index")


def test_feature_pickles(tmp_path):
    from myovision.data.feature_pickles import feature_entries, restricted_load

    data = pickle.dumps({"features": [{"uid": i, "video_name": "P01", "features_RGB": np.zeros((5, 8), np.float32)}
                                      for i in range(3)]}, protocol=4)
    fuzz(data, ".pkl", lambda p: feature_entries(restricted_load(p), p), lambda e: isinstance(e, list), tmp_path,
         "feature pickle")


def test_grid_align_files(tmp_path, shared_data):
    from myovision.data.grid import MAX_ALIGN_TIME, TIME_UNITS_PER_FRAME, read_align

    def check(segments):
        assert all(0 <= s.start <= s.end <= MAX_ALIGN_TIME // TIME_UNITS_PER_FRAME for s in segments)
        assert all(a.end <= b.start for a, b in zip(segments, segments[1:]))

    real = (shared_data / "grid-s1" / "align" / "bbaf2n.align").read_bytes()
    fuzz(real, ".align", read_align, check, tmp_path, "GRID .align")


def test_emg2qwerty_sessions(tmp_path):
    import h5py

    from myovision.data.emg2qwerty import MIN_SESSION_SAMPLES, read_session

    n = MIN_SESSION_SAMPLES
    table = np.zeros(n, dtype=[("time", "<f8"), ("emg_left", "<f4", (16,)), ("emg_right", "<f4", (16,))])
    table["time"] = 100 + np.arange(n) / 2000.0
    table["emg_left"] = np.sin(np.arange(n))[:, None]
    with h5py.File(tmp_path / "src.hdf5", "w") as f:
        group = f.create_group("emg2qwerty")
        group["timeseries"] = table
        group.attrs["keystrokes"] = json.dumps([{"key": k, "start": 100.5 + i, "end": 100.6 + i}
                                                for i, k in enumerate("hi")])

    def read(path):
        session = read_session(path)
        return session, session.emg()

    def check(result):
        session, emg = result
        assert emg.shape == (session.n_samples, 2, 16) and np.isfinite(session.key_times).all()
        assert (np.diff(session.key_times) >= 0).all()

    fuzz((tmp_path / "src.hdf5").read_bytes(), ".hdf5", read, check, tmp_path, "emg2qwerty session")


def test_video_files(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "video"))
    from videofiles import write_video

    from myovision.video.io import VideoReader, check_complete

    source = write_video(tmp_path / "src.mp4", n=10, size=(32, 32), noise=8, options={"movflags": "faststart"})

    def read(path):
        with VideoReader(path) as reader:
            check_complete(reader)
            return reader.read(np.arange(reader.info.num_frames))

    fuzz(source.read_bytes(), ".mp4", read, lambda x: x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3), tmp_path,
         "video .mp4")
