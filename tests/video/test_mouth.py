"""Mouth crops: luma, fixed box vs landmarks, edge padding, per-video normalisation, the on-disk cache, crops
aligned on MTCNN's mouth corners and their fallback to the box."""

import numpy as np
import pytest
import torch
from gridfiles import BOX, write_mpg

from myovision.errors import InputError
from myovision.video.mouth import (AlignedCropSettings, CropReport, MouthBox, MouthCache, MouthCropSettings,
                                   NoFaceWarning, aligned_crops, crop_frames, crop_video, fill_gaps, mouth_centres,
                                   mouth_crops, moving_average, normalise, read_landmarks, track_mouth)
from myovision.video.mtcnn import Faces
from tests.conftest import shared_path


def test_luma_of_a_flat_crop_is_bt601():
    frames = np.zeros((1, 6, 8, 3), np.uint8)
    frames[0, 2:4, 3:5] = (100, 50, 200)  # 0.299*100 + 0.587*50 + 0.114*200 = 82.05
    out = crop_frames(frames, [MouthBox(2, 3, 2, 2)], (2, 2))
    assert out.shape == (1, 2, 2)
    assert torch.allclose(out, torch.full((1, 2, 2), 82.05))


def test_a_box_past_the_border_repeats_the_edge_pixels():
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    frames[0, :, 3] = 255  # last column white
    out = crop_frames(frames, [MouthBox(0, 2, 4, 4)], (4, 4))  # columns 2, 3, 4, 5 -> 2, 3, 3, 3
    assert out[0, 0].tolist() == pytest.approx([0.0, 255.0, 255.0, 255.0], abs=1e-3)


def test_normalise_standardises_per_video():
    x = normalise(torch.arange(24.0).reshape(2, 3, 4) * 3 + 7)
    assert float(x.mean()) == pytest.approx(0, abs=1e-6) and float(x.std()) == pytest.approx(1, abs=1e-6)


def test_landmarks_68_points_use_the_mouth_and_files_load_without_pickle(tmp_path):
    points = np.zeros((2, 68, 2))
    points[:, 48:68] = (30.0, 20.0)  # every mouth point at x=30, y=20; the rest of the face at 0
    points[1, 48:68, 0] += 4
    np.save(tmp_path / "lm.npy", points)
    np.savetxt(tmp_path / "lm.txt", points.reshape(2, -1))
    for name in ("lm.npy", "lm.txt"):
        assert mouth_centres(read_landmarks(tmp_path / name)).tolist() == [[30.0, 20.0], [34.0, 20.0]]
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"obj\.npy: cannot read landmarks"):
        read_landmarks(tmp_path / "obj.npy")


def test_crop_follows_the_landmarks(tmp_path):
    video = write_mpg(tmp_path / "v.mpg", [0.0, 1.0, 0.5])
    settings = MouthCropSettings(MouthBox(*BOX), (16, 24))
    np.savetxt(tmp_path / "lm.csv", np.tile([40.0, 32.0], (3, 1)), delimiter=",")  # one point: the ellipse centre
    fixed, tracked = mouth_crops(video, settings), mouth_crops(video, settings, tmp_path / "lm.csv")
    assert fixed.shape == (3, 16, 24)
    assert torch.allclose(fixed, tracked, atol=1e-4)  # BOX is centred on (40, 32)
    np.savetxt(tmp_path / "lm.csv", np.tile([10.0, 10.0], (3, 1)), delimiter=",")
    assert not torch.allclose(fixed, mouth_crops(video, settings, tmp_path / "lm.csv"), atol=0.1)
    np.savetxt(tmp_path / "short.csv", np.tile([40.0, 32.0], (2, 1)), delimiter=",")
    with pytest.raises(InputError, match="2 frames of landmarks for a video of 3 frames"):
        mouth_crops(video, settings, tmp_path / "short.csv")


def test_the_open_mouth_is_darker_in_the_crop(tmp_path):
    crops = mouth_crops(write_mpg(tmp_path / "v.mpg", [0.0, 1.0]), MouthCropSettings(MouthBox(*BOX), (16, 24)))
    assert float(crops[1].mean()) < float(crops[0].mean()) - 0.5


def test_crop_size_is_at_most_88():
    with pytest.raises(InputError, match="within 1..88"):
        MouthCropSettings(size=(96, 96))


def test_cache_reuses_a_crop_and_keys_on_the_settings(tmp_path):
    video = write_mpg(tmp_path / "v.mpg", [0.0, 1.0, 0.5])
    small = MouthCache(tmp_path / "cache", MouthCropSettings(MouthBox(*BOX), (8, 12)))
    first = small(video)
    files = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 1 and np.array_equal(np.load(files[0], allow_pickle=False), first.numpy())
    np.save(files[0], np.zeros((3, 8, 12), np.float32))  # a cached crop is read back, not recomputed
    assert float(small(video).abs().sum()) == 0
    larger = MouthCache(tmp_path / "cache", MouthCropSettings(MouthBox(*BOX), (16, 24)))
    assert larger(video).shape == (3, 16, 24) and len(list((tmp_path / "cache").glob("*.npy"))) == 2
    with pytest.raises(InputError, match=r"missing\.mpg: video file not found"):
        small(tmp_path / "missing.mpg")


@pytest.mark.real
def test_real_grid_mouth_moves_while_the_face_holds_still(shared_data):
    video = shared_data / "grid-s1" / "video" / "bbaf2n.mpg"  # 0-23 silence, 23-53 "bin blue at f two now"
    crops = mouth_crops(video, MouthCropSettings(size=(32, 48)))
    assert crops.shape == (75, 32, 48)
    assert float(crops.mean()) == pytest.approx(0, abs=1e-4) and float(crops.std()) == pytest.approx(1, abs=1e-3)
    motion = (crops[1:] - crops[:-1]).abs().mean(dim=(1, 2))  # (74,) frame-to-frame change
    assert float(motion[25:50].mean()) > 2 * float(motion[2:20].mean())  # speech moves the lips, silence not


def test_gaps_are_interpolated_and_the_moving_average_is_centred():
    points = np.array([[0.0], [np.nan], [np.nan], [6.0], [np.nan]])
    assert fill_gaps(points)[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 6.0]
    x = np.random.default_rng(0).normal(size=(9, 2, 2))
    got = moving_average(x, 3)
    assert np.allclose(got[1:-1], (x[:-2] + x[1:-1] + x[2:]) / 3)
    assert np.allclose(got[0], x[:2].mean(axis=0)) and np.allclose(got[-1], x[-2:].mean(axis=0))


def test_aligned_crop_is_centred_turned_level_and_scaled():
    height, width = 60, 80
    yy, xx = np.mgrid[:height, :width]
    angle = np.deg2rad(20)
    # a bright bar through (40, 30) along the angle: the "mouth line"
    dist = np.abs(-np.sin(angle) * (xx - 40) + np.cos(angle) * (yy - 30))
    luma = torch.from_numpy(np.where(dist < 1.5, 255.0, 0.0)).float()[None]  # (1, H, W)
    crop = aligned_crops(luma, np.array([[40.0, 30.0]]), np.array([angle]), 30.0, (15, 15))[0]
    rows = crop.mean(dim=1)  # the bar is level: all its brightness on the middle row
    assert int(rows.argmax()) == 7 and float(rows[7]) > 3 * float(rows[[0, 1, 2, 12, 13, 14]].max())
    level = aligned_crops(luma, np.array([[40.0, 30.0]]), np.array([0.0]), 30.0, (15, 15))[0]
    assert float(level.mean(dim=1).max()) < float(rows[7])  # not turned: the bar crosses the rows


def test_a_video_without_a_face_falls_back_to_the_box_and_says_so(tmp_path):
    weights = shared_path("face-mtcnn")
    video = write_mpg(tmp_path / "v.mpg", [0.0, 1.0, 0.5])
    aligned = AlignedCropSettings(str(weights), (16, 24), fallback=MouthBox(*BOX))
    with pytest.warns(NoFaceWarning, match=r"v\.mpg: no face found on all 3 frames; cropped with the fixed box"):
        crops, report = crop_video(video, aligned)
    assert report.without_face == 3 and report.fallback == "box"
    assert torch.allclose(crops, mouth_crops(video, MouthCropSettings(MouthBox(*BOX), (16, 24))))
    cache = MouthCache(tmp_path / "cache", aligned)
    with pytest.warns(NoFaceWarning):
        cache(video)
    again = MouthCache(tmp_path / "cache", aligned)
    assert torch.equal(again(video), crops) and again.reports[str(video)] == cache.reports[str(video)]
    box_cache = MouthCache(tmp_path / "cache", MouthCropSettings(MouthBox(*BOX), (16, 24)))
    assert box_cache.key(video, None) != cache.key(video, None)


@pytest.mark.real
def test_real_grid_aligned_crops_are_88_pixels_and_cached(tmp_path, shared_data):
    video = shared_data / "grid-s1" / "video" / "bbaf2n.mpg"
    cache = MouthCache(tmp_path, AlignedCropSettings(str(shared_path("face-mtcnn")), min_face=60))
    crops = cache(video)
    assert crops.shape == (75, 88, 88) and cache.reports[str(video)].without_face == 0
    motion = (crops[1:] - crops[:-1]).abs().mean(dim=(1, 2))  # (74,) frame-to-frame change
    assert float(motion[25:50].mean()) > 2 * float(motion[2:20].mean())  # speech moves the lips, silence not
    centre = crops[:, 30:58, 22:66].mean(dim=0)  # the mouth: darker than the cheeks at the crop's sides
    assert float(centre.min()) < float(crops[:, 30:58, :8].mean()) - 0.5


def test_frames_without_a_face_take_interpolated_corners_and_a_faceless_video_has_no_track():
    t = 5
    landmarks = np.zeros((t, 5, 2))
    landmarks[:, 3] = np.stack([np.arange(t) * 2.0 + 100, np.full(t, 200.0)], axis=1)  # left corner moves right
    landmarks[:, 4] = landmarks[:, 3] + (40.0, 0.0)
    scores = np.ones(t)
    landmarks[2], scores[2] = np.nan, np.nan  # no face on frame 2
    faces = Faces(np.zeros((t, 4)), scores, landmarks)
    track = track_mouth(faces, AlignedCropSettings(weights="unused", smooth=1))
    assert track.centres[:, 0].tolist() == [120.0, 122.0, 124.0, 126.0, 128.0]  # frame 2 between its neighbours
    assert np.allclose(track.angles, 0) and track.width == pytest.approx(80.0)
    assert track_mouth(Faces(np.full((t, 4), np.nan), np.full(t, np.nan), np.full((t, 5, 2), np.nan)),
                       AlignedCropSettings(weights="unused")) is None
    report = CropReport("v.mpg", 75, None, 3, "interpolated")
    assert report.line() == "v.mpg: no face found on 3 of 75 frames; cropped with mouth corners interpolated " \
                            "from the nearest frames with a face"


@pytest.mark.real
def test_real_grid_frames_that_do_not_decode_to_a_face_are_interpolated_and_reported(shared_data):
    video = shared_data / "grid-s1" / "video" / "lgbf8n.mpg"  # its first 12 frames decode to grey blocks
    settings = AlignedCropSettings(str(shared_path("face-mtcnn")), (22, 22), min_face=60)
    with pytest.warns(NoFaceWarning, match=r"lgbf8n\.mpg: no face found on 12 of 75 frames; cropped with mouth "
                                           r"corners interpolated"):
        crops, report = crop_video(video, settings)
    assert crops.shape == (75, 22, 22) and (report.without_face, report.fallback) == (12, "interpolated")
