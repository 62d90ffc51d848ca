"""Loaders of the benchmark datasets as :class:`~anndata.AnnData`.

The scDeepCluster / scDCC datasets (one HDF5 file each) and the real multi-batch
datasets (CellBench cell-line mixtures, Kang et al. 2018 PBMC).
"""

from __future__ import annotations

import math
from pathlib import Path

import anndata
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from ._download import fetch
from ._registry import CELLBENCH_BASE_URL, CELLBENCH_BATCHES, get_info

__all__ = ["pbmc_10x", "mouse_bladder", "worm_neuron", "cite_cbmc", "cellbench", "kang2018"]

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


# --------------------------------------------------------------------------- multi-batch


def _check_counts(X: sp.csr_matrix, path: Path) -> sp.csr_matrix:
    """Canonical float32 CSR of non-negative integer counts, or a ValueError."""
    X = sp.csr_matrix(X, dtype=np.float32)
    X.sum_duplicates()
    X.sort_indices()
    X.eliminate_zeros()
    data = X.data
    if not (
        np.all(np.isfinite(data)) and np.all(data >= 0) and np.array_equal(data, np.round(data))
    ):
        raise ValueError(
            f"The counts in {str(path)!r} are not non-negative integers; the file does not "
            f"hold raw counts."
        )
    return X


def _read_cellbench_batch(batch: str) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Counts (genes x cells), metadata (cells in count-column order), count file path."""
    count_path = fetch(f"cellbench_{batch}_count")
    meta_path = fetch(f"cellbench_{batch}_metadata")
    counts = pd.read_csv(count_path, index_col=0)
    meta = pd.read_csv(meta_path, index_col=0)

    missing = {"cell_line_demuxlet", "demuxlet_cls"} - set(meta.columns)
    if missing:
        raise ValueError(
            f"The metadata file {str(meta_path)!r} lacks the column(s) {sorted(missing)}."
        )
    if not counts.index.is_unique:
        raise ValueError(f"The gene ids of {str(count_path)!r} are not unique.")
    if not (meta.index.is_unique and counts.columns.is_unique):
        raise ValueError(f"The cell ids of batch {batch!r} are not unique.")
    if set(meta.index) != set(counts.columns):
        raise ValueError(
            f"The cells of {str(count_path)!r} ({counts.shape[1]}) and of "
            f"{str(meta_path)!r} ({meta.shape[0]}) do not match."
        )
    return counts, meta.loc[counts.columns], count_path


def cellbench(singlets_only: bool = True) -> AnnData:
    """Load the CellBench cell-line mixtures (5 batches, 2 technologies, 5 cell lines).

    Human lung-adenocarcinoma cell lines (A549, H1975, H2228, HCC827, H838) mixed and
    profiled in five batches on two technologies (Tian et al. 2019): three CEL-seq2
    plates of a five-cell-line mixture (``sc_celseq2_5cl_p1``, ``_p2``, ``_p3``), and a
    three-cell-line mixture (H1975, H2228, HCC827) by CEL-seq2 (``sc_celseq2``) and by
    Drop-seq (``sc_dropseq``). The ground-truth cell line of each cell was called from
    its genotype by demuxlet, independently of the expression data, which makes the
    dataset a real benchmark of batch correction with known cell types.

    The ten files (per batch ``<batch>.count.csv.gz``, genes x cells, and
    ``<batch>.metadata.csv.gz``) are looked for in the sub-folder ``cellbench`` of
    :attr:`scdeepclust.settings.datasetdir` and downloaded from the CellBench GitHub
    repository (https://github.com/LuyiTian/sc_mixology, folder ``data/csv``) if
    absent; their checksums are always verified.

    Parameters
    ----------
    singlets_only
        Keep only the cells demuxlet called singlets (``demuxlet_cls == "SNG"``),
        which have a clean ground truth: 1,021 of the 1,408 cells. With ``False``
        the doublets are kept too (their ``cell_type`` names only one of the cell
        lines mixed in the droplet or well).

    Returns
    -------
    anndata.AnnData
        ``1021 x 11533`` object (``1408 x 11533`` with ``singlets_only=False``) over
        the 11,533 genes shared by the five count files (sorted), with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["batch"]``: categorical batch (the file prefix), categories
          ``"sc_celseq2_5cl_p1"``, ``"sc_celseq2_5cl_p2"``, ``"sc_celseq2_5cl_p3"``,
          ``"sc_celseq2"``, ``"sc_dropseq"``;
        - ``obs["technology"]``: categorical, ``"CEL-seq2"`` or ``"Drop-seq"``;
        - ``obs["cell_type"]``: categorical ground truth, the cell line called by
          demuxlet (``cell_line_demuxlet``): ``"A549"``, ``"H1975"``, ``"H2228"``,
          ``"H838"``, ``"HCC827"`` (A549 and H838 only in the three plates);
        - ``obs["demuxlet_cls"]``: categorical demuxlet call, ``"SNG"`` (singlet) or
          ``"DBL"`` (doublet); only ``"SNG"`` with ``singlets_only=True``;
        - ``obs_names`` ``<batch>_<cell id>`` (cell ids repeat across the plates),
          ``var_names`` the Ensembl gene ids;
        - ``uns["dataset"]``: ``dict(name, source, sha256, singlets_only)`` where
          ``sha256`` maps each file name to its checksum.

    Raises
    ------
    DatasetDownloadError
        If a file is not in :attr:`scdeepclust.settings.datasetdir` and cannot be
        downloaded (e.g. no network access). Place the ``cellbench`` folder there
        manually or set the environment variable ``SCDEEPCLUST_DATASETDIR`` to a
        folder that holds it.
    DatasetChecksumError
        If a file's SHA-256 checksum does not match (corrupt or incomplete file).

    References
    ----------
    Tian, L. et al. Benchmarking single cell RNA-sequencing analysis pipelines using
    mixture control experiments. *Nat. Methods* 16, 479-487 (2019). GEO GSE118767.

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.cellbench()  # doctest: +SKIP
    >>> adata.obs["batch"].nunique(), adata.obs["cell_type"].nunique()  # doctest: +SKIP
    (5, 5)
    """
    batches = {batch: _read_cellbench_batch(batch) for batch in CELLBENCH_BATCHES}

    shared = None
    for counts, _, _ in batches.values():
        shared = counts.index if shared is None else shared.intersection(counts.index)
    genes = pd.Index(sorted(shared))

    blocks, obs_parts, sha256 = [], [], {}
    for batch, (counts, meta, path) in batches.items():
        keep = (meta["demuxlet_cls"] == "SNG").to_numpy() if singlets_only else slice(None)
        meta = meta.loc[keep]
        for kind in ("count", "metadata"):
            info = get_info(f"cellbench_{batch}_{kind}")
            sha256[Path(info.filename).name] = info.sha256
        blocks.append(_check_counts(sp.csr_matrix(counts.loc[genes, keep].to_numpy().T), path))
        obs_parts.append(
            pd.DataFrame(
                {
                    "batch": batch,
                    "technology": CELLBENCH_BATCHES[batch],
                    "cell_type": meta["cell_line_demuxlet"].astype(str).to_numpy(),
                    "demuxlet_cls": meta["demuxlet_cls"].astype(str).to_numpy(),
                },
                index=pd.Index([f"{batch}_{cell}" for cell in meta.index]),
            )
        )

    X = sp.vstack(blocks, format="csr", dtype=np.float32)
    X.sort_indices()
    obs = pd.concat(obs_parts)
    obs["batch"] = pd.Categorical(obs["batch"], categories=list(CELLBENCH_BATCHES))
    obs["technology"] = pd.Categorical(
        obs["technology"], categories=sorted(set(CELLBENCH_BATCHES.values()))
    )
    for key in ("cell_type", "demuxlet_cls"):
        obs[key] = pd.Categorical(obs[key], categories=sorted(obs[key].unique()))
    if not obs.index.is_unique:
        raise ValueError("The CellBench cell names are not unique across batches.")

    adata = AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["counts"] = X.copy()
    adata.uns["dataset"] = {
        "name": "cellbench",
        "source": CELLBENCH_BASE_URL + "data/csv/",
        "sha256": sha256,
        "singlets_only": bool(singlets_only),
    }
    return adata


def kang2018() -> AnnData:
    """Load the Kang et al. (2018) PBMC example (1,556 cells x 1,267 genes, 4 samples).

    Peripheral blood mononuclear cells of two lupus patients, each before (``ctrl``)
    and after (``stim``) stimulation with interferon-beta, multiplexed and profiled
    with 10x Genomics droplets (Kang et al. 2018): four samples (batches) and five
    cell types. This is the ``example_sce`` subset shipped with the muscat R package
    (Crowell et al. 2020), converted to h5ad (file
    ``kang2018_pbmc_ifnb_example.h5ad``). The stimulation shifts the expression of
    every cell type, so the sample is a strong, real batch-like effect.

    The file has no direct download URL (it was converted by hand from
    ``data/example_sce.rda`` of https://github.com/HelenaLC/muscat with the ``rdata``
    PyPI package): it must already be in :attr:`scdeepclust.settings.datasetdir`.
    Its checksum is always verified.

    Returns
    -------
    anndata.AnnData
        ``1556 x 1267`` object with

        - ``X``: raw UMI counts, :class:`scipy.sparse.csr_matrix` of ``float32``;
        - ``layers["counts"]``: a separate copy of the raw counts;
        - ``obs["cell_type"]``: categorical ground truth, a copy of ``cluster_id``:
          ``"B cells"``, ``"CD14+ Monocytes"``, ``"CD4 T cells"``, ``"CD8 T cells"``,
          ``"FCGR3A+ Monocytes"``;
        - ``obs["batch"]``: categorical sample, a copy of ``sample_id``:
          ``"ctrl101"``, ``"ctrl107"``, ``"stim101"``, ``"stim107"``;
        - the original columns ``obs["cluster_id"]``, ``obs["sample_id"]``,
          ``obs["group_id"]`` (``"ctrl"`` / ``"stim"``) and ``obs["donor"]``
          (``"101"`` / ``"107"``), categorical;
        - ``obs_names`` the cell barcodes, ``var_names`` the gene symbols;
        - ``uns["dataset"]``: ``dict(name, source, sha256)``.

    Raises
    ------
    DatasetDownloadError
        If the file is not in :attr:`scdeepclust.settings.datasetdir`; the message
        says where to put it and how it was made.
    DatasetChecksumError
        If the file's SHA-256 checksum does not match (corrupt, incomplete or a
        different conversion).

    References
    ----------
    Kang, H. M. et al. Multiplexed droplet single-cell RNA-sequencing using natural
    genetic variation. *Nat. Biotechnol.* 36, 89-94 (2018). GEO GSE96583.
    Crowell, H. L. et al. muscat detects subpopulation-specific state transitions from
    multi-sample multi-condition single-cell transcriptomics data. *Nat. Commun.* 11,
    6077 (2020).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.kang2018()  # doctest: +SKIP
    >>> adata.obs["batch"].cat.categories.tolist()  # doctest: +SKIP
    ['ctrl101', 'ctrl107', 'stim101', 'stim107']
    """
    info = get_info("kang2018")
    path = fetch("kang2018")
    raw = anndata.read_h5ad(path)

    missing = {"cluster_id", "sample_id"} - set(raw.obs.columns)
    if missing:
        raise ValueError(f"The file {str(path)!r} lacks the obs column(s) {sorted(missing)}.")
    X = _check_counts(raw.X, path)

    obs = raw.obs.copy()
    for key in obs.columns:
        if not isinstance(obs[key].dtype, pd.CategoricalDtype):
            obs[key] = obs[key].astype("category")
    obs["cell_type"] = obs["cluster_id"].cat.remove_unused_categories()
    obs["batch"] = obs["sample_id"].cat.remove_unused_categories()

    adata = AnnData(X=X, obs=obs, var=pd.DataFrame(index=raw.var_names.copy()))
    adata.layers["counts"] = X.copy()
    adata.uns["dataset"] = {"name": info.name, "source": info.source, "sha256": info.sha256}
    return adata
