"""`myovision store`: check a feature store's shards against their recorded checksums, and repair it."""

from __future__ import annotations

import argparse
from pathlib import Path

from myovision.cli import command_group, example_parser


def add_parser(groups) -> None:
    sub = command_group(groups, "store", "feature stores: verify shards against their checksums, repair",
                        "myovision store verify features/D1")
    ver = example_parser(sub, "verify", "check every shard of a feature store (present, size, SHA-256); exit 2 "
                         "when one is damaged", "myovision store verify features/D1")
    ver.add_argument("store", help="feature-store folder (holding index.json)")
    ver.set_defaults(func=_verify)
    rep = example_parser(sub, "repair", "drop the uids of damaged shards from the index (a resumed extraction "
                         "computes them again) and remove orphan files", "myovision store repair features/D1")
    rep.add_argument("store", help="feature-store folder (holding index.json)")
    rep.set_defaults(func=_repair)


def _open(folder: str):
    from myovision.data.store import INDEX_NAME, FeatureStore
    from myovision.errors import InputError

    if not (Path(folder) / INDEX_NAME).is_file():
        raise InputError(f"not a feature store ({INDEX_NAME} missing)", folder)
    return FeatureStore(folder)


def _print(problems) -> None:
    for p in problems:
        print(f"{p.shard}: {p.problem} ({len(p.uids)} uids)")


def _verify(args: argparse.Namespace) -> int:
    from myovision.errors import InputError

    store = _open(args.store)
    problems = store.verify()
    _print(problems)
    if problems:
        lost = sum(len(p.uids) for p in problems)
        raise InputError(f"{len(problems)} damaged shards holding {lost} uids; `myovision store repair` drops them "
                         "so a resumed extraction computes them again", args.store)
    print(f"{args.store}: {len(store)} uids in {len({s for m in store.modalities() for s in store.shards(m)})} "
          "shards, all intact")
    return 0


def _repair(args: argparse.Namespace) -> int:
    store = _open(args.store)
    problems = store.repair()
    _print(problems)
    removed = store.clean()
    print(f"{args.store}: dropped {sum(len(p.uids) for p in problems)} uids of {len(problems)} damaged shards, "
          f"removed {len(removed)} orphan files; {len(store)} uids remain")
    return 0
