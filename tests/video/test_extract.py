"""Feature extraction into a FeatureStore: values, worker processes, resume after an interruption, bad input."""

import numpy as np
import pytest
import torch

from videofiles import write_frame_folder, write_video
from myovision.data.store import FeatureStore
from myovision.errors import InputError
from myovision.models.i3d import InceptionI3d
from myovision.video.clips import ClipSpec
from myovision.video.distributed import extract_to_store, merge_parts
from myovision.video.extract import ClipEncoder, extract_features, read_action_tasks
from myovision.video.io import open_video
from myovision.video.sampling import dense_clip_indices
from myovision.video.transforms import CenterCrop, ResizeShorterSide

SPEC = ClipSpec(clips=2, frames=8, short_side=32, transform=CenterCrop(32))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return InceptionI3d(num_classes=3).eval()


@pytest.fixture
def actions(tmp_path):
    """Three videos (two files, one EPIC frame folder) and five actions, EPIC frame numbers (from 1)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "P01_01.mp4", n=24, noise=8)
    write_video(videos / "P01_02.avi", n=20, codec="mpeg4", noise=8)
    write_frame_folder(videos / "P02_01", n=16, size=(36, 48))
    table = tmp_path / "actions.csv"
    table.write_text("uid,video_id,start_frame,stop_frame,verb\n"
                     "10,P01_01,1,12,open\n11,P01_01,10,24,close\n20,P01_02,3,20,take\n"
                     "21,P01_02,15,18,put\n30,P02_01,2,16,wash\n")
    return table, videos


def expected_features(model, source, start, stop):
    with open_video(source) as reader:
        idx = dense_clip_indices(start, stop, 2, 8, last=reader.info.num_frames - 1)
        clips = torch.from_numpy(reader.read(idx.reshape(-1))).reshape(2, 8, *reader.read([0]).shape[1:])
    x = CenterCrop(32)(ResizeShorterSide(32)(clips)).float() / 127.5 - 1  # (2, 8, 32, 32, 3)
    with torch.no_grad():
        return model.features(x.permute(0, 4, 1, 2, 3).contiguous()).numpy()  # (2, 1024)


def test_features_are_the_model_features_of_the_sampled_clips(actions, model, tmp_path):
    tasks = read_action_tasks(*actions, frame_base=1)
    assert [(t.uid, t.source.name, t.start, t.stop) for t in tasks][:2] == [("10", "P01_01.mp4", 0, 11),
                                                                            ("11", "P01_01.mp4", 9, 23)]
    store = FeatureStore(tmp_path / "store")
    report = extract_features(tasks, ClipEncoder(model), store, SPEC, batch_size=3, progress=False)
    assert sorted(report.computed) == ["10", "11", "20", "21", "30"] and report.clips == 10
    assert report.clips_per_s > 0
    for t in tasks:
        got = store.get(t.uid, "rgb")
        assert got.shape == (2, 1024)
        # decoding at a smaller size (swscale / Pillow) and resizing in torch differ by a few grey levels
        np.testing.assert_allclose(got, expected_features(model, t.source, t.start, t.stop), atol=0.05)


def test_worker_processes_give_the_same_features(actions, model, tmp_path):
    tasks = read_action_tasks(*actions)
    a, b = FeatureStore(tmp_path / "a"), FeatureStore(tmp_path / "b")
    extract_features(tasks, ClipEncoder(model), a, SPEC, workers=0, progress=False)
    extract_features(tasks, ClipEncoder(model), b, SPEC, workers=2, batch_size=4, progress=False)
    assert sorted(a.uids("rgb")) == sorted(b.uids("rgb"))
    np.testing.assert_allclose(a.stack(a.uids("rgb"), "rgb"), b.stack(a.uids("rgb"), "rgb"), atol=1e-5)


class Interrupt(Exception):
    pass


class CountingEncoder(ClipEncoder):
    """Counts forward passes (and the uids' clips); raises Interrupt at call `fail_at`."""

    def __init__(self, model, fail_at=None):
        super().__init__(model)
        self.calls, self.fail_at = 0, fail_at

    def __call__(self, clips):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupt
        return super().__call__(clips)


def test_interrupted_extraction_resumes_without_recomputing(actions, model, tmp_path):
    tasks = read_action_tasks(*actions)
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(Interrupt):  # one action per batch; killed during the third
        extract_features(tasks, CountingEncoder(model, fail_at=3), store, SPEC, batch_size=2, shard_size=1,
                         progress=False)
    done = store.uids("rgb")
    assert len(done) == 2
    kept = {u: store.get(u, "rgb").copy() for u in done}
    encoder = CountingEncoder(model)
    report = extract_features(tasks, encoder, FeatureStore(tmp_path / "store"), SPEC, batch_size=2, progress=False)
    assert report.already_done == 2 and encoder.calls == 3 and sorted(report.computed) == sorted(
        set("10 11 20 21 30".split()) - set(done))
    restarted = FeatureStore(tmp_path / "store")
    for u, x in kept.items():
        np.testing.assert_array_equal(restarted.get(u, "rgb"), x)
    assert len(restarted.uids("rgb")) == 5 and restarted.orphans() == []


def test_span_beyond_the_video_end_and_skip_bad(actions, model, tmp_path):
    table, videos = actions
    table.write_text(table.read_text() + "40,P01_02,30,40,stir\n41,P01_02,19,30,pour\n")
    tasks = read_action_tasks(table, videos)
    with pytest.raises(InputError, match=r"P01_02.avi: action '40': spans frames \[29, 39\] but the video ends "
                                         r"at frame 19"):
        extract_features(tasks, ClipEncoder(model), FeatureStore(tmp_path / "a"), SPEC, progress=False)
    (videos / "P01_01.mp4").write_bytes(b"broken")  # now a video that does not open
    report = extract_features(tasks, ClipEncoder(model), FeatureStore(tmp_path / "b"), SPEC, skip_bad=True,
                              progress=False)
    assert sorted(u for u, _, _ in report.skipped) == ["10", "11", "40"]
    assert "41" in report.computed  # partly past the end: frames clamp to the last one


def test_action_tables_name_what_is_wrong(actions, tmp_path):
    table, videos = actions
    with pytest.raises(InputError, match="start_frame 0 is below the first frame number 1"):
        bad = tmp_path / "zero.csv"
        bad.write_text("uid,video_id,start_frame,stop_frame\n1,P01_01,0,5\n")
        read_action_tasks(bad, videos)
    with pytest.raises(InputError, match="no frame folder or video file for video 'P09_01'"):
        bad.write_text("uid,video_id,start_frame,stop_frame\n1,P09_01,1,5\n")
        read_action_tasks(bad, videos)
    assert read_action_tasks(table, videos, frame_base=0)[0].start == 1


def test_single_process_run_merges_leftover_rank_parts(actions, model, tmp_path):
    tasks = read_action_tasks(*actions)
    out = tmp_path / "store"
    part = FeatureStore(out / "parts" / "rank-00001")  # left by an interrupted 2-rank run
    with part.writer("rgb") as w:
        w.add("20", np.ones((2, 1024), np.float32))
    encoder = CountingEncoder(model)
    report = extract_to_store(tasks, encoder, out, SPEC, batch_size=2, progress=False)
    assert report.already_done == 1 and report.merged == 1 and encoder.calls == 4
    store = FeatureStore(out)
    assert sorted(store.uids("rgb")) == ["10", "11", "20", "21", "30"] and not (out / "parts" / "rank-00001").exists()
    np.testing.assert_array_equal(store.get("20", "rgb"), 1.0)
    assert merge_parts(store, "rgb") == 0


def test_a_damaged_part_shard_left_by_a_rank_is_recomputed_not_merged(actions, model, tmp_path):
    tasks = read_action_tasks(*actions)
    out = tmp_path / "store"
    part = FeatureStore(out / "parts" / "rank-00001")  # left by an interrupted 2-rank run, one shard per uid
    with part.writer("rgb", shard_size=1) as w:
        w.add("20", np.ones((2, 1024), np.float32))
        w.add("21", np.full((2, 1024), 2.0, np.float32))
    (damaged,) = part.shards("rgb")[1:]
    shard = out / "parts" / "rank-00001" / damaged
    shard.write_bytes(shard.read_bytes()[:-7])  # truncated
    encoder = CountingEncoder(model)
    report = extract_to_store(tasks, encoder, out, SPEC, batch_size=2, progress=False)
    assert report.dropped == ["21"] and report.already_done == 1 and report.merged == 1
    assert "21" in report.computed and encoder.calls == 4  # recomputed with the other uids
    store = FeatureStore(out)
    assert sorted(store.uids("rgb")) == ["10", "11", "20", "21", "30"] and store.verify() == []
    np.testing.assert_array_equal(store.get("20", "rgb"), 1.0)
    assert not np.all(store.get("21", "rgb") == 2.0)  # the encoder's features, not the damaged part's


class SignallingEncoder(ClipEncoder):
    """Sends this process `sig` during forward pass number `at` (as a scheduler's SIGTERM would arrive)."""

    def __init__(self, model, sig, at):
        super().__init__(model)
        self.calls, self.sig, self.at = 0, sig, at

    def __call__(self, clips):
        import os

        self.calls += 1
        out = super().__call__(clips)
        if self.calls == self.at:
            os.kill(os.getpid(), self.sig)
        return out


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_flushes_finished_uids_and_the_resume_is_bit_identical(actions, model, tmp_path, signame):
    import signal

    from myovision.errors import Interrupted, stop_on_signals

    tasks = read_action_tasks(*actions)
    whole = FeatureStore(tmp_path / "whole")
    extract_features(tasks, ClipEncoder(model), whole, SPEC, batch_size=2, shard_size=4, progress=False)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stop_on_signals()
    try:
        with pytest.raises(Interrupted) as stop:  # one action per batch; the signal lands after the third
            extract_features(tasks, SignallingEncoder(model, getattr(signal, signame), 3), FeatureStore(
                tmp_path / "split"), SPEC, batch_size=2, shard_size=4, progress=False)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    report = stop.value.report
    assert report.interrupted == signame and len(report.computed) >= 2
    split = FeatureStore(tmp_path / "split")
    assert sorted(split.uids("rgb")) == sorted(report.computed)  # every finished uid was flushed (shard_size 4)
    resumed = extract_features(tasks, ClipEncoder(model), split, SPEC, batch_size=2, shard_size=4, progress=False)
    assert resumed.already_done == len(report.computed) and resumed.took_over is None
    uids = whole.uids("rgb")
    assert sorted(FeatureStore(tmp_path / "split").uids("rgb")) == sorted(uids)
    assert FeatureStore(tmp_path / "split").stack(uids, "rgb").tobytes() == whole.stack(uids, "rgb").tobytes()


def test_a_resume_verifies_the_store_and_recomputes_a_damaged_shard(actions, model, tmp_path):
    tasks = read_action_tasks(*actions)
    store = FeatureStore(tmp_path / "s")
    extract_features(tasks, ClipEncoder(model), store, SPEC, batch_size=2, shard_size=2, progress=False)
    expected = {u: store.get(u, "rgb").tobytes() for u in store.uids("rgb")}
    shard = tmp_path / "s" / "shard-00001.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])  # truncated: a resume used to say "all done"
    report = extract_features(tasks, ClipEncoder(model), FeatureStore(tmp_path / "s"), SPEC, batch_size=2,
                              progress=False)
    assert len(report.dropped) == 2 and sorted(report.computed) == sorted(report.dropped)
    again = FeatureStore(tmp_path / "s")
    assert again.verify() == [] and {u: again.get(u, "rgb").tobytes() for u in again.uids("rgb")} == expected


def test_annotation_video_ids_cannot_leave_the_videos_folder(actions, tmp_path):
    table, videos = actions
    (tmp_path / "secret").mkdir()
    bad = tmp_path / "escape.csv"
    bad.write_text("uid,video_id,start_frame,stop_frame\n1,../secret,1,5\n")
    with pytest.raises(InputError, match="video id '../secret': path resolves outside"):
        read_action_tasks(bad, videos)


def test_a_truncated_video_file_is_named_before_decoding_or_its_actions_skipped(actions, model, tmp_path):
    table, videos = actions
    data = write_video(tmp_path / "full.mp4", n=24, noise=12, options={"movflags": "faststart"}).read_bytes()
    (videos / "P01_01.mp4").write_bytes(data[: len(data) // 2])
    tasks = read_action_tasks(table, videos)
    encoder = CountingEncoder(model)
    with pytest.raises(InputError, match=r"P01_01.mp4: \d+ frames in the file, but the container declares 24"):
        extract_features(tasks, encoder, FeatureStore(tmp_path / "a"), SPEC, progress=False)
    assert encoder.calls == 0
    report = extract_features(tasks, encoder, FeatureStore(tmp_path / "b"), SPEC, skip_bad=True, progress=False)
    assert sorted(u for u, _, _ in report.skipped) == ["10", "11"]
    assert all("declares 24" in problem for _, _, problem in report.skipped)
    assert sorted(report.computed) == ["20", "21", "30"]
