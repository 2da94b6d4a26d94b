"""Every command explains itself: each option has help text, each command an example."""

from __future__ import annotations

import argparse

from myovision.cli import build_parser


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every leaf command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name))


def test_every_option_of_every_command_has_help_text():
    missing = [f"myovision {' '.join(path)} {a.option_strings[0] if a.option_strings else a.dest}"
               for path, parser in commands(build_parser()) for a in parser._actions
               if a.help in (None, "") and not isinstance(a, argparse._HelpAction)]
    assert missing == []


def test_every_command_ends_its_help_with_an_example():
    lacking = [" ".join(path) for path, parser in commands(build_parser()) if "example:" not in (parser.epilog or "")]
    assert lacking == []
