"""OnlineGestureClassifier over a trained gestures run: the window decisions of offline evaluation whatever the
chunking; smoothing, vote and rejection; the `stream gestures` command; NaN samples, wrong layouts, SIGTERM."""

from __future__ import annotations

import io
import json
import os
import signal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.cli import main
from myovision.data import write_synthetic_gestures
from myovision.errors import InputError
from myovision.gestures.online import load_online_classifier
from myovision.stream import ArrayReplay, DecisionOptions, run_stream

from gesture_run import offline_decisions, reported_window_accuracy, train_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gestures")
    manifest = write_synthetic_gestures(root / "data", n_subjects=1, n_gestures=3, n_sessions=2, n_cycles=2,
                                        duration_s=2.0, seed=2)
    run = train_run(manifest, root / "run")
    recordings, decisions = offline_decisions(run, manifest, "session1")
    return run, recordings, decisions


def online_for(run, recordings, **options):
    return load_online_classifier(run, calibration=[r.data for r in recordings],
                                  decisions=DecisionOptions(**options))


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_online_window_decisions_are_the_offline_ones_in_any_chunks(trained, data):
    run, recordings, offline = trained
    online = online_for(run, recordings)
    reported = reported_window_accuracy(run)
    for rec, expected in zip(recordings, offline):
        online.reset()
        n = len(rec.data)
        cuts = [0, *sorted(set(data.draw(st.lists(st.integers(1, n - 1), max_size=12)))), n]
        records = [r for a, b in zip(cuts, cuts[1:]) for r in online.push(rec.data[a:b])]
        raw = [online.class_names.index(r["raw"]) for r in records]
        assert raw == expected.tolist()
        assert [r["window"] for r in records] == list(range(len(expected)))
        truth = online.class_names.index(rec.label)
        assert np.mean(np.array(raw) == truth) == pytest.approx(reported[str(rec.path)])


def test_vote_smoothing_and_rejection(trained):
    run, recordings, _ = trained
    raw = [r["raw"] for r in online_for(run, recordings).push(recordings[0].data)]
    voted = online_for(run, recordings, vote=5).push(recordings[0].data)
    for i, record in enumerate(voted):
        recent = raw[max(0, i - 4): i + 1]
        assert recent.count(record["label"]) == max(recent.count(c) for c in set(recent))
    smoothed = online_for(run, recordings, smoothing=0.9).push(recordings[0].data)
    assert sum(a["label"] != b["label"] for a, b in zip(smoothed, smoothed[1:])) <= sum(
        a != b for a, b in zip(raw, raw[1:]))
    rejected = online_for(run, recordings, threshold=1.0).push(recordings[0].data)
    assert all(r["label"] is None or r["confidence"] == 1.0 for r in rejected)


def test_a_run_that_standardises_per_session_needs_calibration(trained):
    run, _, _ = trained
    with pytest.raises(InputError, match="--calibrate"):
        load_online_classifier(run)


def test_stream_gestures_replay_writes_json_lines_and_a_summary(trained, tmp_path, capsys):
    run, recordings, offline = trained
    files = ",".join(str(r.path) for r in recordings)
    assert main(["stream", "gestures", "--model", str(run), "--source", f"replay:{recordings[1].path}",
                 "--calibrate", files, "--as-fast-as-possible", "--chunk-ms", "35"]) == 0
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines()]
    records, summary = lines[:-1], lines[-1]["summary"]
    assert len(records) == len(offline[1]) == summary["windows"] == summary["records"]
    assert all(r["latency_ms"] >= 0 and 0 <= r["confidence"] <= 1 for r in records)
    assert summary["stopped"] == "end of recording" and "stream end of recording" in out.err


def test_wrong_channel_count_or_rate_is_one_line(trained, tmp_path, capsys):
    run, recordings, _ = trained
    four = tmp_path / "four.npy"
    np.save(four, np.zeros((400, recordings[0].channels + 1), np.float32))
    calibrate = str(recordings[0].path)
    assert main(["stream", "gestures", "--model", str(run), "--source", f"replay:{four}", "--calibrate",
                 calibrate, "--as-fast-as-possible"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(four) in err and "channels" in err and "model expects" in err
    assert main(["stream", "gestures", "--model", str(run), "--source", f"replay:{recordings[0].path}", "--rate",
                 "1000", "--calibrate", calibrate, "--as-fast-as-possible"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1000 Hz" in err


def test_nan_samples_mid_stream_are_reported_and_skipped(trained):
    run, recordings, _ = trained
    online = online_for(run, recordings)
    x = recordings[0].data.copy()
    x[100:103, 1] = np.nan
    log = io.StringIO()
    summary = run_stream(ArrayReplay(x, online.sample_rate, paced=False), online, [], log=log)["summary"]
    clean = len(x) - 3
    assert summary["skipped_samples"] == 3 and summary["samples"] == clean
    assert summary["windows"] == (clean - online.windows.size) // online.windows.step + 1  # it went on
    assert "skipped 3 samples with NaN/Inf at stream samples [100, 101, 102]" in log.getvalue()


class Interrupted(ArrayReplay):
    """A replay that receives SIGTERM after its third chunk."""

    def chunks(self):
        for i, chunk in enumerate(super().chunks()):
            if i == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            yield chunk


def test_sigterm_stops_the_stream_with_a_summary(trained):
    run, recordings, _ = trained
    online = online_for(run, recordings)
    before = signal.getsignal(signal.SIGTERM)
    summary = run_stream(Interrupted(recordings[0].data, online.sample_rate, paced=False), online, [])["summary"]
    assert summary["stopped"] == "interrupted" and summary["chunks"] == 3
    assert signal.getsignal(signal.SIGTERM) is before


def test_replayed_file_with_nan_rows_is_reported_and_skipped(trained, tmp_path, capsys):
    """replay:FILE with NaN samples goes on like a live stream (the recording reader refuses them offline)."""
    run, recordings, _ = trained
    x = recordings[0].data.copy()
    x[200:205] = np.nan
    path = tmp_path / "gaps.npy"
    np.save(path, x)
    calibrate = ",".join(str(r.path) for r in recordings)
    assert main(["stream", "gestures", "--model", str(run), "--source", f"replay:{path}", "--rate",
                 str(recordings[0].sample_rate), "--calibrate", calibrate, "--as-fast-as-possible"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])["summary"]
    assert summary["skipped_samples"] == 5 and summary["samples"] == len(x) - 5
    assert "skipped 5 samples with NaN/Inf at stream samples [200, 201, 202, 203, 204]" in out.err
    np.save(path, recordings[0].data[:, :0])  # other refusals stand
    assert main(["stream", "gestures", "--model", str(run), "--source", f"replay:{path}", "--rate",
                 str(recordings[0].sample_rate), "--calibrate", calibrate, "--as-fast-as-possible"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
