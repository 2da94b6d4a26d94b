"""The `myovision` command: one sub-command group per area; each module parses, calls the library, prints.

Bad input ends the command with exit status 2 and one line naming the file and the problem.
"""

from __future__ import annotations

import argparse
import sys

from myovision import __version__
from myovision.errors import InputError



def build_parser() -> argparse.ArgumentParser:
    from myovision.cli import data, demo, emg, experiment, gestures, lipread, profile, video, typing, zeroshot

    parser = argparse.ArgumentParser(
        prog="myovision",
        description="Recognise what people do from surface EMG and video.",
        epilog="example:\n  myovision demo --out runs/demo\n  myovision gestures train --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"myovision {__version__}")
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for module in (demo, experiment, emg, gestures, data, profile, video, lipread, typing, zeroshot):
        module.add_parser(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"myovision: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be written, a full disk
        print(f"myovision: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("myovision: interrupted; finished outputs are kept", file=sys.stderr)
        return 130


def command_group(groups, name: str, help: str, example: str):
    """A command group (`myovision NAME ...`) with --help and an example; returns its sub-command adder."""
    group = example_parser(groups, name, help, example)
    return group.add_subparsers(dest="command", metavar="COMMAND", required=True)


def example_parser(sub, name: str, help: str, example: str) -> argparse.ArgumentParser:
    """A sub-parser whose --help ends with a runnable example."""
    return sub.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
