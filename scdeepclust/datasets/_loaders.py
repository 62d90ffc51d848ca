"""Loaders of the scDeepCluster / scDCC benchmark datasets as :class:`~anndata.AnnData`."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._download import fetch
from ._registry import get_info

__all__ = ["pbmc_10x", "mouse_bladder", "worm_neuron", "cite_cbmc"]

_MIN_BLOCK_ROWS = 512


def _read_sparse_rows(path: Path, key: str) -> sp.csr_matrix:
    """Read a dense 2-D HDF5 dataset as float32 CSR, block of rows by block of rows.

    The HDF5 chunk cache is sized to hold one row of chunks, so every chunk is
    decompressed once while only a block of rows is ever held densely in memory
    (beyond the chunk cache itself).
    """
    with h5py.File(path, "r") as fh:
        ds = fh[key]
        shape, chunks, itemsize = ds.shape, ds.chunks, ds.dtype.itemsize
    if len(shape) != 2:
        raise ValueError(f"{key!r} in {str(path)!r} is not a matrix (shape {shape}).")

    if chunks is None:  # contiguous storage: no chunk cache needed
        cache_bytes, step = 1 << 20, _MIN_BLOCK_ROWS
    else:
        chunk_row_bytes = math.ceil(shape[1] / chunks[1]) * chunks[0] * chunks[1] * itemsize
        cache_bytes = max(1 << 20, int(chunk_row_bytes * 1.05))
        # blocks of whole chunk rows; tall chunks stay in the cache across blocks
        step = chunks[0] * math.ceil(_MIN_BLOCK_ROWS / chunks[0])
        if chunks[0] > _MIN_BLOCK_ROWS:
            step = _MIN_BLOCK_ROWS

    blocks = []
    with h5py.File(path, "r", rdcc_nbytes=cache_bytes, rdcc_nslots=100_003, rdcc_w0=1.0) as fh:
        ds = fh[key].astype(np.float32)
        for start in range(0, shape[0], step):
            blocks.append(sp.csr_matrix(ds[start : start + step]))
    if not blocks:
        return sp.csr_matrix(shape, dtype=np.float32)
    out = sp.vstack(blocks, format="csr", dtype=np.float32)
    out.sum_duplicates()
    return out


def _labels_to_categorical(y: np.ndarray, path: Path) -> pd.Categorical:
    """Integer-valued labels (stored as int or float) to a categorical of strings."""
    y = np.asarray(y).ravel()
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise ValueError(f"Labels 'Y' in {str(path)!r} are not integer-valued.")
    elif y.dtype.kind not in "iu":
        raise ValueError(f"Labels 'Y' in {str(path)!r} have unexpected dtype {y.dtype}.")
    y = y.astype(np.int64)
    categories = [str(v) for v in np.unique(y)]  # np.unique sorts numerically
    return pd.Categorical(y.astype(str), categories=categories)


def _load(name: str, *, protein: bool = False) -> AnnData:
    info = get_info(name)
    path = fetch(name)

    with h5py.File(path, "r") as fh:
        y = fh["Y"][()]
        x_shape = fh["X"].shape
        adt = fh["ADT_X"][()] if protein else None
    n_obs = np.asarray(y).size

    # The scDCC files store X as cells x genes; accept the transposed layout too.
    if len(x_shape) == 2 and x_shape[0] == n_obs:
        X = _read_sparse_rows(path, "X")
    elif len(x_shape) == 2 and x_shape[1] == n_obs:
        X = _read_sparse_rows(path, "X").T.tocsr()
    else:
        raise ValueError(
            f"'X' in {str(path)!r} has shape {x_shape}, which does not match the "
            f"{n_obs} labels in 'Y'."
        )
    X.sort_indices()

    obs = pd.DataFrame(
        {"cell_type": _labels_to_categorical(y, path)},
        index=pd.Index([f"cell_{i}" for i in range(n_obs)]),
    )
    var = pd.DataFrame(index=pd.Index([f"gene_{j}" for j in range(X.shape[1])]))
    adata = AnnData(X=X, obs=obs, var=var)
    adata.layers["counts"] = X.copy()
    adata.uns["dataset"] = {"name": info.name, "source": info.url, "sha256": info.sha256}

    if protein:
        adt = np.asarray(adt, dtype=np.float32)
        if adt.ndim != 2 or n_obs not in adt.shape:
            raise ValueError(f"'ADT_X' in {str(path)!r} has unexpected shape {adt.shape}.")
        if adt.shape[0] != n_obs:
            adt = adt.T
        adata.obsm["protein"] = np.ascontiguousarray(adt)
    return adata


def pbmc_10x() -> AnnData:
    """Load the 10X PBMC dataset (4,271 cells x 2,000 genes, 8 cell types).

    Peripheral blood mononuclear cells of a healthy donor (10x Genomics "4k PBMCs"
    dataset), restricted to the 2,000 most informative genes, as distributed with
    scDCC by Tian et al. (2021) (file ``10X_PBMC_top2000.h5``).

    The file is looked for in :attr:`scdeepclust.settings.datasetdir` and downloaded
    from the scDCC GitHub repository if absent; its checksum is always verified.

    Returns
    -------
    anndata.AnnData
        ``4271 x 2000`` object with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["cell_type"]``: categorical ground-truth label, categories ``"1"``
          ... ``"8"``;
        - ``obs_names`` ``cell_0, ...``, ``var_names`` ``gene_0, ...`` (the file
          stores no gene names);
        - ``uns["dataset"]``: ``dict(name, source, sha256)``.

    Raises
    ------
    DatasetDownloadError
        If the file is not in :attr:`scdeepclust.settings.datasetdir` and cannot be
        downloaded (e.g. no network access). Place the file there manually or set the
        environment variable ``SCDEEPCLUST_DATASETDIR`` to a folder that holds it.
    DatasetChecksumError
        If the file's SHA-256 checksum does not match (corrupt or incomplete file).

    References
    ----------
    10x Genomics, "4k PBMCs from a healthy donor" (2017).
    Tian, T., Zhang, J., Lin, X., Wei, Z. & Hakonarson, H. Model-based deep embedding
    for constrained clustering analysis of single cell RNA-seq data. *Nat. Commun.*
    12, 1873 (2021).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.pbmc_10x()  # doctest: +SKIP
    """
    return _load("pbmc_10x")


def mouse_bladder() -> AnnData:
    """Load the mouse bladder dataset (2,746 cells x 2,003 genes, 16 cell types).

    Mouse bladder cells of the Mouse Cell Atlas (Microwell-seq, Han et al. 2018),
    restricted to 2,003 informative genes, as distributed with scDCC by Tian et al.
    (2021) (file ``mouse_bladder_cell_top2000.h5``).

    The file is looked for in :attr:`scdeepclust.settings.datasetdir` and downloaded
    from the scDCC GitHub repository if absent; its checksum is always verified.

    Returns
    -------
    anndata.AnnData
        ``2746 x 2003`` object with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["cell_type"]``: categorical ground-truth label, categories ``"1"``
          ... ``"16"``;
        - ``obs_names`` ``cell_0, ...``, ``var_names`` ``gene_0, ...`` (the file
          stores no gene names);
        - ``uns["dataset"]``: ``dict(name, source, sha256)``.

    Raises
    ------
    DatasetDownloadError
        If the file is not in :attr:`scdeepclust.settings.datasetdir` and cannot be
        downloaded (e.g. no network access). Place the file there manually or set the
        environment variable ``SCDEEPCLUST_DATASETDIR`` to a folder that holds it.
    DatasetChecksumError
        If the file's SHA-256 checksum does not match (corrupt or incomplete file).

    References
    ----------
    Han, X. et al. Mapping the mouse cell atlas by Microwell-seq. *Cell* 172,
    1091-1107 (2018).
    Tian, T. et al. Model-based deep embedding for constrained clustering analysis of
    single cell RNA-seq data. *Nat. Commun.* 12, 1873 (2021).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.mouse_bladder()  # doctest: +SKIP
    """
    return _load("mouse_bladder")


def worm_neuron() -> AnnData:
    """Load the worm neuron dataset (4,186 cells x 13,488 genes, 10 cell types).

    *C. elegans* neuronal cells profiled by sci-RNA-seq (Cao et al. 2017), with all
    13,488 genes kept (so it exercises gene selection), as distributed with scDCC by
    Tian et al. (2021) (file ``worm_neuron_cell.h5``).

    The file is looked for in :attr:`scdeepclust.settings.datasetdir` and downloaded
    from the scDCC GitHub repository if absent; its checksum is always verified.

    Returns
    -------
    anndata.AnnData
        ``4186 x 13488`` object with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["cell_type"]``: categorical ground-truth label, categories ``"1"``
          ... ``"10"``;
        - ``obs_names`` ``cell_0, ...``, ``var_names`` ``gene_0, ...`` (the file
          stores no gene names);
        - ``uns["dataset"]``: ``dict(name, source, sha256)``.

    Raises
    ------
    DatasetDownloadError
        If the file is not in :attr:`scdeepclust.settings.datasetdir` and cannot be
        downloaded (e.g. no network access). Place the file there manually or set the
        environment variable ``SCDEEPCLUST_DATASETDIR`` to a folder that holds it.
    DatasetChecksumError
        If the file's SHA-256 checksum does not match (corrupt or incomplete file).

    References
    ----------
    Cao, J. et al. Comprehensive single-cell transcriptional profiling of a
    multicellular organism. *Science* 357, 661-667 (2017).
    Tian, T. et al. Model-based deep embedding for constrained clustering analysis of
    single cell RNA-seq data. *Nat. Commun.* 12, 1873 (2021).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.worm_neuron()  # doctest: +SKIP
    """
    return _load("worm_neuron")


def cite_cbmc() -> AnnData:
    """Load the CITE-seq CBMC dataset (8,617 cells x 2,000 genes, 15 cell types).

    Cord blood mononuclear cells profiled by CITE-seq (Stoeckius et al. 2017): RNA
    counts of the 2,000 most informative genes plus 10 surface-protein (ADT) levels,
    as distributed with scDCC by Tian et al. (2021) (file
    ``CITE_CBMC_counts_top2000.h5``). scDCC turns the protein levels into
    must-link / cannot-link constraints between cells.

    The file is looked for in :attr:`scdeepclust.settings.datasetdir` and downloaded
    from the scDCC GitHub repository if absent; its checksum is always verified.

    Returns
    -------
    anndata.AnnData
        ``8617 x 2000`` object with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["cell_type"]``: categorical ground-truth label, categories ``"1"``
          ... ``"15"``;
        - ``obsm["protein"]``: ``8617 x 10`` dense ``float32`` array of the
          surface-protein levels, already normalized by the distributors
          (real-valued, can be negative; protein names are not stored);
        - ``obs_names`` ``cell_0, ...``, ``var_names`` ``gene_0, ...`` (the file
          stores no gene names);
        - ``uns["dataset"]``: ``dict(name, source, sha256)``.

    Raises
    ------
    DatasetDownloadError
        If the file is not in :attr:`scdeepclust.settings.datasetdir` and cannot be
        downloaded (e.g. no network access). Place the file there manually or set the
        environment variable ``SCDEEPCLUST_DATASETDIR`` to a folder that holds it.
    DatasetChecksumError
        If the file's SHA-256 checksum does not match (corrupt or incomplete file).

    References
    ----------
    Stoeckius, M. et al. Simultaneous epitope and transcriptome measurement in single
    cells. *Nat. Methods* 14, 865-868 (2017).
    Tian, T. et al. Model-based deep embedding for constrained clustering analysis of
    single cell RNA-seq data. *Nat. Commun.* 12, 1873 (2021).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.cite_cbmc()  # doctest: +SKIP
    >>> adata.obsm["protein"].shape  # doctest: +SKIP
    (8617, 10)
    """
    return _load("cite_cbmc", protein=True)
