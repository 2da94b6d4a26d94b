"""A killed training run, resumed with --resume, ends where the uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from myovision.cli import main
from myovision.data import write_synthetic_gestures


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_synthetic_gestures(tmp_path_factory.mktemp("g"), n_subjects=2, n_gestures=3, n_sessions=2,
                                    n_cycles=3, duration_s=2.0, seed=2)


def weights(run):
    (model,) = sorted(run.glob("folds/*/model.safetensors"))
    return load_file(model)


def test_a_killed_run_resumed_ends_with_the_uninterrupted_runs_weights(manifest, tmp_path):
    argv = [sys.executable, "-m", "myovision", "gestures", "train", "--manifest", str(manifest), "--protocol",
            "split", "--model", "feature_mlp", "--epochs", "150", "--deterministic", "--seed", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # every run in its own process with the same thread count
    subprocess.run(argv + ["--out", str(tmp_path / "whole")], env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(argv + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(killed.glob("folds/*/checkpoints/last.ckpt")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (last,) = killed.glob("folds/*/checkpoints/last.ckpt")
    assert torch.load(last, weights_only=True)["epoch"] < 149, "the run finished before it could be killed"
    assert not (killed / "metrics.json").exists()

    subprocess.run(argv + ["--out", str(killed), "--resume"], env=env, check=True, capture_output=True)
    whole, resumed = weights(tmp_path / "whole"), weights(killed)
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert (whole[name] - resumed[name]).abs().max() <= 1e-6, name
    assert (killed / "metrics.json").read_text() == (tmp_path / "whole" / "metrics.json").read_text()
    (log,) = killed.glob("folds/*/logs/metrics.csv")
    assert log.read_text().count("\n0,") >= 1  # the first epoch's rows, logged before the kill, are kept


def test_resume_refuses_another_config_and_overwrites_nothing(manifest, tmp_path, capsys):
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "split", "--model", "lda",
            "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert main(argv + ["--window-ms", "100", "--resume"]) == 2
    assert "another configuration" in capsys.readouterr().err
    assert main(argv) == 2  # a finished run is not overwritten without --resume
    assert "already holds a run" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before


def test_print_config_fed_back_reproduces_the_run_config(manifest, tmp_path, capsys):
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "split", "--model", "lda",
            "--window-ms", "150"]
    assert main(argv + ["--print-config"]) == 0
    (tmp_path / "printed.yaml").write_text(capsys.readouterr().out)
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert main(["gestures", "train", "--config", str(tmp_path / "printed.yaml"), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "config.yaml").read_text() == (tmp_path / "b" / "config.yaml").read_text()
    assert (tmp_path / "a" / "metrics.json").read_text() == (tmp_path / "b" / "metrics.json").read_text()


def test_bad_hardware_and_truncated_checkpoints_are_one_line_and_overwrite_nothing(manifest, tmp_path, capsys):
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "split", "--model", "feature_mlp",
            "--epochs", "2", "--out", str(tmp_path / "run")]
    assert main(argv + ["--accelerator", "cpu", "--devices", "4096"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--devices 4096 asked for, but this machine has" in err[0]
    assert main(argv) == 0
    (ckpt,) = (tmp_path / "run").glob("folds/*/checkpoints/last.ckpt")
    (tmp_path / "run" / "folds" / ckpt.parts[-3] / "model.safetensors").unlink()  # as if killed before the end
    (tmp_path / "run" / "metrics.json").unlink()
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the windowing progress, one line
    assert err.startswith("myovision: error: ") and "last.ckpt: not a loadable weights-only checkpoint" in err
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before
