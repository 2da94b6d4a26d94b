"""Shared fixtures: where the real third-party data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same examples every run, so a red build is a real change,
# not a new random draw; locally every run explores new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED_DATA = Path(os.environ.get("MYOVISION_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a message naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (set MYOVISION_SHARED_DATA to its folder)")
    return path


@pytest.fixture(autouse=True)
def _no_user_mtcnn_weights(monkeypatch):
    """A developer's $MYOVISION_MTCNN_WEIGHTS would switch the lip reader's default crop to MTCNN in every test."""
    monkeypatch.delenv("MYOVISION_MTCNN_WEIGHTS", raising=False)


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (skips the test when it is absent)."""
    return shared_path()
