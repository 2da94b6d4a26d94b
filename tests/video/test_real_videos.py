"""The real clips in ../shared/data: frame counts, fps, sizes, seeks against a full decode, pixel statistics."""

import av
import numpy as np
import pytest

from myovision.video import clip_indices, open_video

# file: (frames, fps, height, width), from each folder's SOURCE.md
CLIPS = {
    "video-clips/kinetics_arm_wrestling.mp4": (280, 28.0, 256, 340),
    "video-clips/pool_cleaning.mp4": (300, 30.0, 256, 340),
    "video-clips/test_mpeg4_audio.avi": (164, 25.0, 240, 320),
    "video-clips/ucf101_cricket_shot_rgb.gif": (79, 25.0, 224, 224),
    "grid-s1/video/bbaf2n.mpg": (75, 25.0, 288, 360),
}
# mean R, G, B over every pixel of every 5th frame, measured once with this reader (FFmpeg decoders are exact)
RGB_MEANS = {
    "video-clips/kinetics_arm_wrestling.mp4": (102.99, 87.53, 67.77),
    "video-clips/pool_cleaning.mp4": (57.96, 133.38, 144.89),
    "video-clips/test_mpeg4_audio.avi": (95.55, 82.02, 88.84),
    "video-clips/ucf101_cricket_shot_rgb.gif": (115.46, 127.36, 78.45),
    "grid-s1/video/bbaf2n.mpg": (80.04, 159.48, 167.76),
}


def decode_all(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.mark.real
@pytest.mark.parametrize("name", CLIPS)
def test_counts_fps_and_seeks_of_each_real_file(shared_data, name):
    path = shared_data / name
    frames, fps, height, width = CLIPS[name]
    reference = decode_all(path)
    assert len(reference) == frames
    with open_video(path) as reader:
        assert (reader.info.num_frames, reader.info.height, reader.info.width) == (frames, height, width)
        assert reader.info.fps == pytest.approx(fps) and not reader.info.variable_frame_rate
        rng = np.random.default_rng(0)
        for _ in range(4):  # random seeks, backwards and forwards
            idx = rng.integers(0, frames, size=4)
            np.testing.assert_array_equal(reader.read(idx), reference[idx])
        every_5th = reader.read(np.arange(0, frames, 5))
    np.testing.assert_array_equal(every_5th, reference[::5])
    np.testing.assert_allclose(every_5th.reshape(-1, 3).mean(0), RGB_MEANS[name], atol=0.5)


@pytest.mark.real
def test_pixel_statistics_say_what_the_clips_show(shared_data):
    with open_video(shared_data / "video-clips" / "pool_cleaning.mp4") as reader:
        r, g, b = reader.read(np.arange(0, 300, 10)).reshape(-1, 3).mean(0)
    assert b > 2 * r and g > 2 * r  # pool water: blue-green
    with open_video(shared_data / "video-clips" / "ucf101_cricket_shot_rgb.gif") as reader:
        frames = reader.read(np.arange(79))
    r, g, b = frames.reshape(-1, 3).mean(0)
    assert g > r > b  # a cricket field
    assert 0 < np.abs(np.diff(frames.astype(np.float32), axis=0)).mean() < 40  # consecutive frames, real motion


@pytest.mark.real
def test_sampling_indices_on_a_real_video(shared_data):
    with open_video(shared_data / "video-clips" / "kinetics_arm_wrestling.mp4") as reader:
        last = reader.info.num_frames - 1
        idx = clip_indices(0, last, clips=5, frames=16, sampling="dense", last=last)
        # 280 frames in 5 segments of 56: centres 28, 84, 140, 196, 252; clips start 8 frames before
        assert idx[:, 0].tolist() == [20, 76, 132, 188, 244] and idx[-1, -1] == 259
        # an action near the end: frames past the video's end clamp to its last frame
        tail = clip_indices(270, 279, clips=1, frames=16, last=last)
        assert tail[0].tolist() == list(range(270, 280)) + [279] * 6
        clips = reader.read(idx.reshape(-1)).reshape(5, 16, 256, 340, 3)  # (clips, T, H, W, C)
    assert clips.dtype == np.uint8 and 40 < clips.mean() < 140
