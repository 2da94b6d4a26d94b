"""`myovision typing train` as a train command of the harness: config round trip, the run folder as a checkpoint,
metrics.json's schema, --resume refusing another config, exact resume, and DDP on two CPU processes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout

import lightning as L
import pytest
import torch
import yaml

import myovision as mv
from myovision.cli import main
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.emg_typing.config import TypingConfig
from myovision.emg_typing.evaluate import evaluate_typing
from myovision.emg_typing.training import TrainingWindows, fit_typing
from myovision.data.emg2qwerty import WindowedSessions, read_split
from myovision.registry import read_state_dict

WORDS = ("sad", "dad", "add", "as", "ask", "lad")
TINY = '{"mlp_features": [16], "block_channels": [8], "kernel_width": 4}'
QUICK = ["--model-kwargs", TINY, "--epochs", "1", "--batch-size", "4", "--window", "2000", "--beam-size", "4",
         "--blank-bias", "5"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("typing-data")
    write_synthetic_typing(out, n_sessions=3, duration_s=15, seed=3, words=WORDS, punctuation=False)
    return out


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("typing-run") / "run"
    assert main(["typing", "train", "--data", str(data), *QUICK, "--out", str(out)]) == 0
    return out


def test_print_config_fed_back_with_config_reproduces_config_yaml(data, run, tmp_path):
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["typing", "train", "--config", str(run / "config.yaml"), "--print-config"]) == 0
    assert printed.getvalue() == (run / "config.yaml").read_text()
    config = yaml.safe_load(printed.getvalue())
    assert config["epochs"] == 1 and config["model_kwargs"] == json.loads(TINY) and config["decoding"]["beam_size"] == 4
    defaults = io.StringIO()
    with redirect_stdout(defaults):
        assert main(["typing", "train", "--print-config"]) == 0
    stated = yaml.safe_load(defaults.getvalue())  # emg2qwerty's recipe, stated once in TypingConfig
    assert (stated["epochs"], stated["warmup_epochs"], stated["lr"], stated["batch_size"], stated["window"]) == \
        (150, 10, 0.001, 32, 8000)


def test_the_run_folder_rebuilds_the_trained_network(run):
    reloaded = mv.create_model(checkpoint=run)
    best = {k.removeprefix("model."): v for k, v in read_state_dict(run / "checkpoints" / "best.safetensors").items()}
    trained = mv.create_model("tds_conv_ctc", **json.loads(TINY))
    trained.load_state_dict(best)  # the best validation epoch's weights, which training restored
    x = torch.randn(80, 2, 2, 16, 33)
    assert torch.equal(reloaded.eval()(x), trained.eval()(x))
    spec = json.loads((run / "model.json").read_text())
    assert spec["model"] == "tds_conv_ctc" and spec["kwargs"] == json.loads(TINY)


def test_metrics_are_lower_case_fractions_with_counts(run):
    metrics = json.loads((run / "metrics.json").read_text())
    for decoder in ("greedy", "beam", "beam_lm"):
        m = metrics[decoder]
        assert all(k == k.lower() for k in m)
        assert 0 <= m["cer"] <= 1 and m["cer"] == m["errors"] / m["reference_chars"]
        assert all(0 <= m[f"{kind}_rate"] <= 1 for kind in ("substitution", "insertion", "deletion"))
    assert all(k == k.lower() for k in metrics) and 0 <= metrics["best_val_cer"] <= 1


def test_resume_with_another_config_is_one_line_and_overwrites_nothing(data, run, capsys):
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main(["typing", "train", "--data", str(data), *QUICK, "--lr", "0.01", "--resume", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--resume with another configuration" in err and "lr: 0.001 -> 0.01" in err
    assert main(["typing", "train", "--data", str(data), *QUICK, "--out", str(run)]) == 2  # no --resume
    assert "already holds a run" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_training_windows_are_a_function_of_seed_epoch_and_index(data):
    windows = WindowedSessions(read_split(data / "split.yaml")["train"], window=2000, padding=(100, 10), jitter=True)
    ds = TrainingWindows(windows, seed=1)
    x, y = ds[(2, 5)]
    ds[(0, 3)], ds[(1, 5)]  # other draws in between change nothing
    again, labels = TrainingWindows(windows, seed=1)[(2, 5)]
    assert torch.equal(x, again) and torch.equal(y, labels)
    assert not torch.equal(x, ds[(3, 5)][0]) and not torch.equal(x, TrainingWindows(windows, seed=2)[(2, 5)][0])


class StopAfterFirstEpoch(L.Callback):
    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True  # before the epoch's checkpoint is written, as a run killed after it


def test_resume_continues_exactly_where_an_interrupted_run_stopped(data, tmp_path):
    split = read_split(data / "split.yaml")
    config = TypingConfig(model_kwargs=json.loads(TINY), epochs=2, batch_size=4, window=2000, warmup_epochs=1)
    straight = fit_typing(config, split["train"], split["val"], out=tmp_path / "a")
    fit_typing(config, split["train"], split["val"], out=tmp_path / "b", callbacks=[StopAfterFirstEpoch()])
    resumed = fit_typing(config, split["train"], split["val"], out=tmp_path / "b", resume=True)
    assert resumed.history == straight.history and len(straight.history) == 2
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_ddp_on_two_cpu_processes_writes_one_run_scored_as_one_process(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "myovision", "typing", "train", "--data", str(data), *QUICK,
                           "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.parent for p in tmp_path.rglob("metrics.json")] == [out]
    assert [p.parent for p in tmp_path.rglob("config.yaml")] == [out]
    metrics = json.loads((out / "metrics.json").read_text())
    test = read_split(data / "split.yaml")["test"]
    single = evaluate_typing(mv.create_model(checkpoint=out), test, {"greedy": None})
    assert metrics["greedy"]["cer"] == single["greedy"]["cer"]
    assert metrics["greedy"]["errors"] == single["greedy"]["errors"] and metrics["epochs"] == 1
    assert json.loads((out / "run.json").read_text())["device"] == "2 x CPU core"
