"""Extraction over several processes or machines: under `torchrun --nproc_per_node=N` every rank takes
its share of the videos, writes a part store, and rank 0 merges the parts into the store.

The store folder holds `parts/rank-00000/`, `parts/rank-00001/`, ... (each a `FeatureStore`, one writer
each, since a store allows one writer at a time). Before any rank writes, all ranks read which uids are
done (in the store or in any part) and agree on the split (a barrier, then a deterministic balance of
whole videos by action count), so a restart with the same or another number of ranks recomputes nothing
that finished; before that, rank 0 verifies the store and every part left by an interrupted run (checksums
and sizes, `FeatureStore.repair`), so a damaged part shard is recomputed, never merged. After a barrier, rank 0
copies every part into the store and removes the part. The process group is gloo, which runs on CPU-only
machines; a single process needs none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Sequence

import torch.distributed as dist

from myovision.data.store import FeatureStore
from myovision.video.clips import ClipSpec, ClipTask, balance, group_by_video
from myovision.video.extract import ClipEncoder, ExtractionReport, extract_features

PARTS = "parts"


@dataclass(frozen=True)
class RankInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this module initialised the process group (and destroys it)


def init_distributed(timeout: timedelta = timedelta(hours=24)) -> RankInfo:
    """Join the gloo process group when launched by torchrun (WORLD_SIZE > 1), else a single-process RankInfo.

    The long timeout lets a rank with more video wait at the final barrier for the others.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return RankInfo()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("gloo", timeout=timeout)
    return RankInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)


def part_folders(store_path: str | os.PathLike) -> list[Path]:
    """The per-rank part stores under a store folder, sorted."""
    root = Path(store_path) / PARTS
    return sorted(p for p in root.glob("rank-*") if p.is_dir()) if root.is_dir() else []


def verify_store_and_parts(store: FeatureStore) -> list[str]:
    """`FeatureStore.repair` of the store and of every part store under it (checksums, sizes; damaged shards'
    uids dropped so that they are recomputed, not merged); the dropped uids."""
    stores = ([store] if len(store) else []) + [FeatureStore(folder) for folder in part_folders(store.path)]
    return [uid for s in stores for problem in s.repair() for _, uid in problem.uids]


def merge_parts(store: FeatureStore, modality: str) -> int:
    """Copy the uids of every part into `store` (those already there are skipped), then remove the part.

    Returns how many uids were added. A part is removed only once all it holds is in the store, so an
    interrupted merge is finished by the next run.
    """
    added = 0
    for folder in part_folders(store.path):
        part = FeatureStore(folder)
        with store.writer(modality) as writer:
            for uid in part.uids(modality):
                added += writer.add(uid, part.get(uid, modality))
        others = [m for m in part.modalities() if m != modality]
        part.close()
        if not others:
            shutil.rmtree(folder)
    with contextlib.suppress(OSError):  # the parts folder, once empty
        (store.path / PARTS).rmdir()
    return added


def extract_to_store(tasks: Sequence[ClipTask], encoder: ClipEncoder, store_path: str | os.PathLike, spec: ClipSpec,
                     *, modality: str = "rgb", ranks: RankInfo | None = None, **options) -> ExtractionReport:
    """`extract_features` of this rank's share of `tasks` into the store at `store_path`, then the merge.

    options: passed to `extract_features` (batch_size, workers, skip_bad, shard_size, progress).
    Every rank returns its own report; rank 0's also counts the merged uids.
    """
    ranks = ranks or init_distributed()
    store = FeatureStore(store_path)
    dropped = verify_store_and_parts(store) if ranks.rank == 0 else []
    if ranks.world > 1:
        dist.barrier()  # the store and its parts are verified before any rank reads what is done
        store = FeatureStore(store_path)
    done = {u for folder in part_folders(store_path) for u in FeatureStore(folder).uids(modality)}
    done |= {t.uid for t in tasks if store.has(t.uid, modality)}
    remaining = [t for t in tasks if t.uid not in done]
    if ranks.world > 1:
        dist.barrier()  # every rank has read what is done before any rank writes
    mine = balance(group_by_video(remaining), ranks.world)[ranks.rank]
    target = store if ranks.world == 1 else FeatureStore(Path(store_path) / PARTS / f"rank-{ranks.rank:05d}")
    desc = "extract" if ranks.world == 1 else f"extract rank {ranks.rank}/{ranks.world}"
    report = extract_features(mine, encoder, target, spec, modality=modality, desc=desc, verify=False, **options)
    report.dropped = dropped
    report.already_done = len(tasks) - len(remaining)
    if ranks.world > 1:
        dist.barrier()  # all parts are complete
    if ranks.rank == 0:
        report.merged = merge_parts(store, modality)
    if ranks.world > 1:
        dist.barrier()
    if ranks.owns_group:
        dist.destroy_process_group()
    return report
