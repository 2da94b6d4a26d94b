"""Every `myovision ...` command in the README's command-line block parses: its group, command and flags exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from myovision.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """The README's `myovision` command lines (continuations joined, comments, redirections and [optional] parts
    dropped, `a; b` split)."""
    text = README.read_text()
    block = text[text.index("## Command line"):]
    block = block[block.index("```bash") + len("```bash"):]
    block = block[:block.index("```")].replace("\\\n", " ")
    commands = []
    for line in block.splitlines():
        line = re.sub(r"\s#.*$", "", line)  # a trailing comment
        line = re.sub(r"\[[^\]]*\]", "", line)  # [--optional] parts
        for part in line.split(";"):
            part = part.split(">")[0].strip()
            if part.startswith("myovision "):
                commands.append(part)
    return commands


def test_the_readme_lists_commands():
    assert len(readme_commands()) >= 30


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses(command):
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert callable(args.func)
