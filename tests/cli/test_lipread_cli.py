"""`myovision lipread train` and `eval` end to end on a tiny GRID-layout folder; bad input exits 2."""

import json

from gridfiles import BOX, write_grid

from myovision.cli import main

BOX_ARG = ",".join(map(str, BOX))
TINY = ["--frontend", "resnet18_3dstem", "--widths", "8,8,16,16", "--layers", "1", "--d-model", "16",
        "--crop-size", "16,24", "--crop-box", BOX_ARG, "--epochs", "2"]


def test_train_then_eval_writes_wer_counts_and_hypotheses(tmp_path, capsys):
    data = write_grid(tmp_path / "grid")
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY]) == 0
    assert {"model.safetensors", "config.json", "lm.arpa"} <= {p.name for p in (tmp_path / "run").iterdir()}
    for decoder in ("hmm", "ctc", "ctc-lm"):
        out = tmp_path / f"eval-{decoder}"
        assert main(["lipread", "eval", "--checkpoint", str(tmp_path / "run"), "--data", str(data),
                     "--decoder", decoder, "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["reference_words"] == 18 and len(metrics["utterances"]) == 3
        errors = metrics["substitutions"] + metrics["deletions"] + metrics["insertions"]
        assert metrics["wer"] * 18 >= errors - 1e-9  # counts from one alignment never exceed the distance
        assert metrics["utterances"][0]["reference"] == "bin blue at f two now"
    assert "WER" in capsys.readouterr().out
    run = str(tmp_path / "run")  # an ensemble of a run with itself decodes as the run alone
    assert main(["lipread", "eval", "--checkpoint", run, run, "--data", str(data), "--decoder", "hmm",
                 "--out", str(tmp_path / "eval-twice")]) == 0
    twice, once = (json.loads((tmp_path / f / "metrics.json").read_text()) for f in ("eval-twice", "eval-hmm"))
    assert twice["utterances"] == once["utterances"]


def test_missing_alignment_and_missing_run_exit_2_naming_the_file(tmp_path, capsys):
    data = write_grid(tmp_path / "grid", ids=("bbaf2n",), align=False)
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "align/bbaf2n.align: alignment file not found" in capsys.readouterr().err
    assert main(["lipread", "eval", "--checkpoint", str(tmp_path / "nothing"), "--data", str(data),
                 "--decoder", "ctc", "--out", str(tmp_path / "e")]) == 2
    assert "nothing/config.json: not a lip-reading run" in capsys.readouterr().err


def test_sequence_training_splicing_and_backend_flags_reach_the_saved_config(tmp_path, capsys):
    data = write_grid(tmp_path / "grid")
    flags = ["--objective", "hmm", "--mmi-weight", "1", "--mmi-boost", "0.5", "--splice", "0.5", "--no-realign",
             "--backend", "gru"]
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY, *flags]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (config["mmi_weight"], config["mmi_boost"], config["splice"]) == (1.0, 0.5, 0.5)
    assert config["backend_kwargs"] == {"backend": "lip_gru", "num_layers": 1, "hidden": 8}
    assert main(["lipread", "eval", "--checkpoint", str(tmp_path / "run"), "--data", str(data), "--decoder", "hmm",
                 "--out", str(tmp_path / "eval")]) == 0
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "bad"), *TINY,
                 "--mmi-boost", "0.5"]) == 2
    assert "mmi_boost" in capsys.readouterr().err
