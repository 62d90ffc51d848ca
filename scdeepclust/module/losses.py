"""Loss terms of deep embedded clustering, numerically stable in float32.

All functions are pure torch and differentiable. References: DCA / scDeepCluster ZINB
(Eraslan et al. 2019; Tian et al. 2019), DEC soft assignment and target distribution
(Xie et al. 2016), DESC (Li et al. 2020), scDCC pairwise constraints (Tian et al. 2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-10
"""Floor inside logarithms of the ZINB likelihood (as in DCA / scDeepCluster)."""

PAIR_EPS = 1e-7
"""Clamp of the co-assignment probability in the must-link / cannot-link losses."""


def zinb_nll(
    x: torch.Tensor,
    mean: torch.Tensor,
    dispersion: torch.Tensor,
    dropout_logits: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """Elementwise negative log-likelihood of a zero-inflated negative binomial.

    Computed in log space (scvi-tools style), so it neither under- nor overflows for large
    dispersion or mean.

    Parameters
    ----------
    x
        Observed raw counts, n_cells x n_genes.
    mean
        ZINB mean mu (already multiplied by the size factor), same shape, > 0.
    dispersion
        Inverse dispersion theta, same shape, > 0.
    dropout_logits
        Logits of the dropout probability pi (pi = sigmoid(logits)), same shape.
    eps
        Floor inside the logarithms.

    Returns
    -------
    Tensor of the same shape as ``x`` with -log ZINB(x; mu, theta, pi).
    """
    log_theta_eps = torch.log(dispersion + eps)
    log_theta_mu_eps = torch.log(dispersion + mean + eps)
    softplus_neg_logits = F.softplus(-dropout_logits)  # -log(1 - pi)
    # log(1 - pi) + log NB(0)  (the NB probability of a zero, in log space)
    logits_theta_log = -dropout_logits + dispersion * (log_theta_eps - log_theta_mu_eps)
    log_zero = F.softplus(logits_theta_log) - softplus_neg_logits
    log_nonzero = (
        -softplus_neg_logits
        + logits_theta_log
        + x * (torch.log(mean + eps) - log_theta_mu_eps)
        + torch.lgamma(x + dispersion)
        - torch.lgamma(dispersion)
        - torch.lgamma(x + 1.0)
    )
    return -torch.where(x < 1e-8, log_zero, log_nonzero)


def zinb_nll_mean(
    x: torch.Tensor,
    mean: torch.Tensor,
    dispersion: torch.Tensor,
    dropout_logits: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """Mean of :func:`zinb_nll` over all entries of a dense count matrix ``x``."""
    nz_index = torch.nonzero(x.flatten() > 1e-8).squeeze(1)
    return zinb_nll_mean_sparse(
        nz_index, x.flatten()[nz_index], mean, dispersion, dropout_logits, eps
    )


def zinb_nll_mean_sparse(
    nz_index: torch.Tensor,
    nz_counts: torch.Tensor,
    mean: torch.Tensor,
    dispersion: torch.Tensor,
    dropout_logits: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """Mean ZINB negative log-likelihood over all entries, from the non-zero counts only.

    Same value as ``zinb_nll(x, ...).mean()``, but the expensive non-zero branch (log-gamma
    functions) is evaluated only at the non-zero counts (about 10 % of a scRNA-seq matrix),
    and the dense count matrix is never built.

    Parameters
    ----------
    nz_index
        Flat (row-major) positions of the non-zero counts in the n_cells x n_genes matrix.
    nz_counts
        The non-zero counts at those positions.
    mean, dispersion, dropout_logits
        ZINB parameters, n_cells x n_genes (see :func:`zinb_nll`).
    eps
        Floor inside the logarithms.
    """
    log_theta_mu_eps = torch.log(dispersion + mean + eps)
    softplus_neg_logits = F.softplus(-dropout_logits)
    logits_theta_log = -dropout_logits + dispersion * (
        torch.log(dispersion + eps) - log_theta_mu_eps
    )
    log_zero = F.softplus(logits_theta_log) - softplus_neg_logits

    def at_nonzero(t: torch.Tensor) -> torch.Tensor:
        return t.flatten()[nz_index]

    theta = at_nonzero(dispersion)
    log_nonzero = (
        at_nonzero(logits_theta_log)
        - at_nonzero(softplus_neg_logits)
        + nz_counts * (torch.log(at_nonzero(mean) + eps) - at_nonzero(log_theta_mu_eps))
        + torch.lgamma(nz_counts + theta)
        - torch.lgamma(theta)
        - torch.lgamma(nz_counts + 1.0)
    )
    total = log_zero.sum() - at_nonzero(log_zero).sum() + log_nonzero.sum()
    return -total / mean.numel()


def log_soft_assign(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Log of the Student-t soft assignment q of embedded cells to cluster centres.

    q_ij = (1 + ||z_i - mu_j||^2 / alpha)^(-(alpha + 1) / 2), normalised over j.

    Parameters
    ----------
    z
        Embedding, n_cells x latent_dim.
    centers
        Cluster centres, n_clusters x latent_dim.
    alpha
        Degrees of freedom of the Student-t kernel.

    Returns
    -------
    log q, n_cells x n_clusters (rows of q sum to 1).
    """
    dist2 = (
        z.pow(2).sum(dim=1, keepdim=True) + centers.pow(2).sum(dim=1) - 2.0 * z @ centers.T
    ).clamp_min(0.0)
    logits = -(alpha + 1.0) / 2.0 * torch.log1p(dist2 / alpha)
    return torch.log_softmax(logits, dim=1)


def target_distribution(q: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Sharpened target distribution p of DEC / DESC / scDeepCluster.

    p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with cluster frequencies f_j = sum_i q_ij
    taken over **all** cells given.

    Parameters
    ----------
    q
        Soft assignments of all cells, n_cells x n_clusters.
    inplace
        Overwrite ``q`` with p (no second n_cells x n_clusters matrix; same values).

    Returns
    -------
    p, n_cells x n_clusters, rows sum to 1.
    """
    return _sharpened(q, inplace, q.sum(dim=0).clamp_min(torch.finfo(q.dtype).tiny))


def squared_target(q: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Target distribution without DEC's cluster-frequency term: p_ij = q_ij^2 / sum_j' q_ij'^2.

    DEC divides by the cluster frequency f_j to keep large clusters from absorbing small
    ones; this variant sharpens q alone. Same arguments and shape as
    :func:`target_distribution`.
    """
    return _sharpened(q, inplace, None)


def _sharpened(q: torch.Tensor, inplace: bool, frequency: torch.Tensor | None) -> torch.Tensor:
    """Square of ``q``, divided by ``frequency`` per cluster when given, rows normalised to 1."""
    weight = q.pow_(2) if inplace else q.pow(2)
    if frequency is not None:
        weight /= frequency
    weight /= weight.sum(dim=1, keepdim=True)
    return weight


#: Target distributions by name (the config's ``target_distribution``): functions
#: ``(q, inplace) -> p`` of the soft assignments of all cells, n_cells x n_clusters.
TARGET_DISTRIBUTIONS = {"dec": target_distribution, "squared": squared_target}


def kl_divergence(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(P || Q) summed over clusters and averaged over cells; finite when some p are 0.

    Parameters
    ----------
    p
        Target distribution, n_cells x n_clusters.
    log_q
        Log soft assignments, same shape.

    Returns
    -------
    Scalar tensor.
    """
    return (torch.xlogy(p, p) - p * log_q).sum(dim=1).mean()


def _co_assignment(log_q_i: torch.Tensor, log_q_j: torch.Tensor) -> torch.Tensor:
    """Probability that cells i and j fall in the same cluster: sum_k q_ik q_jk."""
    return torch.exp(torch.logsumexp(log_q_i + log_q_j, dim=1))


def must_link_loss(
    log_q_i: torch.Tensor, log_q_j: torch.Tensor, eps: float = PAIR_EPS
) -> torch.Tensor:
    """Must-link loss of scDCC, -log sum_k q_ik q_jk, averaged over pairs (clamped, finite).

    Parameters
    ----------
    log_q_i, log_q_j
        Log soft assignments of the first and second cell of each pair, n_pairs x n_clusters.
    eps
        The co-assignment probability is clamped to [eps, 1 - eps].
    """
    same = _co_assignment(log_q_i, log_q_j).clamp(eps, 1.0 - eps)
    return -torch.log(same).mean()


def cannot_link_loss(
    log_q_i: torch.Tensor, log_q_j: torch.Tensor, eps: float = PAIR_EPS
) -> torch.Tensor:
    """Cannot-link loss of scDCC, -log(1 - sum_k q_ik q_jk), averaged over pairs (clamped).

    Parameters
    ----------
    log_q_i, log_q_j
        Log soft assignments of the first and second cell of each pair, n_pairs x n_clusters.
    eps
        The co-assignment probability is clamped to [eps, 1 - eps].
    """
    same = _co_assignment(log_q_i, log_q_j).clamp(eps, 1.0 - eps)
    return -torch.log1p(-same).mean()
