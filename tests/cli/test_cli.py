"""The command line: --help with an example on every command, one-line errors, end-to-end runs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from myovision.cli import build_parser, main


def commands():
    """Every (group, command) pair of the parser, plus the groups themselves."""
    parser = build_parser()
    groups = parser._subparsers._group_actions[0].choices
    out = []
    for name, group in groups.items():
        out.append((name,))
        if group._subparsers is not None:
            out += [(name, sub) for sub in group._subparsers._group_actions[0].choices]
    return out


@pytest.mark.parametrize("argv", commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert "example:\n  myovision" in capsys.readouterr().out


def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.npy"
    np.save(bad, np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert main(["emg", "features", str(bad), "--window", "1", "--step", "1", "--out", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.npy" in err[0] and "NaN" in err[0]
    assert not (tmp_path / "f.npz").exists()


def test_emg_commands_round_trip(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(800, 16)).astype(np.float32)
    np.save(tmp_path / "rec.npy", x)
    assert main(["emg", "preprocess", str(tmp_path / "rec.npy"), "--fs", "160", "--preset", "authors-code",
                 "--set", "lowpass_hz=2", "--out", str(tmp_path / "clean.npy")]) == 0
    from myovision.signals import features, mel_spectrogram, preprocess

    np.testing.assert_allclose(np.load(tmp_path / "clean.npy"),
                               preprocess(x, 160, preset="authors-code", lowpass_hz=2.0), rtol=1e-5, atol=1e-6)
    assert main(["emg", "features", str(tmp_path / "rec.npy"), "--names", "MAV", "ZC", "--window", "200",
                 "--step", "50", "--out", str(tmp_path / "f.npz")]) == 0
    with np.load(tmp_path / "f.npz") as f:
        np.testing.assert_allclose(f["MAV"], features(x, ["MAV"], 200, 50)["MAV"])
    t = np.arange(1000) / 200.0
    tone = np.stack([np.sin(2 * np.pi * 40.0 * t)] * 2, axis=1)  # 40 Hz at 200 Hz
    np.save(tmp_path / "tone.npy", tone)
    assert main(["emg", "features", str(tmp_path / "tone.npy"), "--fs", "200", "--names", "MNF", "--window", "200",
                 "--step", "200", "--out", str(tmp_path / "mnf.npz")]) == 0
    with np.load(tmp_path / "mnf.npz") as f:
        assert np.all(np.abs(f["MNF"] - 40.0) < 2.0)  # mean frequency in Hz of the real sample rate
    assert main(["emg", "spectrogram", str(tmp_path / "rec.npy"), "--fs", "160", "--out", str(tmp_path / "m.npy")]) == 0
    assert np.load(tmp_path / "m.npy").shape == mel_spectrogram(x, 160, 10, 32, 4).shape == (16, 10, 201)
    assert main(["emg", "spectrogram", str(tmp_path / "rec.npy"), "--out", str(tmp_path / "m2.npy")]) == 2
    assert "--fs" in capsys.readouterr().err


def test_gestures_train_end_to_end(tmp_path):
    from myovision.data import write_synthetic_gestures

    manifest = write_synthetic_gestures(tmp_path / "data", n_subjects=2, n_gestures=3, n_sessions=2, n_cycles=2,
                                        duration_s=1.5, seed=0)
    out = tmp_path / "run"
    assert main(["gestures", "train", "--manifest", str(manifest), "--protocol", "cross-subject", "--model", "lda",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "window_accuracy", "per_class_f1", "confusion_matrix"):
        assert key in metrics
    assert (out / "confusion.png").stat().st_size > 1000
    assert main(["gestures", "train", "--manifest", str(manifest), "--protocol", "cross-subject",
                 "--subjects", "nobody*", "--out", str(out)]) == 2


def test_gestures_train_skip_bad_lists_the_skipped_file(tmp_path, capsys):
    from myovision.data import write_synthetic_gestures

    manifest = write_synthetic_gestures(tmp_path / "data", n_subjects=2, n_gestures=2, n_sessions=2, n_cycles=2,
                                        duration_s=1.0, seed=0)
    victim = sorted((tmp_path / "data").rglob("*.npy"))[0]
    victim.write_bytes(b"")
    argv = ["gestures", "train", "--manifest", str(manifest), "--protocol", "cross-subject", "--model", "lda",
            "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert victim.name in capsys.readouterr().err
    assert main(argv + ["--skip-bad"]) == 0
    assert f"skipped {victim}" in capsys.readouterr().out


def test_unwritable_output_is_one_line(tmp_path, capsys):
    np.save(tmp_path / "rec.npy", np.ones((400, 2)))
    (tmp_path / "file").write_text("")
    assert main(["emg", "spectrogram", str(tmp_path / "rec.npy"), "--fs", "160",
                 "--out", str(tmp_path / "file" / "m.npy")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "myovision", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("myovision ")


def test_imports_list_skipped_files(tmp_path, capsys):
    from myovision.data import write_synthetic_actionsense

    paths = write_synthetic_actionsense(tmp_path / "h5", n_subjects=2, n_classes=3, repeats=1, seed=0)
    broken = tmp_path / "h5" / "broken.hdf5"
    broken.write_bytes(paths[0].read_bytes()[:2000])
    argv = ["data", "actionsense-to-manifest", *map(str, paths), str(broken), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "broken.hdf5" in capsys.readouterr().err
    assert main(argv + ["--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert f"skipped {broken}" in out and out.strip().endswith("manifest.csv")
