"""Cluster-centre initialisation on the pretrained embedding: named strategies.

:data:`INITIALISATIONS` maps a config's ``init`` to a function ``(z, *, n_clusters,
resolution, n_neighbors, random_state) -> (centres, labels)`` that may ignore the arguments
it does not use: ``"kmeans"`` (the number of clusters given) and ``"leiden"`` (the number
follows from the resolution); ``"auto"`` picks k-means when ``n_clusters`` is given, else
Leiden. A new strategy is one more entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

logger = logging.getLogger("scdeepclust")


def kmeans_centers(
    z: np.ndarray, n_clusters: int, random_state: int, n_init: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """k-means (scikit-learn, ``n_init`` restarts) on the embedding.

    Returns
    -------
    centers (n_clusters x latent_dim, float32), labels (n_obs, int64).
    """
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    labels = km.fit_predict(z.astype(np.float64))
    return km.cluster_centers_.astype(np.float32), labels.astype(np.int64)


def leiden_labels(
    z: np.ndarray, resolution: float, n_neighbors: int, random_state: int
) -> np.ndarray:
    """Leiden clusters of a kNN graph of the embedding, computed on a temporary AnnData.

    The graph uses scikit-learn's exact kNN (``transformer="sklearn"``): deterministic, no JIT
    start-up, and it avoids a crash of scanpy 1.11's default transformer with scipy >= 1.15
    sparse arrays above 4,096 cells.
    """
    import torch

    # numba's thread pool, started by the neighbour graph, resets torch's thread count
    n_threads = torch.get_num_threads()
    try:
        return leiden_on_graph(knn_graph(z, n_neighbors, random_state), resolution, random_state)
    finally:
        torch.set_num_threads(n_threads)


def knn_graph(z: np.ndarray, n_neighbors: int, random_state: int):
    """A temporary AnnData of the embedding (n_obs x latent_dim) with its exact kNN graph."""
    import anndata as ad
    import scanpy as sc

    tmp = ad.AnnData(np.ascontiguousarray(z, dtype=np.float32))
    sc.pp.neighbors(
        tmp,
        n_neighbors=min(n_neighbors, tmp.n_obs - 1),
        use_rep="X",
        transformer="sklearn",
        random_state=random_state,
    )
    return tmp


def leiden_on_graph(graph, resolution: float, random_state: int) -> np.ndarray:
    """Leiden labels (int64, length n_obs) of a :func:`knn_graph` at ``resolution``."""
    import scanpy as sc

    sc.tl.leiden(
        graph,
        resolution=resolution,
        flavor="igraph",
        n_iterations=2,
        directed=False,
        random_state=random_state,
    )
    return graph.obs["leiden"].cat.codes.to_numpy().astype(np.int64)


def centers_from_labels(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cluster means of the embedding, n_clusters x latent_dim (labels 0..K-1)."""
    k = int(labels.max()) + 1
    sums = np.zeros((k, z.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, z)
    return (sums / np.bincount(labels, minlength=k)[:, None]).astype(np.float32)


def nearest_center_labels(
    z: np.ndarray, centers: np.ndarray, chunk_size: int = 65536
) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of every row of ``z``, in chunks (int64)."""
    c = centers.astype(np.float64)
    c_sq = (c**2).sum(axis=1)
    out = np.empty(len(z), dtype=np.int64)
    for s in range(0, len(z), chunk_size):
        block = z[s : s + chunk_size].astype(np.float64)
        out[s : s + chunk_size] = np.argmin(c_sq[None, :] - 2.0 * block @ c.T, axis=1)
    return out


def leiden_centers(
    z: np.ndarray, resolution: float, n_neighbors: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """Leiden labels and their cluster means; raises if Leiden finds a single cluster."""
    labels = leiden_labels(z, resolution, n_neighbors, random_state)
    k = int(labels.max()) + 1
    if k < 2:
        raise ValueError(
            f"Leiden at resolution {resolution} found a single cluster on the pretrained "
            "embedding; there is nothing to fine-tune. Increase `resolution` (e.g. 1.0 or 2.0) "
            "or pass `n_clusters` to initialise with k-means."
        )
    logger.info("Leiden (resolution %s) found %d clusters", resolution, k)
    return centers_from_labels(z, labels), labels


def kmeans_start(
    z: np.ndarray, *, n_clusters: int, random_state: int, **_: object
) -> tuple[np.ndarray, np.ndarray]:
    """``init="kmeans"``: k-means with ``n_clusters`` (the Leiden arguments are ignored)."""
    return kmeans_centers(z, n_clusters, random_state)


def leiden_start(
    z: np.ndarray, *, resolution: float, n_neighbors: int, random_state: int, **_: object
) -> tuple[np.ndarray, np.ndarray]:
    """``init="leiden"``: Leiden at ``resolution`` on the kNN graph (``n_clusters`` ignored)."""
    return leiden_centers(z, resolution, n_neighbors, random_state)


#: Centre initialisations by name (the config's ``init``).
INITIALISATIONS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "kmeans": kmeans_start,
    "leiden": leiden_start,
}


def resolve_init(init: str, n_clusters: int | None) -> str:
    """The strategy a run uses: ``init``, or for ``"auto"`` k-means with k given, else Leiden.

    Raises ValueError for an unknown name, ``"kmeans"`` without ``n_clusters`` and
    ``"leiden"`` with it.
    """
    if init == "auto":
        return "leiden" if n_clusters is None else "kmeans"
    if init not in INITIALISATIONS:
        raise ValueError(
            f"init must be 'auto' or one of {sorted(INITIALISATIONS)}, found {init!r}."
        )
    if init == "kmeans" and n_clusters is None:
        raise ValueError("init='kmeans' needs n_clusters; pass n_clusters=k, or init='leiden'.")
    if init == "leiden" and n_clusters is not None:
        raise ValueError(
            f"init='leiden' takes the number of clusters from the resolution, but "
            f"n_clusters={n_clusters} was given; pass n_clusters=None, or init='kmeans'."
        )
    return init
