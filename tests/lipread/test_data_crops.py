"""The lip reader's crops: the crop chosen by name ("box" or "mtcnn"), truncated videos refused or skipped and
reported, MTCNN's no-face fallback reported."""

import pytest
import torch
from gridfiles import BOX, write_grid, write_mpg

from myovision.data.grid import read_grid
from myovision.errors import InputError
from myovision.lipread.data import load_crops, mouth_cache
from myovision.video.mouth import AlignedCropSettings, MouthBox, MouthCropSettings, NoFaceWarning
from tests.conftest import shared_path


def test_the_crop_is_chosen_by_name_with_box_by_default(tmp_path):
    assert mouth_cache(tmp_path).settings == MouthCropSettings()
    assert mouth_cache(tmp_path, size=(16, 24), box=MouthBox(*BOX)).settings == MouthCropSettings(MouthBox(*BOX), (16, 24))
    aligned = mouth_cache(tmp_path, "mtcnn", weights=tmp_path).settings
    assert isinstance(aligned, AlignedCropSettings) and aligned.size == (88, 88) and aligned.weights == str(tmp_path)
    with pytest.raises(InputError, match="mtcnn mouth crops need the folder of MTCNN's pnet.pt"):
        mouth_cache(tmp_path, "mtcnn")
    with pytest.raises(InputError, match=r"mouth crop must be one of \('box', 'mtcnn'\), got 'dlib'"):
        mouth_cache(tmp_path, "dlib")


def test_a_training_config_chooses_the_crop_by_name(tmp_path):
    from myovision.lipread.config import LipReadConfig

    assert LipReadConfig(mouth_crop="box", crop_size=(16, 24)).crop == MouthCropSettings(size=(16, 24))
    aligned = LipReadConfig(mouth_crop="mtcnn", crop_weights=str(tmp_path), crop_size=(88, 88)).crop
    assert isinstance(aligned, AlignedCropSettings) and aligned.weights == str(tmp_path) and aligned.size == (88, 88)
    with pytest.raises(InputError, match="mtcnn mouth crops need the folder"):
        LipReadConfig(mouth_crop="mtcnn").crop


def test_auto_takes_mtcnn_when_weights_are_named_and_the_config_records_the_choice(tmp_path, monkeypatch):
    from myovision.config import from_dict, to_dict
    from myovision.lipread.config import LipReadConfig

    boxed = LipReadConfig()
    assert (boxed.mouth_crop, boxed.crop_weights) == ("box", "") and isinstance(boxed.crop, MouthCropSettings)
    named = LipReadConfig(crop_weights=str(tmp_path))
    assert (named.mouth_crop, named.crop_weights) == ("mtcnn", str(tmp_path))
    monkeypatch.setenv("MYOVISION_MTCNN_WEIGHTS", str(tmp_path / "env"))
    (tmp_path / "env").mkdir()
    from_env = LipReadConfig()
    assert (from_env.mouth_crop, from_env.crop_weights) == ("mtcnn", str(tmp_path / "env"))
    assert LipReadConfig(crop_weights=str(tmp_path)).crop_weights == str(tmp_path)  # the option beats the variable
    boxed_anyway = LipReadConfig(mouth_crop="box")
    assert (boxed_anyway.mouth_crop, boxed_anyway.crop_weights) == ("box", "")
    monkeypatch.delenv("MYOVISION_MTCNN_WEIGHTS")
    assert from_dict(LipReadConfig, to_dict(from_env)).crop == from_env.crop  # a saved run keeps its crop
    with pytest.raises(InputError, match=r"mouth crop must be auto or one of \('box', 'mtcnn'\), got 'dlib'"):
        LipReadConfig(mouth_crop="dlib")


def test_a_truncated_video_is_an_error_or_skipped_and_reported(tmp_path):
    utts = read_grid(write_grid(tmp_path / "grid", ids=("bbaf2n", "lgin8p"), n_frames=32))
    write_mpg(utts[1].video, [0.0] * 20)  # 20 frames for an alignment of 32
    cache = mouth_cache(tmp_path / "cache", size=(8, 12), box=MouthBox(*BOX))
    with pytest.raises(InputError, match=r"lgin8p\.mpg: 20 frames decoded, but the alignment spans 32"):
        load_crops(utts, cache)
    got = load_crops(utts, cache, skip_short=True)
    assert [u.id for u in got.utterances] == ["bbaf2n"] and got.crops[0].shape == (32, 8, 12)
    assert len(got.problems) == 1 and got.problems[0].startswith("skipped ") and "lgin8p.mpg" in got.problems[0]


def test_mtcnn_crops_of_faceless_videos_fall_back_to_the_box_and_are_reported(tmp_path):
    weights = shared_path("face-mtcnn")
    utts = read_grid(write_grid(tmp_path / "grid", ids=("bbaf2n",), n_frames=12))
    cache = mouth_cache(tmp_path / "cache", "mtcnn", (8, 12), MouthBox(*BOX), weights)
    with pytest.warns(NoFaceWarning):
        got = load_crops(utts, cache)
    assert got.problems == [f"{utts[0].video}: no face found on all 12 frames; cropped with the fixed box"]
    box = load_crops(utts, mouth_cache(tmp_path / "cache", size=(8, 12), box=MouthBox(*BOX)))
    assert torch.allclose(got.crops[0], box.crops[0]) and box.problems == []
