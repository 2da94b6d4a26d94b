"""`myovision lipread train` and `eval` end to end on a tiny GRID-layout folder: the generated options, the run
folder (config round trip, create_model, metrics schema, report), --resume of another config; bad input exits 2."""

import html
import json

import pytest
import torch
from gridfiles import BOX, SOURCE, write_grid

from myovision import create_model
from myovision.cli import main
from myovision.lipread.run import load_run

TINY = ["--frontend", "resnet18_3dstem", "--frontend-kwargs", '{"widths": [8, 8, 16, 16]}',
        "--backend-kwargs", '{"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32}',
        "--crop-size", "16,24", "--crop-box", ",".join(map(str, BOX)), "--epochs", "2", "--val-fraction", "0.34",
        "--objective", "joint"]


def check_metrics(metrics: dict, words: int) -> None:
    assert all(k == k.lower() for k in metrics)
    assert 0 <= metrics["wer"] <= 1 and metrics["reference_words"] == words
    assert metrics["errors"] == round(metrics["wer"] * words)
    assert metrics["substitutions"] + metrics["deletions"] + metrics["insertions"] <= metrics["errors"] + 1e-9
    assert all(0 <= v <= 1 for v in metrics["slot_accuracy"].values())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained from the config that --print-config printed, fed back with --config."""
    root = tmp_path_factory.mktemp("lip")
    data = write_grid(root / "grid")
    printed = root / "printed.yaml"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["lipread", "train", "--data", str(data), *TINY, "--print-config"]) == 0
    printed.write_text(buffer.getvalue())
    assert main(["lipread", "train", "--config", str(printed), "--out", str(root / "run")]) == 0
    return data, root / "run", printed


def test_print_config_fed_back_reproduces_the_runs_config_yaml(trained):
    data, run, printed = trained
    assert (run / "config.yaml").read_text() == printed.read_text()
    assert "realign_after: 10" in printed.read_text()  # the library's default, not the old CLI's epochs // 2


def test_train_writes_a_run_folder_that_create_model_rebuilds(trained):
    data, run, _ = trained
    assert {"model.safetensors", "model.json", "lipread.json", "lm.arpa", "words.arpa", "decoding.json", "config.yaml",
            "run.json", "metrics.json", "report.html"} <= {p.name for p in run.iterdir()}
    chosen = json.loads((run / "decoding.json").read_text())  # chosen on the validation video
    assert set(chosen) == {"hmm", "hmm-lm", "ctc-lm"} and {"kappa", "lm_weight", "word_penalty"} <= set(chosen["hmm-lm"])
    assert (run / "checkpoints" / "last.ckpt").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    check_metrics(metrics, 6)  # one validation video of six words
    assert metrics["split"] == "validation" and len(metrics["utterances"]) == 1
    lip = load_run(run)
    crops = torch.randn(1, 1, 20, 16, 24)
    with torch.no_grad():
        assert torch.equal(create_model(checkpoint=run).eval()(crops), lip.model(crops))
    report = (run / "report.html").read_text()
    assert report.index(html.escape(SOURCE)) < report.index("Training curves") < report.index("Word error rate")
    assert "Accuracy per grammar slot" in report and "Example decodes" in report


def test_eval_writes_wer_counts_hypotheses_and_a_report(trained, tmp_path, capsys):
    data, run, _ = trained
    for decoder in ("hmm", "hmm-lm", "ctc", "ctc-lm"):
        out = tmp_path / f"eval-{decoder}"
        assert main(["lipread", "eval", "--checkpoint", str(run), "--data", str(data), "--decoder", decoder,
                     "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        check_metrics(metrics, 18)
        assert len(metrics["utterances"]) == 3 and metrics["utterances"][0]["reference"] == "bin blue at f two now"
        assert html.escape(SOURCE) in (out / "report.html").read_text()
    assert "WER" in capsys.readouterr().out
    assert main(["lipread", "eval", "--checkpoint", str(run), str(run), "--data", str(data), "--decoder", "hmm",
                 "--out", str(tmp_path / "eval-twice")]) == 0  # an ensemble of a run with itself decodes as it
    twice, once = (json.loads((tmp_path / f / "metrics.json").read_text()) for f in ("eval-twice", "eval-hmm"))
    assert twice["utterances"] == once["utterances"]


def test_eval_nbest_lists_start_with_the_hypothesis_and_bound_the_wer(trained, tmp_path, capsys):
    data, run, _ = trained
    out = tmp_path / "eval-nbest"
    assert main(["lipread", "eval", "--checkpoint", str(run), "--data", str(data), "--decoder", "hmm-lm",
                 "--nbest", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for utt in metrics["utterances"]:
        lists = utt["nbest"]
        assert 1 <= len(lists) <= 4 and len({h["hypothesis"] for h in lists}) == len(lists)
        assert lists[0]["hypothesis"] == utt["hypothesis"]  # the 1-best is the Viterbi decode
        assert [h["score"] for h in lists] == sorted((h["score"] for h in lists), reverse=True)
    assert metrics["nbest"] == 4 and 0 <= metrics["oracle_wer"] <= metrics["wer"]
    assert "oracle WER of the 4-best lists" in capsys.readouterr().out
    assert main(["lipread", "eval", "--checkpoint", str(run), "--data", str(data), "--decoder", "ctc", "--nbest", "2",
                 "--out", str(tmp_path / "e")]) == 2
    assert "--nbest needs N >= 1 and, above 1, the hmm or hmm-lm decoder (got 2, ctc)" in capsys.readouterr().err
    assert main(["lipread", "eval", "--checkpoint", str(run), "--data", str(data), "--decoder", "hmm", "--nbest", "0",
                 "--out", str(tmp_path / "e")]) == 2


def test_resume_with_another_config_is_one_line_and_overwrites_nothing(trained, capsys):
    data, run, printed = trained
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main(["lipread", "train", "--config", str(printed), "--out", str(run), "--resume", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume with another configuration" in err and "lr" in err
    assert main(["lipread", "train", "--config", str(printed), "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_missing_mtcnn_weights_exit_2_before_a_run_folder_is_made(tmp_path, capsys, monkeypatch):
    data = write_grid(tmp_path / "grid", ids=("bbaf2n",))
    monkeypatch.setenv("MYOVISION_MTCNN_WEIGHTS", str(tmp_path / "nowhere"))
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "(--crop-weights or $MYOVISION_MTCNN_WEIGHTS), got '" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY,
                 "--crop-weights", str(tmp_path / "empty")]) == 2
    assert "empty/pnet.pt: MTCNN weights file not found" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_alignment_and_missing_run_exit_2_naming_the_file(tmp_path, capsys):
    data = write_grid(tmp_path / "grid", ids=("bbaf2n",), align=False)
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "align/bbaf2n.align: alignment file not found" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main(["lipread", "eval", "--checkpoint", str(tmp_path / "nothing"), "--data", str(data),
                 "--decoder", "ctc", "--out", str(tmp_path / "e")]) == 2
    assert "nothing/lipread.json: not a lip-reading run" in capsys.readouterr().err


def test_sequence_training_splicing_and_backend_flags_reach_the_saved_config(tmp_path, capsys):
    data = write_grid(tmp_path / "grid")
    gru = '{"backend": "lip_gru", "num_layers": 1, "hidden": 8}'
    flags = ["--objective", "hmm", "--mmi-weight", "1", "--mmi-boost", "0.5", "--splice", "0.5", "--no-realign",
             "--val-fraction", "0"]
    tiny = [f for f in TINY if f not in ("--val-fraction", "0.34")]
    tiny[tiny.index("--backend-kwargs") + 1] = gru
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "run"), *tiny, *flags]) == 0
    config = json.loads((tmp_path / "run" / "lipread.json").read_text())["config"]
    assert (config["mmi_weight"], config["mmi_boost"], config["splice"], config["realign"]) == (1.0, 0.5, 0.5, False)
    assert config["backend_kwargs"] == json.loads(gru)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "wer" not in metrics and metrics["epochs"] == 2
    assert main(["lipread", "eval", "--checkpoint", str(tmp_path / "run"), "--data", str(data), "--decoder", "hmm",
                 "--out", str(tmp_path / "eval")]) == 0
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "bad"), *TINY,
                 "--mmi-weight", "0", "--mmi-boost", "0.5"]) == 2
    assert "mmi_boost" in capsys.readouterr().err


def test_the_plain_command_trains_the_best_measured_recipe(tmp_path, capsys, monkeypatch):
    """`lipread train --data DIR --out RUN` with nothing else: the recipe of benchmarks/RESULTS.md."""
    data = write_grid(tmp_path / "grid")
    assert main(["lipread", "train", "--data", str(data), "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "mouth_crop: box" in printed  # no MTCNN weights named: the box
    weights = tmp_path / "mtcnn"
    weights.mkdir()
    monkeypatch.setenv("MYOVISION_MTCNN_WEIGHTS", str(weights))
    assert main(["lipread", "train", "--data", str(data), "--print-config"]) == 0
    printed = capsys.readouterr().out
    for line in ("frontend: all3d", "mouth_crop: mtcnn", f"crop_weights: {weights}", "objective: hmm", "splice: 0.5",
                 "epochs: 60", "mmi_weight: 1.0", "crop_size: [32, 48]", "realign: false", "val_fraction: 0.1"):
        assert line in printed


def test_a_word_lm_the_run_cannot_spell_is_one_line(trained, tmp_path, capsys):
    data, run, _ = trained
    arpa = tmp_path / "lm.arpa"
    from myovision.decoding.kneser_ney import estimate_kneser_ney

    arpa.write_text(estimate_kneser_ney([["bin", "measure"]], 2)[0])  # "measure": m eh zh er, no zh in GRID
    assert main(["lipread", "eval", "--checkpoint", str(run), "--data", str(data), "--decoder", "hmm-lm",
                 "--word-lm", str(arpa), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lm.arpa" in err and "measure" in err and "no HMM" in err
