"""Lip-reading training: targets from word alignments, CTC labels, batching, re-alignment, saved runs, exact
resume."""

import json
import shutil

import numpy as np
import pytest
import torch
from gridfiles import BOX, write_grid

from myovision.data.grid import Segment, Utterance, read_grid
from myovision.decoding.lexicon import HmmSet, Lexicon
from myovision.decoding.lm import NgramLM
from myovision.errors import InputError
from myovision import create_model
from myovision.lipread.config import LipReadConfig
from myovision.lipread.data import (CTC_LABELS, LipReadingSet, collate, ctc_targets, initial_alignment,
                                    split_validation, word_spans)
from myovision.decoding.kneser_ney import estimate_kneser_ney
from myovision.decoding.word_lm import read_arpa
from myovision.lipread.evaluate import (DECODERS, LipDecoder, ensemble, estimate_word_lm, evaluate,
                                        log_posteriors, score)
from myovision.lipread.run import lexicon_for, load_run, save_run, split_heads
from myovision.lipread.training import LipReadingModule, fit_lipreader
from myovision.training.options import TrainerOptions
from myovision.video.mouth import MouthCache

TINY = dict(frontend="resnet18_3dstem", frontend_kwargs={"widths": (8, 8, 16, 16)},
            backend_kwargs={"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 32, "dropout": 0.0},
            crop_box=BOX, crop_size=(16, 24), batch_size=3, lr=3e-3)


def test_ctc_labels_are_space_then_letters_after_the_blank():
    assert ctc_targets(["bin", "at"]) == [3, 10, 15, 1, 2, 21]
    with pytest.raises(InputError, match=r"characters \['7'\]"):
        ctc_targets(["7up"])


def test_phone_lexicon_covers_grid_pronounces_other_words_from_cmudict_with_a_stated_fallback():
    lex = lexicon_for("phones", ["bin", "hello", "blorptz"])
    assert lex["bin"] == ("b", "ih", "n") and lex["white"] == ("w", "ay", "t")
    assert lex["hello"] == ("hh", "ah", "l", "ow")  # CMUdict's first pronunciation, no stress
    assert lex["blorptz"] == ("b", "l", "aa", "r", "p", "t", "z")  # not in CMUdict: letter-to-sound rules
    assert lexicon_for("phones", ["ibm"], oov="spell")["ibm"] == ("ay", "b", "iy", "eh", "m")
    with pytest.raises(InputError, match="'blorptz' is not in the CMU dictionary and no fallback"):
        lexicon_for("phones", ["blorptz"], oov="none")
    assert lexicon_for("characters", ["hello"])["hello"] == tuple("hello")
    assert lexicon_for("words", ["hello"])["hello"] == ("hello",) and lexicon_for("words", [])["b"] == ("b",)


def test_initial_alignment_spreads_each_words_states_over_its_frames():
    lex = Lexicon({"ab": ("a", "b"), "c": ("c",)})  # units a, b, c, sil -> states 0, 1, 2, 3
    hmms = HmmSet(lex.units, states_per_unit=1)
    utt = Utterance("x", None, ("ab", "c"), (Segment(0, 2, "sil"), Segment(2, 6, "ab"), Segment(6, 7, "c"),
                                            Segment(7, 9, "sp")))
    assert initial_alignment(utt, 9, lex, hmms).tolist() == [3, 3, 0, 0, 1, 1, 2, 3, 3]
    no_segments = Utterance("x", None, ("ab", "c"))
    assert initial_alignment(no_segments, 6, lex, hmms).tolist() == [0, 0, 1, 1, 2, 2]  # flat start


def test_collate_pads_videos_and_state_targets():
    ds = LipReadingSet([torch.ones(5, 2, 3), torch.ones(7, 2, 3)], [np.arange(5), np.arange(7)], [["a"], ["b", "a"]])
    batch = collate([ds[0], ds[1]])
    assert batch["video"].shape == (2, 1, 7, 2, 3) and batch["lengths"].tolist() == [5, 7]
    assert batch["states"][0].tolist() == [0, 1, 2, 3, 4, -100, -100]
    assert batch["labels"].tolist() == [2, 3, 1, 2] and batch["label_lengths"].tolist() == [1, 3]
    assert batch["words"] == [("a",), ("b", "a")] and batch["index"].tolist() == [0, 1]


def test_word_splicing_joins_each_slot_from_a_donor_with_its_frames_and_targets():
    """Every frame of a spliced item is a frame of the utterance its slot came from, with that frame's target."""
    rng = np.random.default_rng(0)
    utts, crops, states = [], [], []
    for i in range(4):  # frame value = 100 * utterance + frame index, so every frame names its source
        words = tuple(slot + "abcd"[i] for slot in "wxy")
        bounds = [2, 4 + i, 6 + i, 9 + i]
        segs = [Segment(0, 2, "sil")] + [Segment(a, b, w) for a, b, w in zip(bounds, bounds[1:], words)]
        n = bounds[-1] + 3
        utts.append(Utterance(str(i), None, words, (*segs, Segment(bounds[-1], n, "sil"))))
        crops.append((100 * i + torch.arange(n, dtype=torch.float32))[:, None, None].expand(n, 2, 2))
        states.append(1000 * i + np.arange(n))
    spans = [word_spans(u, len(c)) for u, c in zip(utts, crops)]
    assert spans[1] == [(2, 5), (5, 7), (7, 10)]
    ds = LipReadingSet(crops, states, [u.words for u in utts], splice=1.0, spans=spans, rng=rng)
    seen = set()
    for _ in range(20):
        item = ds[1]
        donors = ["abcd".index(w[1]) for w in item["words"]]  # word k of utterance d is "wxy"[k] + "abcd"[d]
        assert [w[0] for w in item["words"]] == ["w", "x", "y"]
        pieces = [(1, 0, 2), *((d, *spans[d][k]) for k, d in enumerate(donors)), (1, spans[1][-1][1], len(crops[1]))]
        want = torch.cat([100 * d + torch.arange(a, b) for d, a, b in pieces]).float()
        assert torch.equal(item["video"][:, 0, 0], want)
        assert item["states"].tolist() == [1000 * d + f for d, a, b in pieces for f in range(a, b)]
        assert item["labels"].tolist() == ctc_targets(item["words"])
        seen.add(item["words"])
    assert len(seen) > 5  # new sentences, not the four recorded ones
    assert LipReadingSet(crops, states, [u.words for u in utts], splice=0.0)[1]["words"] == utts[1].words
    with pytest.raises(InputError, match="word spans"):
        LipReadingSet(crops, states, [u.words for u in utts], splice=0.5)
    no_alignment = Utterance("x", None, ("a",))
    assert word_spans(no_alignment, 5) is None


def test_scores_count_substitutions_deletions_insertions():
    r = score(["bin red at", "lay x a b"], ["bin blue at f", "lay a b"])
    assert (r["substitutions"], r["deletions"], r["insertions"], r["reference_words"]) == (1, 1, 1, 7)
    assert r["errors"] == 3
    assert r["wer"] == pytest.approx(3 / 7)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    return read_grid(write_grid(root)), MouthCache(root / "cache", LipReadConfig(**TINY).crop)


def test_tiny_hybrid_training_learns_realigns_and_round_trips(grid, tmp_path):
    utts, cache = grid
    run = fit_lipreader(utts, LipReadConfig(**TINY, epochs=8, realign=True, realign_after=4, realign_every=2,
                                                objective="joint", mmi_weight=0.0, splice=0.0), cache)
    losses = [h["train_loss"] for h in run.history]
    assert losses[-1] < losses[0]
    assert [h["epoch"] for h in run.history if "realigned_frames" in h] == [4, 6]
    assert np.exp(run.log_priors).sum() == pytest.approx(1)
    save_run(run, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["lipread.json", "model.json",
                                                                    "model.safetensors"]
    again = load_run(tmp_path / "run")
    crops = cache(utts[0].video)
    for a, b in zip(log_posteriors(run, crops), log_posteriors(again, crops)):
        assert np.allclose(a, b, atol=1e-5)
    network = create_model(checkpoint=tmp_path / "run").eval()  # the registry alone rebuilds the network
    with torch.no_grad():
        assert torch.equal(network(crops[None, None]), run.model(crops[None, None]))
    assert np.array_equal(again.hmms.self_loop, run.hmms.self_loop)
    (tmp_path / "lm.arpa").write_text(estimate_word_lm(utts))
    lm = NgramLM.read_arpa(tmp_path / "lm.arpa")
    (tmp_path / "words.arpa").write_text(estimate_kneser_ney([u.words for u in utts], 3)[0])
    word_lm = read_arpa(tmp_path / "words.arpa")
    results = evaluate(again, utts, cache, {d: LipDecoder(again, d, lm=lm, word_lm=word_lm) for d in DECODERS})
    for name, r in results.items():
        assert 0 <= r["wer"] and len(r["utterances"]) == 3, name
    assert all(len(u["hypothesis"].split()) == 6 for u in results["hmm"]["utterances"])  # the grammar's 6 slots


def test_mmi_training_adds_the_sequence_loss_rebuilds_its_graphs_on_realignment_and_checks_its_inputs(grid):
    utts, cache = grid
    config = LipReadConfig(**TINY, objective="hmm", epochs=4, realign=True, realign_after=2, realign_every=1,
                           mmi_weight=1.0)
    run = fit_lipreader(utts, config, cache)
    assert [h["epoch"] for h in run.history if "realigned_frames" in h] == [2, 3]
    plain = fit_lipreader(utts, LipReadConfig(**TINY, objective="hmm", epochs=1, mmi_weight=0.0), cache)
    assert run.history[0]["train_loss"] > plain.history[0]["train_loss"] + 1e-3  # same first step, + MMI >= 0
    assert not LipReadConfig(objective="ctc", mmi_weight=1.0).sequence_trained  # no HMM head to train
    with pytest.raises(InputError, match="mmi_boost"):
        LipReadConfig(objective="hmm", mmi_weight=0.0, mmi_boost=0.5)
    outside = Utterance("x", utts[0].video, ("bin", "blue", "at", "two", "now"))  # no letter
    with pytest.raises(InputError, match="GRID's grammar, which rejects"):
        fit_lipreader([outside], LipReadConfig(**TINY, objective="hmm", epochs=1, mmi_weight=1.0), cache)


def test_mixup_targets_follow_their_partner_items_for_every_loss(grid):
    """target_loss against a partner order equals the loss of the batch collated in that order."""
    utts, cache = grid
    config = LipReadConfig(**TINY, objective="joint", mmi_weight=1.0, mmi_boost=0.5, mixup=0.4)
    lexicon = lexicon_for(config.units, [w for u in utts for w in u.words])
    hmms = HmmSet(lexicon.units, 1)
    crops = [cache(u.video)[: 20 + 4 * i] for i, u in enumerate(utts)]  # unequal lengths
    states = [initial_alignment(u, len(c), lexicon, hmms) for u, c in zip(utts, crops)]
    ds = LipReadingSet(crops, states, [u.words for u in utts])
    module = LipReadingModule(torch.nn.Identity(), config, hmms, lexicon, ds)
    partner = torch.tensor([2, 0, 1])
    assert len({len(c) for c in crops}) == 3
    scores = torch.randn(3, max(len(c) for c in crops), hmms.num_states + len(CTC_LABELS))
    hmm_logp, ctc_logp = split_heads(scores, hmms.num_states)
    got = module.target_loss(hmm_logp, ctc_logp, collate([ds[i] for i in range(3)]), partner)
    want = module.target_loss(hmm_logp, ctc_logp, collate([ds[i] for i in partner.tolist()]), torch.arange(3))
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert float(module.target_loss(hmm_logp, ctc_logp, collate([ds[i] for i in range(3)]), torch.arange(3))) != \
        pytest.approx(float(got), rel=1e-3)
    run = fit_lipreader(utts, LipReadConfig(**TINY, objective="hmm", epochs=2, mixup=0.4), cache)
    assert all(np.isfinite(h["train_loss"]) for h in run.history)


def test_video_shorter_than_the_stem_kernel_is_a_clear_error(grid, tmp_path):
    utts, cache = grid
    run = fit_lipreader(utts[:1], LipReadConfig(**TINY, epochs=1, objective="ctc"), cache)
    with pytest.raises(InputError, match="hmm decoder needs a run trained with objective hmm or joint"):
        LipDecoder(run, "hmm")
    with pytest.raises(InputError, match="4 frames is shorter than the stem's temporal kernel of 5"):
        log_posteriors(run, torch.zeros(4, 16, 24))


def test_a_broken_run_folder_is_an_input_error(grid, tmp_path):
    with pytest.raises(InputError, match=r"lipread\.json: not a lip-reading run"):
        load_run(tmp_path)
    (tmp_path / "lipread.json").write_text(json.dumps({"config": {"objective": "nope"}}))
    with pytest.raises(InputError, match="model.json missing"):
        load_run(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"model": "lipreader", "kwargs": {}}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="objective must be one of"):
        load_run(tmp_path)


def test_an_ensemble_decodes_the_renormalised_mean_of_its_members_log_posteriors(grid):
    utts, cache = grid
    runs = [fit_lipreader(utts, LipReadConfig(**TINY, epochs=1, objective="joint", trainer=TrainerOptions(seed=s)),
                          cache) for s in (0, 1)]
    merged = ensemble(runs)
    crops = cache(utts[0].video)
    members = [log_posteriors(r, crops) for r in runs]
    for head, got in enumerate(log_posteriors(merged, crops)):  # hmm states, then CTC labels
        mean = (members[0][head] + members[1][head]) / 2
        assert np.allclose(got, mean - np.log(np.exp(mean).sum(-1, keepdims=True)), atol=1e-5)
    assert np.allclose(np.exp(merged.log_priors), (np.exp(runs[0].log_priors) + np.exp(runs[1].log_priors)) / 2)
    alone, doubled = ensemble(runs[:1]), ensemble([runs[0], runs[0]])
    assert evaluate(doubled, utts, cache, {"hmm": LipDecoder(doubled, "hmm")})["hmm"]["utterances"] == evaluate(
        alone, utts, cache, {"hmm": LipDecoder(alone, "hmm")})["hmm"]["utterances"]


def test_an_ensemble_of_runs_on_different_units_or_crops_is_refused(grid):
    utts, cache = grid
    phones = fit_lipreader(utts[:1], LipReadConfig(**TINY, epochs=1), cache)
    chars = fit_lipreader(utts[:1], LipReadConfig(**TINY, epochs=1, units="characters"), cache)
    with pytest.raises(InputError, match="run 1 of the ensemble differs from run 0 in its HMM units"):
        ensemble([phones, chars])
    with pytest.raises(InputError, match="at least one run"):
        ensemble([])


def test_training_draws_depend_on_seed_epoch_and_item_only():
    """ds[(i, epoch)] draws the same splice, speed and augmentation whatever was drawn before (workers, resume)."""
    from myovision.video.mouth_augment import MouthAugment, SpeedPerturbation

    crops = [torch.randn(12, 4, 6) for _ in range(3)]
    spans = [[(2, 5), (5, 9)]] * 3
    ds = LipReadingSet(crops, [np.zeros(12, dtype=int)] * 3, [("a", "b")] * 3, MouthAugment(), SpeedPerturbation(0.3),
                       splice=0.5, spans=spans, seed=4)
    first = [ds[(1, e)]["video"] for e in range(6)]
    ds[(0, 3)], ds[(2, 3)]  # other draws in between change nothing
    assert all(torch.equal(a, ds[(1, e)]["video"]) for e, a in enumerate(first))
    assert len({tuple(v.flatten()[:20].tolist()) for v in first}) > 1  # epochs draw differently
    other = LipReadingSet(crops, ds.states, ds.words, MouthAugment(), SpeedPerturbation(0.3), splice=0.5,
                          spans=spans, seed=5)
    assert not torch.equal(other[(1, 0)]["video"], first[0]) or not torch.equal(other[(1, 1)]["video"], first[1])


def test_validation_split_is_seeded_and_disjoint():
    train, val = split_validation(list(range(20)), 0.2, seed=3)
    assert len(val) == 4 and sorted(train + val) == list(range(20)) and train == sorted(train)
    assert split_validation(list(range(20)), 0.2, seed=3) == (train, val)
    assert split_validation(list(range(20)), 0.0) == (list(range(20)), [])


class Interrupted(Exception):
    pass


def test_a_resumed_run_ends_exactly_as_the_uninterrupted_one(grid, tmp_path, monkeypatch):
    """Killed after epoch 2 of 4 (re-aligning after epochs 1, 2 and 3, MMI graphs, splicing, speed and mixup
    draws), --resume ends with the same weights, alignments, priors, self-loops, history and best epoch."""
    utts, cache = grid
    config = LipReadConfig(**TINY, objective="joint", epochs=4, realign=True, realign_after=1, realign_every=1,
                           mmi_weight=0.5,
                           splice=0.5, speed_change=0.2, mixup=0.4, time_masks=1)
    stats_full, stats_resumed = {}, {}
    full = fit_lipreader(utts, config, cache, validation=utts[:1], out=tmp_path / "full", stats=stats_full)
    start = LipReadingModule.on_train_epoch_start

    def killed_at_epoch_2(self):
        if self.current_epoch == 2:
            raise Interrupted
        start(self)

    monkeypatch.setattr(LipReadingModule, "on_train_epoch_start", killed_at_epoch_2)
    with pytest.raises(Interrupted):
        fit_lipreader(utts, config, cache, validation=utts[:1], out=tmp_path / "cut")
    monkeypatch.setattr(LipReadingModule, "on_train_epoch_start", start)
    resumed = fit_lipreader(utts, config, cache, validation=utts[:1], out=tmp_path / "cut", resume=True,
                            stats=stats_resumed)
    assert [h["epoch"] for h in full.history if "realigned_frames" in h] == [1, 2, 3]
    assert resumed.history == full.history
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    assert np.array_equal(full.log_priors, resumed.log_priors)
    assert np.array_equal(full.hmms.self_loop, resumed.hmms.self_loop)
    assert stats_full["best_val_wer"] == stats_resumed["best_val_wer"] and stats_full["steps"] == stats_resumed["steps"]
    fresh = fit_lipreader(utts, config, cache, validation=utts[:1], out=tmp_path / "again")
    shutil.rmtree(tmp_path / "again")
    assert all(torch.equal(a, b) for a, b in zip(full.model.state_dict().values(), fresh.model.state_dict().values()))
