"""The live path over Lab Streaming Layer on loopback: a recording published as an outlet and read by an inlet gives
the offline window decisions; a stream that stops ends on the timeout with the summary; wrong layouts and NaN
samples; the string outlet sink. Skipped when pylsl (the [lsl] extra) is not importable."""

from __future__ import annotations

import io
import json
import threading
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'myovision[lsl]')")

from myovision.cli import main  # noqa: E402
from myovision.data import write_synthetic_gestures  # noqa: E402
from myovision.gestures.online import load_online_classifier  # noqa: E402
from myovision.stream import LSLSource, LSLStringOutlet, run_stream  # noqa: E402
from myovision.stream.lsl import open_outlet, publish  # noqa: E402

from gesture_run import offline_decisions, train_run  # noqa: E402


def unique(prefix: str) -> str:
    """A stream name no other test (or program on this machine) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("lsl")
    manifest = write_synthetic_gestures(root / "data", n_subjects=1, n_gestures=3, n_sessions=2, n_cycles=1,
                                        duration_s=2.0, seed=4)
    run = train_run(manifest, root / "run", "--normalise", "none")
    recordings, decisions = offline_decisions(run, manifest, "session1")
    return run, recordings, decisions


def visible(name: str) -> None:
    """Wait until an outlet called `name` can be resolved (the publishing thread may start late on a busy machine)."""
    assert pylsl.resolve_byprop("name", name, 1, 30), f"LSL stream {name} never appeared"


def publishing(data, fs, name, **options):
    """Publish in a background thread (as fast as possible) once a consumer connects; returns the thread."""
    thread = threading.Thread(target=publish, args=(data, fs, name),
                              kwargs={"paced": False, "wait_s": 30, "linger_s": 10, **options}, daemon=True)
    thread.start()
    visible(name)
    return thread


def test_a_published_recording_read_over_lsl_gets_the_offline_decisions_then_times_out(trained):
    run, recordings, offline = trained
    online = load_online_classifier(run)
    name = unique("gestures")
    thread = publishing(recordings[0].data, online.sample_rate, name)
    records = []

    class Collect:
        def emit(self, record):
            records.append(record)

    summary = run_stream(LSLSource(name, timeout=1.5), online, [Collect()])["summary"]
    thread.join(15)
    assert [online.class_names.index(r["raw"]) for r in records] == offline[0].tolist()
    assert summary["stopped"] == "timeout: no samples for 1.5 s" and summary["samples"] == len(recordings[0].data)
    assert summary["latency_p99_ms"] is not None and summary["source"] == f"lsl:{name}"


def test_nan_samples_over_lsl_are_reported_and_skipped(trained):
    run, recordings, _ = trained
    online = load_online_classifier(run)
    x = recordings[0].data.copy()
    x[50, 0] = np.nan
    name = unique("nan")
    thread = publishing(x, online.sample_rate, name)
    log = io.StringIO()
    summary = run_stream(LSLSource(name, timeout=1.0), online, [], log=log)["summary"]
    thread.join(15)
    assert summary["skipped_samples"] == 1 and summary["samples"] == len(x) - 1
    assert "skipped 1 samples with NaN/Inf at stream samples [50]" in log.getvalue()


@pytest.mark.parametrize("channels, rate", [(4, 200.0), (8, 1000.0)])
def test_an_lsl_stream_of_the_wrong_layout_is_one_line(trained, capsys, channels, rate):
    run, recordings, _ = trained
    name = unique("layout")
    outlet = open_outlet(name, channels, rate)  # noqa: F841 (kept open while the command looks for it)
    assert main(["stream", "gestures", "--model", str(run), "--source", f"lsl:{name}", "--timeout", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"lsl:{name}: stream has {channels} channels at {rate:g} Hz" in err
    assert "the model expects 8 channels at 200 Hz" in err


def test_no_such_stream_is_one_line(trained, capsys):
    run, _, _ = trained
    assert main(["stream", "gestures", "--model", str(run), "--source", f"lsl:{unique('absent')}", "--timeout",
                 "0.5"]) == 2
    assert "no LSL stream named or typed" in capsys.readouterr().err


def test_records_go_to_an_lsl_string_outlet():
    name = unique("markers")
    sink = LSLStringOutlet(name)
    (info,) = pylsl.resolve_byprop("name", name, 1, 5)
    inlet = pylsl.StreamInlet(info)
    inlet.open_stream(5)
    assert sink.outlet.wait_for_consumers(5)
    sink.emit({"time": 0.2, "label": "fist"})
    sample, _ = inlet.pull_sample(timeout=5)
    assert json.loads(sample[0]) == {"time": 0.2, "label": "fist"}


def test_stream_publish_sends_a_recording_that_an_inlet_reads_whole(trained, capsys):
    _, recordings, _ = trained
    name = unique("publish")
    argv = ["stream", "publish", str(recordings[1].path), "--name", name, "--rate", "200", "--as-fast-as-possible",
            "--wait", "30", "--linger", "10"]
    thread = threading.Thread(target=main, args=(argv,), daemon=True)
    thread.start()
    visible(name)
    source = LSLSource(name, timeout=1.0)
    received = np.concatenate(list(source.chunks()))
    thread.join(15)
    np.testing.assert_array_equal(received, recordings[1].data)
    assert source.stop_reason.startswith("timeout") and (source.channels, source.sample_rate) == (8, 200.0)
    assert f"published {len(received)} samples" in capsys.readouterr().err


def test_stream_publish_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["stream", "publish", str(tmp_path / "absent.npy"), "--rate", "200"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "absent.npy: file not found" in err
