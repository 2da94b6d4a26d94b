"""Every CLI command given bad arguments ends with exit status 2 and exactly one line on stderr: no traceback,
no multi-line advice, nothing written. Any other exception is one line too (exit 1), and --debug shows it."""

from __future__ import annotations

import os

import numpy as np
import pytest

from myovision.cli import main
from test_cli import commands

ARPA = "\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0 a\n-1.0 b\n\n\\end\\\n"


def run(argv, capsys) -> tuple[int, list[str]]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv", [c for c in commands() if len(c) == 2], ids=" ".join)
def test_every_command_answers_an_unknown_option_with_one_line(argv, capsys):
    code, err = run([*argv, "--no-such-option", "1"], capsys)
    assert code == 2 and len(err) == 1 and " error: " in err[0], err  # unknown option, or required ones missing


@pytest.fixture
def files(tmp_path):
    rec = tmp_path / "rec.npy"
    np.save(rec, np.random.default_rng(0).standard_normal((400, 4)).astype(np.float32))
    (tmp_path / "lm.arpa").write_text(ARPA)
    (tmp_path / "existing.npy").write_bytes(b"keep me")
    (tmp_path / "escape.txt").write_text("../secret.mp4\n")  # a video list reaching out of its folder
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model.json").write_text("{broken")
    (run_dir / "model.safetensors").write_bytes(b"not weights")
    return tmp_path


EMG = ["emg", "preprocess", "{d}/rec.npy", "--fs", "160"]
# (argv with {d} for the temporary folder, a piece of the one line expected)
CASES = [
    ([*EMG, "--channels", "-3", "--out", "{d}/o.npy"], "--channels must be a positive channel count"),
    ([*EMG, "--out", "{d}/rec.npy"], "rec.npy: --out is an input of this command"),
    ([*EMG, "--out", "{d}/existing.npy"], "existing.npy: already exists; pass --overwrite"),
    ([*EMG, "--out", "{d}/o.npy", "--preset", "bogus"], "argument --preset: invalid choice: 'bogus'"),
    (["emg", "spectrogram", "{d}/rec.npy", "--fs", "160", "--out", "{d}/mel.png"], "mel.png: this command writes .npy"),
    (["emg", "spectrogram", "{d}/rec.npy", "--fs", "-1", "--out", "{d}/mel.npy"], "--fs must be a positive"),
    (["emg", "features", "{d}/rec.npy", "--window", "-5", "--out", "{d}/f.npz"], "window must be an integer >= 1"),
    (["emg", "features", "{d}/rec.npy", "--names", "BOGUS", "--out", "{d}/f.npz"], "unknown feature name 'BOGUS'"),
    (["emg", "features", "{d}/missing.npy", "--out", "{d}/f.npz"], "missing.npy: file not found"),
    (["emg", "features", "{d}/rec.npy", "--out", "{d}/no/such/dir/f.npz"], None),  # created: not an error
    (["emg", "features", "{d}/rec.npy", "--out", "{d}/rec.npy/f.npz"], "rec.npy is a file"),
    (["gestures", "train", "--manifest", "{d}/none.csv", "--out", "{d}/g"], "none.csv: manifest not found"),
    (["gestures", "train", "--manifest", "{d}/none.csv", "--model", "bogus", "--out", "{d}/g"],
     "argument --model: invalid choice: 'bogus'"),
    (["profile", "--model", "bogus", "--input", "1,2"], "unknown model 'bogus'"),
    (["profile", "--model", "emg_cnn", "--kw", "nonsense=3", "--input", "1,2"], "unexpected keyword argument"),
    (["profile", "--model", "emg_cnn", "--input", "1,-2"], "--input sizes must be positive"),
    (["video", "predict", "{d}/rec.npy", "--checkpoint", "{d}/lm.arpa", "--labels", "{d}/lm.arpa"],
     "lm.arpa: not a loadable weights-only checkpoint"),
    (["video", "predict", "{d}/rec.npy", "--checkpoint", "{d}/lm.arpa", "--labels", "{d}/lm.arpa", "--out",
      "{d}/top.png"], "top.png: this command writes .json"),
    (["video", "extract", "--annotations", "{d}/x.csv", "--videos", "{d}", "--checkpoint", "{d}/lm.arpa", "--out",
      "{d}/rec.npy"], "rec.npy: --out must be a feature-store folder"),
    (["video", "extract", "--annotations", "{d}/x.csv", "--videos", "{d}", "--checkpoint", "{d}/lm.arpa", "--out",
      "{d}/st", "--clips", "-1"], "--clips must be a positive integer"),
    (["video", "finetune", "--train", "{d}/none.csv", "--out", "{d}/ft", "--epochs", "1"], "none.csv"),
    (["store", "verify", "{d}"], "not a feature store (index.json missing)"),
    (["store", "repair", "{d}/nowhere"], "not a feature store"),
    (["data", "synthetic", "gestures", "--subjects", "x", "--out", "{d}/s"], "argument --subjects: invalid int"),
    (["zeroshot", "captions", "--model", "{d}/none", "--videos", "{d}/escape.txt", "--out", "{d}/caps"],
     "escape.txt: listed video"),
    (["zeroshot", "train", "--videos", "{d}/escape.txt", "--dictionary", "{d}/lm.arpa", "--checkpoint", "{d}/none",
      "--out", "{d}/zs"], "path resolves outside"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else None)
def test_bad_arguments_are_one_line_with_exit_2(files, argv, expected, capsys):
    code, err = run([a.format(d=files) for a in argv], capsys)
    if expected is None:
        assert code == 0, err
        return
    assert code == 2 and len(err) == 1, err
    assert expected in err[0] and "Traceback" not in err[0] and "weights_only=False" not in err[0]
    assert (files / "existing.npy").read_bytes() == b"keep me"


def test_a_broken_model_json_is_one_line(files, capsys):
    import myovision as mv
    from myovision.errors import InputError

    with pytest.raises(InputError, match=r"model.json: malformed model spec"):
        mv.create_model("emg_cnn", checkpoint=files / "run")


def test_an_unexpected_exception_is_one_line_and_debug_shows_the_traceback(files, capsys, monkeypatch):
    import myovision.cli.store as store_cli

    def boom(args):
        raise RuntimeError("something the library did not foresee\nsecond line")

    monkeypatch.setattr(store_cli, "_verify", boom)
    code, err = run(["store", "verify", files], capsys)
    assert code == 1 and err == ["myovision: error: RuntimeError: something the library did not foresee "
                                 "(rerun with --debug for the traceback)"]
    with pytest.raises(RuntimeError):
        main(["--debug", "store", "verify", str(files)])


def test_an_unwritable_output_folder_is_found_before_any_work(files, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = files / "locked"
    locked.mkdir(mode=0o500)
    code, err = run([a.format(d=files) for a in EMG] + ["--out", locked / "o.npy"], capsys)
    assert code == 2 and "not writable" in err[0]


def write_typing_session(path, n=20000, keystrokes='[{"key": "a", "start": 0.5}, {"key": "b", "start": 1.0}]'):
    """An emg2qwerty-layout session of `n` zero samples with the raw `keystrokes` attribute (str or bytes)."""
    import h5py

    table = np.zeros(n, dtype=[("time", "<f8"), ("emg_left", "<f4", (16,)), ("emg_right", "<f4", (16,))])
    table["time"] = np.arange(n) / 2000.0
    with h5py.File(path, "w") as f:
        group = f.create_group("emg2qwerty")
        group["timeseries"] = table
        group.attrs["keystrokes"] = np.bytes_(keystrokes) if isinstance(keystrokes, bytes) else keystrokes
    return path


TYPING_SESSIONS = [
    (dict(keystrokes=b'[{"key": "\xff", "start": 0.5}]'), "attribute 'keystrokes' is not UTF-8 text"),
    (dict(n=100), "session has 100 samples, fewer than one 4 s window"),
    (dict(keystrokes='[{"key": "a", "start": NaN}]'), "keystroke 0 has key-down time nan"),
    (dict(keystrokes='[{"key": "a", "start": 2.0}, {"key": "b", "start": 1.0}]'), "key-down times must not decrease"),
]


@pytest.mark.parametrize("command", ["train", "decode"])
@pytest.mark.parametrize("session, expected", TYPING_SESSIONS, ids=lambda v: None if isinstance(v, dict) else v[:24])
def test_bad_typing_sessions_are_one_line(tmp_path, command, session, expected, capsys):
    bad = write_typing_session(tmp_path / "bad.hdf5", **session)
    if command == "train":
        (tmp_path / "split.yaml").write_text("train: [bad]\nval: []\ntest: [bad]\n")
        argv = ["typing", "train", "--data", tmp_path, "--out", tmp_path / "run", "--epochs", "1"]
    else:
        argv = ["typing", "decode", "--sessions", bad, "--checkpoint", tmp_path / "none", "--out", tmp_path / "dec"]
    code, err = run(argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"myovision: error: {bad}: "), err
    assert expected in err[0]
