"""Prompts, dictionary matching, MIL-NCE and evaluation with cached class embeddings."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from myovision.errors import InputError
from myovision.zeroshot import evaluate
from myovision.zeroshot.dictionary import match_dictionary, read_class_names
from myovision.zeroshot.mil import symmetric_mil_nce_loss as mil_nce_loss
from myovision.zeroshot.prompts import KINETICS_TEMPLATES, class_embeddings


class BagOfWordsModel(torch.nn.Module):
    """A stand-in text/video model: a text embeds as the sum of fixed word vectors; counts its text calls."""

    def __init__(self, words=("jump", "swim", "run", "photo", "video", "a", "of")):
        super().__init__()
        torch.manual_seed(0)
        self.words = {w: i for i, w in enumerate(words)}
        self.text_model = torch.nn.Embedding(len(words), 16)
        self.calls = 0

    def encode_texts(self, texts):
        self.calls += 1
        rows = []
        for t in texts:
            idx = [self.words[w] for w in t.lower().replace(".", " ").split() if w in self.words]
            rows.append(self.text_model.weight[idx].sum(0))
        return F.normalize(torch.stack(rows), dim=-1)

    def encode_video(self, video):  # a "video" is already its embedding
        return F.normalize(video.mean(1), dim=-1)


def test_kinetics_templates_and_ensembling():
    assert len(set(KINETICS_TEMPLATES)) == 28 and all(t.count("{}") == 1 for t in KINETICS_TEMPLATES)
    model = BagOfWordsModel()
    ens = class_embeddings(model, ["jump"], ["a photo of {}.", "a video of {}."])
    a, b = model.encode_texts(["a photo of jump."]), model.encode_texts(["a video of jump."])
    assert torch.allclose(ens, F.normalize(a + b, dim=-1), atol=1e-6)


def test_dictionary_matching_picks_the_nearest_entry(tmp_path):
    model = BagOfWordsModel()
    names = ["jump", "swim", "run"]
    video = class_embeddings(model, names, KINETICS_TEMPLATES)[[2, 0]] + 0.01 * torch.randn(2, 16)
    match = match_dictionary(model, F.normalize(video, dim=-1), names)
    assert match.text == ["run", "jump"] and match.index.tolist() == [2, 0]
    (tmp_path / "classes.txt").write_text("# ucf\nApplyEyeMakeup\nkick_ball\n\n")
    assert read_class_names(tmp_path / "classes.txt") == ["ApplyEyeMakeup", "kick ball"]
    (tmp_path / "twice.txt").write_text("run\nrun\n")
    with pytest.raises(InputError, match="twice"):
        read_class_names(tmp_path / "twice.txt")


@pytest.mark.real
def test_kinetics_dictionary_reads(shared_data):
    path = shared_data / "video-clips" / "label_map_k400.txt"
    if not path.is_file():
        pytest.skip(f"real data not available: {path} is absent")
    names = read_class_names(path)
    assert len(names) == 400 and names[:2] == ["abseiling", "air drumming"]


def test_symmetric_mil_nce_prefers_the_right_bags_and_reduces_to_nce():
    torch.manual_seed(0)
    video = F.normalize(torch.randn(4, 8), dim=-1)
    own = F.normalize(video[:, None] + 0.1 * torch.randn(4, 3, 8), dim=-1)  # bags near their video
    scale = torch.tensor(2.0)
    assert mil_nce_loss(video, own, scale) < mil_nce_loss(video, own.roll(1, dims=0), scale)
    assert torch.allclose(mil_nce_loss(video, own, scale), mil_nce_loss(video, own.flip(1), scale))  # a bag is a set
    # one text per video: -log of its share of every row and column pair
    one = own[:, :1]
    s = scale.exp() * video @ one[:, 0].T
    manual = torch.stack([torch.logsumexp(torch.cat([s[i], s[:, i][torch.arange(4) != i]]), 0) - s[i, i]
                          for i in range(4)]).mean()
    assert torch.allclose(mil_nce_loss(video, one, scale), manual, atol=1e-6)


def test_class_embeddings_are_cached_in_memory_and_on_disk(tmp_path):
    model = BagOfWordsModel()
    first = evaluate.cached_class_embeddings(model, ["jump", "swim"], cache_dir=tmp_path)
    again = evaluate.cached_class_embeddings(model, ["jump", "swim"], cache_dir=tmp_path)
    assert model.calls == 1 and torch.equal(first, again) and len(list(tmp_path.glob("text-*.safetensors"))) == 1
    evaluate._MEMORY.clear()
    assert torch.equal(evaluate.cached_class_embeddings(model, ["jump", "swim"], cache_dir=tmp_path), first)
    assert model.calls == 1  # read from disk
    with torch.no_grad():
        model.text_model.weight.add_(1.0)  # new text weights: new embeddings
    evaluate.cached_class_embeddings(model, ["jump", "swim"], cache_dir=tmp_path)
    assert model.calls == 2


def test_top_k_and_map():
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])
    m = evaluate.classification_metrics(scores, [0, 1, 1])
    assert m["top1"] == pytest.approx(2 / 3) and m["correct"] == 2 and m["num_videos"] == 3
    assert "top5" not in m  # top-k only where k <= classes / 4
    wide = torch.zeros(3, 20)
    wide[:, :5] = torch.tensor([5.0, 4, 3, 2, 1])
    m = evaluate.classification_metrics(wide, [0, 4, 5])
    assert m["top1"] == pytest.approx(1 / 3) and m["top5"] == pytest.approx(2 / 3) and m["top5_correct"] == 2
    targets = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 0]])
    # class 0: AP 1; class 1: ranks 1 (hit), 2 (hit) -> 1; class 2: rank 1 -> 1
    assert evaluate.mean_average_precision(scores.numpy(), targets) == pytest.approx(1.0)
    assert evaluate.mean_average_precision(-scores.numpy(), targets) == pytest.approx((1 / 3 + (1 / 2 + 2 / 3) / 2 + 1 / 3) / 3)
