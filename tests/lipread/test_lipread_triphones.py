"""`lipread train --units triphones` (the HTK/Kaldi recipe of `myovision.lipread.triphones`) on tiny synthetic
GRID-layout data: the monophone stage, the tree from its alignments, training on tied states with re-alignment
and LF-MMI over the tied graph, decoding (grammar and word loop), the tree's JSON round trip through the run
folder and `lipread eval`; the monophone defaults unchanged."""

import dataclasses
import itertools
import json

import numpy as np
import pytest
from gridfiles import BOX, write_grid

from myovision.cli import main
from myovision.config import from_dict, to_dict
from myovision.data.grid import read_grid
from myovision.decoding.grammar import GRID_PHONES
from myovision.decoding.hmm import forced_align, scaled_log_likelihoods
from myovision.decoding.kneser_ney import estimate_kneser_ney
from myovision.decoding.triphone import BOUNDARY, split_triphone, triphone
from myovision.decoding.word_lm import read_arpa
from myovision.errors import InputError
from myovision.lipread.config import LipReadConfig
from myovision.lipread.evaluate import LipDecoder, evaluate, log_posteriors
from myovision.lipread.run import TREE_FILE, lexicon_for, load_run, save_run
from myovision.lipread.training import MONOPHONE_DIR, fit_lipreader
from myovision.lipread.triphones import monophone_alignments, tie_triphones, untied_hmms
from myovision.video.mouth import MouthCache

TINY = dict(frontend="resnet18_3dstem", frontend_kwargs={"widths": (8, 8, 16, 16)},
            backend_kwargs={"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32, "dropout": 0.0},
            crop_box=BOX, crop_size=(16, 24), batch_size=3, lr=3e-3)
TREE = dict(tree_min_gain=0.0, tree_min_count=2.0)  # tiny data: split wherever a question separates frames
IDS = ("bbaf2n", "lgin8p", "prwz5s", "sbbu6n", "bwat3a", "lrip9s")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    return read_grid(write_grid(root, ids=IDS)), MouthCache(root / "cache", LipReadConfig(**TINY).crop)


@pytest.fixture(scope="module")
def trained(grid, tmp_path_factory):
    """A triphone run (2 epochs, re-aligned after the first, LF-MMI on) over a 1-epoch monophone stage."""
    utts, cache = grid
    out = tmp_path_factory.mktemp("run")
    config = LipReadConfig(**TINY, **TREE, units="triphones", epochs=2, monophone_epochs=1, realign=True,
                           realign_after=1, realign_every=1, mmi_weight=1.0)
    return fit_lipreader(utts, config, cache, out=out), out


def test_the_triphone_run_trains_on_tied_states_over_its_monophone_stage(grid, trained):
    utts, cache = grid
    run, out = trained
    mono = load_run(out / MONOPHONE_DIR)  # the monophone stage, kept in the run folder
    assert mono.config.units == "phones" and len(mono.history) == 1
    tree = run.tree
    roots = {u for u in run.hmms.units if u != "sil"}
    assert tree.log and tree.num_states > len({split_triphone(u)[1] for u in roots}) + 1  # splits were made
    assert run.hmms.num_states == tree.num_states == log_posteriors(run, cache(utts[0].video))[0].shape[1]
    assert all(run.hmms.states_of(u) == tree.tying([u])[u] for u in run.hmms.units)
    assert [h["epoch"] for h in run.history if "realigned_frames" in h] == [1]
    assert all(np.isfinite(h["train_loss"]) for h in run.history)
    hyps = evaluate(run, utts, cache, {"hmm": LipDecoder(run, "hmm")})["hmm"]["utterances"]
    assert all(len(u["hypothesis"].split()) == 6 for u in hyps)  # GRID's grammar over tied triphone HMMs


def test_every_frame_is_aligned_to_its_triphone_and_the_tied_graph_covers_every_frame(grid, trained):
    utts, cache = grid
    run, out = trained
    mono = load_run(out / MONOPHONE_DIR)
    lexicon = lexicon_for("triphones", [w for u in utts for w in u.words])
    crops = [cache(u.video) for u in utts]
    untied, alignments, features = monophone_alignments(mono, utts, crops, lexicon)
    for utt, crop, states, feats in zip(utts, crops, alignments, features):
        assert len(states) == len(feats) == len(crop)
        names = [untied.state_names()[s].rsplit("_", 1)[0] for s in states]
        spoken = [n for i, n in enumerate(names) if n != "sil" and (i == 0 or n != names[i - 1])]
        assert spoken == [t for w in utt.words for t in lexicon[w]]  # each triphone in order, once
        assert spoken == [triphone(*p) for w in utt.words for p in contexts(GRID_PHONES[w].split())]
        tied_ll = scaled_log_likelihoods(log_posteriors(run, crop)[0], run.log_priors, run.config.kappa)
        tied = forced_align(tied_ll, utt.words, run.lexicon, run.hmms)
        assert len(tied) == len(crop)
        allowed = {s for w in utt.words for u in run.lexicon[w] for s in run.hmms.states_of(u)}
        assert set(tied) <= allowed | set(run.hmms.states_of("sil"))
    characters = dataclasses.replace(mono, config=dataclasses.replace(mono.config, units="characters"))
    with pytest.raises(InputError, match="aligned with a monophone HMM run"):
        untied_hmms(lexicon, characters)
    with pytest.raises(InputError, match="other mouth crops"):
        tie_triphones(mono, utts, crops, dataclasses.replace(run.config, crop_size=(8, 12)))


def contexts(phones):
    """(left, centre, right) of each phone of a word, "#" at its edges (an independent restatement)."""
    return [(phones[i - 1] if i else BOUNDARY, p, phones[i + 1] if i + 1 < len(phones) else BOUNDARY)
            for i, p in enumerate(phones)]


def test_the_saved_tree_reloads_to_the_same_state_of_every_context(grid, trained, tmp_path):
    utts, cache = grid
    run, _ = trained
    save_run(run, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / TREE_FILE).read_text())
    assert saved["num_states"] == run.tree.num_states
    again = load_run(tmp_path / "run")
    assert again.hmms.tied == run.hmms.tied and np.array_equal(again.hmms.self_loop, run.hmms.self_loop)
    phones = sorted({p for w in GRID_PHONES.values() for p in w.split()}) + [BOUNDARY, "zh"]
    centres = sorted({split_triphone(u)[1] for u in run.hmms.units if u != "sil"})
    for centre, left, right in itertools.product(centres, phones, phones):  # seen and unseen contexts
        unit = triphone(left, centre, right)
        assert again.states_of(unit) == run.states_of(unit)
    crops = cache(utts[1].video)
    assert np.allclose(log_posteriors(run, crops)[0], log_posteriors(again, crops)[0], atol=1e-5)
    (tmp_path / "run" / TREE_FILE).unlink()
    with pytest.raises(InputError, match="tree.json: a triphone run needs its decision tree"):
        load_run(tmp_path / "run")


def test_the_word_loop_places_unseen_triphones_by_the_tree_and_refuses_unknown_phones(grid, trained, tmp_path):
    utts, cache = grid
    run, _ = trained
    arpa = tmp_path / "words.arpa"
    arpa.write_text(estimate_kneser_ney([u.words for u in utts] + [("bat", "at")], 2)[0])  # b-ae+t: unseen
    assert "b-ae+t" not in run.hmms.units and run.has_hmm("b-ae+t")
    decoder = LipDecoder(run, "hmm-lm", word_lm=read_arpa(arpa))
    hmm_logp, ctc_logp = log_posteriors(run, cache(utts[0].video))
    assert all(w in decoder.search.graph.words for w in decoder(hmm_logp, ctc_logp))
    arpa.write_text(estimate_kneser_ney([["bin", "measure"]], 2)[0])  # m eh zh er: no tree for zh
    with pytest.raises(InputError, match="have units this run has no HMM for"):
        LipDecoder(run, "hmm-lm", word_lm=read_arpa(arpa))


def test_lipread_train_units_triphones_and_eval_from_the_command_line(tmp_path, capsys):
    data = write_grid(tmp_path / "grid", ids=IDS)
    flags = ["--frontend-kwargs", '{"widths": [8, 8, 16, 16]}', "--backend-kwargs",
             '{"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32}', "--crop-size", "16,24",
             "--crop-box", ",".join(map(str, BOX)), "--epochs", "1", "--val-fraction", "0.34"]
    out = tmp_path / "run"
    assert main(["lipread", "train", "--data", str(data), "--out", str(out), *flags, "--units", "triphones",
                 "--monophone-epochs", "1", "--tree-min-gain", "0", "--tree-min-count", "2"]) == 0
    assert (out / TREE_FILE).is_file() and (out / MONOPHONE_DIR / "lipread.json").is_file()
    assert main(["lipread", "eval", "--checkpoint", str(out), "--data", str(data), "--decoder", "hmm", "--out",
                 str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["reference_words"] == 6 * len(IDS)
    again = tmp_path / "again"  # the monophone stage taken from a finished run
    assert main(["lipread", "train", "--data", str(data), "--out", str(again), *flags, "--units", "triphones",
                 "--monophone-run", str(out / MONOPHONE_DIR), "--tree-min-gain", "0", "--tree-min-count", "2"]) == 0
    assert json.loads((again / TREE_FILE).read_text()) == json.loads((out / TREE_FILE).read_text())
    assert not (again / MONOPHONE_DIR).exists()
    capsys.readouterr()
    assert main(["lipread", "train", "--data", str(data), "--out", str(tmp_path / "bad"), *flags,
                 "--monophone-run", str(out)]) == 2
    assert "monophone_run aligns triphone training" in capsys.readouterr().err


def test_monophone_defaults_are_unchanged(grid, tmp_path, monkeypatch):
    """The HMM recipe `lipread train` runs with no flags is a monophone one, as before triphones existed (the
    front-end default became All3D, the best measured); a phone run has no tree."""
    defaults = to_dict(LipReadConfig())
    before = {"units": "phones", "states_per_unit": 1, "objective": "hmm", "epochs": 60, "batch_size": 8,
              "lr": 2e-3, "mmi_weight": 1.0, "mmi_boost": 0.0, "splice": 0.5, "kappa": 1.0, "realign": False,
              "shift": 2, "crop_size": [32, 48], "frontend": "all3d", "mouth_crop": "box"}
    assert {k: defaults[k] for k in before} == before
    old_run_config = {k: v for k, v in defaults.items() if not k.startswith(("monophone_", "tree_"))}
    assert from_dict(LipReadConfig, old_run_config) == LipReadConfig()  # run folders written before triphones
    utts, cache = grid
    run = fit_lipreader(utts[:2], LipReadConfig(**TINY, epochs=1), cache)
    assert run.tree is None and run.hmms.tied is None
    assert run.lexicon == lexicon_for("phones", [w for u in utts[:2] for w in u.words])
    assert run.hmms.num_states == len(run.lexicon.units)  # one state per phone, as before
    save_run(run, tmp_path / "phones")
    assert not (tmp_path / "phones" / TREE_FILE).exists() and load_run(tmp_path / "phones").tree is None
    meta_file = tmp_path / "phones" / "lipread.json"  # a run saved before mouth crops had a choice: the box
    meta = json.loads(meta_file.read_text())
    meta["config"] = {k: v for k, v in meta["config"].items() if k not in ("mouth_crop", "crop_weights")}
    meta_file.write_text(json.dumps(meta))
    monkeypatch.setenv("MYOVISION_MTCNN_WEIGHTS", str(tmp_path))  # today's "auto" would take MTCNN
    assert load_run(tmp_path / "phones").config.mouth_crop == "box"
    with pytest.raises(InputError, match="objective hmm or joint"):
        LipReadConfig(units="triphones", objective="ctc")


class Interrupted(Exception):
    pass


def test_a_resumed_triphone_run_ends_as_the_uninterrupted_one(grid, tmp_path, monkeypatch):
    """Killed in the triphone stage's second epoch, --resume takes OUT/monophone instead of training it again
    and ends with the same tree, weights and history."""
    from myovision.lipread.training import LipReadingModule

    utts, cache = grid
    config = LipReadConfig(**TINY, **TREE, units="triphones", epochs=2, monophone_epochs=1)
    full = fit_lipreader(utts, config, cache, out=tmp_path / "full")
    start = LipReadingModule.on_train_epoch_start

    def killed(self):
        if self.current_epoch == 1 and self.config.units == "triphones":
            raise Interrupted
        start(self)

    monkeypatch.setattr(LipReadingModule, "on_train_epoch_start", killed)
    with pytest.raises(Interrupted):
        fit_lipreader(utts, config, cache, out=tmp_path / "cut")
    monkeypatch.setattr(LipReadingModule, "on_train_epoch_start", start)

    def trained_again(*args, **kwargs):
        raise AssertionError("the monophone stage was trained again")

    monkeypatch.setattr("myovision.lipread.training.fit_lipreader", trained_again)  # what monophone_run calls
    resumed = fit_lipreader(utts, config, cache, out=tmp_path / "cut", resume=True)
    assert resumed.tree.to_dict() == full.tree.to_dict() and resumed.history == full.history
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-6), name
