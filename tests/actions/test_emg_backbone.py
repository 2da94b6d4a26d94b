"""The sEMG backbone: the paper's 2D CNN trained on clip mel-spectrograms, cut after fc1."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from myovision import create_model
from myovision.errors import InputError
from myovision.actions.backbone import (BACKBONE_RECIPES, CONFIG_FILE, LOG_EPS, WEIGHTS_FILE, EmgBackbone, raw_clip_features,
                                           train_emg_backbone)

MYOVISION = BACKBONE_RECIPES["myovision"]
C, MELS, FRAMES, K, CLIPS = 4, 6, 9, 4, 5  # toy actions: 5 clips of 4 channels x 6 mel bands x 9 frames; 4 classes


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread (and do not fight a busy machine's other processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_actions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5, C, MELS, FRAMES) mel power and (n,) labels: class k lifts mel band 2k mod MELS of channel k
    by e^2.5 in power; every action also has a random overall gain (log-std 2, like amplitude differences
    between subjects), per-band offsets and per-frame noise. The gain dominates raw distances, so only a
    network that learned to compare bands separates the classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    log_power = (rng.normal(0, 2.0, (n, 1, 1, 1, 1)) + rng.normal(0, 0.5, (n, 1, C, MELS, 1))
                 + rng.normal(0, 0.5, (n, CLIPS, C, MELS, FRAMES)))
    for k in range(K):
        log_power[y == k, :, k % C, (2 * k) % MELS, :] += 2.5
    return np.exp(log_power).astype(np.float32), y


def nearest_centroid_accuracy(train_emb, train_y, test_emb, test_y) -> float:
    """Actions as the mean of their clip embeddings; class centroids from training actions."""
    a, b = train_emb.mean(1), test_emb.mean(1)  # (N, D)
    centroids = np.stack([a[train_y == k].mean(0) for k in range(K)])
    predicted = ((b[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return float((predicted == test_y).mean())


@pytest.fixture(scope="module")
def trained(one_thread):
    x, y = toy_actions(48, seed=0)
    val = toy_actions(32, seed=1)
    backbone = train_emg_backbone(x, y, K, val=val, epochs=12, seed=0, embed_dim=64,
                                  recipe=replace(MYOVISION, batch_size=32, lr=3e-3))
    return backbone, (x, y), val


def test_trained_embeddings_separate_held_out_classes_far_better_than_random_init(trained):
    backbone, (x, y), _ = trained
    x_test, y_test = toy_actions(80, seed=2)
    torch.manual_seed(123)
    untrained = EmgBackbone(create_model("emg_cnn", in_channels=C, num_classes=K, input_size=(MELS, FRAMES),
                                         embed_dim=64), backbone.mean, backbone.std)
    acc_trained = nearest_centroid_accuracy(backbone.embed(x), y, backbone.embed(x_test), y_test)
    acc_random = nearest_centroid_accuracy(untrained.embed(x), y, untrained.embed(x_test), y_test)
    assert acc_trained >= 0.8, (acc_trained, acc_random)
    assert acc_trained - acc_random >= 0.3, (acc_trained, acc_random)


def test_normalisation_is_log_power_standardised_with_training_statistics_only(trained):
    backbone, (x, _), _ = trained
    logged = np.log(x.reshape(-1, C, MELS, FRAMES).astype(np.float64) + LOG_EPS)  # (N*clips, C, mels, frames)
    np.testing.assert_allclose(backbone.mean, logged.mean(axis=(0, 3)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(backbone.std, logged.std(axis=(0, 3)), rtol=1e-5, atol=1e-5)
    z = backbone.normalise(x).reshape(-1, C, MELS, FRAMES)
    np.testing.assert_allclose(z.mean(axis=(0, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 3)), 1.0, atol=1e-4)


def test_embed_is_post_relu_fc1_output_of_the_paper_sized_cnn():
    # ActionSense clip shape and the paper's 1024-d cut
    rng = np.random.default_rng(0)
    x = rng.gamma(1.0, 1e-3, (6, CLIPS, 16, 10, 81)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    backbone = train_emg_backbone(x, y, 3, epochs=1, seed=0, recipe=replace(MYOVISION, batch_size=16))
    emb = backbone.embed(x, batch_size=7)
    assert emb.shape == (6, CLIPS, 1024) and emb.dtype == np.float32

    cnn = backbone.cnn.eval()
    inputs = (np.log(x + LOG_EPS) - backbone.mean[:, :, None]) / backbone.std[:, :, None]
    inputs = torch.from_numpy(inputs.reshape(-1, 16, 10, 81).astype(np.float32))  # (N*clips, 16, 10, 81)
    with torch.no_grad():
        expected = cnn.embed(inputs)
        linear = cnn.fc1[1]
        by_hand = torch.relu(linear(cnn.features(inputs).flatten(1)))
        logits = cnn(inputs)
    assert linear.out_features == 1024
    np.testing.assert_allclose(emb.reshape(-1, 1024), expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(emb.reshape(-1, 1024), by_hand.numpy(), rtol=1e-4, atol=1e-5)
    assert (emb >= 0).all() and (emb == 0).any()  # post-ReLU
    # the cut drops exactly the last layer: fc2 of the embedding gives the class scores
    np.testing.assert_allclose(cnn.fc2(torch.from_numpy(emb.reshape(-1, 1024))).detach().numpy(), logits.numpy(),
                               rtol=1e-4, atol=1e-4)


def test_embed_shapes_batches_and_bad_input(trained):
    backbone, (x, _), _ = trained
    emb = backbone.embed(x[:5])
    assert emb.shape == (5, CLIPS, 64) and emb.dtype == np.float32
    np.testing.assert_allclose(backbone.embed(x[:5], batch_size=3), emb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(backbone.embed(x[2:3]), emb[2:3], rtol=1e-5, atol=1e-6)
    assert backbone.embed(x[:0]).shape == (0, CLIPS, 64)
    with pytest.raises(InputError, match="trained on"):
        backbone.embed(x[:, :, :, :, :-1])
    with pytest.raises(InputError, match="channels, mels, frames"):
        backbone.embed(x[0])
    bad = x[:2].copy()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        backbone.embed(bad)


def test_training_rejects_bad_input():
    x, y = toy_actions(4, seed=0)
    with pytest.raises(InputError, match="must lie in"):
        train_emg_backbone(x, np.array([0, 1, 2, K]), K, epochs=1)
    with pytest.raises(InputError, match=r"\(4,\) integers"):
        train_emg_backbone(x, y[:3], K, epochs=1)
    with pytest.raises(InputError, match="val mel_clips"):
        train_emg_backbone(x, y, K, val=(x[:, :4], y), epochs=1)


def test_training_is_deterministic_per_seed(trained):
    x, y = toy_actions(16, seed=5)
    runs = [train_emg_backbone(x, y, K, epochs=2, seed=s, embed_dim=32,
                               recipe=replace(MYOVISION, batch_size=16)) for s in (7, 7, 8)]
    a, b, c = (run.embed(x) for run in runs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_save_load_round_trip_gives_identical_embeddings(trained, tmp_path):
    backbone, (x, _), _ = trained
    folder = backbone.save(tmp_path / "emg")
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE])
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["embed_dim"] == 64 and config["log_power"] is True and config["training"]["seed"] == 0
    loaded = EmgBackbone.load(folder)
    np.testing.assert_array_equal(loaded.embed(x), backbone.embed(x))
    np.testing.assert_array_equal(loaded.mean, backbone.mean)
    assert loaded.log_power == backbone.log_power and loaded.log_eps == backbone.log_eps


def test_load_refuses_missing_or_tampered_files(trained, tmp_path):
    backbone, _, _ = trained
    folder = backbone.save(tmp_path / "emg")
    weights, config = folder / WEIGHTS_FILE, folder / CONFIG_FILE
    original_weights, original_config = weights.read_bytes(), config.read_text()

    data = bytearray(original_weights)
    data[-5] ^= 0xFF  # one weight altered; the file still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match=WEIGHTS_FILE) as err:
        EmgBackbone.load(folder)
    assert "SHA-256" in str(err.value)

    weights.write_bytes(original_weights[: len(original_weights) // 2])  # truncated
    with pytest.raises(InputError, match=WEIGHTS_FILE):
        EmgBackbone.load(folder)

    weights.unlink()
    with pytest.raises(InputError, match=f"{WEIGHTS_FILE}: backbone weights not found"):
        EmgBackbone.load(folder)
    weights.write_bytes(original_weights)

    config.write_text("{not json")
    with pytest.raises(InputError, match=CONFIG_FILE):
        EmgBackbone.load(folder)
    wrong = json.loads(original_config)
    wrong["embed_dim"] = 32  # config no longer fits the weights
    config.write_text(json.dumps(wrong))
    with pytest.raises(InputError, match=f"{WEIGHTS_FILE}: weights do not fit"):
        EmgBackbone.load(folder)
    config.unlink()
    with pytest.raises(InputError, match=f"{CONFIG_FILE}: backbone config not found"):
        EmgBackbone.load(folder)


def test_raw_clip_features_flatten_each_clip_time_major():
    rng = np.random.default_rng(0)
    emg = rng.normal(size=(3, CLIPS, 160, 16))
    features = raw_clip_features(emg)
    assert features.shape == (3, CLIPS, 2560) and features.dtype == np.float32
    np.testing.assert_array_equal(features[0, 0, :16], emg[0, 0, 0].astype(np.float32))  # first sample, 16 channels
    np.testing.assert_array_equal(features[2, 4, 16:32], emg[2, 4, 1].astype(np.float32))
    np.testing.assert_array_equal(features, emg.reshape(3, CLIPS, -1).astype(np.float32))
    with pytest.raises(InputError, match="samples, channels"):
        raw_clip_features(emg[0])
    emg[1, 2, 3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        raw_clip_features(emg)


def test_paper_recipe_is_sgd_on_mel_power(monkeypatch):
    """--recipe paper: SGD (lr 0.01, momentum 0.9, weight decay 1e-7, batch 32) on mel power without a log."""
    import myovision.training as training

    seen = {}
    real = training.fit_classifier

    def spy(model, x, y, *args, **kwargs):
        seen.update(kwargs)
        return real(model, x, y, *args, **kwargs)

    monkeypatch.setattr(training, "fit_classifier", spy)
    x, y = toy_actions(8, seed=0)
    backbone = train_emg_backbone(x, y, K, epochs=1, seed=0, recipe="paper")
    assert {k: seen[k] for k in ("optimizer", "lr", "momentum", "weight_decay", "batch_size")} == {
        "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-7, "batch_size": 32}
    assert not backbone.log_power
    flat = x.reshape(-1, C, MELS, FRAMES).astype(np.float64)  # power, standardised per (channel, band)
    np.testing.assert_allclose(backbone.mean, flat.mean(axis=(0, 3)), rtol=1e-5, atol=1e-7)
    with pytest.raises(InputError, match="unknown sEMG CNN recipe"):
        train_emg_backbone(x, y, K, epochs=1, recipe="adam")
