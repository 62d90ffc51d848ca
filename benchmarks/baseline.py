"""The standard scanpy pipeline the tools are compared with: PCA 50, then k-means / Leiden."""

from __future__ import annotations

import numpy as np

__all__ = ["pipeline_pca", "kmeans_labels", "leiden_labels"]


def pipeline_pca(counts, seed: int, obs=None, combat_key: str | None = None):
    """The scanpy pipeline up to PCA, on a copy of ``counts`` (n_obs x n_vars, raw).

    normalize_total, log1p, (``sc.pp.combat`` on the ``combat_key`` column of ``obs``), scale
    (clipped at 10), 50 principal components in ``obsm['X_pca']`` of the returned AnnData.
    """
    import scanpy as sc

    bdata = sc.AnnData(counts.copy(), obs=obs)
    sc.pp.normalize_total(bdata)
    sc.pp.log1p(bdata)
    if combat_key is not None:
        sc.pp.combat(bdata, key=combat_key)
    sc.pp.scale(bdata, max_value=10)
    sc.pp.pca(bdata, n_comps=50, random_state=seed)
    return bdata


def kmeans_labels(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means with ``k`` clusters, 10 restarts (scikit-learn)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)


def leiden_labels(bdata, seed: int):
    """Leiden (igraph, 2 iterations) on the 15-NN graph of ``obsm['X_pca']``; ``obs['leiden']``."""
    import scanpy as sc

    sc.pp.neighbors(
        bdata, n_neighbors=15, use_rep="X_pca", transformer="sklearn", random_state=seed
    )
    sc.tl.leiden(bdata, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    return bdata.obs["leiden"]
