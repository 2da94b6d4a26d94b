"""`myovision video predict / extract / finetune` end to end on small videos written by the test."""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "video"))
from videofiles import write_video  # noqa: E402

from myovision.cli import main  # noqa: E402
from myovision.models.i3d import InceptionI3d  # noqa: E402
from myovision.video.predict import eval_spec, predict_video  # noqa: E402


def checkpoint(path, num_classes, seed=0):
    torch.manual_seed(seed)
    model = InceptionI3d(num_classes=num_classes).eval()
    save_file(model.state_dict(), str(path))
    return model


def test_predict_prints_the_top5_of_the_model(tmp_path, capsys):
    video = write_video(tmp_path / "clip.mp4", n=20, noise=10)
    model = checkpoint(tmp_path / "i3d.safetensors", 7)
    labels = [f"class {i}" for i in range(7)]
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    argv = ["video", "predict", str(video), "--checkpoint", str(tmp_path / "i3d.safetensors"), "--labels",
            str(tmp_path / "labels.txt"), "--frames", "8", "--clips", "2", "--short-side", "32", "--crop", "32",
            "--out", str(tmp_path / "top.json")]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    probs = predict_video(video, model, eval_spec(2, 8, 32, 32))
    order = probs.argsort(descending=True)[:5].tolist()
    assert len(lines) == 5 and [line.split("  ")[0] for line in lines] == [f"{r}. class {i}" for r, i in
                                                                           enumerate(order, 1)]
    top = json.loads((tmp_path / "top.json").read_text())["top"]
    np.testing.assert_allclose([t["probability"] for t in top], probs[order].numpy(), rtol=1e-5)


def test_predict_runs_clip_by_clip_with_progress(tmp_path, capsys):
    from myovision.video.clips import ClipTask, decode_action
    from myovision.video.io import open_video
    from myovision.video.transforms import Compose, ScaleToSymmetric, ToChannelsFirst

    video = write_video(tmp_path / "clip.mp4", n=20, noise=10)
    model = checkpoint(tmp_path / "i3d.safetensors", 5)
    spec = eval_spec(3, 8, 32, 32)
    probs = predict_video(video, model, spec, progress=True)
    layers = len(list(model.children()))
    assert capsys.readouterr().err.startswith(f"clip.mp4: clip 3/3: {3 * layers}/{3 * layers} layer")
    with open_video(video) as reader:  # all clips in one batch: the same probabilities
        clips = decode_action(reader, ClipTask("v", reader.path, 0, reader.info.num_frames - 1), spec).clips
    with torch.inference_mode():
        batch = model(Compose([ScaleToSymmetric(), ToChannelsFirst()])(clips)).softmax(-1).mean(0)
    torch.testing.assert_close(probs, batch, rtol=1e-4, atol=1e-6)


def test_bad_inputs_are_one_line_with_exit_2(tmp_path, capsys):
    checkpoint(tmp_path / "i3d.safetensors", 3)
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\n")
    data = write_video(tmp_path / "full.mp4", noise=12).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    base = ["--checkpoint", str(tmp_path / "i3d.safetensors"), "--labels", str(tmp_path / "labels.txt")]
    for video, expect in ((tmp_path / "cut.mp4", "cut.mp4: cannot open as a video"),
                          (tmp_path / "none.mp4", "none.mp4: not found")):
        (tmp_path / "three.txt").write_text("a\nb\nc\n")
        assert main(["video", "predict", str(video), *base[:2], "--labels", str(tmp_path / "three.txt")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expect in err[0]
    assert main(["video", "predict", str(tmp_path / "full.mp4"), *base]) == 2  # 4 labels, 3 classes
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "i3d.safetensors" in err[0] and "logits.conv3d.weight" in err[0]


def test_extract_skips_bad_actions_and_lists_them(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "A.mp4", n=16, noise=6)
    (videos / "B.mp4").write_bytes(b"not a video")
    (tmp_path / "a.csv").write_text("uid,video_id,start_frame,stop_frame\n1,A,1,16\n2,B,1,5\n3,A,40,50\n")
    checkpoint(tmp_path / "i3d.safetensors", 2)
    argv = ["video", "extract", "--annotations", str(tmp_path / "a.csv"), "--videos", str(videos), "--checkpoint",
            str(tmp_path / "i3d.safetensors"), "--clips", "3", "--frames", "4", "--short-side", "32", "--crop", "32",
            "--workers", "0", "--no-progress", "--out", str(tmp_path / "store")]
    assert main(argv) == 2  # without --skip-bad the first bad action stops the run, naming file and action
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "A.mp4: action '3': spans frames [39, 49] but the video ends at frame 15" in err[0]
    assert main([*argv, "--skip-bad"]) == 0
    assert "1 uids computed (3 clips" in capsys.readouterr().out
    skipped = (tmp_path / "store" / "skipped.csv").read_text().splitlines()
    assert skipped[0] == "uid,path,problem" and sorted(row.split(",")[0] for row in skipped[1:]) == ["2", "3"]


def test_finetune_writes_a_checkpoint_that_predict_loads(tmp_path, capsys):
    rows = ["path,label"]
    for i in range(4):
        write_video(tmp_path / f"v{i}.mp4", n=10, noise=4)
        rows.append(f"v{i}.mp4,{'dark' if i % 2 else 'light'}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["video", "finetune", "--train", str(tmp_path / "train.csv"), "--val", str(tmp_path / "train.csv"),
                 "--out", str(out), "--frames", "4", "--short-side", "32", "--crop", "24", "--epochs", "1",
                 "--batch-size", "2", "--workers", "0", "--freeze-backbone"]) == 0
    assert (out / "labels.txt").read_text().split() == ["dark", "light"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == 2 and 0.0 <= metrics["best_val_accuracy"] <= 1.0
    capsys.readouterr()
    assert main(["video", "predict", str(tmp_path / "v0.mp4"), "--checkpoint", str(out / "i3d.safetensors"),
                 "--labels", str(out / "labels.txt"), "--frames", "4", "--short-side", "32", "--crop", "24"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # top-5 of two classes
