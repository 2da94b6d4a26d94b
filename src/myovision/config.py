"""Configurations stated once: command-line options generated from the dataclasses the library itself uses.

A configuration is a dataclass whose fields are declared with :func:`option` (a default and a help text);
a field that is itself such a dataclass (e.g. the training harness's ``TrainerOptions``) is a nested section.
:func:`add_config_arguments` turns every leaf into ``--kebab-case`` (nested sections are flattened, names stay
unique), shown with its help and default, plus ``--config FILE.yaml`` (read first; options on the command line
override it) and ``--print-config`` (print the resolved YAML and exit). :func:`config_from_args` builds the
dataclass back, so the CLI, ``config.yaml`` and the library share one default.

>>> from dataclasses import dataclass
>>> @dataclass
... class Demo:
...     epochs: int = option(10, "passes over the training data")
...     name: str = option("tds", "model name")
>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_config_arguments(p, Demo)
>>> config_from_args(Demo, p.parse_args(["--epochs", "3"]))
Demo(epochs=3, name='tds')
>>> to_dict(Demo())
{'epochs': 10, 'name': 'tds'}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from myovision.errors import InputError

_MISSING = dataclasses.MISSING


def option(default: Any = _MISSING, help: str = "", *, factory: Any = _MISSING, choices: tuple | None = None,
           metavar: str | None = None) -> Any:
    """A dataclass field with its help text (and choices); `factory` for mutable defaults."""
    if not help:
        raise ValueError("every option needs help text")
    metadata = {"help": help, "choices": choices, "metavar": metavar}
    if factory is not _MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def to_dict(config: Any) -> dict:
    """A config dataclass as a plain nested dict (tuples as lists), ready for YAML."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type, values: dict, source: str | Path | None = None) -> Any:
    """Build `cls` from a nested dict (unknown keys are an InputError naming `source`); missing keys keep defaults."""
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(f"unknown option(s) {unknown} for {cls.__name__}; known: {sorted(names)}", source)
    kwargs = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise InputError(f"{name} must be a mapping of options", source)
            kwargs[name] = from_dict(kind, value, source)
        else:
            kwargs[name] = _coerce(value, kind, name, source)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise InputError(exc.problem, source) from None
        raise InputError(str(exc), source) from None


def _leaves(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """(dotted name, field, type) of every leaf option of a config dataclass, nested sections flattened."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            found += _leaves(kind, f"{prefix}{f.name}.")
        else:
            found.append((f"{prefix}{f.name}", f, kind))
    return found


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not _MISSING else f.default


def _base(kind: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return kind, False


def _coerce(value: Any, kind: Any, name: str, source: Any = None) -> Any:
    """A value read from YAML or the command line as the field's type (tuples from lists, dicts from JSON)."""
    base, optional = _base(kind)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional or value is None:
            return None
    origin = typing.get_origin(base) or base
    try:
        if origin is tuple:
            inner = typing.get_args(base)[0] if typing.get_args(base) else str
            items = value.split(",") if isinstance(value, str) else value
            return tuple(_coerce(v, inner, name, source) for v in items)
        if origin is list:
            inner = typing.get_args(base)[0] if typing.get_args(base) else str
            items = value.split(",") if isinstance(value, str) else value
            return [_coerce(v, inner, name, source) for v in items]
        if origin is dict:
            return json.loads(value) if isinstance(value, str) else dict(value)
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"{value!r} is not a boolean")
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        if base in (int, float, str):
            return base(value)
        if typing.get_origin(base) in (typing.Union, types.UnionType):  # e.g. int | str: the first that fits
            for option_type in typing.get_args(base):
                try:
                    return _coerce(value, option_type, name, source)
                except InputError:
                    continue
        return value
    except (TypeError, ValueError) as exc:
        raise InputError(f"option {name}: cannot read {value!r} as {getattr(base, '__name__', base)} ({exc})",
                         source) from None


def _flag(name: str) -> str:
    return "--" + name.rsplit(".", 1)[-1].replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, *, title: str | None = None) -> None:
    """Add an option per leaf of `cls` (help text and default shown), plus --config and --print-config."""
    parser.add_argument("--config", metavar="FILE.yaml", default=None,
                        help="read options from this YAML file (a run's config.yaml repeats the run); options "
                             "given on the command line override it")
    parser.add_argument("--print-config", action="store_true",
                        help="print the fully resolved configuration as YAML and exit")
    group = parser.add_argument_group(title or f"options ({cls.__name__})")
    for name, f, kind in _leaves(cls):
        base, optional = _base(kind)
        meta = f.metadata
        default = _default(f)
        shown = json.dumps(default) if isinstance(default, (dict, list, tuple)) else default
        help_text = f"{meta['help']} (default: {shown})"
        dest = name.replace(".", "__")
        if base is bool and not optional:
            group.add_argument(_flag(name), dest=dest, action=argparse.BooleanOptionalAction, default=None,
                               help=help_text)
            continue
        group.add_argument(_flag(name), dest=dest, default=None, choices=meta.get("choices"),
                           metavar=meta.get("metavar") or (None if meta.get("choices") else name.rsplit(".", 1)[-1].upper()),
                           type=None if meta.get("choices") is None else str, help=help_text)
    parser.set_defaults(_config_class=cls)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """The config: defaults, then --config's file, then the options given on the command line."""
    values: dict = {}
    source = getattr(args, "config", None)
    if source:
        from myovision.runs import read_config

        values = read_config(source)
        from_dict(cls, values, source)  # unknown keys and bad values, named with the file
    for name, f, kind in _leaves(cls):
        given = getattr(args, name.replace(".", "__"), None)
        if given is None:
            continue
        *sections, leaf = name.split(".")
        node = values
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = _coerce(given, kind, _flag(name))
    return from_dict(cls, values, source)


def print_config_if_asked(config: Any, args: argparse.Namespace) -> bool:
    """With --print-config, write the resolved config as YAML to stdout and return True."""
    if not getattr(args, "print_config", False):
        return False
    from myovision.runs import dump_config

    sys.stdout.write(dump_config(to_dict(config)))
    return True
