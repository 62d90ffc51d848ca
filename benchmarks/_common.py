"""Shared helpers of the research scripts in this folder: datasets with their gene selection."""

from __future__ import annotations

import os

import numpy as np

K = {"pbmc": 8, "bladder": 16, "worm": 10, "cite": 15}
LOADERS = {
    "pbmc": "pbmc_10x",
    "bladder": "mouse_bladder",
    "worm": "worm_neuron",
    "cite": "cite_cbmc",
}


def load(name: str, worm_genes: str = "seurat_v3"):
    """Dataset with raw counts in layers['counts'], labels in obs['cell_type'].

    Worm (all 13,488 genes) gets ``var['highly_variable']`` from ``worm_genes``: a scanpy
    flavour ("seurat", "seurat_v3", "cell_ranger") or "authors" (the scDCC top-2000 file's
    genes, matched by their count columns).
    """
    os.environ.setdefault("SCDEEPCLUST_DATASETDIR", os.path.abspath("../shared/data"))
    from scdeepclust import datasets

    adata = getattr(datasets, LOADERS[name])()
    if name == "worm":
        mark_genes(adata, worm_genes)
    return adata


def mark_genes(adata, flavor: str, n_top: int = 2000) -> None:
    """Mark ``n_top`` genes in ``var['highly_variable']``."""
    import scanpy as sc

    if flavor == "authors":
        adata.var["highly_variable"] = authors_worm_genes(adata)
        return
    if flavor == "seurat_v3":
        # loess fails on genes seen in one or two cells: rank the others
        seen = np.asarray((adata.layers["counts"] > 0).sum(axis=0)).ravel() >= 3
        sub = sc.AnnData(adata.layers["counts"][:, seen])
        sc.pp.highly_variable_genes(sub, flavor="seurat_v3", n_top_genes=n_top)
        mask = np.zeros(adata.n_vars, dtype=bool)
        mask[np.flatnonzero(seen)[sub.var["highly_variable"].to_numpy()]] = True
        adata.var["highly_variable"] = mask
        return
    tmp = sc.AnnData(adata.layers["counts"].copy())
    sc.pp.normalize_total(tmp)
    sc.pp.log1p(tmp)
    sc.pp.highly_variable_genes(tmp, flavor=flavor, n_top_genes=n_top)
    adata.var["highly_variable"] = tmp.var["highly_variable"].to_numpy()


def authors_worm_genes(adata) -> np.ndarray:
    """Boolean mask of the genes of ``worm_neuron_cell_top2000.h5`` (matched by column)."""
    import h5py
    import scipy.sparse as sp

    path = os.path.join(os.environ["SCDEEPCLUST_DATASETDIR"], "worm_neuron_cell_top2000.h5")
    with h5py.File(path, "r") as f:
        top = np.asarray(f["X"][()], dtype=np.float64)
    full = adata.layers["counts"]
    full = sp.csc_matrix(full, dtype=np.float64)
    # fingerprint each column by its sum and sum of squares weighted by cell index
    w = np.arange(1, full.shape[0] + 1, dtype=np.float64)
    fp_full = np.round(np.asarray(full.T @ w).ravel(), 3)
    fp_top = np.round(top.T @ w, 3)
    lookup = {v: i for i, v in enumerate(fp_full)}
    mask = np.zeros(full.shape[1], dtype=bool)
    for v in fp_top:
        mask[lookup[v]] = True
    return mask


def add_saved_embedding_args(parser) -> None:
    """The options of the scripts that read ``variants.py --save-init DIR`` embeddings."""
    parser.add_argument("--dir", required=True, help="folder of variants.py --save-init")
    parser.add_argument("--tools", default="scdcc,desc")
    parser.add_argument("--variant", default="base")
    parser.add_argument("--datasets", default="pbmc,bladder,worm,cite")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--worm-genes", default="seurat")
