"""Gene selection for the full-gene worm data: the scanpy PCA pipeline on each gene set.

python -m benchmarks.studies.worm_genes.worm_genes
"""

from __future__ import annotations

from benchmarks.baseline import kmeans_labels, leiden_labels, pipeline_pca
from benchmarks.datasets import DATASETS, GENE_FLAVORS, load_with_genes
from benchmarks.metrics import clustering_scores


def main() -> None:
    """One row per gene set and seed: ARI of PCA + k-means and PCA + Leiden, Leiden's k."""
    print("genes\tseed\tpca_kmeans\tpca_leiden\tleiden_k\tn_genes")
    for flavor in ("authors", *(f for f in GENE_FLAVORS if f != "authors")):
        adata, mask = load_with_genes("worm", flavor)
        genes = adata.var[mask].to_numpy()
        truth = adata.obs["cell_type"].to_numpy()
        for seed in (0, 1, 2):
            b = pipeline_pca(adata.layers["counts"][:, genes], seed)
            km = kmeans_labels(b.obsm["X_pca"], DATASETS["worm"].k, seed)
            leiden = leiden_labels(b, seed)
            print(
                f"{flavor}\t{seed}\t{clustering_scores(km, truth)[0]:.4f}"
                f"\t{clustering_scores(leiden, truth)[0]:.4f}"
                f"\t{leiden.nunique()}\t{genes.sum()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
