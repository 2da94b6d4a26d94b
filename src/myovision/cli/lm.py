"""`myovision lm build`: a word n-gram language model (interpolated modified Kneser-Ney,
`myovision.decoding.kneser_ney`) from a text file, one sentence per line, written as ARPA."""

from __future__ import annotations

from myovision.cli import command_group, example_parser

EXAMPLE = "myovision lm build --order 3 --text transcripts.txt --out lm.arpa"


def add_parser(groups) -> None:
    sub = command_group(groups, "lm", "word n-gram language models for the decoders", EXAMPLE)
    b = example_parser(sub, "build", "estimate an interpolated modified Kneser-Ney word n-gram model from --text "
                       "(one sentence per line, words split on white space, lower-cased) and write it as ARPA",
                       EXAMPLE)
    b.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    b.add_argument("--text", required=True, help="text file, one sentence per line")
    b.add_argument("--out", required=True, help="ARPA file to write")
    b.set_defaults(func=_build)


def _build(args) -> int:
    from pathlib import Path

    from myovision.decoding.kneser_ney import estimate_kneser_ney
    from myovision.errors import InputError
    from myovision.fileio import atomic_write_text

    text = Path(args.text)
    if not text.is_file():
        raise InputError("text file not found", text)
    sentences = [line.lower().split() for line in text.read_text(encoding="utf-8", errors="replace").splitlines()]
    sentences = [s for s in sentences if s]
    arpa, discounts = estimate_kneser_ney(sentences, args.order)
    atomic_write_text(args.out, arpa)
    for d in discounts:
        note = " (too little text: KenLM's fallback discounts)" if d["fallback"] else ""
        print(f"order {d['order']}: D1 {d['D1']:.3f}, D2 {d['D2']:.3f}, D3+ {d['D3+']:.3f}{note}")
    print(f"wrote {args.out} ({len(sentences)} sentences)")
    return 0
