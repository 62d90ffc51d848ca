"""The one dataset registry of the benchmarks and studies, over :mod:`scdeepclust.datasets`.

============  =================  ===  ============================================  ==========
name          loader             k    genes                                         used by
============  =================  ===  ============================================  ==========
``pbmc``      ``pbmc_10x``       8    all (2,000)                                   quality
``bladder``   ``mouse_bladder``  16   all (2,000)                                   quality
``worm``      ``worm_neuron``    10   2,000 highly variable (``seurat``)            quality
``cite``      ``cite_cbmc``      15   all (2,000); protein constraints              quality
``cellbench`` ``cellbench``      5    2,000 highly variable (``seurat``)            batches
``kang``      ``kang2018``       5    all (1,267)                                   batches
============  =================  ===  ============================================  ==========

Files are read from ``SCDEEPCLUST_DATASETDIR`` (the package's setting). Highly variable
genes are marked in ``var["highly_variable"]`` and passed to the tools as ``mask_var``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dataset",
    "DATASETS",
    "QUALITY",
    "BATCHES",
    "GENE_FLAVORS",
    "load_dataset",
    "select_genes",
    "load_with_genes",
]


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset.

    Attributes
    ----------
    loader
        Name of the loader function in :mod:`scdeepclust.datasets`.
    k
        Number of annotated cell types (``n_clusters`` when k is given).
    n_top_genes
        Select this many highly variable genes (``mask_var="highly_variable"``); None: all.
    constraint_rep
        ``obsm`` key the protein constraints are built from; None: no constrained variant.
    """

    loader: str
    k: int
    n_top_genes: int | None = None
    constraint_rep: str | None = None


#: Every dataset of the suite and the studies, by short name.
DATASETS: dict[str, Dataset] = {
    "pbmc": Dataset("pbmc_10x", 8),
    "bladder": Dataset("mouse_bladder", 16),
    "worm": Dataset("worm_neuron", 10, n_top_genes=2000),
    "cite": Dataset("cite_cbmc", 15, constraint_rep="protein"),
    "cellbench": Dataset("cellbench", 5, n_top_genes=2000),
    "kang": Dataset("kang2018", 5),
}

#: The single-batch datasets of the quality table.
QUALITY: tuple[str, ...] = ("pbmc", "bladder", "worm", "cite")

#: The multi-batch datasets of the batch-mixing table.
BATCHES: tuple[str, ...] = ("cellbench", "kang")

#: Gene selections :func:`select_genes` knows: scanpy flavours, and the scDCC authors' genes.
GENE_FLAVORS: tuple[str, ...] = ("seurat", "seurat_v3", "cell_ranger", "authors")


def load_dataset(name: str, *, max_cells: int | None = None, seed: int = 0):
    """Load a dataset of :data:`DATASETS`, optionally a random subset of its cells.

    Parameters
    ----------
    name
        Key of :data:`DATASETS`.
    max_cells
        Keep at most this many randomly chosen cells (smoke tests); None: all.
    seed
        Seed of the subsampling.

    Returns
    -------
    anndata.AnnData
        Raw counts in ``X`` and ``layers["counts"]``, labels in ``obs["cell_type"]``.
    """
    from scdeepclust import datasets

    adata = getattr(datasets, DATASETS[name].loader)()
    if max_cells is not None and adata.n_obs > max_cells:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(adata.n_obs, size=max_cells, replace=False))
        adata = adata[keep].copy()
    return adata


def select_genes(adata, n_top_genes: int | None, flavor: str = "seurat") -> tuple[str | None, str]:
    """Mark the ``n_top_genes`` most variable genes in ``var["highly_variable"]``.

    The default is the README's recommended call: ``sc.pp.highly_variable_genes(flavor=
    "seurat")`` on a normalised, log-transformed copy of the counts. On the worm data it was
    measured against the scDCC authors' 2,000 genes, ``"seurat_v3"`` and ``"cell_ranger"``;
    none was better over seeds (``benchmarks/studies/worm_genes``), and ``"seurat"`` needs
    no extra dependency.

    Parameters
    ----------
    adata
        Dataset with raw counts in ``layers["counts"]``; ``var`` gains the column.
    n_top_genes
        Genes to select; None selects nothing and adds no column.
    flavor
        One of :data:`GENE_FLAVORS`. ``"seurat_v3"`` (scikit-misc) ranks raw counts and
        skips genes seen in fewer than 3 cells (its loess fails on them); ``"authors"``
        marks the genes of the scDCC authors' ``worm_neuron_cell_top2000.h5``.

    Returns
    -------
    mask_var
        ``"highly_variable"``, or None for all genes.
    description
        ``"all"`` or e.g. ``"hvg2000:seurat"``.
    """
    if n_top_genes is None:
        return None, "all"
    if flavor not in GENE_FLAVORS:
        raise ValueError(f"unknown gene flavor {flavor!r}; choose from {GENE_FLAVORS}")
    if flavor == "authors":
        mask = authors_worm_genes(adata)
    elif flavor == "seurat_v3":
        mask = _seurat_v3_genes(adata, n_top_genes)
    else:
        mask = _log_hvg(adata, n_top_genes, flavor)
    adata.var["highly_variable"] = mask
    return "highly_variable", f"hvg{n_top_genes}:{flavor}"


def load_with_genes(name: str, flavor: str = "seurat"):
    """A dataset with its registry gene selection: ``(adata, mask_var)``."""
    adata = load_dataset(name)
    mask_var, _ = select_genes(adata, DATASETS[name].n_top_genes, flavor)
    return adata, mask_var


def _log_hvg(adata, n_top_genes: int, flavor: str) -> np.ndarray:
    """Highly variable genes of normalize_total + log1p counts (``seurat``, ``cell_ranger``)."""
    import scanpy as sc

    tmp = sc.AnnData(adata.layers["counts"].copy())
    sc.pp.normalize_total(tmp)
    sc.pp.log1p(tmp)
    sc.pp.highly_variable_genes(tmp, flavor=flavor, n_top_genes=n_top_genes)
    return tmp.var["highly_variable"].to_numpy()


def _seurat_v3_genes(adata, n_top_genes: int) -> np.ndarray:
    """``seurat_v3`` on the raw counts of the genes seen in at least 3 cells."""
    import scanpy as sc

    seen = np.asarray((adata.layers["counts"] > 0).sum(axis=0)).ravel() >= 3
    sub = sc.AnnData(adata.layers["counts"][:, seen])
    sc.pp.highly_variable_genes(sub, flavor="seurat_v3", n_top_genes=n_top_genes)
    mask = np.zeros(adata.n_vars, dtype=bool)
    mask[np.flatnonzero(seen)[sub.var["highly_variable"].to_numpy()]] = True
    return mask


def authors_worm_genes(adata) -> np.ndarray:
    """Boolean mask of the genes of ``worm_neuron_cell_top2000.h5`` (matched by column).

    Each column is fingerprinted by its counts weighted by the cell index; the file lies
    next to the full-gene worm file in ``SCDEEPCLUST_DATASETDIR``.
    """
    import h5py
    import scipy.sparse as sp

    from scdeepclust import settings

    path = os.path.join(settings.datasetdir, "worm_neuron_cell_top2000.h5")
    with h5py.File(path, "r") as f:
        top = np.asarray(f["X"][()], dtype=np.float64)
    full = sp.csc_matrix(adata.layers["counts"], dtype=np.float64)
    w = np.arange(1, full.shape[0] + 1, dtype=np.float64)
    lookup = {v: i for i, v in enumerate(np.round(np.asarray(full.T @ w).ravel(), 3))}
    mask = np.zeros(full.shape[1], dtype=bool)
    mask[[lookup[v] for v in np.round(top.T @ w, 3)]] = True
    return mask
