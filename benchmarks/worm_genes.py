"""Gene selection for the full-gene worm data: the scanpy PCA pipeline on each gene set.

python benchmarks/worm_genes.py
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def main() -> None:
    import scanpy as sc
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score as ari

    print("genes\tseed\tpca_kmeans\tpca_leiden\tleiden_k\tn_genes")
    for flavor in ("authors", "seurat", "seurat_v3", "cell_ranger"):
        adata = _common.load("worm", flavor)
        genes = adata.var["highly_variable"].to_numpy()
        for seed in (0, 1, 2):
            b = sc.AnnData(adata.layers["counts"][:, genes].copy())
            sc.pp.normalize_total(b)
            sc.pp.log1p(b)
            sc.pp.scale(b, max_value=10)
            sc.pp.pca(b, n_comps=50, random_state=seed)
            km = KMeans(10, n_init=10, random_state=seed).fit_predict(b.obsm["X_pca"])
            sc.pp.neighbors(b, n_neighbors=15, transformer="sklearn", random_state=seed)
            sc.tl.leiden(b, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
            truth = adata.obs["cell_type"].to_numpy()
            print(
                f"{flavor}\t{seed}\t{ari(truth, km):.4f}\t{ari(truth, b.obs['leiden']):.4f}"
                f"\t{b.obs['leiden'].nunique()}\t{genes.sum()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
