"""Scores of the benchmarks: ARI / NMI against the annotation, and batch mixing (LISI, ASW).

The LISI (Korsunsky et al. 2019, Harmony) is self-contained (numpy / scikit-learn only) and
reported in scib's [0, 1] forms: iLISI (median - 1) / (n_batches - 1), 1 = fully mixed;
cLISI (n_types - median) / (n_types - 1), 1 = cell types kept apart.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clustering_scores", "unconstrained_mask", "knn", "lisi", "mixing", "asw_batch"]


def clustering_scores(labels, truth, mask: np.ndarray | None = None) -> tuple[float, float]:
    """ARI and NMI of ``labels`` against ``truth`` (scikit-learn), optionally on a subset.

    Parameters
    ----------
    labels, truth
        Predicted and ground-truth labels, one per cell.
    mask
        Boolean mask of the cells to score; None: all cells.

    Returns
    -------
    tuple of float
        Adjusted Rand index and normalized mutual information (NaN for an empty subset).
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels, truth = np.asarray(labels), np.asarray(truth)
    if mask is not None:
        labels, truth = labels[mask], truth[mask]
    if labels.size == 0:
        return float("nan"), float("nan")
    ari = adjusted_rand_score(truth, labels)
    return float(ari), float(normalized_mutual_info_score(truth, labels))


def unconstrained_mask(n_obs: int, constraints) -> np.ndarray:
    """Boolean mask of the cells that appear in no must-link or cannot-link pair."""
    free = np.ones(n_obs, dtype=bool)
    for pairs in constraints:
        free[np.asarray(pairs, dtype=np.int64).ravel()] = False
    return free


def knn(emb: np.ndarray, k: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the ``k`` nearest neighbours, the cell itself excluded."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, emb.shape[0] - 1)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb)
    self_col = idx == np.arange(emb.shape[0])[:, None]
    # drop the cell itself (normally column 0; duplicates can put it elsewhere)
    keep = ~self_col
    keep[~self_col.any(axis=1), -1] = False
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def lisi(
    dist: np.ndarray,
    idx: np.ndarray,
    labels,
    perplexity: float = 30.0,
    tol: float = 1e-5,
    n_iter: int = 50,
) -> np.ndarray:
    """Per-cell LISI: inverse Simpson index of ``labels`` among the kNN, Gaussian-weighted.

    Per cell, the kernel weights p_j ∝ exp(-beta d_j) over its neighbours (d: Euclidean
    distances, as the lisi R package and scib-metrics use) have beta found by bisection so
    that the entropy H(p) = log(perplexity) (within ``tol``, at most ``n_iter`` steps); the
    LISI is 1 / sum_l (sum of p over neighbours with label l)^2.
    """
    import pandas as pd

    codes = pd.Categorical(labels).codes
    n_labels = codes.max() + 1
    n, k = dist.shape
    log_u = np.log(perplexity)
    beta = np.ones(n)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    active = np.ones(n, dtype=bool)
    for _ in range(n_iter):
        d = dist[active]
        p = np.exp(-d * beta[active, None])
        s = p.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(s > 0, np.log(s) + beta[active] * (d * p).sum(axis=1) / s, 0.0)
        diff = h - log_u
        rows = np.flatnonzero(active)
        done = np.abs(diff) < tol
        up = ~done & (diff > 0)  # entropy too high: sharpen (raise beta)
        down = ~done & (diff <= 0)
        r = rows[up]
        lo[r] = beta[r]
        beta[r] = np.where(np.isinf(hi[r]), beta[r] * 2, (beta[r] + hi[r]) / 2)
        r = rows[down]
        hi[r] = beta[r]
        beta[r] = np.where(np.isinf(lo[r]), beta[r] / 2, (beta[r] + lo[r]) / 2)
        active[rows[done]] = False
        if not active.any():
            break
    p = np.exp(-dist * beta[:, None])
    s = p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(s > 0, p / s, 0.0)
    onehot_sums = np.zeros((n, n_labels))
    np.add.at(onehot_sums, (np.repeat(np.arange(n), k), codes[idx].ravel()), p.ravel())
    simpson = (onehot_sums**2).sum(axis=1)
    with np.errstate(divide="ignore"):
        return 1.0 / simpson


def mixing(emb: np.ndarray, batch, cell_type, k: int = 90) -> dict:
    """The iLISI / cLISI in scib's [0, 1] forms and as raw medians, and the batch ASW."""
    dist, idx = knn(emb, k)
    perplexity = np.floor(k / 3)
    n_b, n_t = len(np.unique(batch)), len(np.unique(cell_type))
    il = float(np.nanmedian(lisi(dist, idx, batch, perplexity)))
    cl = float(np.nanmedian(lisi(dist, idx, cell_type, perplexity)))
    return {
        "ilisi": (il - 1) / (n_b - 1),
        "clisi": (n_t - cl) / (n_t - 1),
        "ilisi_med": il,
        "clisi_med": cl,
        "asw_batch": asw_batch(emb, batch, cell_type),
    }


def asw_batch(emb: np.ndarray, batch, cell_type) -> float:
    """Batch ASW as scib: per cell type the mean of 1 - |silhouette of batch|, then the mean."""
    from sklearn.metrics import silhouette_samples

    batch, cell_type = np.asarray(batch), np.asarray(cell_type)
    scores = []
    for t in np.unique(cell_type):
        sel = cell_type == t
        if len(np.unique(batch[sel])) < 2 or sel.sum() < 3:
            continue
        scores.append(np.mean(1 - np.abs(silhouette_samples(emb[sel], batch[sel]))))
    return float(np.mean(scores)) if scores else float("nan")
