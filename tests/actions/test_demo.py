"""`myovision demo`: the short default schedule, `--full`, and progress lines while it trains."""

import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from myovision.actions.backbone import training_progress
from myovision.actions.config import DEMO_FULL_SCHEDULE, DEMO_SCHEDULE, TrainConfig
from myovision.actions.table2 import TABLE2


def _run_demo(monkeypatch, tmp_path, *argv):
    """Run `myovision demo ARGV` with the experiment replaced by a recorder; returns the config it got."""
    import myovision.actions.experiment as experiment
    from myovision.cli import main

    seen = {}
    monkeypatch.setattr(experiment, "write_synthetic_experiment_data",
                        lambda out, seed, log: seen.update(seed=seed) or out)
    monkeypatch.setattr(experiment, "run_actionsense",
                        lambda data, out, *, seeds, config, log, progress: seen.update(config=config, seeds=seeds,
                                                                                       progress=progress))
    assert main(["demo", "--out", str(tmp_path), *argv]) == 0
    return seen


def test_demo_runs_the_short_schedule_and_full_the_long_one(monkeypatch, tmp_path):
    short = _run_demo(monkeypatch, tmp_path)
    assert short["config"] == DEMO_SCHEDULE and short["seeds"] == 1 and short["progress"]
    full = _run_demo(monkeypatch, tmp_path, "--full", "--seed", "3")
    assert full["config"] == DEMO_FULL_SCHEDULE and full["seed"] == 3
    assert _run_demo(monkeypatch, tmp_path, "--iterations", "7")["config"] == replace(DEMO_SCHEDULE, iterations=7)


def test_demo_schedule_is_shorter_and_stops_on_validation():
    n_train = 250  # the synthetic default's training side
    assert DEMO_SCHEDULE.iterations < DEMO_FULL_SCHEDULE.iterations
    assert DEMO_SCHEDULE.epochs(n_train) < DEMO_FULL_SCHEDULE.epochs(n_train)
    assert DEMO_SCHEDULE.backbone_epochs < DEMO_FULL_SCHEDULE.backbone_epochs
    assert DEMO_SCHEDULE.patience is not None and DEMO_SCHEDULE.patience < DEMO_SCHEDULE.epochs(n_train)
    assert "adam" in DEMO_SCHEDULE.describe() and "80 steps" in DEMO_SCHEDULE.describe()


def test_demo_help_states_both_schedules(capsys):
    from myovision.cli import main

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--full" in text and "300 steps" in text and "80 steps" in text


def test_training_progress_counts_training_steps_only(capsys):
    assert not sys.stdout.isatty()  # captured: plain lines
    model = torch.nn.Linear(3, 2)
    x = torch.zeros(4, 3)
    with training_progress(model, 5, "  my row", interval_s=0.0):
        model.train()
        model(x)
        model(x)
        model.eval()
        model(x)  # validation: not a step
    model(x)  # after the block: not counted (hook removed)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [line for line in lines if line.startswith("  my row: ")][:2]
    assert lines[0].startswith("  my row: 1/5 step") and lines[1].startswith("  my row: 2/5 step")
    assert not any(line.startswith("  my row: 3/5") for line in lines)
    assert not model._forward_pre_hooks


def test_training_progress_disabled_prints_nothing(capsys):
    model = torch.nn.Linear(3, 2)
    with training_progress(model, 5, "row", enabled=False, interval_s=0.0):
        model(torch.zeros(1, 3))
    assert capsys.readouterr().out == "" and not model._forward_pre_hooks


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from myovision.actions.experiment import write_synthetic_experiment_data

    return write_synthetic_experiment_data(tmp_path_factory.mktemp("demo"), n_subjects=3, n_classes=4, seed=1)


def test_experiment_logs_a_line_per_phase_and_per_row(data, tmp_path, capsys):
    from myovision.actions.experiment import run_actionsense

    lines = []
    config = TrainConfig(iterations=10, backbone_epochs=1, batch_size=16)
    run_actionsense(data, tmp_path, seeds=1, config=config, rows=TABLE2[:2], log=lines.append, progress=True)
    assert any(line.strip().startswith("sEMG CNN backbone: training") for line in lines)
    assert any(line.strip().startswith("sEMG CNN backbone done") for line in lines)
    for row in TABLE2[:2]:
        assert sum(line.strip().startswith(row.name + " ") and "accuracy" in line for line in lines) == 1
    assert lines[-1].endswith("report.html")
    shown = capsys.readouterr().out  # progress: at least the final step count of the backbone and each row
    assert "sEMG CNN backbone: " in shown and f"  {TABLE2[1].name}: " in shown
