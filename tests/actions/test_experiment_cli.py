"""`experiment actionsense` / `experiment epic`: options from the config dataclasses, defaults from TrainConfig."""

from __future__ import annotations

import pytest
import yaml

from myovision.actions.table2 import TrainConfig
from myovision.cli import main


@pytest.mark.parametrize("argv", [
    ["experiment", "actionsense", "--data", "d", "--protocol", "loso", "--optimizer", "adam", "--lr", "0.001",
     "--recipe", "paper", "--allow-outside-root"],
    ["experiment", "epic", "--train", "a.csv", "--test", "b.csv", "--features", "f", "--iterations", "150"],
])
def test_print_config_fed_back_with_config_prints_the_same(argv, tmp_path, capsys):
    assert main(argv + ["--print-config"]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "c.yaml").write_text(printed)
    assert main(argv[:2] + ["--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    assert capsys.readouterr().out == printed


def test_the_heads_default_to_the_papers_recipe_stated_once(capsys):
    assert main(["experiment", "actionsense", "--data", "d", "--print-config"]) == 0
    training = yaml.safe_load(capsys.readouterr().out)["training"]
    assert training["optimizer"] == TrainConfig.optimizer and training["lr"] == TrainConfig.lr
    assert training["iterations"] == TrainConfig.iterations and training["patience"] == TrainConfig.patience
    assert training["recipe"] == TrainConfig.backbone_recipe


def test_missing_data_is_one_line(tmp_path, capsys):
    assert main(["experiment", "actionsense", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == "myovision: error: --data is required"
