"""Real-time streaming: per-chunk latency of the gesture and typing paths, and the real Myo Test0 replay over LSL.

1. Latency (one thread): recordings replayed as fast as possible in 50 ms chunks through `run_stream`, per-chunk
   processing time p50 / p99 against the 50 ms chunk period.
   - gestures: `OnlineGestureClassifier` with the default classifier (feature_lda: 14 features per channel and LDA;
     200 ms windows every 50 ms) on the 8-channel 200 Hz Myo layout and the 2 x 16-channel 2 kHz emg2qwerty
     layout. Goal: p99 < 5 ms.
   - typing: `OnlineTyping` with emg2qwerty's TDS model (default size, untrained: the cost does not depend on the
     weights) and the streaming CTC beam search (beam 50) with the character 3-gram LM of ../shared/data/lm on the
     2 x 16-channel 2 kHz layout, with the default backend (ONNX Runtime when installed) and with PyTorch. Goal:
     real-time factor (processing time / signal time) < 0.2.
2. Real Myo replay (../shared/data/myo-armband-7gestures, EvaluationDataset): per person, feature_lda trained on
   training0 (`gestures train`, within-subject, per-session standardisation), then every Test0 recording
   published over an LSL outlet on loopback into `myovision stream gestures` (calibrated on the Test0 recordings,
   as offline evaluation standardises them). Reports the fraction of windows whose online decision equals the
   offline one, the offline and online window accuracy, and the accuracy after a majority vote over 5 windows;
   also the online accuracy when calibrated on training0 instead (no statistic of the test session).

    python benchmarks/bench_stream.py             # 60 s / 20 s of signal, 5 people
    python benchmarks/bench_stream.py --quick     # CI: 10 s / 3 s, one person's first 7 recordings (< 60 s idle)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from shared_data import SHARED_DATA  # noqa: E402

from myovision.cli import main as cli  # noqa: E402
from myovision.data import import_myo_armband, read_manifest  # noqa: E402
from myovision.decoding.lm import NgramLM  # noqa: E402
from myovision.emg_typing.config import DecodingOptions  # noqa: E402
from myovision.emg_typing.evaluate import LABEL_CHARS  # noqa: E402
from myovision.emg_typing.online import OnlineTyping  # noqa: E402
from myovision.decoding.ctc import CTCBeamDecoder  # noqa: E402
from myovision.gestures import DEFAULT_CLASSIFIER  # noqa: E402
from myovision.gestures.classifiers import CLASSIFIERS  # noqa: E402
from myovision.gestures.evaluate import FoldInputs, window_recordings  # noqa: E402
from myovision.gestures.online import OnlineGestureClassifier  # noqa: E402
from myovision.registry import create_model  # noqa: E402
from myovision.stream import ArrayReplay, run_stream  # noqa: E402
from myovision.stream.lsl import import_pylsl, publish  # noqa: E402

pylsl = import_pylsl()

CHUNK_MS = 50.0
MYO = SHARED_DATA / "myo-armband-7gestures"
LM = SHARED_DATA / "lm" / "reuters-3-gram-char-lm.arpa"


def emg_like(seconds: float, fs: float, channels: int, seed: int = 0) -> np.ndarray:
    """Gaussian noise with a slowly varying gain per channel, as float32 (T, C)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    gain = 1 + 0.5 * np.sin(2 * np.pi * 0.5 * t[:, None] + rng.uniform(0, 6, channels))
    return (rng.normal(size=(len(t), channels)) * gain * 50).astype(np.float32)


class CPUTimed:
    """A recogniser whose `push` calls are also clocked in CPU time of this thread (what a busy shared machine
    does not inflate as much as wall time)."""

    def __init__(self, recogniser):
        self.recogniser, self.cpu = recogniser, []
        self.channels, self.sample_rate = recogniser.channels, recogniser.sample_rate

    def push(self, chunk):
        start = time.thread_time()
        out = self.recogniser.push(chunk)
        self.cpu.append(time.thread_time() - start)
        return out

    def finish(self):
        return self.recogniser.finish()

    def summary(self):
        return self.recogniser.summary()


def latency(recogniser, x: np.ndarray, fs: float) -> dict:
    """run_stream over `x` in 50 ms chunks, as fast as possible: wall latency per chunk (p50, p99, from the
    summary), CPU time per chunk, and real-time factors (wall, CPU) = processing time / signal time."""
    timed = CPUTimed(recogniser)
    s = run_stream(ArrayReplay(x, fs, chunk_ms=CHUNK_MS, paced=False), timed, [])["summary"]
    cpu = np.array(timed.cpu)
    return {"chunks": s["chunks"], "signal_s": s["signal_seconds"], "p50_ms": s["latency_p50_ms"],
            "p99_ms": s["latency_p99_ms"], "rtf": s["wall_seconds"] / s["signal_seconds"],
            "cpu_p50_ms": float(np.percentile(cpu, 50) * 1000), "cpu_p99_ms": float(np.percentile(cpu, 99) * 1000),
            "cpu_rtf": float(cpu.sum() / s["signal_seconds"])}


def gesture_latency(seconds: float, fs: float, channels: int) -> dict:
    clf = CLASSIFIERS[DEFAULT_CLASSIFIER]()
    train = emg_like(20, fs, channels, seed=1)
    size, step = round(0.2 * fs), round(0.05 * fs)
    windows = np.lib.stride_tricks.sliding_window_view(train, size, axis=0)[::step].swapaxes(1, 2)  # (n, size, C)
    x = clf.transform(np.ascontiguousarray(windows), fs)
    clf.fit(x, np.arange(len(x)) % 7, 7)
    online = OnlineGestureClassifier(clf, [f"g{i}" for i in range(7)], sample_rate=fs, channels=channels)
    online.push(train[:size])  # warm-up
    online.reset()
    return latency(online, emg_like(seconds, fs, channels), fs)


def typing_latency(seconds: float, backend: str) -> dict:
    torch.manual_seed(0)
    model = create_model("tds_conv_ctc").eval()
    options = DecodingOptions()
    lm = NgramLM.read_arpa(LM) if LM.is_file() else None
    decoder = CTCBeamDecoder(beam_size=options.beam_size, lm=lm, label_chars=LABEL_CHARS if lm else None,
                             lm_weight=options.lm_weight, insertion_bonus=options.insertion_bonus)
    online = OnlineTyping(model, decoder, backend=backend)
    online.push(emg_like(1, 2000, 32, seed=1))  # warm-up
    online.reset()
    model_cpu = []  # CPU time of each chunk's emissions (spectrogram + model); the rest of a push is the decoder
    emissions = online.emissions

    def timed_emissions(chunk):
        start = time.thread_time()
        out = emissions(chunk)
        model_cpu.append(time.thread_time() - start)
        return out

    online.emissions = timed_emissions
    result = latency(online, emg_like(seconds, 2000, 32), 2000.0)
    model_rtf = float(np.sum(model_cpu) / result["signal_s"])
    return {**result, "model_cpu_rtf": model_rtf, "decoder_cpu_rtf": result["cpu_rtf"] - model_rtf,
            "lm": LM.name if lm else None, "backend": online.backend}


def offline_decisions(run: Path, manifest: Path, subject: str, session: str):
    """(recordings of the subject's session, each one's offline window decisions) as `gestures train` made them."""
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    loaded = read_manifest(manifest)
    recordings = loaded.select(subjects=[subject], sessions=[session]).load()
    clf = CLASSIFIERS[config["model"]]()
    data = window_recordings(recordings, clf, window_ms=config["window_ms"], step_ms=config["step_ms"],
                             class_names=loaded.labels, progress=False)
    (fold,) = [p for p in (run / "folds").iterdir() if (p / "model.json").is_file()]
    rows, x, _ = FoldInputs(data, config["normalise"])(np.arange(len(recordings)))
    predicted = clf.load(fold).scores(x).argmax(1)
    owner = data.recording[rows]
    return recordings, [predicted[owner == i] for i in range(len(recordings))], loaded.labels


def stream_command(argv: list[str]) -> list[dict]:
    """`myovision stream gestures ARGV` in this process: its JSON lines (the summary last)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli(["stream", "gestures", *argv]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def myo_replay(subject: str, tmp: Path, limit: int | None) -> dict:
    """Train on training0, replay Test0 over LSL into `stream gestures`; accuracies and decision agreement."""
    manifest = import_myo_armband(MYO, tmp / "data", datasets=("EvaluationDataset",), subjects=[subject]).manifest
    run = tmp / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli(["gestures", "train", "--manifest", str(manifest), "--protocol", "within-subject", "--model",
                    DEFAULT_CLASSIFIER, "--train-session", "training0", "--sessions", "training0,Test0",
                    "--out", str(run)]) == 0
    recordings, offline, labels = offline_decisions(run, manifest, subject, "Test0")
    training0 = read_manifest(manifest).select(subjects=[subject], sessions=["training0"]).load()
    test_files = ",".join(str(r.path) for r in recordings)
    train_files = ",".join(str(r.path) for r in training0)
    counts = dict.fromkeys(("windows", "same", "offline", "online", "voted", "train_calibrated"), 0)
    for rec, expected in list(zip(recordings, offline))[:limit]:
        truth = labels.index(rec.label)
        name = f"myo-bench-{uuid.uuid4().hex[:10]}"
        thread = threading.Thread(target=publish, args=(rec.data, 200.0, name),
                                  kwargs={"paced": False, "wait_s": 30, "linger_s": 10}, daemon=True)
        thread.start()
        assert pylsl.resolve_byprop("name", name, 1, 30), f"LSL stream {name} never appeared"
        lines = stream_command(["--model", str(run), "--source", f"lsl:{name}", "--calibrate", test_files,
                                "--timeout", "1", "--vote", "5"])[:-1]
        thread.join(15)
        raw = np.array([labels.index(r["raw"]) for r in lines])
        voted = np.array([labels.index(r["label"]) for r in lines])
        other = stream_command(["--model", str(run), "--source", f"replay:{rec.path}", "--calibrate", train_files,
                                "--as-fast-as-possible"])[:-1]
        counts["windows"] += len(expected)
        counts["same"] += int(len(raw) == len(expected) and (raw == expected).sum())
        counts["offline"] += int((expected == truth).sum())
        counts["online"] += int((raw == truth).sum())
        counts["voted"] += int((voted == truth).sum())
        counts["train_calibrated"] += sum(labels.index(r["raw"]) == truth for r in other)
    n = counts["windows"]
    return {"subject": subject, "recordings": len(recordings[:limit]), "windows": n,
            "same_decisions": counts["same"] / n, "offline_window_accuracy": counts["offline"] / n,
            "online_window_accuracy": counts["online"] / n, "online_vote5_accuracy": counts["voted"] / n,
            "online_training0_calibrated_accuracy": counts["train_calibrated"] / n}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short signals, one person's first 7 recordings (CI)")
    p.add_argument("--people", type=int, default=5, help="EvaluationDataset people replayed (full run)")
    p.add_argument("--skip-myo", action="store_true", help="latency only")
    p.add_argument("--json", type=Path, default=None, help="write all results here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results: dict = {"threads": torch.get_num_threads(), "chunk_ms": CHUNK_MS, "load": os.getloadavg()}
    g_seconds, t_seconds = (10, 3) if args.quick else (60, 20)
    results["gestures_myo_8ch_200hz"] = gesture_latency(g_seconds, 200.0, 8)
    results["gestures_emg2qwerty_32ch_2khz"] = gesture_latency(g_seconds, 2000.0, 32)
    results["typing_emg2qwerty_32ch_2khz"] = typing_latency(t_seconds, "auto")
    results["typing_emg2qwerty_32ch_2khz_torch"] = typing_latency(t_seconds, "torch")
    for key in ("gestures_myo_8ch_200hz", "gestures_emg2qwerty_32ch_2khz", "typing_emg2qwerty_32ch_2khz",
                "typing_emg2qwerty_32ch_2khz_torch"):
        r = results[key]
        print(f"{key:30s} {r['chunks']:5d} chunks of {CHUNK_MS:g} ms: wall p50 {r['p50_ms']:7.2f} ms, p99 "
              f"{r['p99_ms']:7.2f} ms ({r['p99_ms'] / CHUNK_MS:.3f} of the chunk period), real-time factor "
              f"{r['rtf']:.3f}; CPU p50 {r['cpu_p50_ms']:6.2f} ms, p99 {r['cpu_p99_ms']:6.2f} ms, real-time factor "
              f"{r['cpu_rtf']:.3f}", flush=True)
    t, torch_run = results["typing_emg2qwerty_32ch_2khz"], results["typing_emg2qwerty_32ch_2khz_torch"]
    for r in (t, torch_run):
        print(f"typing CPU real-time factor ({r['backend']}): model (spectrogram + network) {r['model_cpu_rtf']:.3f}, "
              f"CTC beam search {r['decoder_cpu_rtf']:.3f}", flush=True)
    results["typing_model_torch_vs_default"] = torch_run["model_cpu_rtf"] / t["model_cpu_rtf"]
    print(f"typing model CPU time, torch / {t['backend']}: {results['typing_model_torch_vs_default']:.2f}x", flush=True)
    goals = {f"gestures {layout} p99 < 5 ms ({clock})": results[f"gestures_{layout}"][key] < 5
             for layout in ("myo_8ch_200hz", "emg2qwerty_32ch_2khz")
             for clock, key in (("wall", "p99_ms"), ("CPU", "cpu_p99_ms"))}
    goals |= {f"typing real-time factor < 0.2 ({t['backend']}, wall)": t["rtf"] < 0.2,
              f"typing real-time factor < 0.2 ({t['backend']}, CPU)": t["cpu_rtf"] < 0.2}
    if not args.skip_myo:
        if not MYO.is_dir():
            print(f"myo replay skipped: {MYO} is absent")
        else:
            people = sorted(d.name for d in (MYO / "EvaluationDataset").iterdir() if d.is_dir())
            people = people[:1] if args.quick else people[:args.people]
            rows = []
            for person in people:
                with tempfile.TemporaryDirectory() as tmp:
                    rows.append(myo_replay(f"EvaluationDataset/{person}", Path(tmp), 7 if args.quick else None))
                r = rows[-1]
                print(f"{r['subject']}: {r['recordings']} Test0 recordings, {r['windows']} windows over LSL: same "
                      f"decisions {r['same_decisions']:.4f}; window accuracy offline {r['offline_window_accuracy']:.4f}"
                      f", online {r['online_window_accuracy']:.4f}, vote of 5 {r['online_vote5_accuracy']:.4f}; "
                      f"calibrated on training0 {r['online_training0_calibrated_accuracy']:.4f}", flush=True)
            results["myo_replay"] = rows
            goals["same decisions online as offline"] = all(r["same_decisions"] == 1.0 for r in rows)
    results["load_after"] = os.getloadavg()
    results["goals"] = goals
    print(f"load average before {results['load'][0]:.1f}, after {results['load_after'][0]:.1f}; goals: "
          + "; ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in goals.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
