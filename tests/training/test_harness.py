"""The training harness, run folders and generated configs: one way for every system."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass

import pytest
import torch

import myovision as mv
from myovision.config import add_config_arguments, config_from_args, option, print_config_if_asked, to_dict
from myovision.errors import InputError
from myovision.runs import CONFIG, dump_config, read_config, run_info, save_model, start_run
from myovision.training.harness import EpochShuffle, SystemModule, build_trainer, fit, resume_checkpoint
from myovision.training.options import TrainerOptions, check_devices


@dataclass
class ToyConfig:
    epochs: int = option(3, "passes over the data")
    lr: float = option(1e-3, "learning rate")
    widths: tuple[int, ...] = option((8, 16), "layer widths")
    note: str | None = option(None, "free text")
    trainer: TrainerOptions = option(factory=TrainerOptions, help="how to train")


def parse(argv):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ToyConfig)
    args = parser.parse_args(argv)
    return config_from_args(ToyConfig, args), args


def test_defaults_come_from_the_dataclass_and_every_option_has_help():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ToyConfig)
    actions = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert all(a.help and "default" in a.help for a in actions if a.dest not in ("config", "print_config"))
    assert parse([])[0] == ToyConfig()
    assert "(default: 1)" in next(a.help for a in actions if a.dest == "trainer__devices")


def test_print_config_fed_back_with_config_reproduces_it(tmp_path):
    config, args = parse(["--epochs", "7", "--widths", "4,5,6", "--precision", "bf16-mixed", "--deterministic",
                          "--print-config"])
    out = io.StringIO()
    with redirect_stdout(out):
        assert print_config_if_asked(config, args)
    (tmp_path / "c.yaml").write_text(out.getvalue())
    again, _ = parse(["--config", str(tmp_path / "c.yaml")])
    assert again == config and again.widths == (4, 5, 6) and again.trainer.precision == "bf16-mixed"
    assert dump_config(to_dict(again)) == out.getvalue()
    overridden, _ = parse(["--config", str(tmp_path / "c.yaml"), "--epochs", "2"])  # the command line wins
    assert overridden.epochs == 2 and overridden.widths == (4, 5, 6)


@pytest.mark.parametrize("text, problem", [
    ("epochs: 3\nbogus: 1\n", "unknown option"),
    ("epochs: many\n", "cannot read 'many' as int"),
    ("trainer: {devices: 0}\n", "--devices must be at least 1"),
    ("- a\n", "expected a mapping"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, text, problem):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(InputError, match=problem) as exc:
        parse(["--config", str(tmp_path / "c.yaml")])
    assert exc.value.path == str(tmp_path / "c.yaml")


def test_epoch_shuffle_is_a_function_of_seed_and_epoch():
    def order(seed, epoch, **kw):
        sampler = EpochShuffle(10, seed, **kw)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0, 3) == order(0, 3) and order(0, 3) != order(0, 4) and order(0, 3) != order(1, 3)
    assert sorted(order(0, 1)) == list(range(10))
    batches = order(0, 1, batch_size=4, drop_last=True)
    assert [len(b) for b in batches] == [4, 4] and sum(batches, []) == order(0, 1)[:8]
    assert len(EpochShuffle(10, batch_size=4)) == 3


def test_more_devices_than_the_machine_has_is_one_clear_line():
    with pytest.raises(InputError, match="--devices 4096 asked for, but this machine has"):
        check_devices(TrainerOptions(accelerator="cpu", devices=4096))


def test_a_run_folder_is_refused_twice_and_resumed_only_with_its_own_config(tmp_path):
    start_run(tmp_path / "run", {"lr": 0.1, "trainer": {"devices": 1}}, command=["x"], seed=0)
    start_run(tmp_path / "run", {"lr": 0.1, "trainer": {"devices": 1}}, command=["x"], seed=0)  # nothing done yet
    (tmp_path / "run" / "metrics.json").write_text("{}")
    before = (tmp_path / "run" / CONFIG).read_text()
    with pytest.raises(InputError, match="already holds a run"):
        start_run(tmp_path / "run", {"lr": 0.2}, command=["x"])
    with pytest.raises(InputError, match=r"another configuration .*lr: 0.1 -> 0.2"):
        start_run(tmp_path / "run", {"lr": 0.2, "trainer": {"devices": 1}}, resume=True)
    assert (tmp_path / "run" / CONFIG).read_text() == before  # nothing overwritten
    start_run(tmp_path / "run", {"lr": 0.1, "trainer": {"devices": 2}}, resume=True,
              ignore_on_resume=["trainer.devices"])
    assert read_config(tmp_path / "run" / CONFIG)["trainer"]["devices"] == 2
    with pytest.raises(InputError, match="config.yaml missing"):
        start_run(tmp_path / "fresh", {}, resume=True)


def test_run_json_records_versions_command_and_data(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"12345")
    info = run_info(command=["myovision", "x"], seed=3, data=[tmp_path / "d"], device="1 x CPU core")
    assert info["versions"]["torch"] == torch.__version__ and info["seed"] == 3
    assert info["data"][0]["bytes"] == 5 and info["data"][0]["files"] == 1 and info["command"] == ["myovision", "x"]
    json.dumps(info)


def test_create_model_rebuilds_a_model_from_its_run_folder(tmp_path):
    model = mv.create_model("emg_cnn", in_channels=4, num_classes=3, input_size=(10, 21)).eval()
    save_model(tmp_path, model, "emg_cnn", {"in_channels": 4, "num_classes": 3, "input_size": [10, 21]})
    again = mv.create_model(checkpoint=tmp_path).eval()
    x = torch.randn(2, 4, 10, 21)
    assert torch.equal(model(x), again(x))


def test_a_truncated_checkpoint_is_refused_by_name(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    torch.save({"state_dict": {"w": torch.ones(1000)}}, tmp_path / "checkpoints" / "last.ckpt")
    data = (tmp_path / "checkpoints" / "last.ckpt").read_bytes()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="last.ckpt: not a loadable"):
        resume_checkpoint(tmp_path)
    with pytest.raises(InputError, match="no checkpoint yet"):
        resume_checkpoint(tmp_path / "elsewhere")


class NoisyItems(torch.utils.data.Dataset):
    """Items augmented with torch's global RNG (as random crops and flips are)."""

    def __init__(self):
        self.x = torch.randn(24, 3, generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(3), (self.x[i, 0] > 0).long()


class TinyModule(SystemModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 2))

    def _step(self, batch, phase):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.model(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def train_tiny(out, epochs, resume=False):
    module = TinyModule()
    data = NoisyItems()
    loader = torch.utils.data.DataLoader(data, batch_size=4, sampler=EpochShuffle(len(data), seed=5))
    trainer = build_trainer(TrainerOptions(seed=5), out, max_epochs=epochs, progress=False)
    fit(trainer, module, train_dataloaders=loader, resume_from=out if resume else None)
    return module.model.state_dict()


def test_a_resumed_run_draws_augmentation_and_dropout_as_the_uninterrupted_one(tmp_path):
    whole = train_tiny(tmp_path / "whole", 3)
    train_tiny(tmp_path / "split", 1)
    resumed = train_tiny(tmp_path / "split", 3, resume=True)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert not torch.equal(whole["0.weight"], train_tiny(tmp_path / "other", 2)["0.weight"])


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stop_signal_keeps_the_last_epoch_checkpoint_and_the_resume_is_bit_identical(tmp_path, sig):
    import os
    import signal

    from lightning.pytorch.callbacks import Callback

    from myovision.errors import Interrupted, stop_on_signals

    class SendSignal(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.current_epoch == 1 and batch_idx == 2:
                os.kill(os.getpid(), getattr(signal, sig))

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop_on_signals()
    try:
        module = TinyModule()
        data = NoisyItems()
        loader = torch.utils.data.DataLoader(data, batch_size=4, sampler=EpochShuffle(len(data), seed=5))
        trainer = build_trainer(TrainerOptions(seed=5), tmp_path / "split", max_epochs=3, progress=False,
                                callbacks=[SendSignal()])
        with pytest.raises(Interrupted) as stop:
            fit(trainer, module, train_dataloaders=loader)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert stop.value.signal_name == sig and stop.value.code == 128 + getattr(signal, sig)
    assert torch.load(tmp_path / "split" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0
    resumed = train_tiny(tmp_path / "split", 3, resume=True)
    whole = train_tiny(tmp_path / "whole", 3)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
