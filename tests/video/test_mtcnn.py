"""MTCNN (Zhang et al. 2016): weights read safely, NMS against a plain greedy loop, crops against torch's area
resampling, P-Net's fully-convolutional map against its 12 x 12 windows, and the detector on real GRID frames
(faces on every frame, boxes and landmarks where a face's parts are, steady from frame to frame)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.errors import InputError
from myovision.models.mtcnn import MTCNN, PNet, load_mtcnn
from myovision.video.io import VideoReader
from myovision.video.mouth import AlignedCropSettings, track_mouth
from myovision.video.mtcnn import (DetectorSettings, box_overlap, cell_boxes, crop_boxes, detect_faces, integral_images,
                                   nms, normalise_pixels)
from tests.conftest import shared_path


def save_weights(folder, model: MTCNN):
    folder.mkdir(exist_ok=True)
    for name in ("pnet", "rnet", "onet"):
        torch.save(getattr(model, name).state_dict(), folder / f"{name}.pt")
    return folder


def test_weights_round_trip_and_bad_files_are_one_line_errors(tmp_path):
    model = MTCNN()
    folder = save_weights(tmp_path / "w", model)
    loaded = load_mtcnn(folder)
    assert torch.equal(loaded.onet.dense6_3.weight, model.onet.dense6_3.weight)
    (folder / "rnet.pt").unlink()
    with pytest.raises(InputError, match=r"rnet\.pt: MTCNN weights file not found"):
        load_mtcnn(folder)
    state = model.rnet.state_dict()
    state["dense4.weight"] = torch.zeros(128, 575)
    torch.save(state, folder / "rnet.pt")
    with pytest.raises(InputError, match=r"rnet\.pt: tensor dense4\.weight has shape \(128, 575\), expected \(128, 576\)"):
        load_mtcnn(folder)
    torch.save({"conv1.weight": torch.zeros(1)}, folder / "rnet.pt")
    with pytest.raises(InputError, match=r"rnet\.pt: expected the tensors"):
        load_mtcnn(folder)
    torch.save(model.rnet, folder / "rnet.pt")  # a pickled module: weights_only refuses to unpickle it
    with pytest.raises(InputError, match=r"rnet\.pt: cannot read MTCNN weights") as err:
        load_mtcnn(folder)
    assert "\n" not in str(err.value)


def greedy_nms(boxes, scores, threshold, mode):
    """The textbook loop: visit boxes best first, keep one unless it overlaps a kept box too much."""
    kept = []
    for i in sorted(range(len(boxes)), key=lambda i: -scores[i]):
        if all(box_overlap(boxes[i:i + 1], boxes[k:k + 1], mode)[0] <= threshold for k in kept):
            kept.append(i)
    return kept


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.sampled_from(["union", "min"]),
       st.sampled_from([0.3, 0.5, 0.7]))
def test_nms_equals_the_greedy_loop_in_every_group(seed, n, mode, threshold):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 20], dim=1).double()
    scores = torch.randperm(n, generator=g).double()  # distinct scores: one greedy order
    groups = torch.randint(0, 3, (n,), generator=g)
    got = nms(boxes, scores, threshold, mode, groups=groups).tolist()
    want = []
    for k in range(3):
        members = (groups == k).nonzero()[:, 0]
        want += [int(members[i]) for i in greedy_nms(boxes[members], scores[members], threshold, mode)]
    assert sorted(got) == sorted(want)
    assert all(groups[got[i]] <= groups[got[i + 1]] for i in range(len(got) - 1))


def test_crops_are_torch_area_resampling_with_zero_padding_outside_the_frame():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 30, 40), generator=g, dtype=torch.uint8)
    # boxes in the reference's 1-based convention: columns trunc(x1) - 1 .. trunc(x2) - 1
    boxes = torch.tensor([[5.7, 3.2, 25.9, 23.4], [-4.0, -6.0, 20.0, 18.0], [30.0, 20.0, 45.0, 35.0]])
    frame = torch.tensor([0, 1, 1])
    got = crop_boxes(integral_images(images), frame, boxes, 12)
    padded = F.pad(images.float(), (10, 10, 10, 10))  # every box lies inside the padded frames
    for k, (x1, y1, x2, y2) in enumerate(boxes.trunc().long().tolist()):
        region = padded[frame[k], :, y1 - 1 + 10:y2 + 10, x1 - 1 + 10:x2 + 10]
        want = F.interpolate(region[None], size=(12, 12), mode="area")[0]
        assert torch.allclose(got[k], want, atol=1e-4)


def test_pnet_map_equals_pnet_on_each_cells_12x12_window():
    torch.manual_seed(0)
    pnet = PNet().eval()
    image = torch.randint(0, 256, (1, 3, 32, 38), dtype=torch.uint8)
    with torch.no_grad():
        offsets, prob = pnet(normalise_pixels(image.float()))
        assert prob.shape == (1, 11, 14)  # (32 - 12) / 2 + 1 by (38 - 12) / 2 + 1 windows at stride 2
        frame, boxes, scores, offs = cell_boxes(prob, offsets, 1.0, threshold=0.0)  # every cell, row-major
        windows = crop_boxes(integral_images(image), frame, boxes, 12)  # (154, 3, 12, 12): each cell's box
        for i in (0, 4, 10):
            for j in (0, 7, 13):
                assert torch.equal(windows[i * 14 + j], image[0, :, 2 * i:2 * i + 12, 2 * j:2 * j + 12].float())
        off, p = pnet(normalise_pixels(windows))
        assert torch.allclose(p[:, 0, 0], scores, atol=1e-5) and torch.allclose(off[:, :, 0, 0], offs, atol=1e-5)


@pytest.fixture(scope="module")
def grid_faces():
    weights, video = shared_path("face-mtcnn"), shared_path("grid-s1", "video", "bbaf2n.mpg")
    with VideoReader(video) as reader:
        frames = reader.read(np.arange(reader.info.num_frames))
    torch.set_num_threads(1)
    return frames, detect_faces(load_mtcnn(weights), frames, DetectorSettings(min_face=60))


@pytest.mark.real
def test_real_grid_face_on_every_frame_with_landmarks_in_place(grid_faces):
    frames, faces = grid_faces
    t, height, width, _ = frames.shape
    assert faces.found.all() and (faces.scores > 0.95).all()
    b, lm = faces.boxes, faces.landmarks  # (T, 4), (T, 5, 2)
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= width).all() and (b[:, 3] <= height).all()
    assert ((lm[..., 0] >= b[:, None, 0]) & (lm[..., 0] <= b[:, None, 2])).all()
    assert ((lm[..., 1] >= b[:, None, 1]) & (lm[..., 1] <= b[:, None, 3])).all()
    eyes_y, mouth_y = lm[:, :2, 1].max(axis=1), lm[:, 3:, 1].min(axis=1)
    nose_y = lm[:, 2, 1]
    assert ((eyes_y < nose_y) & (nose_y < mouth_y)).all()  # eyes above the nose above the mouth
    assert (lm[:, 0, 0] < lm[:, 1, 0]).all() and (lm[:, 3, 0] < lm[:, 4, 0]).all()  # left before right
    corner_gap = np.linalg.norm(lm[:, 4] - lm[:, 3], axis=1)
    assert (0.25 < corner_gap / (b[:, 2] - b[:, 0])).all() and (corner_gap / (b[:, 2] - b[:, 0]) < 0.6).all()
    centres = (b[:, :2] + b[:, 2:]) / 2
    assert np.abs(np.diff(centres, axis=0)).max() < 6  # the speaker holds still: the box does too
    assert np.abs(np.diff(lm[:, 3:], axis=0)).max() < 6


@pytest.mark.real
def test_real_grid_smallest_face_setting_finds_the_same_face(grid_faces):
    frames, faces = grid_faces
    weights = shared_path("face-mtcnn")
    default = detect_faces(load_mtcnn(weights), frames[::25])  # the authors' min_face 20: the full pyramid
    assert default.found.all()
    assert np.abs(default.boxes - faces.boxes[::25]).max() < 6
    assert np.abs(default.landmarks - faces.landmarks[::25]).max() < 3


@pytest.mark.real
def test_real_grid_crop_centre_lies_between_the_mouth_corners(grid_faces):
    _, faces = grid_faces
    track = track_mouth(faces, AlignedCropSettings(weights="unused"))
    left, right = faces.landmarks[:, 3], faces.landmarks[:, 4]  # (T, 2) each frame's own corners
    span = right - left
    along = ((track.centres - left) * span).sum(axis=1) / (span * span).sum(axis=1)  # 0 at left, 1 at right
    across = np.abs(span[:, 0] * (track.centres - left)[:, 1] - span[:, 1] * (track.centres - left)[:, 0]) \
        / np.linalg.norm(span, axis=1)  # distance from the line through the corners, pixels
    assert ((0.35 < along) & (along < 0.65)).all() and (across < 3).all()
    assert 60 < track.width < 110  # twice the corner distance of a face ~110 pixels wide
