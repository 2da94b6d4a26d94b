"""Split-list readers (UCF101, HMDB51 official file layouts), K600 zero-shot subsets, the noisy dictionary."""

import numpy as np
import pytest

from myovision.cli import main
from myovision.errors import InputError
from myovision.zeroshot.splits import (hmdb51_split, k600_zero_shot_classes, mean_std, noisy_dictionary,
                                       read_path_list, ucf101_split)


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_ucf101_split_files_with_a_missing_video(tmp_path):
    splits, root = tmp_path / "ucfTrainTestlist", tmp_path / "UCF-101"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Basketball\n")
    (splits / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n"
                                           "Basketball/v_Basketball_g01_c01.avi\nBasketball/v_Basketball_g01_c02.avi\n")
    for name in ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Basketball/v_Basketball_g01_c01.avi"):
        touch(root / name)
    with pytest.raises(InputError, match=r"1 listed videos are missing: .*v_Basketball_g01_c02.avi.*--skip-bad"):
        ucf101_split(splits, root, 1)
    split = ucf101_split(splits, root, 1, skip_bad=True)
    assert split.classes == ["apply eye makeup", "basketball"] and split.labels == [0, 1] and len(split.paths) == 2
    with pytest.raises(InputError, match="splits 1, 2, 3"):
        ucf101_split(splits, root, 4)


def test_hmdb51_split_files_keep_the_test_videos(tmp_path):
    splits, root = tmp_path / "testTrainMulti_7030_splits", tmp_path / "hmdb51"
    splits.mkdir()
    (splits / "brush_hair_test_split2.txt").write_text("a.avi 1\nb.avi 2\nc.avi 0\n")
    (splits / "cartwheel_test_split2.txt").write_text("d.avi 2 \ne.avi 2\n")
    for name in ("brush_hair/b.avi", "cartwheel/d.avi", "cartwheel/e.avi"):
        touch(root / name)
    split = hmdb51_split(splits, root, 2)
    assert split.classes == ["brush hair", "cartwheel"] and split.labels == [0, 1, 1]
    assert [p.name for p in split.paths] == ["b.avi", "d.avi", "e.avi"]
    assert mean_std([0.5, 0.6, 0.7]) == pytest.approx((0.6, np.std([0.5, 0.6, 0.7])))


def test_path_lists_in_three_layouts(tmp_path):
    for name in ("a.mp4", "b.mp4"):
        touch(tmp_path / name)
    (tmp_path / "plain.txt").write_text("a.mp4\nb.mp4\n")
    (tmp_path / "csv.csv").write_text("path,label\na.mp4,x\nb.mp4,y\n")
    (tmp_path / "split.txt").write_text("a.mp4 3\nb.mp4 4\n")
    for name in ("plain.txt", "csv.csv", "split.txt"):
        assert [p.name for p in read_path_list(tmp_path / name)] == ["a.mp4", "b.mp4"]


def test_k600_subsets_and_noisy_dictionary(tmp_path, capsys):
    k400 = [f"class {i}" for i in range(400)]
    k600 = k400[:380] + [f"new_class {i}" for i in range(220)]  # 220 not in K400
    subsets = k600_zero_shot_classes(k400, k600, seed=0)
    assert len(subsets) == 3 and all(len(s) == 160 and len(set(s)) == 160 for s in subsets)
    assert all(n.startswith("new_class") for s in subsets for n in s) and subsets[0] != subsets[1]
    assert subsets == k600_zero_shot_classes(k400, k600, seed=0) != k600_zero_shot_classes(k400, k600, seed=1)
    (tmp_path / "k400.txt").write_text("\n".join(k400) + "\n")
    (tmp_path / "k600.txt").write_text("\n".join(k600) + "\n")
    assert main(["zeroshot", "k600-classes", "--k400", str(tmp_path / "k400.txt"), "--k600",
                 str(tmp_path / "k600.txt"), "--out", str(tmp_path / "zs")]) == 0
    assert len((tmp_path / "zs" / "split3.txt").read_text().splitlines()) == 160

    noisy = noisy_dictionary(["jump", "run"], ["run", "swim", "dig", "fly"], 2, seed=3)
    assert noisy[:2] == ["jump", "run"] and len(set(noisy)) == 4 and set(noisy[2:]) <= {"swim", "dig", "fly"}
    with pytest.raises(InputError, match="3 distractors asked for, 2 available"):
        noisy_dictionary(["jump"], ["jump", "a", "b"], 3)
