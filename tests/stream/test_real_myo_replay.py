"""Real Myo armband data (../shared/data/myo-armband-7gestures): a model trained on one person's training0 session,
and one cycle of that person's Test0 recordings (7 gestures) published over LSL on loopback into `myovision stream
gestures`: every window gets the decision offline evaluation gave it. The full replay (every Test0 recording of
several people, with the smoothed accuracy) is benchmarks/bench_stream.py."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

pylsl = pytest.importorskip("pylsl", reason="pylsl is not installed (pip install 'myovision[lsl]')")

from conftest import shared_path  # noqa: E402
from myovision.cli import main  # noqa: E402
from myovision.data import import_myo_armband  # noqa: E402
from myovision.stream.lsl import publish  # noqa: E402

from gesture_run import offline_decisions, train_run  # noqa: E402

SUBJECT = "EvaluationDataset/Female0"


def test_real_test0_replayed_over_lsl_gets_the_offline_window_decisions(tmp_path, capsys):
    root = shared_path("myo-armband-7gestures")
    manifest = import_myo_armband(root, tmp_path / "data", datasets=("EvaluationDataset",), subjects=[SUBJECT]).manifest
    run = train_run(manifest, tmp_path / "run", "--train-session", "training0", "--sessions", "training0,Test0")
    recordings, offline = offline_decisions(run, manifest, "Test0", subject=SUBJECT)
    calibrate = ",".join(str(r.path) for r in recordings)
    class_names = json.loads((run / "metrics.json").read_text())["class_names"]
    capsys.readouterr()
    for rec, expected in list(zip(recordings, offline))[:7]:  # cycle 0: one recording of each gesture
        name = f"myo-{uuid.uuid4().hex[:10]}"
        thread = threading.Thread(target=publish, args=(rec.data, 200.0, name),
                                  kwargs={"paced": False, "wait_s": 30, "linger_s": 10}, daemon=True)
        thread.start()
        assert pylsl.resolve_byprop("name", name, 1, 30), f"LSL stream {name} never appeared"
        assert main(["stream", "gestures", "--model", str(run), "--source", f"lsl:{name}", "--calibrate", calibrate,
                     "--timeout", "1", "--vote", "5"]) == 0
        thread.join(15)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["raw"] for r in lines[:-1]] == [class_names[c] for c in expected], rec.path
        assert lines[-1]["summary"]["samples"] == len(rec.data)

