"""`myovision profile`: parameters, parameter memory, multiply-adds and CPU latency of a registered model."""

from __future__ import annotations

import argparse
import ast
import json

from myovision.cli import example_parser

LIPREAD_FRONTENDS = "lipread-frontends"


def add_parser(groups) -> None:
    p = example_parser(
        groups, "profile",
        "count a model's parameters, parameter memory (MiB), multiply-adds (counted on its layers) and median "
        f"CPU latency on a random input; --model {LIPREAD_FRONTENDS} prints the table of the five lip-reading "
        "front-ends",
        "myovision profile --model stires3d --kw omega=2 --input 1,1,75,88,88 --json\n"
        f"  myovision profile --model {LIPREAD_FRONTENDS} --input 1,1,75,88,88",
    )
    p.add_argument("--model", required=True, action="append",
                   help=f"registered model name (repeat for several, or {LIPREAD_FRONTENDS} for the five)")
    p.add_argument("--kw", action="append", default=[], metavar="KEY=VALUE",
                   help="builder keyword for every model, value as a Python literal (e.g. omega=0.5)")
    p.add_argument("--input", required=True, help="input shape, comma-separated, e.g. B,C,T,H,W = 1,1,75,88,88")
    p.add_argument("--repeats", type=int, default=5, help="timed runs after one warm-up; 0 skips latency (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON: one object, or a list for several models")
    p.set_defaults(func=_profile)


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,1,75,88,88' -> (1, 1, 75, 88, 88); anything else is an InputError."""
    from myovision.errors import InputError

    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--input must be comma-separated integers such as 1,1,75,88,88, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise InputError(f"--input sizes must be positive, got {text!r}")
    return shape


def parse_keywords(items: list[str]) -> dict:
    """['omega=2', 'name=x'] -> {'omega': 2, 'name': 'x'} (Python literals, else the text)."""
    from myovision.errors import InputError

    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--kw expects KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs


def _profile(args: argparse.Namespace) -> int:
    from myovision.models.lipread_frontends import FRONTENDS
    from myovision.profiling import forward_passes
    from myovision.progress import Heartbeat

    names = [n for name in args.model for n in (FRONTENDS if name == LIPREAD_FRONTENDS else (name,))]
    shape, kwargs = parse_shape(args.input), parse_keywords(args.kw)
    rows = []
    with Heartbeat(len(names) * forward_passes(args.repeats), desc="profiling", unit="pass") as beat:
        for name in names:
            beat.set_description(f"profiling {name}")
            rows.append(_profile_one(name, kwargs, shape, args.repeats, beat.update))
    if args.json:
        print(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
        return 0
    print(f"{'model':<18} {'params':>12} {'memory MiB':>11} {'MMACs':>12} {'latency ms':>11}   input {args.input}")
    for r in rows:
        latency = "-" if r["latency_ms"] is None else f"{r['latency_ms']:.1f}"
        print(f"{r['model']:<18} {r['params']:>12,} {r['memory_mb']:>11.2f} {r['macs'] / 1e6:>12.1f} {latency:>11}")
    return 0


def _profile_one(name: str, kwargs: dict, shape: tuple[int, ...], repeats: int, on_pass) -> dict:
    """One row of the table: build `name` with `kwargs` and profile it on `shape`; bad input is an InputError."""
    from myovision.errors import InputError
    from myovision.profiling import profile_model
    from myovision.registry import create_model

    try:
        model = create_model(name, **kwargs)
    except (KeyError, TypeError) as exc:
        raise InputError(f"cannot build {name!r} with {kwargs}: {exc.args[0] if exc.args else exc}") from None
    try:
        result = profile_model(model, shape, repeats=repeats, on_pass=on_pass)
    except RuntimeError as exc:
        raise InputError(f"{name} does not take an input of shape {shape}: {str(exc).splitlines()[0]}") from None
    return {"model": name, "input": list(shape), **result.asdict()}
