"""`myovision zeroshot eval / demo` end to end on tiny models, and MIL fine-tuning on its own."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from myovision.cli import main
from myovision.models.clip_tokenizer import WordTokenizer
from myovision.models.clip_video import CLIPVideo, tiny_clip_config
from myovision.training.options import TrainerOptions
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
    assert metrics["correct"] == round(6 * metrics["top1"]) and "top5" not in metrics  # 3 classes: no top-5
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
    from myovision.zeroshot.demo import to_clips

    clips = to_clips(specs, 4, 32)
    bags = [[s.verb, s.noun] for s in specs]  # informative bags: the loss must fall
    losses = mil_finetune(tiny_model, clips, [s.noun for s in specs], bags, n_bag=2, epochs=25, batch_size=8,
                          lr=1e-3, seed=0)
    assert len(losses) == 75 and np.mean(losses[-6:]) < np.mean(losses[:6]) - 0.2
    assert not tiny_model.training


@pytest.mark.parametrize("workers", [0, 2])  # workers prefetch before Lightning sets a resumed epoch's number
def test_mil_finetuning_resumed_draws_what_the_uninterrupted_run_drew(tiny_model, tmp_path, workers):
    rng = np.random.default_rng(2)
    specs = world.sample_specs(world.class_names(), 12, rng)
    from myovision.zeroshot.demo import to_clips

    clips = to_clips(specs, 2, 32)
    bags = [[s.verb, s.noun, s.colour, "a photo"] for s in specs]
    start = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    kw = dict(n_bag=2, batch_size=4, lr=1e-3, warmup_epochs=None, seed=5, trainer=TrainerOptions(accelerator="cpu", num_workers=workers))
    whole = mil_finetune(tiny_model, clips, [s.noun for s in specs], bags, epochs=2, out=tmp_path / "a", **kw)
    finished = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    tiny_model.load_state_dict(start)
    mil_finetune(tiny_model, clips, [s.noun for s in specs], bags, epochs=1, out=tmp_path / "b", **kw)
    resumed = mil_finetune(tiny_model, clips, [s.noun for s in specs], bags, epochs=2, out=tmp_path / "b",
                           resume=True, **kw)
    assert len(whole) == 6 and resumed == pytest.approx(whole, abs=1e-6)  # the history travels in the checkpoint
    assert all(torch.allclose(tiny_model.state_dict()[k], v, atol=1e-6) for k, v in finished.items())


def run_quick_demo(out, *extra):
    return main(["zeroshot", "demo", "--out", str(out), "--seeds", "3", "--quick", "--pretrain-videos", "12",
                 "--pretrain-frames", "2", "--train-frames", "2", "--eval-frames", "2", *extra])


def test_demo_quick_writes_a_run_folder(tmp_path, capsys):
    import myovision as mv
    from myovision.registry import read_state_dict

    out = tmp_path / "run"
    assert run_quick_demo(out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["chance"] == pytest.approx(1 / 12)
    for key in ("zero_shot_top1", "zero_shot_top1_before", "dictionary_match_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["correct"] == round(metrics["zero_shot_top1"] * metrics["test_videos"]) and metrics["test_videos"] == 24
    assert not any("top5" in key for key in metrics)  # 12 classes: top-5 says nothing (k <= classes / 4)
    assert all(key == key.lower() for key in metrics)
    assert metrics["seeds"][0]["seed"] == 3 and len(metrics["held_out_classes"]) == 12
    assert not set(metrics["held_out_classes"]) & set(metrics["dictionary"])
    report = (out / "report.html").read_text()
    assert '<p class="sub data">Data: synthetic' in report and report.count("<img") == 2  # pretrain + MIL curves
    # the run folder rebuilds the fine-tuned model, tokenizer included: the weights of the last MIL checkpoint
    model = mv.create_model(checkpoint=out).eval()
    trained = {k[len("model."):]: v for k, v in read_state_dict(out / "seed-3/mil/checkpoints/last.ckpt").items()}
    from myovision.zeroshot.demo import new_model
    from myovision.zeroshot.config import DemoConfig

    reference = new_model(0, DemoConfig()).eval()
    reference.load_state_dict(trained)
    video = torch.randn(2, 2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encode_video(video), reference.encode_video(video))
        assert torch.equal(model.encode_texts(["a photo of blinking ball"]),
                           reference.encode_texts(["a photo of blinking ball"]))
    # a different configuration cannot resume the run, and nothing is overwritten
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run_quick_demo(out, "--epochs", "2", "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume with another configuration" in err[0] and "epochs: 1 -> 2" in err[0]
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert run_quick_demo(out) == 2 and "already holds a run" in capsys.readouterr().err


def test_demo_print_config_fed_back_reproduces_the_config(tmp_path, capsys):
    assert run_quick_demo(tmp_path / "x", "--precision", "bf16-mixed", "--print-config") == 0
    printed = capsys.readouterr().out
    assert "precision: bf16-mixed" in printed and "seeds: [3]" in printed and not (tmp_path / "x").exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert main(["zeroshot", "demo", "--config", str(tmp_path / "c.yaml"), "--print-config"]) == 0
    assert capsys.readouterr().out == printed


def test_warmup_override_replaces_only_the_recipes_schedule():
    """--warmup-epochs gives the myovision recipe (a constant lr) MAXI's warm-up + cosine, nothing else."""
    from dataclasses import replace

    from myovision.errors import InputError
    from myovision.zeroshot.config import MYOVISION, DemoConfig

    assert DemoConfig(recipe="myovision").mil_recipe() == MYOVISION
    assert DemoConfig(recipe="myovision", warmup_epochs=5).mil_recipe() == replace(MYOVISION, warmup_epochs=5)
    with pytest.raises(InputError, match="--warmup-epochs must be >= 0"):
        DemoConfig(recipe="myovision", warmup_epochs=-1).mil_recipe()
