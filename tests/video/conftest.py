"""Fixtures of the video tests (the writers live in videofiles.py)."""

from pathlib import Path

import pytest
from videofiles import write_video


@pytest.fixture
def mp4(tmp_path) -> Path:
    """30 flat-grey frames, H.264 with B-frames, a keyframe every 8 frames."""
    return write_video(tmp_path / "clip.mp4")
