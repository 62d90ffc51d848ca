"""Compare centre initialisations and Leiden settings on traced pretrained embeddings.

Reads ``TRACE/<dataset>_s<seed>.npz`` from ``trace.py`` and prints one TSV row
per (dataset, seed, epoch, method): ARI against the annotation and the cluster count.
Methods: ``kmeans20`` (k-means, 20 restarts), ``kmeans100``, ``leiden_k`` (Leiden at the
resolution found by bisection to give k clusters), ``leiden_merge`` (Leiden at about 2k
clusters, merged to k by size-weighted Ward linkage of the cluster means), and
``leiden_r<res>_n<nn>[_std]`` (the estimated-k setting; ``_std``: per-dimension z-score).

    python -m benchmarks.studies.pretraining.init_on_traces --trace /tmp/trace \
        --epochs 20,40,80 > init.tsv
"""

from __future__ import annotations

import argparse
import glob
import os

import numpy as np

from benchmarks.datasets import DATASETS, load_dataset
from scdeepclust.data.centres import knn_graph, leiden_on_graph


def leiden_k(tmp, k: int, seed: int, lo: float = 0.01, hi: float = 5.0, steps: int = 12):
    """Bisection on the resolution for k clusters (closest count if never exact)."""
    best = None
    for _ in range(steps):
        mid = np.sqrt(lo * hi)
        labels = leiden_on_graph(tmp, mid, seed)
        n = labels.max() + 1
        if best is None or abs(n - k) < abs(best.max() + 1 - k):
            best = labels
        if n == k:
            return labels
        lo, hi = (mid, hi) if n < k else (lo, mid)
    return best


def ward_merge(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Merge clusters greedily by the Ward criterion until k remain."""
    groups = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    cent = {c: z[i].mean(0) for c, i in groups.items()}
    size = {c: len(i) for c, i in groups.items()}
    while len(groups) > k:
        keys = list(groups)
        best, pair = np.inf, None
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                i, j = keys[a], keys[b]
                d = size[i] * size[j] / (size[i] + size[j]) * np.sum((cent[i] - cent[j]) ** 2)
                if d < best:
                    best, pair = d, (i, j)
        i, j = pair
        cent[i] = (cent[i] * size[i] + cent[j] * size[j]) / (size[i] + size[j])
        size[i] += size[j]
        groups[i] = np.concatenate([groups[i], groups.pop(j)])
        del cent[j], size[j]
    out = np.empty(len(labels), dtype=np.int64)
    for n, idx in enumerate(groups.values()):
        out[idx] = n
    return out


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score as ari

    p = argparse.ArgumentParser()
    p.add_argument("--trace", default="/tmp/trace")
    p.add_argument("--epochs", default="20,40,80")
    p.add_argument("--files", default="*_s?.npz")
    p.add_argument("--estimated", default="0.2,0.4,0.6,0.8")
    p.add_argument("--neighbors", default="20")
    p.add_argument("--full", action="store_true", help="also kmeans100, leiden_merge, _std")
    a = p.parse_args()
    truths = {}
    print("dataset\tseed\tepoch\tmethod\tari\tn_clusters", flush=True)
    for path in sorted(glob.glob(os.path.join(a.trace, a.files))):
        name, rest = os.path.basename(path)[:-4].split("_s", 1)
        seed = int(rest.split("_")[0])
        if name not in truths:
            truths[name] = load_dataset(name).obs["cell_type"].to_numpy()
        truth, k = truths[name], DATASETS[name].k
        f = np.load(path)
        for e in map(int, a.epochs.split(",")):
            if f"z_{e}" not in f:
                continue
            z = f[f"z_{e}"].astype(np.float64)

            def row(method, labels):
                print(
                    f"{name}\t{seed}\t{e}\t{method}\t{ari(truth, labels):.4f}\t"
                    f"{len(np.unique(labels))}",
                    flush=True,
                )

            row("kmeans20", KMeans(k, n_init=20, random_state=seed).fit_predict(z))
            if a.full:
                row("kmeans100", KMeans(k, n_init=100, random_state=seed).fit_predict(z))
            for std in (False, True) if a.full else (False,):
                zz = (z - z.mean(0)) / z.std(0) if std else z
                for nn in map(int, a.neighbors.split(",")):
                    tmp = knn_graph(zz, nn, seed)  # one graph, several resolutions
                    tag = f"_n{nn}" + ("_std" if std else "")
                    for r in map(float, a.estimated.split(",")):
                        row(f"leiden_r{r:g}{tag}", leiden_on_graph(tmp, r, seed))
                    if nn == 20 and not std:
                        row("leiden_k", leiden_k(tmp, k, seed))
                    if nn == 20 and not std and a.full:
                        fine = leiden_k(tmp, 2 * k, seed)
                        row("leiden_merge", ward_merge(z, fine, k))


if __name__ == "__main__":
    main()
