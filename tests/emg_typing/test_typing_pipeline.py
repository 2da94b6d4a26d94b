"""Training, evaluation and the command line on small synthetic sessions (the long runs are in
benchmarks/bench_typing.py); and the LM beam search correcting a noisy network on held-out text."""

import json

import h5py
import numpy as np
import pytest
import torch

import myovision as mv
from myovision.cli import main
from myovision.data.charset import CHARSET
from myovision.data.synthetic_typing import sentence, write_synthetic_typing
from myovision.decoding import CTCBeamDecoder, NgramLM, ctc_greedy, estimate_arpa
from myovision.metrics import character_error_rate
from myovision.emg_typing.config import TypingConfig
from myovision.emg_typing.evaluate import evaluate_typing
from myovision.emg_typing.training import fit_typing

WORDS = ("sad", "dad", "add", "as", "ask", "lad", "fall", "glass", "salad", "flask")
TINY = '{"mlp_features": [16], "block_channels": [8], "kernel_width": 4}'
LABEL_CHARS = [None if i in (98, 94) else CHARSET.label_to_char(i) for i in range(99)]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    out = tmp_path_factory.mktemp("typing")
    write_synthetic_typing(out, n_sessions=3, duration_s=16, seed=5, words=WORDS, punctuation=False)
    return out


def test_training_lowers_the_ctc_loss_and_whole_sessions_decode(sessions):
    config = TypingConfig(model_kwargs=json.loads(TINY), epochs=5, batch_size=4, lr=3e-3, warmup_epochs=1, window=2000)
    fit = fit_typing(config, [sessions / "synthetic-000.hdf5", sessions / "synthetic-001.hdf5"],
                     [sessions / "synthetic-001.hdf5"])
    losses = [h["train_loss"] for h in fit.history]
    assert len(losses) == 5 and losses[-1] < 0.5 * losses[0]
    assert all(h["val_cer"] >= 0 for h in fit.history) and fit.best_val_cer == min(h["val_cer"] for h in fit.history)
    result = evaluate_typing(fit.model, [sessions / "synthetic-002.hdf5"], {"greedy": None, "beam": CTCBeamDecoder(beam_size=4)})
    assert set(result) == {"sessions", "greedy", "beam"} and result["greedy"]["reference_chars"] > 20
    greedy = result["greedy"]
    assert greedy["cer"] == greedy["errors"] / greedy["reference_chars"]
    assert greedy["errors"] == greedy["substitutions"] + greedy["insertions"] + greedy["deletions"]


def noisy_emissions(text, rng, confusion=0.3):
    """Emissions of a network that types `text` but puts another home-row letter on top for `confusion` of keys."""
    frames = []
    for ch in text:
        key = CHARSET.char_label(ch)
        other = CHARSET.char_label(rng.choice([c for c in "asdfgkl" if c != ch]))
        p = np.full(99, 1e-4)
        top, second = (other, key) if ch.isalpha() and rng.random() < confusion else (key, other)
        p[top], p[second], p[98] = 0.5, 0.3, 0.2
        blank = np.full(99, 1e-4)
        blank[98] = 1.0
        frames += [p / p.sum(), blank / blank.sum()]
    return np.log(np.array(frames))


def test_lm_beam_search_lowers_cer_on_held_out_text(tmp_path):
    lm_rng = np.random.default_rng(1)
    lm_text = [sentence(lm_rng, WORDS, False) for _ in range(300)]
    (tmp_path / "lm.arpa").write_text(estimate_arpa([list(w) for s in lm_text for w in s.split()], order=4))
    lm = NgramLM.read_arpa(tmp_path / "lm.arpa")
    rng = np.random.default_rng(2)
    held_out = [sentence(rng, WORDS, False) for _ in range(6)]
    assert not set(held_out) & set(lm_text)
    emissions = [noisy_emissions(s, rng) for s in held_out]
    greedy = [CHARSET.labels_to_str(ctc_greedy(e)) for e in emissions]
    decoder = CTCBeamDecoder(beam_size=20, lm=lm, label_chars=LABEL_CHARS)
    beam = [CHARSET.labels_to_str(decoder.decode(e)) for e in emissions]
    cer_greedy = character_error_rate(greedy, held_out)["cer"]
    cer_beam = character_error_rate(beam, held_out)["cer"]
    assert cer_greedy > 0.15 and cer_beam < 0.5 * cer_greedy


def test_cli_synth_train_eval_decode(tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["typing", "synth", "--out", str(data), "--sessions", "3", "--duration", "15", "--words", "sad,dad,as"]) == 0
    assert main(["typing", "train", "--data", str(data), "--model-kwargs", TINY, "--epochs", "1", "--batch-size", "4",
                 "--window", "2000", "--beam-size", "4", "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"greedy", "beam", "beam_lm", "best_val_cer"} <= set(metrics) and (run / "lm.arpa").is_file()
    report = (run / "report.html").read_text()
    assert "Data: synthetic emg2qwerty-layout sessions" in report and report.count("<img") >= 2
    assert "validation CER over epochs" in report and "synthetic-002.hdf5" in report
    for command, checkpoint in (("eval", run), ("decode", run / "model.safetensors")):
        out = tmp_path / command
        assert main(["typing", command, "--sessions", str(data / "synthetic-002.hdf5"), "--checkpoint",
                     str(checkpoint), "--lm", str(run / "lm.arpa"), "--beam-size", "4", "--out", str(out)]) == 0
        scored = json.loads((out / "metrics.json").read_text())
        assert scored["greedy"] == {**metrics["greedy"], "decode_seconds": scored["greedy"]["decode_seconds"]}
        assert 0 <= scored["beam_lm"]["cer"] and "synthetic-002.hdf5" in (out / "decoded.csv").read_text()


def test_cli_bad_session_exits_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.hdf5"
    with h5py.File(bad, "w") as f:
        g = f.create_group("emg2qwerty")
        n = 8000  # one 4 s window at 2 kHz: long enough, but no keystrokes
        g["time"], g["emg_left"], g["emg_right"] = np.arange(n) / 2000.0, np.zeros((n, 16)), np.zeros((n, 16))
        g.attrs["keystrokes"] = "[]"
    model = tmp_path / "m.safetensors"
    from safetensors.torch import save_file

    save_file(mv.create_model("tds_conv_ctc").state_dict(), str(model))
    assert main(["typing", "decode", "--sessions", str(bad), "--checkpoint", str(model), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.hdf5: session has no keystrokes" in err
