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


def finetune_args(tmp_path, out, *extra):
    rows = ["path,label"]
    for i in range(4):
        if not (tmp_path / f"v{i}.mp4").is_file():
            write_video(tmp_path / f"v{i}.mp4", n=10, noise=4)
        rows.append(f"v{i}.mp4,{'dark' if i % 2 else 'light'}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return ["video", "finetune", "--train", str(tmp_path / "train.csv"), "--val", str(tmp_path / "train.csv"),
            "--out", str(out), "--frames", "4", "--short-side", "32", "--crop", "24", "--epochs", "1",
            "--batch-size", "2", "--freeze-backbone", *extra]


def test_finetune_writes_a_run_folder_that_create_model_and_predict_load(tmp_path, capsys):
    import myovision as mv
    from myovision.actions.video_finetune import VideoClipDataset, evaluate_video_classifier, read_video_list
    from myovision.registry import read_state_dict

    out = tmp_path / "run"
    assert main(finetune_args(tmp_path, out)) == 0
    assert (out / "labels.txt").read_text().split() == ["dark", "light"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == 2 and metrics["val_videos"] == 4 and 0.0 <= metrics["val_accuracy"] <= 1.0
    assert metrics["val_correct"] == round(4 * metrics["val_accuracy"]) and all(k == k.lower() for k in metrics)
    assert sum(c["videos"] for c in metrics["per_class"].values()) == 4
    report = (out / "report.html").read_text()
    assert '<p class="sub data">Data: video list ' in report and "train.csv (4 videos, 2 classes)" in report
    assert "<img" in report  # training curves
    # the run folder rebuilds the trained network: the restored best epoch's weights, the same validation outputs
    model = mv.create_model(checkpoint=out).eval()
    best = {k[len("model."):]: v for k, v in read_state_dict(out / "checkpoints" / "best.safetensors").items()}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in best.items())
    videos, names = read_video_list(tmp_path / "train.csv")
    again = evaluate_video_classifier(model, VideoClipDataset(videos, frames=4, short_side=32, crop=24), names)
    assert again["val_correct"] == metrics["val_correct"] and again["per_class"] == metrics["per_class"]
    assert json.loads((out / "model.json").read_text())["class_names"] == ["dark", "light"]
    capsys.readouterr()
    assert main(["video", "predict", str(tmp_path / "v0.mp4"), "--checkpoint", str(out / "model.safetensors"),
                 "--labels", str(out / "labels.txt"), "--frames", "4", "--short-side", "32", "--crop", "24"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2  # top-5 of two classes
    # another configuration cannot resume the run, and nothing is overwritten
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(finetune_args(tmp_path, out, "--lr", "0.1", "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume with another configuration" in err[0] and "lr: 0.01 -> 0.1" in err[0]
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_finetune_print_config_fed_back_reproduces_the_config(tmp_path, capsys):
    assert main(finetune_args(tmp_path, tmp_path / "x", "--precision", "bf16-mixed", "--print-config")) == 0
    printed = capsys.readouterr().out
    assert "freeze_backbone: true" in printed and "precision: bf16-mixed" in printed and "train: " in printed
    assert not (tmp_path / "x").exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert main(["video", "finetune", "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    assert capsys.readouterr().out == printed
    assert main(["video", "finetune", "--out", str(tmp_path / "y")]) == 2
    assert "--train is required" in capsys.readouterr().err
