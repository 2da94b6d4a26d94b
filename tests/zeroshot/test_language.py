"""`zeroshot captions` (BLIP) and `zeroshot phrases` (causal LM) on tiny random Hugging Face folders made here:
they write the files the text-bag builder reads."""

import pytest
import torch

from myovision.cli import main
from myovision.zeroshot.textbags import caption_file, phrase_file, read_captions, read_phrases
from tests.conftest import shared_path

transformers = pytest.importorskip("transformers")
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "is", "jumping", "running", "on", "the", "ball",
         "1", ".", "2", "hop", "leap", "\n", "generate", "phrases", "to", "describe", "action", "of", "in", "simple",
         "words", "5", "arm", "wrestling"]


def word_tokenizer(folder, **specials):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", **specials)


@pytest.fixture
def blip_folder(tmp_path):
    folder = tmp_path / "blip"
    common = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    config = transformers.BlipConfig(text_config=dict(common, vocab_size=len(WORDS), bos_token_id=2, sep_token_id=3,
                                                      pad_token_id=0, eos_token_id=3),
                                     vision_config=dict(common, image_size=32, patch_size=8), projection_dim=32)
    torch.manual_seed(0)
    transformers.BlipForConditionalGeneration(config).save_pretrained(folder)
    tokenizer = transformers.BertTokenizerFast(vocab_file=None, tokenizer_object=word_tokenizer(folder)._tokenizer,
                                               cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                                               mask_token="[MASK]", unk_token="[UNK]")
    image = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    transformers.BlipProcessor(image_processor=image, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture
def llm_folder(tmp_path):
    folder = tmp_path / "llm"
    config = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=128, n_embd=32, n_layer=1, n_head=2,
                                     bos_token_id=2, eos_token_id=3, pad_token_id=0)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    word_tokenizer(folder, eos_token="[SEP]", pad_token="[PAD]", bos_token="[CLS]").save_pretrained(folder)
    return folder


def test_captions_writes_eight_lines_per_video(tmp_path, blip_folder):
    video = shared_path("video-clips", "kinetics_arm_wrestling.mp4")
    (tmp_path / "videos.txt").write_text(f"{video}\n")
    out = tmp_path / "captions"
    assert main(["zeroshot", "captions", "--model", str(blip_folder), "--videos", str(tmp_path / "videos.txt"),
                 "--allow-outside-root", "--out", str(out)]) == 0  # the list names the shared clip by its absolute path
    captions = read_captions(caption_file(out, video))
    assert len(captions) == 8 and all(isinstance(c, str) and c for c in captions)


def test_phrases_writes_what_the_bag_builder_reads(tmp_path, llm_folder, capsys):
    (tmp_path / "dictionary.txt").write_text("arm wrestling\njumping\n")
    out = tmp_path / "phrases"
    args = ["zeroshot", "phrases", "--model", str(llm_folder), "--dictionary", str(tmp_path / "dictionary.txt"),
            "--out", str(out)]
    assert main(args) == 0
    first = {a: phrase_file(out, a).read_text() for a in ("arm wrestling", "jumping")}
    for action, text in first.items():
        assert len(text.splitlines()) <= 5 and read_phrases(phrase_file(out, action)) == text.splitlines()
    assert main(args) == 0  # seeded sampling: the same phrases again
    assert first == {a: phrase_file(out, a).read_text() for a in first}
    capsys.readouterr()
    assert main(["zeroshot", "phrases", "--model", str(tmp_path), "--dictionary", str(tmp_path / "dictionary.txt"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json is missing" in err[0]
