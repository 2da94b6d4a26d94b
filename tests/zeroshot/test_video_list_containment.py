"""Video lists and split files read by the zero-shot room stay inside their root unless --allow-outside-root;
a truncated listed video is named before it is used."""

import os
import sys
from pathlib import Path

import pytest

from myovision.cli import main
from myovision.errors import InputError
from myovision.zeroshot.splits import hmdb51_split, read_path_list, ucf101_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "video"))
from videofiles import write_video  # noqa: E402


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.fixture
def outside(tmp_path):
    """A data folder, a secret file beside it and a link inside it pointing out."""
    data = tmp_path / "data"
    touch(data / "a.mp4")
    touch(tmp_path / "secret.mp4")
    os.symlink(tmp_path / "secret.mp4", data / "link.mp4")
    return data


@pytest.mark.parametrize("entry", ["../secret.mp4", "{abs}", "link.mp4"])
def test_a_listed_video_outside_the_list_root_is_refused_unless_allowed(outside, entry):
    entry = entry.format(abs=outside.parent / "secret.mp4")
    (outside / "list.txt").write_text(f"a.mp4\n{entry}\n")
    with pytest.raises(InputError, match=r"list.txt: listed video .*path resolves outside .*--allow-outside-root"):
        read_path_list(outside / "list.txt")
    with pytest.raises(InputError, match="resolves outside"):  # not a missing video: --skip-bad does not hide it
        read_path_list(outside / "list.txt", skip_bad=True)
    assert len(read_path_list(outside / "list.txt", allow_outside_root=True)) == 2


@pytest.mark.parametrize("entry", ["../secret.mp4", "link.mp4"])
def test_an_evaluation_list_outside_its_folder_is_refused_unless_allowed(outside, entry):
    from myovision.zeroshot.evaluate import read_video_list

    (outside / "eval.csv").write_text(f"path,label\na.mp4,jump\n{entry},run\n")
    with pytest.raises(InputError, match=r"eval.csv: listed video .*resolves outside"):
        read_video_list(outside / "eval.csv", ["jump", "run"])
    with pytest.raises(InputError, match="resolves outside"):
        read_video_list(outside / "eval.csv", ["jump", "run"], skip_bad=True)
    assert len(read_video_list(outside / "eval.csv", ["jump", "run"], allow_outside_root=True).paths) == 2


def test_split_files_cannot_reach_outside_the_video_root(tmp_path):
    ucf, root = tmp_path / "ucfTrainTestlist", tmp_path / "UCF-101"
    ucf.mkdir()
    touch(root / "Basketball" / "v1.avi")
    touch(tmp_path / "secret.avi")
    (ucf / "classInd.txt").write_text("1 Basketball\n")
    (ucf / "testlist01.txt").write_text("Basketball/v1.avi\nBasketball/../../secret.avi\n")
    with pytest.raises(InputError, match=r"testlist01.txt: listed video .*resolves outside"):
        ucf101_split(ucf, root, 1)
    assert len(ucf101_split(ucf, root, 1, allow_outside_root=True).paths) == 2
    hmdb = tmp_path / "hmdb_splits"
    hmdb.mkdir()
    (hmdb / "cartwheel_test_split1.txt").write_text("../../secret.avi 2\n")
    (root / "cartwheel").mkdir()
    with pytest.raises(InputError, match="resolves outside"):
        hmdb51_split(hmdb, root, 1)
    assert len(hmdb51_split(hmdb, root, 1, allow_outside_root=True).paths) == 1


def test_zeroshot_captions_refuses_an_escaping_list_in_one_line(outside, capsys):
    (outside / "list.txt").write_text("../secret.mp4\n")
    args = ["zeroshot", "captions", "--model", str(outside / "none"), "--videos", str(outside / "list.txt"),
            "--out", str(outside / "caps")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resolves outside" in err[0] and not (outside / "caps").exists()


def test_a_truncated_video_is_named_when_read_for_clip(tmp_path):
    from myovision.zeroshot.videos import read_clip, read_frames

    data = write_video(tmp_path / "full.mp4", n=30, noise=12, options={"movflags": "faststart"}).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    for read in (lambda p: read_clip(p, frames=4, size=32), lambda p: read_frames(p, 4, 32)):
        with pytest.raises(InputError, match=r"cut.mp4: \d+ frames in the file, but the container declares 30"):
            read(tmp_path / "cut.mp4")
    assert tuple(read_clip(tmp_path / "full.mp4", frames=4, size=32).shape) == (4, 3, 32, 32)
