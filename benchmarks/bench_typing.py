"""Claims: the CTC beam search (beam 50, 10 labels per frame, character 3-gram LM; numba-compiled, with the
numpy path beside it) decodes at least 20x faster than a straightforward pure-Python prefix beam search of
the same algorithm, with the same output, and at least as fast as flashlight-text's LexiconFreeDecoder on
the same emissions (with its KenLM over the same ARPA: speed only, its LM rules differ; and without an LM,
where both run a plain CTC prefix beam); greedy decoding is faster still; and the training step time of
each typing model.

All ratios come from one run. Emissions are (frames, 99) log-probabilities shaped like a trained network's
(a key peak every ~24 frames, blank elsewhere, noise in between); the LM is the real Reuters character
3-gram model in ../shared/data/lm when present, otherwise one estimated from the synthetic corpus. The
decoders are checked against each other before timing (the exit status is non-zero when they disagree).
Training steps: one Adam step (forward, CTC loss, backward) on 8 windows of 4 s plus 1 s context
(``--quick``: one window of 0.5 s plus context, one timed step), one thread, median of 3 after a warm-up.

The learning claim (a model trained on synthetic sessions; LM beam search lowering CER on held-out text)
is ``benchmarks/bench_typing_learning.py``.

    python benchmarks/bench_typing.py --quick     # ~30 s
    python benchmarks/bench_typing.py
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from check_ratios import RATIOS_HELP, ratios_path, record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "typing"))  # the plain reference decoder the tests use

from reference_ctc import reference_beam_search  # noqa: E402

import myovision as mv  # noqa: E402
from myovision.data.charset import CHARSET  # noqa: E402
from myovision.data.synthetic_typing import WORDS, sentence  # noqa: E402
from myovision.decoding import CTCBeamDecoder, NgramLM, ctc_greedy, estimate_arpa  # noqa: E402

LABEL_CHARS = [None if i in (CHARSET.blank, CHARSET.key_to_label("Key.backspace")) else CHARSET.label_to_char(i)
               for i in range(CHARSET.num_classes)]
MODELS = ["tds_conv_ctc", "tds_mlp480_ctc", "tds_mlp480_dropout_ctc", "tds_bilstm_ctc", "tds_bilstm_se_ctc",
          "cnn_gru_ctc", "cnn_transformer_ctc", "transformer_ctc"]


def emissions_like_a_network(frames: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, 99) log-probabilities: keys of English-like text every ~24 frames, blank in between."""
    text = " ".join(sentence(rng) for _ in range(frames // 100 + 1))
    logits = rng.normal(0, 1.0, size=(frames, 99))
    logits[:, CHARSET.blank] += 6.0
    for i, label in enumerate(CHARSET.str_to_labels(text)):
        t = 12 + 24 * i
        if t >= frames:
            break
        logits[t, label] += 9.0
        logits[t, rng.integers(0, 26)] += 7.5  # a confusable second key
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def language_model(tmp: Path) -> tuple[NgramLM, str, Path]:
    real = ROOT.parent / "shared" / "data" / "lm" / "reuters-3-gram-char-lm.arpa"
    if real.is_file():
        return NgramLM.read_arpa(real), "Reuters character 3-gram (real)", real
    rng = np.random.default_rng(0)
    words = [list(w.lower()) for _ in range(2000) for w in sentence(rng, WORDS).split()]
    (tmp / "lm.arpa").write_text(estimate_arpa(words, order=3))
    return NgramLM.read_arpa(tmp / "lm.arpa"), "3-gram estimated from the synthetic corpus", tmp / "lm.arpa"


def timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def flashlight_decoder(lm_path: Path | None, lm_weight: float):
    """flashlight-text's LexiconFreeDecoder (beam 50, 10 tokens per frame, no score threshold, log-add merging),
    with its KenLM over the same ARPA (every key is an LM token: no word boundaries, no backspace rule) or,
    without ``lm_path``, no LM. Returns ``decode(emissions (T, 99)) -> labels`` or None when not installed."""
    try:
        from flashlight.lib.text.decoder import (CriterionType, KenLM, LexiconFreeDecoder,
                                                 LexiconFreeDecoderOptions, ZeroLM)
        from flashlight.lib.text.dictionary import Dictionary
    except ImportError:
        return None
    tokens = Dictionary()
    for i in range(CHARSET.num_classes):
        tokens.add_entry(LABEL_CHARS[i] if LABEL_CHARS[i] not in (None, " ") else f"<{i}>", i)
    lm = KenLM(str(lm_path), tokens) if lm_path is not None else ZeroLM()
    opts = LexiconFreeDecoderOptions(beam_size=50, beam_size_token=10, beam_threshold=1e30, lm_weight=lm_weight,
                                     sil_score=0.0, log_add=True, criterion_type=CriterionType.CTC)
    space = CHARSET.str_to_labels(" ")[0]
    decoder = LexiconFreeDecoder(opts, lm, space, CHARSET.blank, [])

    def decode(e: np.ndarray) -> list[int]:
        e32 = np.ascontiguousarray(e, dtype=np.float32)
        path = decoder.decode(e32.ctypes.data, e32.shape[0], e32.shape[1])[0].tokens  # one token per frame
        return [int(t) for t, _ in itertools.groupby(path) if t >= 0 and t != CHARSET.blank]

    return decode


def bench_decoding(frames: int, ref_frames: int, lm: NgramLM, lm_path: Path) -> tuple[bool, dict[str, float]]:
    """Prints the decoders' speeds; returns (every compared output agrees, {ratio name: ours' speed-up})."""
    rng = np.random.default_rng(0)
    e = emissions_like_a_network(frames, rng)
    kw = dict(beam_size=50, labels_per_frame=10, lm=lm, label_chars=LABEL_CHARS)
    fast, numpy_path = CTCBeamDecoder(**kw), CTCBeamDecoder(**kw, engine="numpy")
    same = fast.decode(e[:ref_frames]) == reference_beam_search(e[:ref_frames], **kw)[0]
    t_ref = timed(lambda: reference_beam_search(e[:ref_frames], **kw))
    fast.decode(e[:200])  # warm the LM caches as a live decoder would be
    numpy_path.decode(e[:200])
    t_beam = timed(lambda: fast.decode(e), 3)
    t_numpy = timed(lambda: numpy_path.decode(e), 1)
    same_paths = fast.decode(e) == numpy_path.decode(e)
    t_greedy = timed(lambda: ctc_greedy(e), 5)
    t_beam_ref_len = timed(lambda: fast.decode(e[:ref_frames]), 3)
    engine = "numba" if fast.kernel is not None else "numpy: numba not installed"
    print(f"decoding {frames} frames (125 frames/s = real time; pure Python on the first {ref_frames}):")
    print(f"  greedy                         {frames / t_greedy:12,.0f} frames/s")
    print(f"  beam 50 + LM, ours ({engine})  {frames / t_beam:12,.0f} frames/s   {frames / t_beam / 125:6.1f}x real time")
    print(f"  beam 50 + LM, ours (numpy)     {frames / t_numpy:12,.0f} frames/s   same hypotheses: {same_paths}")
    print(f"  beam 50 + LM, pure Python      {ref_frames / t_ref:12,.0f} frames/s")
    print(f"  ratio ours / pure Python (same {ref_frames} frames): {t_ref / t_beam_ref_len:.1f}x (goal 20x);"
          f" ours / numpy path: {t_numpy / t_beam:.1f}x; outputs identical to pure Python: {same}")
    ok = same and same_paths
    ratios = {"beam_lm_vs_pure_python": t_ref / t_beam_ref_len}
    flash_lm, flash_plain = flashlight_decoder(lm_path, 2.0), flashlight_decoder(None, 0.0)
    if flash_lm is None:
        print("  flashlight-text: not importable (bash scripts/setup.sh peers), comparison skipped")
        return ok, ratios
    flash_lm(e[:200])
    t_flash = timed(lambda: flash_lm(e), 3)
    print(f"  beam 50 + LM, flashlight-text  {frames / t_flash:12,.0f} frames/s   (its KenLM on the same ARPA, every"
          f" key an LM token: scores differ from ours, speed only)")
    print(f"  ratio ours / flashlight-text with LM: {t_flash / t_beam:.2f}x (goal >= 1)")
    ratios["beam_lm_vs_flashlight"] = t_flash / t_beam
    plain = CTCBeamDecoder(beam_size=50, labels_per_frame=10, backspace=None)
    plain.decode(e[:200])
    t_plain = timed(lambda: plain.decode(e), 3)
    t_flash_plain = timed(lambda: flash_plain(e), 3)
    from rapidfuzz.distance import Levenshtein

    ours, theirs = plain.decode(e), flash_plain(e)
    print(f"  beam 50, no LM, no backspace rule: ours {frames / t_plain:,.0f}, flashlight-text"
          f" {frames / t_flash_plain:,.0f} frames/s; ratio {t_flash_plain / t_plain:.2f}x; hypotheses differ in"
          f" {Levenshtein.distance(ours, theirs)} of {len(ours)} labels (flashlight keeps blank- and label-ending"
          f" paths of a prefix as separate beam entries)")
    return ok, ratios


RATIO_MEANING = {
    "beam_lm_vs_pure_python": "pure-Python CTC prefix beam search (emg2qwerty's algorithm) time / ours, beam 50 + "
                              "character 3-gram LM, same hypotheses (full: 1,500 frames, quick: 200)",
    "beam_lm_vs_flashlight": "flashlight-text LexiconFreeDecoder + KenLM time / ours, beam 50, same emissions and "
                             "ARPA (full: 15,000 frames, quick: 1,000)",
}


def bench_training(window: int, batch: int, repeats: int) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    frames = 1 + (window + 2000 - 64) // 16
    x = torch.randn(frames, batch, 2, 16, 33)
    print(f"training step (Adam, CTC; batch {batch} x {frames} frames, 1 thread, median of {repeats}):")
    for name in MODELS:
        model = mv.create_model(name)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        ctc = torch.nn.CTCLoss(blank=CHARSET.blank, zero_infinity=True)
        targets = torch.randint(0, 98, (batch, 20))

        def step():
            out = model(x)
            lengths = torch.full((batch,), out.shape[0], dtype=torch.long)
            loss = ctc(out, targets, lengths, torch.full((batch,), 20, dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        times = [timed(step) for _ in range(repeats)]
        params = sum(p.numel() for p in model.parameters())
        print(f"  {name:24s} {params:>10,} params  {statistics.median(times):7.3f} s/step")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one timed training step (~30 s)")
    parser.add_argument("--ratios", default=None, help=RATIOS_HELP)
    args = parser.parse_args()
    ratios_file = ratios_path(args.ratios, args.quick)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        lm, lm_name, lm_path = language_model(Path(tmp))
        print(f"LM: {lm_name}, order {lm.order}, {len(lm.tokens)} tokens")
        ok, ratios = bench_decoding(*((1000, 200) if args.quick else (15000, 1500)), lm, lm_path)
    for name, value in ratios.items():
        record(ratios_file, name, value, quick=args.quick, higher_is_better=True, means=RATIO_MEANING[name],
               command="python benchmarks/bench_typing.py" + (" --quick" if args.quick else ""))
    bench_training(*((1000, 1, 1) if args.quick else (8000, 8, 3)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
