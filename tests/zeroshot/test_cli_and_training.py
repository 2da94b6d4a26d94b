"""`myovision zeroshot eval / demo` end to end on tiny models, and MIL fine-tuning on its own."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from myovision.cli import main
from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from myovision.zeroshot.finetune import mil_finetune
from myovision.zeroshot import synthetic as world


def write_frames(folder, video):
    folder.mkdir(parents=True)
    for i, frame in enumerate(video, start=1):
        Image.fromarray(frame).save(folder / f"img_{i:010d}.jpg", quality=95)


@pytest.fixture
def tiny_model():
    tok = WordTokenizer.from_texts(world.vocabulary())
    cfg = tiny_clip_config(vocab_size=tok.vocab_size, eos_token_id=tok.eos_token_id, context_length=24)
    torch.manual_seed(0)
    return CLIPVideo(cfg, tokenizer=tok)


def test_eval_writes_metrics_and_scores(tmp_path, tiny_model, capsys):
    tiny_model.save_pretrained(tmp_path / "model")
    rng = np.random.default_rng(0)
    rows = ["path,label"]
    for i, spec in enumerate(world.sample_specs(world.held_out_classes()[:3], 6, rng)):
        write_frames(tmp_path / "videos" / f"v{i}", world.render(spec, frames=10))
        rows.append(f"videos/v{i},{spec.label.replace(' ', '_')}")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "classes.txt").write_text("\n".join(world.held_out_classes()[:3]) + "\n")
    args = ["zeroshot", "eval", "--checkpoint", str(tmp_path / "model"), "--classes", str(tmp_path / "classes.txt"),
            "--videos", str(tmp_path / "list.csv"), "--out", str(tmp_path / "out"), "--frames", "4"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["num_videos"] == 6 and metrics["num_classes"] == 3 and 0 <= metrics["top1"] <= 1
    assert metrics["top5"] == 1.0  # three classes
    assert len((tmp_path / "out" / "scores.csv").read_text().splitlines()) == 7
    assert list((tmp_path / "out" / "cache").glob("text-*.safetensors"))
    (tmp_path / "classes.txt").write_text("jumping ball\n")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "list.csv" in err and "not in the class list" in err


def test_mil_finetuning_fits_its_bags(tiny_model):
    rng = np.random.default_rng(1)
    specs = world.sample_specs(world.class_names(), 24, rng)
    from myovision.zeroshot.demo import DemoConfig, to_clips

    clips = to_clips(specs, DemoConfig(frames=4))
    bags = [[s.verb, s.noun] for s in specs]  # informative bags: the loss must fall
    losses = mil_finetune(tiny_model, clips, [s.noun for s in specs], bags, n_bag=2, epochs=25, batch_size=8,
                          lr=1e-3, seed=0)
    assert len(losses) == 75 and np.mean(losses[-6:]) < np.mean(losses[:6]) - 0.2
    assert not tiny_model.training


def test_demo_quick_writes_the_metrics(tmp_path):
    assert main(["zeroshot", "demo", "--out", str(tmp_path), "--seeds", "3", "--quick"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["chance"] == pytest.approx(1 / 12)
    for key in ("zero_shot_top1", "zero_shot_top1_before"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["seeds"][0]["seed"] == 3 and len(metrics["held_out_classes"]) == 12
    assert not set(metrics["held_out_classes"]) & set(metrics["dictionary"])
