"""The `myovision` command: one sub-command group per area; each module parses, calls the library, prints.

Bad input ends the command with exit status 2 and one line naming the file and the problem; any other
failure is also one line (exit 1) unless the global `--debug` flag asks for the traceback. SIGTERM and SIGHUP
stop a command as Ctrl-C does: finished work is kept and the exit status is 128 + the signal number.
"""

from __future__ import annotations

import argparse
import sys

from myovision import __version__
from myovision.errors import InputError



class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (sub-command parsers inherit the class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from myovision.cli import (data, demo, emg, experiment, export, gestures, lipread, lm, profile, store, stream,
                               typing, video, zeroshot)

    parser = OneLineErrors(
        prog="myovision",
        description="Recognise what people do from surface EMG and video.",
        epilog="example:\n  myovision demo --out runs/demo\n  myovision gestures train --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"myovision {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of the one-line message")
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for module in (demo, experiment, emg, gestures, data, profile, video, lipread, lm, typing, zeroshot, stream,
                   store, export):
        module.add_parser(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    from myovision.errors import Interrupted, stop_on_signals

    parser = build_parser()
    args = parser.parse_args(argv)
    stop_on_signals()
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        if args.debug:
            raise
        print(f"myovision: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be written, a full disk
        if args.debug:
            raise
        print(f"myovision: error: {exc.filename or ''}: {_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        print(f"myovision: stopped by {name}; finished outputs are kept", file=sys.stderr)
        return exc.code if isinstance(exc, Interrupted) else 130
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user unless asked with --debug
        if args.debug:
            raise
        print(f"myovision: error: {type(exc).__name__}: {_one_line(str(exc))} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


def _one_line(text: str, limit: int = 300) -> str:
    """The first line of a message, cut to `limit` characters (library messages can run to several lines)."""
    first = (text.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else first[:limit] + "..."


def command_group(groups, name: str, help: str, example: str):
    """A command group (`myovision NAME ...`) with --help and an example; returns its sub-command adder."""
    group = example_parser(groups, name, help, example)
    return group.add_subparsers(dest="command", metavar="COMMAND", required=True)


def example_parser(sub, name: str, help: str, example: str) -> argparse.ArgumentParser:
    """A sub-parser whose --help ends with a runnable example."""
    return sub.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def train_parser(sub, name: str, help: str, example: str, config_class: type) -> argparse.ArgumentParser:
    """A train/experiment command: --out (the run folder), --resume, --config, --print-config, and one option
    per field of `config_class` (generated, so the library's defaults are the CLI's)."""
    from myovision.config import add_config_arguments

    parser = example_parser(sub, name, help, example)
    parser.add_argument("--out", required=False, default=None,
                        help="the run folder (config.yaml, run.json, model, checkpoints, metrics, logs, report)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (same configuration)")
    add_config_arguments(parser, config_class)
    return parser


def global_rank() -> int:
    """This process's rank in a multi-process run started by Lightning, torchrun or SLURM (0 otherwise)."""
    import os

    for name in ("RANK", "SLURM_PROCID"):
        if name in os.environ:
            return int(os.environ[name])
    return int(os.environ.get("NODE_RANK", 0)) * 1_000 + int(os.environ.get("LOCAL_RANK", 0))


def start_train_run(args: argparse.Namespace, config, *, data=(), device: str | None = None):
    """The config from defaults, --config and the command line; with --print-config, print it and return None.

    Otherwise create (or re-open with --resume) the run folder --out on global rank 0, writing config.yaml and
    run.json, and return (config, out folder).
    """
    from pathlib import Path

    from myovision.config import print_config_if_asked, to_dict
    from myovision.runs import LAST_CHECKPOINT, start_run
    from myovision.training.options import HARDWARE_OPTIONS, check_devices

    if print_config_if_asked(config, args):
        return None
    if not args.out:
        raise InputError("--out is required (the run folder)")
    if getattr(config, "trainer", None) is not None:
        check_devices(config.trainer)
    if args.resume:  # every checkpoint to continue from must be readable before the run folder is touched
        from myovision.registry import read_state_dict

        for checkpoint in sorted(Path(args.out).rglob(LAST_CHECKPOINT)):
            read_state_dict(checkpoint)
    out = Path(args.out)
    if global_rank() == 0:
        start_run(out, to_dict(config), seed=getattr(getattr(config, "trainer", None), "seed", None), data=data,
                  device=device, resume=args.resume, ignore_on_resume=HARDWARE_OPTIONS)
    return config, out
