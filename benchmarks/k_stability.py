"""Stability of Leiden partitions across resolutions, to pick k per dataset.

One resolution for every dataset cannot put both bladder (16 types, under-split) and worm
(10 types, over-split) within +-3 clusters (README, "k estimation"); a rule that picks the
resolution per dataset from the embedding alone could. For each pretrained embedding written
by ``variants.py --save-init DIR``, at each resolution of ``--resolutions``, this script runs
Leiden (the package's ``knn_graph`` / ``leiden_on_graph``, the tool's default neighbours) on
``--restarts`` random 80 % subsamples of the cells, each with its own graph and seed. It
prints per resolution the mean cluster count, the stability (mean ARI between the restarts'
partitions, on the cells each pair shares) and the ARI of the first partition against the
annotation (labels are used here only).

    python benchmarks/k_stability.py --dir results/z --tools scdcc,desc
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def default_neighbors(tool: str) -> int:
    """The tool's default ``n_neighbors`` (the kNN graph of its Leiden initialisation)."""
    import inspect

    import scdeepclust as sdc

    return inspect.signature(getattr(sdc.tl, tool)).parameters["n_neighbors"].default


def partitions(z: np.ndarray, n_neighbors: int, resolutions, restarts: int, seed: int):
    """Per resolution, the Leiden labels of ``restarts`` 80 % subsamples: [(index, labels)]."""
    from scdeepclust.data.init import knn_graph, leiden_on_graph

    rng = np.random.default_rng(seed)
    out = {res: [] for res in resolutions}
    for r in range(restarts):
        idx = np.sort(rng.choice(len(z), size=int(0.8 * len(z)), replace=False))
        graph = knn_graph(z[idx], n_neighbors, r)
        for res in resolutions:
            out[res].append((idx, leiden_on_graph(graph, res, r)))
    return out


def stability(parts) -> float:
    """Mean pairwise ARI of the partitions on the cells each pair shares."""
    from sklearn.metrics import adjusted_rand_score

    scores = []
    for (ia, la), (ib, lb) in itertools.combinations(parts, 2):
        _, pa, pb = np.intersect1d(ia, ib, return_indices=True)
        scores.append(adjusted_rand_score(la[pa], lb[pb]))
    return float(np.mean(scores))


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    p = argparse.ArgumentParser()
    _common.add_saved_embedding_args(p)
    p.add_argument("--resolutions", default="0.1,0.2,0.3,0.4,0.6,0.8,1.0,1.2")
    p.add_argument("--restarts", type=int, default=4)
    a = p.parse_args()
    resolutions = [float(r) for r in a.resolutions.split(",")]
    print("tool\tdataset\tseed\tresolution\tclusters\tstability\tari", flush=True)
    for name in a.datasets.split(","):
        truth = _common.load(name, a.worm_genes).obs["cell_type"].astype(str).to_numpy()
        for tool, seed in itertools.product(a.tools.split(","), map(int, a.seeds.split(","))):
            z = np.load(os.path.join(a.dir, f"{tool}_{a.variant}_{name}_given_{seed}.npy"))
            runs = partitions(z, default_neighbors(tool), resolutions, a.restarts, seed)
            for res, parts in runs.items():
                idx, labels = parts[0]
                print(
                    f"{tool}\t{name}\t{seed}\t{res}"
                    f"\t{np.mean([len(np.unique(lab)) for _, lab in parts]):.1f}"
                    f"\t{stability(parts):.4f}\t{adjusted_rand_score(truth[idx], labels):.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
