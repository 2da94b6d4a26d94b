"""Video front-end: read frames by index (PyAV, frame folders), sample clips, transform them, extract features."""

from myovision.video.frames import FrameFolderReader
from myovision.video.io import VideoInfo, VideoReader, find_video, open_video
from myovision.video.sampling import clip_indices, dense_clip_indices, uniform_clip_indices

__all__ = ["FrameFolderReader", "VideoInfo", "VideoReader", "clip_indices", "dense_clip_indices", "find_video",
           "open_video", "uniform_clip_indices"]
