"""A cut into k clusters that merges by marker genes, the way cell types are annotated.

The graph cuts of ``separability.py`` merge clusters by how connected they are in the kNN
graph; they help bladder and CITE and cost worm and PBMC (README, "A cut that allows very
unequal cluster sizes"). Annotators instead split cell types where marker genes differ, so
pieces of one type that differ in no gene should merge, and small types with their own
markers should not. This script tests that on the pretrained embeddings written by
``variants.py --save-init DIR``: k-means into 3k clusters (5 restarts), then, until k remain,
the adjacent pair (edge weight > 0 in the 20-NN graph) with the fewest differentially
expressed genes is merged (ties: the more connected pair, by ``frac``). A gene is
differentially expressed between clusters a and b, on log1p(counts per 10,000) of the tool's
genes, when

- ``lfc:pct:t`` with lfc >= 0: the difference of the means exceeds lfc (natural log), one
  cluster detects the gene in more than pct of its cells and Welch's t exceeds t (Seurat's
  marker rule, ``FindMarkers`` with ``logfc.threshold`` and ``min.pct``);
- ``-d:0:t``: Cohen's d (difference over the pooled sd) exceeds d and Welch's t exceeds t.

It prints the ARI against the annotation (labels are used here only) per dataset, seed and
rule, then mean +- sd per dataset and rule. ``--type-de`` also prints, per dataset and seed,
the share of detected entries and the DE genes (first rule) between annotated types and
between the two k-means halves of each type of 100 cells or more.

    python benchmarks/de_merge.py --dir results/z --rules 1.0:0.25:5,0.5:0.25:5,0.25:0.1:5,-0.5:0:3
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def log_expression(adata) -> np.ndarray:
    """log1p(counts per 10,000) of the tool's genes (``highly_variable`` if marked), dense."""
    import scipy.sparse as sp

    counts = adata.layers["counts"]
    if "highly_variable" in adata.var:
        counts = counts[:, adata.var["highly_variable"].to_numpy()]
    counts = sp.csr_matrix(counts, dtype=np.float64)
    lib = np.asarray(counts.sum(axis=1)).ravel()
    x = sp.diags(1e4 / np.maximum(lib, 1.0)) @ counts
    x.data = np.log1p(x.data)
    return x.toarray()


class ClusterStats:
    """Per-cluster sums, sums of squares and detection counts of ``x``; merged in place."""

    def __init__(self, x: np.ndarray, labels: np.ndarray):
        import scipy.sparse as sp

        member = sp.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)))
        self.n = np.asarray(member.sum(axis=0)).ravel()
        self.s = np.asarray(member.T @ x)
        self.ss = np.asarray(member.T @ (x * x))
        self.det = np.asarray(member.T @ (x > 0).astype(np.float64))

    def merge(self, a: int, b: int) -> None:
        """Add cluster b's statistics to cluster a's."""
        for arr in (self.n, self.s, self.ss, self.det):
            arr[a] += arr[b]

    def n_de(self, a: int, b: int, rule: tuple[float, float, float]) -> int:
        """Number of genes differentially expressed between clusters a and b (``rule``)."""
        lfc, pct, t_min = rule
        ma, mb = self.s[a] / self.n[a], self.s[b] / self.n[b]
        va = np.maximum(self.ss[a] / self.n[a] - ma**2, 0.0)
        vb = np.maximum(self.ss[b] / self.n[b] - mb**2, 0.0)
        diff = np.abs(ma - mb)
        t = diff / np.sqrt(va / self.n[a] + vb / self.n[b] + 1e-12)
        if lfc < 0:
            d = diff / np.sqrt(0.5 * (va + vb) + 1e-12)
            return int(np.sum((d > -lfc) & (t > t_min)))
        detected = np.maximum(self.det[a] / self.n[a], self.det[b] / self.n[b]) > pct
        return int(np.sum((diff > lfc) & detected & (t > t_min)))


def de_merge(x, labels, k, rule, graph) -> np.ndarray:
    """Merge the adjacent pair with the fewest DE genes until ``k`` clusters remain."""
    import scipy.sparse as sp

    labels = np.unique(labels, return_inverse=True)[1]
    stats = ClusterStats(x, labels)
    member = sp.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)))
    w = (member.T @ graph.obsp["connectivities"] @ member).toarray()
    vol = w.sum(axis=1)  # cluster volumes, internal edges included (as ``frac``)
    np.fill_diagonal(w, 0.0)
    groups = {c: [c] for c in range(labels.max() + 1)}
    cache: dict = {}
    while len(groups) > k:
        best = None
        for a, b in itertools.combinations(groups, 2):
            if w[a, b] <= 0:
                continue
            if (a, b) not in cache:
                cache[a, b] = stats.n_de(a, b, rule)
            key = (cache[a, b], -w[a, b] / min(vol[a], vol[b]))
            best = (key, a, b) if best is None or key < best[0] else best
        if best is None:  # no two clusters left that touch: merge the fewest-DE pair
            w += 1e-12
            continue
        _, a, b = best
        stats.merge(a, b)
        w[a] += w[b]
        w[:, a] += w[:, b]
        w[a, a] = 0.0
        vol[a] += vol[b]
        groups[a] += groups.pop(b)
        cache = {pair: v for pair, v in cache.items() if a not in pair and b not in pair}
    out = np.empty(len(labels), dtype=np.int64)
    for new, members in enumerate(groups.values()):
        out[np.isin(labels, members)] = new
    return out


def type_de(x, truth, z, rule, seed: int) -> dict:
    """DE genes between annotated types, and between k-means halves of each type.

    The halves split each type of at least 100 cells in two on the embedding ``z``; if they
    differ by as many genes as two types do, DE counts cannot tell types from their pieces.
    """
    from sklearn.cluster import KMeans

    codes = np.unique(truth, return_inverse=True)[1]
    stats = ClusterStats(x, codes)
    between = [stats.n_de(a, b, rule) for a, b in itertools.combinations(range(codes.max() + 1), 2)]
    within = []
    for t in range(codes.max() + 1):
        idx = np.flatnonzero(codes == t)
        if len(idx) >= 100:
            halves = KMeans(2, n_init=3, random_state=seed).fit_predict(z[idx])
            within.append(ClusterStats(x[idx], halves).n_de(0, 1, rule))
    return {
        "detected": float((x > 0).mean()),
        "types_min": int(min(between)),
        "types_median": float(np.median(between)),
        "halves_median": float(np.median(within)),
        "halves_max": int(max(within)),
    }


def main() -> None:
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from scdeepclust.data.init import knn_graph

    p = argparse.ArgumentParser()
    _common.add_saved_embedding_args(p)
    p.set_defaults(tools="scdcc")
    p.add_argument("--rules", default="1.0:0.25:5,0.5:0.25:5,0.25:0.1:5,-0.5:0:3")
    p.add_argument(
        "--type-de",
        action="store_true",
        help="print DE genes between annotated types and between halves of a type (rule 1)",
    )
    a = p.parse_args()
    rules = [tuple(map(float, r.split(":"))) for r in a.rules.split(",")]
    rows = []
    print("tool\tdataset\tseed\trule\tari", flush=True)
    for name in a.datasets.split(","):
        adata = _common.load(name, a.worm_genes)
        truth = adata.obs["cell_type"].astype(str).to_numpy()
        x = log_expression(adata)
        k = _common.K[name]
        for tool, seed in itertools.product(a.tools.split(","), map(int, a.seeds.split(","))):
            z = np.load(os.path.join(a.dir, f"{tool}_{a.variant}_{name}_given_{seed}.npy"))
            z = np.asarray(z, dtype=np.float64)
            if a.type_de:
                print(f"# {tool} {name} seed {seed}:", type_de(x, truth, z, rules[0], seed))
            graph = knn_graph(z, 20, seed)
            fine = KMeans(3 * k, n_init=5, random_state=seed).fit_predict(z)
            for rule in rules:
                ari = adjusted_rand_score(truth, de_merge(x, fine, k, rule, graph))
                tag = ":".join(f"{v:g}" for v in rule)
                rows.append({"tool": tool, "dataset": name, "rule": tag, "ari": ari})
                print(f"{tool}\t{name}\t{seed}\t{tag}\t{ari:.4f}", flush=True)
    df = pd.DataFrame(rows)
    table = df.groupby(["tool", "rule", "dataset"], sort=False)["ari"].agg(["mean", "std"])
    table = table.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f}", axis=1).unstack()
    print(table.to_string())


if __name__ == "__main__":
    main()
