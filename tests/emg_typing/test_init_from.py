"""`typing train --init-from CKPT|RUN` (emg2qwerty's personalisation): the weights arrive exactly; another
model's checkpoint, a folder without weights, a missing file: one line each."""

from __future__ import annotations

import pytest
import torch

import myovision as mv
from myovision.cli import main
from myovision.emg_typing.training import init_weights
from myovision.errors import InputError
from myovision.runs import save_model

TINY = {"mlp_features": [16], "block_channels": [8], "kernel_width": 4}


@pytest.fixture
def generic_run(tmp_path):
    model = mv.create_model("tds_conv_ctc", **TINY)
    torch.nn.init.normal_(model.model[-2].weight)
    save_model(tmp_path / "generic", model, "tds_conv_ctc", TINY)
    return tmp_path / "generic", model


def test_init_from_a_run_folder_or_its_weights_loads_every_tensor(generic_run):
    run, source = generic_run
    for where in (run, run / "model.safetensors"):
        model = init_weights(mv.create_model("tds_conv_ctc", **TINY), where)
        for key, value in source.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), key


def test_init_from_another_models_checkpoint_is_one_line(generic_run):
    run, _ = generic_run
    with pytest.raises(InputError, match="checkpoint shapes do not fit") as err:
        init_weights(mv.create_model("tds_conv_ctc", **{**TINY, "mlp_features": [24]}), run)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"does not fit CTCModel: missing \[") as err:
        init_weights(mv.create_model("tds_bilstm_ctc", mlp=16, block_channels=[8], kernel_width=4, rnn_hidden=8), run)
    assert "\n" not in str(err.value)


def test_init_from_bad_paths_on_the_command_line(generic_run, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no model.safetensors in this folder"):
        init_weights(mv.create_model("tds_conv_ctc", **TINY), empty)
    from myovision.data.synthetic_typing import write_synthetic_typing

    data = tmp_path / "data"
    write_synthetic_typing(data, n_sessions=3, duration_s=15, seed=1, words=("as", "sad"), punctuation=False)
    args = ["typing", "train", "--data", str(data), "--model-kwargs", '{"mlp_features": [24], "block_channels": [8], '
            '"kernel_width": 4}', "--epochs", "1", "--window", "2000", "--init-from", str(generic_run[0]),
            "--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "checkpoint shapes do not fit" in err and len(err.splitlines()) == 1
