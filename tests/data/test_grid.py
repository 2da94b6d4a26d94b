"""GRID and LRS2 readers: align files (CRLF, 1/1000-frame units), ids that spell sentences, frame counts, bad
input."""

import numpy as np
import pytest
from gridfiles import write_grid

from myovision.data.grid import FRAME_TOLERANCE, check_frame_count, read_align, read_grid, read_grid_utterance
from myovision.data.lrs2 import read_lrs2, read_lrs2_transcript
from myovision.decoding.grammar import GRID_GRAMMAR
from myovision.errors import InputError
from myovision.video.mouth import MouthCropSettings, mouth_crops


def test_align_times_are_thousandths_of_a_frame_and_crlf_is_stripped(tmp_path):
    path = tmp_path / "x.align"
    path.write_bytes(b"0 23750 sil\r\n23750 29500 bin\r\n29500 34000 sp\r\n")
    segs = read_align(path)
    assert [(s.start, s.end, s.word) for s in segs] == [(0, 23, "sil"), (23, 29, "bin"), (29, 34, "sp")]


def test_malformed_align_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "x.align"
    path.write_text("0 1000 sil\n500 abc bin\n")
    with pytest.raises(InputError, match=r"x\.align: line 2"):
        read_align(path)
    path.write_text("0 5000 sil\n3000 8000 bin\n")
    with pytest.raises(InputError, match="overlaps"):
        read_align(path)


def test_grid_folder_gives_words_without_silences(tmp_path):
    utts = read_grid(write_grid(tmp_path, ids=("bbaf2n", "lgin8p")))
    assert [u.id for u in utts] == ["bbaf2n", "lgin8p"]
    assert utts[1].words == ("lay", "green", "in", "n", "eight", "please")
    assert utts[0].segments[0].word == "sil" and utts[0].segments[1].start == 4


def test_missing_alignment_is_an_error_naming_the_align_file(tmp_path):
    write_grid(tmp_path, ids=("bbaf2n",), align=False)
    with pytest.raises(InputError, match=r"align/bbaf2n\.align: alignment file not found"):
        read_grid(tmp_path)


def test_alignment_that_contradicts_the_id_is_an_error(tmp_path):
    write_grid(tmp_path, ids=("bbaf2n",))
    (tmp_path / "video" / "bbaf3n.mpg").write_bytes((tmp_path / "video" / "bbaf2n.mpg").read_bytes())
    (tmp_path / "align" / "bbaf3n.align").write_bytes((tmp_path / "align" / "bbaf2n.align").read_bytes())
    with pytest.raises(InputError, match="differ from the sentence the id spells 'bin blue at f three now'"):
        read_grid_utterance(tmp_path, "bbaf3n")


def test_corrupt_mpg_is_an_error_naming_the_video(tmp_path):
    write_grid(tmp_path, ids=("bbaf2n",))
    (tmp_path / "video" / "bbaf2n.mpg").write_bytes(b"\x00\x00\x01\xba" + bytes(range(256)) * 8)
    utt = read_grid(tmp_path)[0]
    with pytest.raises(InputError, match=r"bbaf2n\.mpg"):
        mouth_crops(utt.video, MouthCropSettings(size=(16, 16)))


def test_lrs2_layout(tmp_path):
    folder = tmp_path / "5535415699068794046"
    folder.mkdir()
    for name, text in (("00001", "Text:  WHEN YOU LOOK\nConf:  4\n\nWORD START END ASDSCORE\n"),
                       ("00002", "Text:  IT IS\n")):
        (folder / f"{name}.mp4").write_bytes(b"")
        (folder / f"{name}.txt").write_text(text)
    utts = read_lrs2(tmp_path)
    assert [u.id for u in utts] == ["5535415699068794046/00001", "5535415699068794046/00002"]
    assert utts[0].words == ("when", "you", "look") and utts[1].text == "it is"
    (folder / "00002.txt").unlink()
    with pytest.raises(InputError, match=r"00002\.txt: transcript file not found"):
        read_lrs2(tmp_path)
    (folder / "00002.txt").write_text("Conf: 3\n")
    with pytest.raises(InputError, match="no `Text:` line"):
        read_lrs2_transcript(folder / "00002.txt")


@pytest.mark.real
def test_real_grid_s1(shared_data):
    root = shared_data / "grid-s1"
    if not root.is_dir():
        pytest.skip(f"real data not available: {root} is absent")
    utts = read_grid(root)
    assert len(utts) == 250
    assert all(GRID_GRAMMAR.accepts(u.words) for u in utts)
    first = utts[0]
    assert first.id == "bbaf2n" and first.text == "bin blue at f two now"
    assert [(s.start, s.end) for s in first.segments[:2]] == [(0, 23), (23, 29)]
    assert sum(s.word == "sp" for u in utts for s in u.segments) == 4  # short pauses, besides 500 sil
    assert max(s.end for u in utts for s in u.segments) <= 75  # 3 s at 25 fps
    spans = np.array([s.end - s.start for u in utts for s in u.segments if s.word not in ("sil", "sp")])
    assert 4 <= np.median(spans) <= 8  # about 5 frames per word: why 3-state phone HMMs do not fit


def test_a_video_shorter_than_its_alignment_or_container_is_an_error(tmp_path):
    utt = read_grid(write_grid(tmp_path, ids=("bbaf2n",), n_frames=32))[0]
    check_frame_count(utt, 32)
    check_frame_count(utt, 32 - FRAME_TOLERANCE, declared=32)  # within the tolerance
    with pytest.raises(InputError, match=r"bbaf2n\.mpg: 29 frames decoded, but the alignment spans 32"):
        check_frame_count(utt, 29)
    with pytest.raises(InputError, match=r"bbaf2n\.mpg: 32 frames decoded, but the container declares 40"):
        check_frame_count(utt, 32, declared=40)


@pytest.mark.parametrize("text, problem", [
    ("0 23750 sil\n-5000 29500 bin\n", r"line 2: time '-5000' is not a whole number from 0"),
    ("0 23750 sil\n23750 1e26 bin\n", r"line 2: time '1e26' is not a whole number"),
    ("0 nan sil\n", r"line 1: time 'nan' is not a whole number"),
    ("0 23750 sil\n23750 100000000000000000000000000 bin\n", "line 2: time '10000000000000000000000000"),
    ("0 23750 sil\n29500 23750 bin\n", "line 2: segment 29-23 runs backwards"),
    ("0 23750 sil\n20000 29500 bin\n", "line 2: segment 20-29 runs backwards or overlaps"),
    ("0 23750\n", "line 1: expected `start end word`"),
])
def test_align_times_that_are_negative_nan_huge_or_not_increasing_name_the_line(tmp_path, text, problem):
    path = tmp_path / "x.align"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as exc:
        read_align(path)
    assert exc.value.path == str(path) and "\n" not in str(exc.value)


def test_an_alignment_beyond_a_complete_video_names_the_align_file_and_line(tmp_path):
    utt = read_grid(write_grid(tmp_path, ids=("bbaf2n",), n_frames=32))[0]
    lines = utt.align.read_text().splitlines()
    start, _, word = lines[-1].split()
    lines[-1] = f"{start} 60000 {word}"  # the last segment now ends at frame 60
    utt.align.write_text("\n".join(lines) + "\n")
    utt = read_grid(tmp_path)[0]
    with pytest.raises(InputError, match=rf"bbaf2n\.align: line {len(lines)}: segment \d+-60 ends beyond the "
                                         r"video's 32 frames") as exc:
        check_frame_count(utt, 32, declared=32)
    assert exc.value.path == str(utt.align)
