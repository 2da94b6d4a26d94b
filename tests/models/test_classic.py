import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import myovision as mv


def test_lda_scores_are_gaussian_log_posteriors_with_pooled_covariance():
    """Scores equal log N(x; mean_k, S) + log prior_k (up to a per-row constant), S the pooled covariance."""
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    y = rng.integers(0, 3, 20000)
    x = means[y] + rng.multivariate_normal(np.zeros(2), cov, len(y))
    lda = mv.create_model("lda", num_features=2, num_classes=3, shrinkage=0.0).fit(torch.tensor(x), torch.tensor(y))
    grid = rng.normal(size=(50, 2)) * 2
    est = np.stack([x[y == k].mean(0) for k in range(3)])
    pooled = sum((x[y == k] - est[k]).T @ (x[y == k] - est[k]) for k in range(3)) / (len(x) - 3)
    inv = np.linalg.inv(pooled)
    log_lik = np.stack([-0.5 * np.einsum("ni,ij,nj->n", grid - m, inv, grid - m) for m in est], 1)
    log_post = log_lik + np.log(np.bincount(y) / len(y))
    ours = lda(torch.tensor(grid)).double().numpy()
    diff = (ours - ours[:, :1]) - (log_post - log_post[:, :1])  # compare up to a per-row constant
    assert np.abs(diff).max() < 1e-5
    assert np.abs(est - means).max() < 0.05 and np.abs(pooled - cov).max() < 0.05


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.5, 50.0))
def test_lda_predictions_do_not_change_with_feature_scale(seed, scale):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 30)
    x = rng.normal(size=(90, 4)) + y[:, None]
    a = mv.create_model("lda", num_features=4, num_classes=3, shrinkage=0.0).fit(torch.tensor(x), torch.tensor(y))
    b = mv.create_model("lda", num_features=4, num_classes=3, shrinkage=0.0).fit(torch.tensor(x * scale), torch.tensor(y))
    assert torch.equal(a(torch.tensor(x)).argmax(1), b(torch.tensor(x * scale)).argmax(1))


def test_lda_never_predicts_a_class_it_did_not_see():
    rng = np.random.default_rng(1)
    y = np.array([0, 2] * 20)
    x = rng.normal(size=(40, 3)) + y[:, None]
    lda = mv.create_model("lda", num_features=3, num_classes=3).fit(torch.tensor(x), torch.tensor(y))
    scores = lda(torch.tensor(rng.normal(size=(200, 3)) * 5))
    assert torch.all(torch.isneginf(scores[:, 1])) and torch.isfinite(scores[:, [0, 2]]).all()
