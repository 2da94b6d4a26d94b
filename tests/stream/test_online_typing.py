"""OnlineTyping: a typing run fed a session in random chunks gives the emissions and the LM beam-search text of
the whole session decoded at once; the `stream typing` command; a model that cannot stream is refused."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.cli import main
from myovision.data.charset import CHARSET
from myovision.data.emg2qwerty import read_session
from myovision.data.synthetic_typing import write_synthetic_typing
from myovision.decoding.lm import estimate_arpa
from myovision.emg_typing.config import DecodingOptions
from myovision.emg_typing.evaluate import decoders, session_log_probs, training_text_words
from myovision.emg_typing.online import OnlineTyping, load_online_typing
from myovision.errors import InputError
from myovision.registry import create_model
from myovision.runs import save_model

KWARGS = {"kernel_width": 8, "block_channels": [16]}
OPTIONS = DecodingOptions(beam_size=8)


@pytest.fixture(scope="module")
def typing_run(tmp_path_factory):
    """(run folder of an untrained small TDS model, ARPA LM of the typed words, a session, its offline text)."""
    root = tmp_path_factory.mktemp("typing")
    (path,) = write_synthetic_typing(root / "data", n_sessions=1, duration_s=15, seed=1)
    torch.manual_seed(0)
    model = create_model("tds_conv_ctc", **KWARGS).eval()
    save_model(root / "run", model, "tds_conv_ctc", KWARGS)
    lm = root / "lm.arpa"
    lm.write_text(estimate_arpa(training_text_words([path]), order=3))
    session = read_session(path)
    offline = decoders(OPTIONS, lm)["beam_lm"].decode(session_log_probs(model, session))
    return root / "run", lm, session, CHARSET.labels_to_str(offline)


BACKENDS = ["torch", pytest.param("onnxruntime", marks=pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="the onnx extra is not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=3, deadline=None)
@given(st.lists(st.integers(1, 15 * 2000 - 1), max_size=25))
def test_online_text_equals_the_offline_decode_of_the_whole_session(typing_run, backend, cuts):
    run, lm, session, offline_text = typing_run
    online = load_online_typing(run, options=OPTIONS, lm=lm, backend=backend)
    x = session.emg().reshape(session.n_samples, -1)  # (T, 2 * 16), left band first
    cuts = [0, *sorted(set(cuts)), len(x)]
    records = [r for a, b in zip(cuts, cuts[1:]) for r in online.push(x[a:b])]
    final = online.finish()[0]
    assert offline_text and final["text"] == offline_text and final["final"]
    assert final["frames"] == len(session_log_probs(online.model, session))
    assert all(not r["final"] for r in records)


@pytest.mark.parametrize("backend", BACKENDS)
def test_emissions_in_chunks_equal_the_whole_sessions(typing_run, backend):
    run, lm, session, _ = typing_run
    online = load_online_typing(run, options=OPTIONS, backend=backend)
    x = session.emg().reshape(session.n_samples, -1)
    chunks = [online.emissions(x[i:i + 100]) for i in range(0, len(x), 100)]  # 50 ms chunks
    np.testing.assert_allclose(np.concatenate([c for c in chunks if len(c)]), session_log_probs(online.model, session),
                               atol=1e-5)
    assert online.summary()["backend"] == backend and (online.onnx_context is not None) == (backend == "onnxruntime")


def test_stream_typing_replays_a_session_to_the_offline_text(typing_run, capsys):
    run, lm, session, offline_text = typing_run
    assert main(["stream", "typing", "--model", str(run), "--lm", str(lm), "--beam-size", "8", "--source",
                 f"replay:{session.path}", "--as-fast-as-possible"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-2]["final"] and lines[-2]["text"] == offline_text == lines[-1]["summary"]["text"]
    assert lines[-1]["summary"]["chunks"] == 15 * 20  # 50 ms chunks


def test_a_model_that_is_not_time_local_is_refused_in_one_line():
    model = create_model("tds_bilstm_ctc", mlp=16, rnn_hidden=8, rnn_layers=1, block_channels=(8,), kernel_width=4)
    with pytest.raises(InputError, match="not time-local") as info:
        OnlineTyping(model.eval(), decoders(OPTIONS)["beam"])
    assert "\n" not in str(info.value)


def test_an_unknown_backend_is_refused_in_one_line(typing_run):
    with pytest.raises(InputError, match="unknown backend 'tensorrt'"):
        load_online_typing(typing_run[0], options=OPTIONS, backend="tensorrt")


def test_onnxruntime_for_a_model_not_float32_on_the_cpu_is_refused_in_one_line():
    """ONNX Runtime runs the exported float32 CPU step; a float64 model (as a GPU one) would silently change."""
    model = create_model("tds_conv_ctc", **KWARGS).double().eval()
    with pytest.raises(InputError, match="torch.float64 on cpu: use the torch backend") as info:
        OnlineTyping(model, decoders(OPTIONS)["beam"], backend="onnxruntime")
    assert "\n" not in str(info.value)
    assert OnlineTyping(model, decoders(OPTIONS)["beam"], backend="auto").backend == "torch"
