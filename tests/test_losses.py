"""Tests of the loss terms in scdeepclust.module.losses against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from scdeepclust.module.losses import (
    cannot_link_loss,
    kl_divergence,
    log_soft_assign,
    must_link_loss,
    target_distribution,
    zinb_nll,
    zinb_nll_mean,
    zinb_nll_mean_sparse,
)

# ---------------------------------------------------------------------------
# ZINB negative log-likelihood
# ---------------------------------------------------------------------------

COUNTS = np.array([0, 1, 2, 3, 5, 10, 50, 100, 500, 1000], dtype=np.float64)
MEANS = np.array([1e-3, 0.1, 1.0, 5.0, 50.0, 1000.0], dtype=np.float64)
THETAS = np.array([1e-3, 0.1, 1.0, 10.0, 1e3, 1e4], dtype=np.float64)


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, mu, theta = np.meshgrid(COUNTS, MEANS, THETAS, indexing="ij")
    return x.ravel(), mu.ravel(), theta.ravel()


def _nb_logpmf(x: np.ndarray, mu: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return stats.nbinom.logpmf(x, n=theta, p=theta / (theta + mu))


def _t(a, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def test_zinb_without_dropout_is_negative_binomial():
    x, mu, theta = _grid()
    logits = np.full_like(x, -30.0)  # pi = sigmoid(-30) ~ 1e-13
    nll = zinb_nll(_t(x), _t(mu), _t(theta), _t(logits)).numpy()
    expected = -_nb_logpmf(x, mu, theta)
    assert np.all(np.isfinite(expected))
    # pi ~ 1e-13 is negligible unless NB(0) itself is smaller (x = 0 with -log NB(0) > 30,
    # where the zero-inflation rightly caps the NLL at -log pi = 30; covered below)
    relevant = (x > 0) | (expected < 20.0)
    assert relevant.mean() > 0.95
    np.testing.assert_allclose(nll[relevant], expected[relevant], rtol=1e-4, atol=1e-6)
    assert np.all(nll[~relevant] <= 30.0 + 1e-6)


def test_zinb_without_dropout_float32_is_finite_and_close():
    x, mu, theta = _grid()
    logits = np.full_like(x, -30.0)
    nll = zinb_nll(*(_t(a, torch.float32) for a in (x, mu, theta, logits)))
    assert nll.dtype == torch.float32
    assert torch.isfinite(nll).all()
    expected = -_nb_logpmf(x, mu, theta)
    relevant = (x > 0) | (expected < 20.0)  # see the float64 test
    # float32 loses digits in lgamma differences; still close in absolute terms
    np.testing.assert_allclose(nll.numpy()[relevant], expected[relevant], rtol=1e-3, atol=0.05)


@pytest.mark.parametrize("logit", [-30.0, -3.0, -0.5, 0.0, 1.5, 4.0])
def test_zinb_zero_inflated_by_hand(logit):
    x, mu, theta = _grid()
    logits = np.full_like(x, logit)
    pi = 1.0 / (1.0 + np.exp(-logit))
    nll = zinb_nll(_t(x), _t(mu), _t(theta), _t(logits)).numpy()
    log_nb0 = theta * (np.log(theta) - np.log(theta + mu))  # log (theta / (theta + mu))^theta
    zero = -np.log(pi + (1.0 - pi) * np.exp(log_nb0))
    # the same, without underflow of NB(0) for large theta * log(1 + mu / theta)
    zero_stable = -np.logaddexp(np.log(pi), np.log1p(-pi) + log_nb0)
    ok = np.isfinite(zero) & (np.exp(log_nb0) > 1e-300)
    np.testing.assert_allclose(zero[ok], zero_stable[ok], rtol=1e-10)
    expected = np.where(x == 0, zero_stable, -np.log1p(-pi) - _nb_logpmf(x, mu, theta))
    np.testing.assert_allclose(nll, expected, rtol=1e-4, atol=1e-6)


def _random_zinb(seed: int = 0, shape=(40, 30), dtype=torch.float32):
    rng = np.random.default_rng(seed)
    mu = rng.lognormal(0.0, 1.5, size=shape)
    theta = rng.lognormal(0.0, 1.5, size=shape)
    logits = rng.normal(0.0, 2.0, size=shape)
    x = rng.negative_binomial(theta, theta / (theta + mu)).astype(np.float64)
    x[rng.random(shape) < 0.85] = 0.0  # about 90 % zeros
    return tuple(_t(a, dtype) for a in (x, mu, theta, logits))


def _sparse_args(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    nz = torch.nonzero(x.flatten() > 0).squeeze(1)
    return nz, x.flatten()[nz]


def _sparse_mean(x, mean, dispersion, dropout_logits):
    return zinb_nll_mean_sparse(*_sparse_args(x), mean, dispersion, dropout_logits)


MEAN_FNS = [
    pytest.param(_sparse_mean, id="sparse"),
    pytest.param(zinb_nll_mean, id="dense"),
]


@pytest.mark.parametrize("mean_fn", MEAN_FNS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_zinb_means_equal_elementwise_mean(mean_fn, dtype):
    x, mu, theta, logits = _random_zinb(dtype=dtype)
    assert (x == 0).float().mean() > 0.85
    ref = zinb_nll(x, mu, theta, logits).mean()
    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(mean_fn(x, mu, theta, logits), ref, rtol=rtol, atol=0)


@pytest.mark.parametrize("mean_fn", MEAN_FNS)
def test_zinb_mean_all_zero_and_all_nonzero(mean_fn):
    _, mu, theta, logits = _random_zinb(seed=1, dtype=torch.float64)
    for x in (torch.zeros_like(mu), torch.ones_like(mu) * 3.0):
        ref = zinb_nll(x, mu, theta, logits).mean()
        torch.testing.assert_close(mean_fn(x, mu, theta, logits), ref)


def _grads(fn, x, mu, theta, logits):
    params = [t.clone().requires_grad_(True) for t in (mu, theta, logits)]
    value = fn(x, *params)
    return value.detach(), torch.autograd.grad(value, params)


@pytest.mark.parametrize("mean_fn", MEAN_FNS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_zinb_mean_gradients_equal_elementwise(mean_fn, dtype):
    x, mu, theta, logits = _random_zinb(seed=2, dtype=dtype)
    ref_value, ref_grads = _grads(lambda *a: zinb_nll(*a).mean(), x, mu, theta, logits)
    rtol, atol = (1e-4, 1e-8) if dtype == torch.float32 else (1e-9, 1e-14)
    value, grads = _grads(mean_fn, x, mu, theta, logits)
    torch.testing.assert_close(value, ref_value, rtol=rtol, atol=atol)
    for g, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref, rtol=rtol, atol=atol)


def _extreme_grid():
    """theta 1e4 / 1e-4, mu 1e6 / 1e-5, logits +-30, counts 0..5000, all in float32."""
    values = {
        "x": [0.0, 1.0, 7.0, 5000.0],
        "mu": [1e-5, 1.0, 1e6],
        "theta": [1e-4, 1.0, 1e4],
        "logits": [-30.0, 0.0, 30.0],
    }
    grids = np.meshgrid(*values.values(), indexing="ij")
    return tuple(_t(g.ravel(), torch.float32) for g in grids)


def test_zinb_extreme_inputs_are_finite():
    x, mu, theta, logits = _extreme_grid()
    params = [t.clone().requires_grad_(True) for t in (mu, theta, logits)]
    nll = zinb_nll(x, *params)
    assert torch.isfinite(nll).all()
    nll.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in params)


@pytest.mark.parametrize("mean_fn", MEAN_FNS)
def test_zinb_mean_extreme_inputs_are_finite(mean_fn):
    x, mu, theta, logits = _extreme_grid()
    ref_value, _ = _grads(lambda *a: zinb_nll(*a).mean(), x, mu, theta, logits)
    value, grads = _grads(mean_fn, x, mu, theta, logits)
    assert torch.isfinite(value)
    assert all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(value, ref_value, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------
# Soft assignment, target distribution, KL
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_log_soft_assign_matches_student_t(alpha):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(50, 6))
    centers = rng.normal(size=(4, 6)) * 2.0
    log_q = log_soft_assign(_t(z), _t(centers), alpha).numpy()
    np.testing.assert_allclose(np.exp(log_q).sum(axis=1), 1.0, rtol=1e-12)
    d2 = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    kernel = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    q = kernel / kernel.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(log_q), q, rtol=1e-8, atol=1e-12)
    # float32, far from every centre: still normalised and finite
    log_q32 = log_soft_assign(_t(z * 1e3, torch.float32), _t(centers, torch.float32), alpha)
    assert torch.isfinite(log_q32).all()
    torch.testing.assert_close(log_q32.exp().sum(dim=1), torch.ones(50), rtol=1e-5, atol=1e-5)


def _random_q(seed: int, n: int = 60, k: int = 5) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.softmax(_t(rng.normal(scale=1.5, size=(n, k))), dim=1)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -torch.xlogy(p, p).sum(dim=1)


def test_target_distribution_normalised_and_sharper():
    q = _random_q(4)
    p = target_distribution(q)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(len(q), dtype=p.dtype))
    # direct formula
    w = q.numpy() ** 2 / q.numpy().sum(axis=0)
    np.testing.assert_allclose(p.numpy(), w / w.sum(axis=1, keepdims=True), rtol=1e-12)
    # sharper than q: on average higher peak and lower entropy; the argmax of p's row is the
    # argmax of q's when cluster frequencies are equal-ish
    assert p.max(dim=1).values.mean() > q.max(dim=1).values.mean()
    assert _entropy(p).mean() < _entropy(q).mean()
    # with balanced clusters (equal column sums) every row gets sharper
    k = 4
    base = torch.softmax(_t(np.random.default_rng(5).normal(size=(10, k))), dim=1)
    balanced = torch.cat([base.roll(s, dims=1) for s in range(k)])  # all column sums equal
    pb = target_distribution(balanced)
    assert torch.all(pb.max(dim=1).values >= balanced.max(dim=1).values - 1e-12)
    assert torch.all(_entropy(pb) <= _entropy(balanced) + 1e-12)


def test_target_distribution_in_place_gives_the_same_p():
    q = _random_q(5).float()
    p = target_distribution(q)
    q_again = q.clone()
    p_inplace = target_distribution(q_again, inplace=True)
    assert p_inplace.data_ptr() == q_again.data_ptr()  # no second matrix
    assert torch.equal(p, p_inplace)


def test_kl_divergence_properties():
    q = _random_q(6)
    p = target_distribution(q)
    assert kl_divergence(p, q.log()) >= 0
    assert abs(float(kl_divergence(p, p.log()))) < 1e-12
    expected = (p * (p.log() - q.log())).sum(dim=1).mean()
    torch.testing.assert_close(kl_divergence(p, q.log()), expected)
    # p exactly 0 where q is tiny (log q = -200): finite value and gradient
    p0 = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], dtype=torch.float32)
    log_q = torch.tensor([[0.0, -200.0, -200.0], [-0.6931, -0.6931, -200.0]])
    log_q.requires_grad_(True)
    kl = kl_divergence(p0, log_q)
    assert torch.isfinite(kl)
    assert float(kl.detach()) >= -1e-4
    (grad,) = torch.autograd.grad(kl, log_q)
    assert torch.isfinite(grad).all()
    # KL >= 0 for random pairs of distributions
    for seed in range(5):
        a, b = _random_q(10 + seed), _random_q(20 + seed)
        assert float(kl_divergence(a, b.log())) >= 0


# ---------------------------------------------------------------------------
# Pairwise constraint losses
# ---------------------------------------------------------------------------


def _log_onehot(labels, k: int, gap: float = 1e4, dtype=torch.float32) -> torch.Tensor:
    """log q of (numerically) one-hot soft assignments, as log_softmax would give them."""
    logits = torch.zeros(len(labels), k, dtype=dtype)
    logits[torch.arange(len(labels)), torch.as_tensor(labels)] = gap
    return torch.log_softmax(logits, dim=1)


def _pair_losses_numpy(log_qi: np.ndarray, log_qj: np.ndarray, eps: float = 1e-7):
    same = np.exp(logsumexp(log_qi + log_qj, axis=1)).clip(eps, 1.0 - eps)
    return -np.log(same).mean(), -np.log1p(-same).mean()


def test_pair_losses_match_numpy():
    rng = np.random.default_rng(7)
    log_qi = torch.log_softmax(_t(rng.normal(scale=2.0, size=(30, 6))), dim=1)
    log_qj = torch.log_softmax(_t(rng.normal(scale=2.0, size=(30, 6))), dim=1)
    ml, cl = _pair_losses_numpy(log_qi.numpy(), log_qj.numpy())
    q_i, q_j = log_qi.exp().numpy(), log_qj.exp().numpy()
    same = (q_i * q_j).sum(axis=1)
    np.testing.assert_allclose(ml, -np.log(same).mean(), rtol=1e-12)
    np.testing.assert_allclose(float(must_link_loss(log_qi, log_qj)), ml, rtol=1e-10)
    np.testing.assert_allclose(float(cannot_link_loss(log_qi, log_qj)), cl, rtol=1e-10)


@pytest.mark.parametrize("gap", [30.0, 1e4])
def test_pair_losses_finite_at_extremes(gap):
    k = 4
    same_i, same_j = _log_onehot([0, 1, 2], k, gap), _log_onehot([0, 1, 2], k, gap)
    diff_i, diff_j = _log_onehot([0, 1, 2], k, gap), _log_onehot([1, 2, 3], k, gap)
    ml_same, cl_same = must_link_loss(same_i, same_j), cannot_link_loss(same_i, same_j)
    ml_diff, cl_diff = must_link_loss(diff_i, diff_j), cannot_link_loss(diff_i, diff_j)
    for v in (ml_same, cl_same, ml_diff, cl_diff):
        assert torch.isfinite(v)
    assert float(ml_same) < 1e-5  # same cluster: must-link satisfied
    assert float(cl_diff) < 1e-5  # different clusters: cannot-link satisfied
    assert float(cl_same) > 10.0  # large (-log 1e-7 ~ 16) but finite
    assert float(ml_diff) > 10.0

    for fn in (must_link_loss, cannot_link_loss):
        for a, b in ((same_i, same_j), (diff_i, diff_j)):
            a, b = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
            grads = torch.autograd.grad(fn(a, b), (a, b))
            assert all(torch.isfinite(g).all() for g in grads)


def test_pair_losses_gradient_through_log_softmax():
    """Gradients reach the logits and point the right way (must-link pulls pairs together)."""
    rng = np.random.default_rng(8)
    logits_i = _t(rng.normal(size=(20, 5)), torch.float32).requires_grad_(True)
    logits_j = _t(rng.normal(size=(20, 5)), torch.float32).requires_grad_(True)
    opt = torch.optim.SGD([logits_i, logits_j], lr=1.0)

    def ml():
        return must_link_loss(torch.log_softmax(logits_i, 1), torch.log_softmax(logits_j, 1))

    before = float(ml().detach())
    for _ in range(20):
        opt.zero_grad()
        loss = ml()
        loss.backward()
        assert torch.isfinite(logits_i.grad).all() and torch.isfinite(logits_j.grad).all()
        opt.step()
    assert float(ml().detach()) < before
