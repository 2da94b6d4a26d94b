"""Reading frames by index: frame-accurate seeks, variable frame rate, AVI counting, frame folders, bad input."""

import multiprocessing

import av
import numpy as np
import pytest

from videofiles import frame_ids, write_frame_folder, write_video
from myovision.errors import InputError
from myovision.video import FrameFolderReader, VideoReader, find_video, open_video


def decode_all(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.mark.parametrize("suffix,codec", [(".mp4", "libx264"), (".avi", "mpeg4"), (".mkv", "libx264"),
                                          (".mpg", "mpeg1video")])
def test_seeking_by_index_returns_exactly_the_decode_all_frames(tmp_path, suffix, codec):
    path = write_video(tmp_path / f"v{suffix}", n=30, codec=codec, gop=8, noise=6)
    reference = decode_all(path)
    rng = np.random.default_rng(0)
    with VideoReader(path) as reader:
        assert reader.info.num_frames == 30 and reader.info.fps == pytest.approx(25.0)
        for _ in range(12):  # random order and repeats: backward seeks, forward continuation
            idx = rng.integers(0, 30, size=rng.integers(1, 6))
            np.testing.assert_array_equal(reader.read(idx), reference[idx])
        assert frame_ids(reader.read([29, 0, 8, 7, 16])) == [29, 0, 8, 7, 16]


def test_b_frames_and_gop_are_what_the_test_claims(mp4):
    with av.open(str(mp4)) as c:
        packets = [(p.pts, p.is_keyframe) for p in c.demux(video=0) if p.size]
    assert [p for p, _ in packets] != sorted(p for p, _ in packets)  # decode order differs from display order
    assert sum(k for _, k in packets) == 4  # keyframes every 8 of 30 frames


def test_variable_frame_rate_indexes_by_presentation_order(tmp_path):
    pts_ms = [0, 40, 80, 200, 240, 250, 260, 400, 440, 480]
    path = write_video(tmp_path / "vfr.mp4", n=10, pts=pts_ms)
    with VideoReader(path) as reader:
        assert reader.info.variable_frame_rate
        np.testing.assert_allclose(reader.timestamps, np.array(pts_ms) / 1000)
        assert reader.info.fps == pytest.approx(9 / 0.48)  # frames per second between first and last frame
        assert frame_ids(reader.read([9, 3, 6, 0])) == [9, 3, 6, 0]  # not round(t * fps)


def test_resize_while_decoding_keeps_the_aspect_ratio(mp4):
    with VideoReader(mp4) as reader:
        frames = reader.read([3], short_side=24)
    assert frames.shape == (1, 24, 32, 3) and frame_ids(frames) == [3]


def test_index_outside_the_video_is_an_input_error(mp4):
    with VideoReader(mp4) as reader, pytest.raises(InputError, match=r"frame index 30 is outside.*0\.\.29"):
        reader.read([0, 30])


def test_truncated_mp4_without_its_index_cannot_be_opened(tmp_path):
    data = write_video(tmp_path / "full.mp4", noise=12).read_bytes()  # moov atom at the end
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mp4: cannot open as a video"):
        VideoReader(tmp_path / "cut.mp4")


def test_truncated_mp4_frames_past_the_cut_are_an_error_or_skipped_and_reported(tmp_path):
    data = write_video(tmp_path / "full.mp4", noise=12, options={"movflags": "faststart"}).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    with VideoReader(tmp_path / "cut.mp4") as reader:
        assert reader.info.declared_frames == 30 and 0 < reader.info.num_frames < 30
        assert frame_ids(reader.read([0, 5])) == [0, 5]
        with pytest.raises(InputError, match=r"cut.mp4: frame 29 is not in the file.*declares 30.*truncated"):
            reader.read([0, 29])
    with VideoReader(tmp_path / "cut.mp4", on_error="skip") as reader:
        assert frame_ids(reader.read([0, 5, 29])) == [0, 5, 5]
        assert [(p.index, p.replaced_by) for p in reader.problems] == [(29, 5)]
        assert "truncated" in reader.problems[0].problem


def test_not_a_video_and_missing_file(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 20)
    with pytest.raises(InputError, match="notes.mp4: cannot open as a video"):
        VideoReader(tmp_path / "notes.mp4")
    with pytest.raises(InputError, match="video file not found"):
        VideoReader(tmp_path / "absent.mp4")


def test_frame_folder_in_the_epic_layout(tmp_path):
    folder = write_frame_folder(tmp_path / "P01_01", n=12)
    with open_video(folder, fps=60.0) as reader:
        assert isinstance(reader, FrameFolderReader)
        assert (reader.info.num_frames, reader.info.height, reader.info.width, reader.info.fps) == (12, 40, 56, 60.0)
        assert frame_ids(reader.read([11, 0, 5, 5])) == [11, 0, 5, 5]  # index i is img_{i + 1:010d}.jpg
        assert reader.read([2], short_side=20).shape == (1, 20, 28, 3)
        np.testing.assert_allclose(reader.timestamps[:3], [0, 1 / 60, 2 / 60])


def test_frame_folder_missing_folder_and_missing_frame(tmp_path):
    with pytest.raises(InputError, match="P01_99: not found"):
        open_video(tmp_path / "P01_99")
    with pytest.raises(InputError, match="frame folder not found"):
        FrameFolderReader(tmp_path / "P01_99")
    folder = write_frame_folder(tmp_path / "P01_01", n=8)
    (folder / "img_0000000005.jpg").unlink()  # frame index 4
    (folder / "img_0000000007.jpg").write_bytes(b"\xff\xd8 broken")  # index 6
    with FrameFolderReader(folder) as reader:
        with pytest.raises(InputError, match=r"P01_01: frame 4 \(img_0000000005.jpg\) cannot be read"):
            reader.read([3, 4])
    with FrameFolderReader(folder, on_error="skip") as reader:
        assert frame_ids(reader.read([3, 4, 6, 7])) == [3, 3, 7, 7]
        assert [(p.index, p.replaced_by) for p in reader.problems] == [(4, 3), (6, 7)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no frames named like 'img_0000000001.jpg'"):
        FrameFolderReader(tmp_path / "empty")


def test_find_video_prefers_folders_then_known_suffixes(tmp_path):
    write_frame_folder(tmp_path / "P01_01", n=2)
    write_video(tmp_path / "S04.mp4", n=2)
    assert find_video(tmp_path, "P01_01") == tmp_path / "P01_01"
    assert find_video(tmp_path, "S04") == tmp_path / "S04.mp4"
    with pytest.raises(InputError, match="no frame folder or video file for video 'S05'"):
        find_video(tmp_path, "S05")


def cut_mp4(tmp_path, n=30, keep=2 / 3):
    """An mp4 with its index first (faststart) cut to `keep` of its bytes: the header still declares `n` frames."""
    data = write_video(tmp_path / "full.mp4", n=n, noise=12, options={"movflags": "faststart"}).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * keep)])
    return tmp_path / "cut.mp4"


def test_a_video_short_of_its_declared_frame_count_is_an_error_or_a_warning_and_a_problem(tmp_path):
    from myovision.video.io import FRAME_TOLERANCE, TruncatedVideoWarning, check_complete

    cut = cut_mp4(tmp_path)
    with VideoReader(cut) as reader:
        n = reader.info.num_frames
        assert n < 30 - FRAME_TOLERANCE
        with pytest.raises(InputError, match=rf"cut.mp4: {n} frames in the file, but the container declares 30 "
                                             r"\(a truncated video\?\)"):
            check_complete(reader)
    with VideoReader(cut, on_error="skip") as reader, pytest.warns(TruncatedVideoWarning, match="declares 30"):
        assert "declares 30" in check_complete(reader)
        assert [(p.index, p.replaced_by) for p in reader.problems] == [(n, None)]
    with VideoReader(tmp_path / "full.mp4") as reader:
        assert check_complete(reader) is None
    with FrameFolderReader(write_frame_folder(tmp_path / "frames")) as reader:
        assert check_complete(reader) is None  # a folder declares no count


def test_a_truncated_mpg_declares_no_count_and_is_left_to_its_alignment(tmp_path):
    from myovision.video.io import check_complete

    data = write_video(tmp_path / "full.mpg", codec="mpeg1video", noise=12).read_bytes()
    (tmp_path / "cut.mpg").write_bytes(data[: len(data) // 2])
    with VideoReader(tmp_path / "cut.mpg") as reader:
        assert reader.info.declared_frames is None and reader.info.num_frames < 30
        assert check_complete(reader) is None  # GRID's check_frame_count compares it with its alignment


def test_a_decoder_error_on_the_keyframe_a_seek_lands_on_is_an_input_error(tmp_path):
    """Found by the fuzz suite: a file cut inside its last frames' data failed in the seek, outside the handler."""
    data = write_video(tmp_path / "full.mp4", n=10, size=(32, 32), noise=8,
                       options={"movflags": "faststart"}).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.875)])
    with VideoReader(tmp_path / "cut.mp4") as reader:
        with pytest.raises(InputError, match=r"cut.mp4: frame \d+ of \d+ did not decode \(decoder error"):
            reader.read(np.arange(reader.info.num_frames))


def _read_two_frames(path):
    with VideoReader(path) as reader:
        reader.read([0, 5], short_side=24)


def test_a_forked_process_reads_after_its_parent_scaled_with_a_thread_pool(mp4):
    """A DataLoader worker forked from a process whose PyAV scaler ran a thread pool decodes without hanging."""
    decode_all(mp4)  # PyAV's per-thread scaler, automatic thread count: a pool whose threads the child lacks
    child = multiprocessing.get_context("fork").Process(target=_read_two_frames, args=(mp4,))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    assert not hung and child.exitcode == 0
