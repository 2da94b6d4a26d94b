import numpy as np
import torch

import myovision as mv
from myovision.training import fit_classifier


def toy_two_modalities(n=240, clips=3, seed=0):
    """Class = (a, b): modality "x" shows a, modality "y" shows b, so a fusion needs both."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 2, (n,), generator=g)
    b = torch.randint(0, 2, (n,), generator=g)
    y = 2 * a + b
    x = torch.randn(n, clips, 6, generator=g) * 0.5
    x[:, :, 0] += 3 * a[:, None]
    z = torch.randn(n, clips, 4, generator=g) * 0.5
    z[:, :, 0] += 3 * b[:, None]
    return {"x": x, "y": z}, y


def split(inputs, y, n):
    return {k: v[:n] for k, v in inputs.items()}, y[:n], {k: v[n:] for k, v in inputs.items()}, y[n:]


def test_fusion_model_learns_from_dict_batches(tmp_path):
    inputs, y = toy_two_modalities()
    x_tr, y_tr, x_te, y_te = split(inputs, y, 200)
    model = mv.create_model("mid_fusion", inputs={"x": 6, "y": 4}, num_classes=4)
    fit_classifier(model, x_tr, y_tr, x_te, y_te, epochs=20, batch_size=32, lr=1e-2, optimizer="adam",
                   out=tmp_path)
    with torch.no_grad():
        accuracy = (model(x_te).argmax(1) == y_te).float().mean()
    assert accuracy > 0.9  # chance 0.25; one modality alone caps at 0.5
    assert any(p.name == "metrics.csv" for p in tmp_path.rglob("*.csv"))


def test_learnable_fusion_weight_is_recorded_every_sgd_step():
    inputs, y = toy_two_modalities(n=96)
    model = mv.create_model("late_fusion", inputs={"x": 6, "y": 4}, num_classes=4, weighting="learnable")
    history = []
    fit_classifier(model, inputs, y, epochs=3, batch_size=32, lr=0.5, optimizer="sgd", weight_decay=1e-7,
                   weight_history=history)
    assert [step for step, _ in history] == list(range(1, 10))  # 3 batches x 3 epochs
    ps = [w["x"] for _, w in history]
    assert all(0.0 <= p <= 1.0 for p in ps) and len(set(ps)) > 1
    assert abs(history[-1][1]["x"] + history[-1][1]["y"] - 1.0) < 1e-6


def test_validation_selects_the_best_epoch_not_the_last():
    """With a learning rate that diverges late, the restored weights are the best validation epoch's."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(200, 5)), dtype=torch.float32)
    y = (x[:, 0] > 0).long()
    model = mv.create_model("feature_mlp", num_features=5, num_classes=2, hidden=(16,), dropout=0.0)
    model[0].fit(x)
    fit_classifier(model, x[:150], y[:150], x[150:], y[150:], epochs=8, lr=5e-2, seed=0)
    with torch.no_grad():
        val_acc = (model(x[150:]).argmax(1) == y[150:]).float().mean().item()
    assert val_acc >= 0.85


def test_patience_stops_when_validation_stops_improving(tmp_path):
    """Labels independent of the inputs: validation accuracy cannot keep improving, so training stops early."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(120, 5)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, 120))
    model = mv.create_model("feature_mlp", num_features=5, num_classes=2, hidden=(8,))
    fit_classifier(model, x[:80], y[:80], x[80:], y[80:], epochs=200, batch_size=40, patience=3,
                   out=tmp_path)
    import pandas as pd

    epochs = pd.read_csv(next(tmp_path.rglob("metrics.csv")))["epoch"].max()
    assert epochs < 50


def test_batch_loader_shuffles_whole_batches_deterministically():
    from myovision.training.classifier import SupervisedDataset, batch_loader

    x, y = torch.arange(70.0).reshape(35, 2), torch.arange(35)

    def epochs(seed):
        loader = batch_loader(SupervisedDataset({"a": x}, y), 8, shuffle=True, seed=seed, drop_last=True)
        batches = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            batches.append([(xb["a"], yb) for xb, yb in loader])
        return batches

    first, second = epochs(3)
    for batches in (first, second):
        assert [len(yb) for _, yb in batches] == [8, 8, 8, 8]  # drop_last: 35 -> 4 full batches
        seen = torch.cat([yb for _, yb in batches])
        assert len(set(seen.tolist())) == 32  # no sample twice in an epoch
        for xb, yb in batches:
            assert torch.equal(xb, x[yb])  # inputs and labels stay paired
    assert not torch.equal(torch.cat([yb for _, yb in first]), torch.cat([yb for _, yb in second]))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(epochs(3)[0], first))  # same seed, same order
