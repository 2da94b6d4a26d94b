"""`myovision zeroshot train` + `eval` end to end on the real clips of ../shared/data/video-clips with a tiny random
CLIP folder made here (mechanics, not accuracy), and its bad input: one line each."""

import json

import pytest
import torch

from myovision.cli import main
from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from tests.conftest import shared_path

DICTIONARY = ["arm wrestling", "cleaning pool", "playing cricket", "juggling balls"]
WORDS = DICTIONARY + ["a photo of", "a video of a person doing", "a example demonstration using during performing "
                      "practicing", "two men", "pull", "pulling", "push", "pushing", "swim", "swimming", "hit", "hitting",
                      "the arm", "a man is", "in water", "on a table", "."]


@pytest.fixture(scope="module")
def clips():
    folder = shared_path("video-clips")
    return [folder / n for n in ("kinetics_arm_wrestling.mp4", "pool_cleaning.mp4", "test_mpeg4_audio.avi")]


@pytest.fixture
def clip_folder(tmp_path):
    tok = WordTokenizer.from_texts(WORDS)
    cfg = tiny_clip_config(vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id, context_length=24)
    torch.manual_seed(0)
    return CLIPVideo(cfg, tokenizer=tok).save_pretrained(tmp_path / "clip")


def lists(tmp_path, clips):
    (tmp_path / "videos.txt").write_text("\n".join(c.name for c in clips) + "\n")  # relative to --root
    (tmp_path / "dictionary.txt").write_text("\n".join(DICTIONARY) + "\n")
    captions, phrases = tmp_path / "captions", tmp_path / "phrases"
    captions.mkdir()
    phrases.mkdir()
    (captions / "kinetics_arm_wrestling.txt").write_text("two men pulling the arm on a table\na man is pushing\n")
    (captions / "pool_cleaning.txt").write_text("a man is swimming in water\n")
    for name in DICTIONARY:
        (phrases / f"{name.replace(' ', '_')}.txt").write_text("1. pull the arm\n2. push\n3. hit\n")
    rows = ["path,label"] + [f"{c},{n.replace(' ', '_')}" for c, n in zip(clips, DICTIONARY)]
    (tmp_path / "eval.csv").write_text("\n".join(rows) + "\n")
    return ["--videos", str(tmp_path / "videos.txt"), "--root", str(clips[0].parent),
            "--dictionary", str(tmp_path / "dictionary.txt"),
            "--captions", str(captions), "--phrases", str(phrases)]


SMALL = ["--train-frames", "2", "--eval-frames", "2", "--epochs", "2", "--batch-size", "2", "--n-bag", "3",
         "--lr", "1e-3", "--accelerator", "cpu"]


def test_train_then_eval_on_real_clips(tmp_path, clips, clip_folder, capsys):
    run = tmp_path / "run"
    args = ["zeroshot", "train", *lists(tmp_path, clips), "--checkpoint", str(clip_folder), "--out", str(run), *SMALL]
    assert main(args) == 0
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["videos"] == 3 and summary["dictionary_size"] == 4 and summary["mean_bag_size"] > 0
    assert summary["accumulate_grad_batches"] == 128  # MAXI's effective batch 256 from batches of 2
    assert (run / "mil" / "checkpoints" / "last.ckpt").is_file()
    out = tmp_path / "eval"
    assert main(["zeroshot", "eval", "--checkpoint", str(run), "--classes", str(tmp_path / "dictionary.txt"),
                 "--videos", str(tmp_path / "eval.csv"), "--out", str(out), "--frames", "2",
                 "--allow-outside-root"]) == 0  # the list names the shared clips by absolute path
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_videos"] == 3 and metrics["num_classes"] == 4 and 0 <= metrics["top1"] <= 1
    # the run's weights moved away from the checkpoint's, and --resume of the finished run keeps them
    from myovision.models.clip_video import load_clip_video

    first, start = load_clip_video(run).state_dict(), load_clip_video(clip_folder).state_dict()
    assert any(not torch.equal(first[k], start[k]) for k in start)
    assert main(args + ["--resume"]) == 0
    again = load_clip_video(run).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_bad_input_is_one_line(tmp_path, clips, clip_folder, capsys):
    missing = tmp_path / "gone.mp4"
    base = lists(tmp_path, [*clips[:2], missing])
    args = ["zeroshot", "train", *base, "--checkpoint", str(clip_folder), *SMALL, "--epochs", "1"]
    capsys.readouterr()
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 listed videos are missing" in err[0] and "gone.mp4" in err[0] and "--skip-bad" in err[0]
    assert main(args + ["--out", str(tmp_path / "b"), "--skip-bad"]) == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["videos"] == 2
    assert "skipping 1 missing videos" in capsys.readouterr().err

    (tmp_path / "videos.txt").write_text("\n".join(str(c) for c in clips[:2]) + "\n")
    (tmp_path / "dictionary.txt").write_text("arm wrestling\ncleaning pool\narm_wrestling\n")
    assert main(args + ["--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "listed twice" in err[0] and "arm wrestling" in err[0] and "dictionary.txt" in err[0]

    (tmp_path / "dictionary.txt").write_text("\n".join(DICTIONARY) + "\n")
    (clip_folder / "words.txt").unlink()
    assert main(args + ["--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no tokenizer" in err[0] and str(clip_folder) in err[0]


def test_heatmaps_compare_checkpoints_side_by_side(tmp_path, clips, clip_folder):
    from PIL import Image

    tok = WordTokenizer.from_texts(WORDS)
    torch.manual_seed(1)
    cfg = tiny_clip_config(vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id, context_length=24)
    CLIPVideo(cfg, tokenizer=tok).save_pretrained(tmp_path / "other")
    out = tmp_path / "heat.png"
    assert main(["zeroshot", "heatmaps", "--checkpoints", f"clip={clip_folder}", f"maxi={tmp_path / 'other'}",
                 "--video", str(clips[0]), "--text", "arm wrestling", "--frames", "3", "--out", str(out)]) == 0
    width, height = Image.open(out).size
    assert height > width / 3 * 2  # three rows (frames, clip, maxi) of three frames
    assert main(["zeroshot", "heatmaps", "--checkpoints", str(clip_folder), str(clip_folder), "--video",
                 str(clips[0]), "--text", "x", "--out", str(out)]) == 2  # two rows with the same name


def test_splits_command_reports_the_three_split_mean(tmp_path, clips, clip_folder):
    splits, root = tmp_path / "ucfTrainTestlist", tmp_path / "UCF-101"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 ArmWrestling\n2 CleaningPool\n")
    for folder, clip in (("ArmWrestling", clips[0]), ("CleaningPool", clips[1])):
        (root / folder).mkdir(parents=True)
        (root / folder / f"v_{folder}.mp4").symlink_to(clip)
    for k in (1, 2, 3):
        rows = ["ArmWrestling/v_ArmWrestling.mp4", "CleaningPool/v_CleaningPool.mp4"][:1 if k == 3 else 2]
        (splits / f"testlist0{k}.txt").write_text("\n".join(rows) + "\n")
    out = tmp_path / "ucf"
    args = ["zeroshot", "splits", "--dataset", "ucf101", "--split-dir", str(splits), "--root", str(root),
            "--checkpoint", str(clip_folder), "--out", str(out), "--frames", "2"]
    assert main(args) == 2  # the videos are links to the shared clips, outside --root
    assert main([*args, "--allow-outside-root"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    top1 = [m["top1"] for m in metrics["splits"]]
    assert [m["num_videos"] for m in metrics["splits"]] == [2, 2, 1]
    assert metrics["top1_mean"] == pytest.approx(sum(top1) / 3) and metrics["top1_std"] >= 0
