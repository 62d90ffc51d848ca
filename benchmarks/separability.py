"""Is the embedding or the clustering the limit? Separability of the annotated types.

For each dataset and seed, compares three representations of the same cells: the scanpy
pipeline's PCA (normalize_total, log1p, scale at 10, 50 components, as in ``benchmark.py``),
a tool's pretrained embedding (the one its centres start from) and its final embedding,
both written by ``variants.py --save-init DIR``:

- ``knn_acc`` / ``knn_bal``: accuracy and balanced accuracy (mean per-type recall) of a
  15-nearest-neighbour classifier of the annotated types, 5-fold stratified cross-validation.
  This is what a clustering could reach if it found the annotated boundaries: a high value
  with a low k-means ARI means the types are in the embedding and the clustering misses them;
- ``small_recall``: mean recall of the annotated types with fewer than ``--small`` cells;
- ``kmeans_ari``: ARI of k-means with the annotated k (20 restarts) on the representation,
  and, for other ways of cutting it into k clusters (``--partitions``), ``kmeans_zscore_ari``
  / ``kmeans_cosine_ari`` (k-means on the per-dimension z-scored / on the L2-normalised
  representation), ``gmm_ari`` (Gaussian mixture with diagonal covariances, 3 restarts),
  ``ward_ari`` (agglomerative Ward linkage), ``spectral_ari`` (spectral clustering of the
  15-nearest-neighbour graph) and ``graph_<rule>_ari``: Leiden on the 20-nearest-neighbour
  graph at about 3k clusters, then the two most connected clusters merged until k remain,
  where "connected" is the summed edge weight w_ab between clusters a and b divided by
  ``paga`` vol_a vol_b / vol (observed over expected, PAGA's statistic), ``geo``
  sqrt(vol_a vol_b) or ``frac`` min(vol_a, vol_b) (the share of the smaller cluster's edges
  that lead to the other). These cuts allow clusters of very unequal size, which k-means
  does not. ``--internal`` adds label-free scores of each partition (``<cut>_modularity`` on
  the 20-NN graph, ``<cut>_silhouette`` on 3,000 cells), to see whether a user could tell
  which cut fits a dataset without its annotation.

Labels are used here only, never in the package.

    python benchmarks/variants.py --tool scdcc --k given --worm-genes seurat \
        --save-init results/z --variant base:
    python benchmarks/separability.py --dir results/z --tools scdcc,desc --markdown
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def pca_embedding(adata, seed: int) -> np.ndarray:
    """The scanpy pipeline's 50 principal components (same genes as the tools)."""
    from benchmark import pipeline_pca

    genes = adata.var["highly_variable"].to_numpy() if "highly_variable" in adata.var else None
    counts = adata.layers["counts"] if genes is None else adata.layers["counts"][:, genes]
    return pipeline_pca(counts, seed).obsm["X_pca"]


def neighbour_scores(z: np.ndarray, truth: np.ndarray, seed: int, small: int) -> dict:
    """Accuracy, balanced accuracy and small-type recall of a 15-NN classifier (5-fold CV)."""
    from sklearn.metrics import balanced_accuracy_score, recall_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    pred = cross_val_predict(KNeighborsClassifier(n_neighbors=15), z, truth, cv=folds)
    types, sizes = np.unique(truth, return_counts=True)
    recall = recall_score(truth, pred, labels=types, average=None)
    return {
        "knn_acc": float(np.mean(pred == truth)),
        "knn_bal": float(balanced_accuracy_score(truth, pred)),
        "small_recall": float(recall[sizes < small].mean()) if (sizes < small).any() else np.nan,
    }


def merge_steps(graph, labels: np.ndarray, rule: str):
    """Merge the two most connected clusters of ``labels`` again and again (see ``rule``).

    ``graph`` is the kNN AnnData of :func:`scdeepclust.data.init.knn_graph`. Yields, before
    each merge, ``(n_clusters, score, labels)``: the current labels 0..n-1 (int64) and the
    connection score of the pair merged next, its largest, down to two clusters.
    """
    import scipy.sparse as sp

    w = graph.obsp["connectivities"]
    vol = np.asarray(w.sum(axis=1)).ravel()
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    while labels.max() + 1 > 1:
        n = labels.max() + 1
        member = sp.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)))
        between = (member.T @ w @ member).toarray()
        v = member.T @ vol
        norm = {
            "paga": np.outer(v, v) / vol.sum(),
            "geo": np.sqrt(np.outer(v, v)),
            "frac": np.minimum.outer(v, v),
        }[rule]
        score = between / norm
        score[np.diag_indices(n)] = -np.inf
        a, b = np.unravel_index(np.argmax(score), score.shape)
        yield int(n), float(score[a, b]), labels
        labels = np.unique(np.where(labels == b, a, labels), return_inverse=True)[1]


def connectivity_merge(graph, labels: np.ndarray, k: int, rule: str) -> np.ndarray:
    """Merge the two most connected clusters of ``labels`` until ``k`` remain (see ``rule``).

    ``graph`` is the kNN AnnData of :func:`scdeepclust.data.init.knn_graph`; returns labels
    0..k-1 (int64).
    """
    for n, _, merged in merge_steps(graph, labels, rule):
        if n <= k:
            return merged
    return np.zeros(len(labels), dtype=np.int64)


def fine_partition(graph, k: int, seed: int) -> np.ndarray:
    """Leiden labels of a :func:`scdeepclust.data.init.knn_graph` at about 3k clusters."""
    from init_on_traces import leiden_k

    return leiden_k(graph, 3 * k, seed, steps=20)


def graph_merge(z: np.ndarray, k: int, seed: int, rule: str) -> np.ndarray:
    """Leiden at about 3k clusters of the 20-NN graph of ``z``, merged to k by ``rule``."""
    from scdeepclust.data.init import knn_graph

    graph = knn_graph(z, 20, seed)
    return connectivity_merge(graph, fine_partition(graph, k, seed), k, rule)


def partitioners(k: int, seed: int) -> dict:
    """Ways of cutting a representation into k clusters: name -> function(z) -> labels."""
    from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
    from sklearn.mixture import GaussianMixture

    def kmeans(z):
        return KMeans(n_clusters=k, n_init=20, random_state=seed).fit_predict(z)

    return {
        "kmeans": kmeans,
        "kmeans_zscore": lambda z: kmeans((z - z.mean(0)) / z.std(0).clip(1e-8)),
        "kmeans_cosine": lambda z: kmeans(z / np.linalg.norm(z, axis=1, keepdims=True).clip(1e-8)),
        "gmm": GaussianMixture(k, covariance_type="diag", n_init=3, random_state=seed).fit_predict,
        "ward": AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict,
        "spectral": SpectralClustering(
            n_clusters=k,
            affinity="nearest_neighbors",
            n_neighbors=15,
            assign_labels="cluster_qr",
            random_state=seed,
        ).fit_predict,
    }


def internal_scores(z: np.ndarray, labels: np.ndarray, graph) -> dict:
    """Label-free quality of a partition: modularity on the kNN ``graph``, and silhouette."""
    import igraph as ig
    from sklearn.metrics import silhouette_score

    w = graph.obsp["connectivities"].tocoo()
    g = ig.Graph(n=w.shape[0], edges=list(zip(w.row, w.col, strict=True)), directed=False)
    return {
        "modularity": g.modularity(labels.tolist(), weights=w.data.tolist()),
        "silhouette": float(silhouette_score(z, labels, sample_size=3000, random_state=0)),
    }


def cut(name: str, z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The k-cluster partition ``name`` of ``z`` (a ``partitioners`` key or ``graph_<rule>``)."""
    if name.startswith("graph_"):
        return graph_merge(z, k, seed, name.removeprefix("graph_"))
    return partitioners(k, seed)[name](z)


def subsample_stability(z: np.ndarray, name: str, k: int, seed: int, restarts: int = 4):
    """Label-free stability of a cut, the mean pairwise ARI of its subsample partitions.

    ``restarts`` random 80 % subsamples, each cut anew with its own seed; the ARI of two is
    taken on the cells they share.
    """
    from k_stability import stability

    rng = np.random.default_rng(seed)
    parts = []
    for r in range(restarts):
        idx = np.sort(rng.choice(len(z), size=int(0.8 * len(z)), replace=False))
        parts.append((idx, cut(name, z[idx], k, seed + 10 * r)))
    return stability(parts)


def partition_scores(
    z: np.ndarray,
    truth: np.ndarray,
    k: int,
    seed: int,
    names: list[str],
    internal: bool,
    stable: bool = False,
) -> dict:
    """ARI of each named k-cluster partition of ``z`` (and its label-free scores).

    ``graph_<rule>`` names are the connectivity merges; they share one 20-NN graph and one
    fine Leiden partition, and the label-free scores use the same graph.
    """
    from sklearn.metrics import adjusted_rand_score

    from scdeepclust.data.init import knn_graph

    cut = partitioners(k, seed)
    needs_graph = internal or any(n.startswith("graph_") for n in names)
    graph = knn_graph(z, 20, seed) if needs_graph else None
    fine = None
    out = {}
    for n in names:
        if n.startswith("graph_"):
            fine = fine_partition(graph, k, seed) if fine is None else fine
            labels = connectivity_merge(graph, fine, k, n.removeprefix("graph_"))
        else:
            labels = cut[n](z)
        out[f"{n}_ari"] = float(adjusted_rand_score(truth, labels))
        if internal:
            out.update({f"{n}_{m}": v for m, v in internal_scores(z, labels, graph).items()})
        if stable:
            out[f"{n}_stability"] = subsample_stability(z, n, k, seed)
    return out


def main() -> None:
    import pandas as pd

    p = argparse.ArgumentParser()
    _common.add_saved_embedding_args(p)
    p.add_argument("--small", type=int, default=100, help="a 'small' type has fewer cells")
    p.add_argument(
        "--partitions",
        default="kmeans,kmeans_zscore,kmeans_cosine,gmm,ward,spectral",
        help="k-cluster partitions to score (see partitioners; graph_paga|geo|frac too)",
    )
    p.add_argument("--no-knn", action="store_true", help="skip the nearest-neighbour scores")
    p.add_argument(
        "--internal",
        action="store_true",
        help="also the label-free modularity and silhouette of each partition",
    )
    p.add_argument(
        "--stability",
        action="store_true",
        help="also each partition's stability over four 80 %% subsamples (label-free)",
    )
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args()
    rows = []
    for name in a.datasets.split(","):
        adata = _common.load(name, a.worm_genes)
        truth = adata.obs["cell_type"].astype(str).to_numpy()
        k = _common.K[name]
        for seed in map(int, a.seeds.split(",")):
            reps = {"pca": pca_embedding(adata, seed)}
            for tool in a.tools.split(","):
                stem = os.path.join(a.dir, f"{tool}_{a.variant}_{name}_given_{seed}")
                if os.path.exists(stem + ".npy"):
                    reps[f"{tool} pretrained"] = np.load(stem + ".npy")
                if os.path.exists(stem + "_final.npy"):
                    reps[f"{tool} final"] = np.load(stem + "_final.npy")
            for rep, z in reps.items():
                row = {"dataset": name, "seed": seed, "representation": rep}
                z = np.asarray(z, dtype=np.float64)
                if not a.no_knn:
                    row.update(neighbour_scores(z, truth, seed, a.small))
                row.update(
                    partition_scores(
                        z, truth, k, seed, a.partitions.split(","), a.internal, a.stability
                    )
                )
                rows.append(row)
                print(
                    "\t".join(
                        str(v) if isinstance(v, str | int) else f"{v:.4f}" for v in row.values()
                    ),
                    flush=True,
                )
    if a.markdown:
        df = pd.DataFrame(rows)
        cols = [c for c in df.columns if c not in ("dataset", "seed", "representation")]
        g = df.groupby(["dataset", "representation"], sort=False)[cols]
        mean, sd = g.mean(), g.std()
        print("| dataset | representation | " + " | ".join(cols) + " |")
        print("|---|---|" + "---:|" * len(cols))
        for idx in mean.index:
            cells = [f"{mean.loc[idx, c]:.3f} ± {sd.loc[idx, c]:.3f}" for c in cols]
            print(f"| {idx[0]} | {idx[1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
