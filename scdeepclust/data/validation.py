"""Input checks run before any training; each error says what is wrong and how to fix it."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

logger = logging.getLogger("scdeepclust")


def get_counts(adata: AnnData, layer: str | None) -> sp.csr_matrix:
    """Return the raw counts as a CSR float32 matrix, which the caller must not modify.

    A float32 CSR matrix in canonical form is returned as it is (no copy: nothing in the
    package writes into the counts); anything else is converted into a new matrix.
    """
    if layer is None:
        where = "adata.X"
        if adata.isbacked:  # X stays on disk: read it once, in row blocks, as float32 CSR
            counts = read_backed_rows(adata.X, adata.n_obs)
            counts.sum_duplicates()
            check_counts(counts, where + " (backed)")
            return counts
        X = adata.X
    else:
        if layer not in adata.layers:
            available = ", ".join(repr(k) for k in adata.layers.keys()) or "none"
            raise KeyError(
                f"Layer {layer!r} not found in adata.layers (available: {available}). "
                "Store the raw counts there, e.g. `adata.layers['counts'] = adata.X.copy()` "
                "before normalising, or pass `layer=None` to read raw counts from adata.X."
            )
        X = adata.layers[layer]
        where = f"adata.layers[{layer!r}]"
    if X is None:
        raise ValueError(f"{where} is empty; it must hold the raw counts (n_obs x n_vars).")
    if not (sp.issparse(X) or isinstance(X, np.ndarray)):
        try:
            X = np.asarray(X)
        except Exception as err:  # pragma: no cover - exotic array types
            raise TypeError(
                f"{where} is a {type(X).__name__}; expected a numpy array or scipy sparse matrix."
            ) from err
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise TypeError(f"{where} has dtype {X.dtype}; raw counts must be numeric.")
    if type(X) is sp.csr_matrix and X.dtype == np.float32 and X.has_canonical_format:
        counts = X  # already what the model reads: shared, never modified (no second copy)
    else:
        counts = sp.csr_matrix(X, dtype=np.float32, copy=True)
        counts.sum_duplicates()
    check_counts(counts, where)
    return counts


def read_backed_rows(X, n_obs: int, block_size: int = 65536) -> sp.csr_matrix:
    """A backed (on-disk) matrix read in row blocks into one float32 CSR matrix.

    Only one block at a time is held in its stored dtype, so the peak is about one float32
    CSR copy of the counts (plus one block), not the stored matrix and its conversion.
    """
    blocks = [
        sp.csr_matrix(X[start : start + block_size], dtype=np.float32)
        for start in range(0, n_obs, block_size)
    ]
    return sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]


def check_counts(counts: sp.csr_matrix, where: str, chunk: int = 1 << 22) -> None:
    """Raise if the counts hold NaN / inf, negative or non-integer values.

    The values are checked in chunks of ``chunk`` non-zeros, so the temporaries stay small.
    """
    data = counts.data
    n_bad = n_neg = n_frac = 0
    for start in range(0, len(data), chunk):
        block = data[start : start + chunk]
        finite = np.isfinite(block)
        n_bad += int(np.count_nonzero(~finite))
        n_neg += int(np.count_nonzero(block < 0))
        n_frac += int(np.count_nonzero(finite & (block != np.round(block))))
    if n_bad:
        raise ValueError(
            f"{where} holds {n_bad} NaN or infinite values; raw counts must be finite. "
            "Pass the unnormalised count matrix."
        )
    if n_neg:
        raise ValueError(
            f"{where} holds {n_neg} negative values; it does not look like raw counts "
            "(was it scaled?). Pass the raw UMI / read counts, e.g. with `layer='counts'`."
        )
    if n_frac:
        raise ValueError(
            f"{where} holds {n_frac} non-integer values; the ZINB likelihood needs raw integer "
            "counts (was the layer normalised or log-transformed?). Pass the raw counts."
        )


def resolve_mask_var(
    adata: AnnData, mask_var: str | Sequence[bool] | np.ndarray | None
) -> np.ndarray:
    """Boolean gene mask of length n_vars from None, a bool array or an ``adata.var`` column."""
    if mask_var is None:
        return np.ones(adata.n_vars, dtype=bool)
    if isinstance(mask_var, str):
        if mask_var not in adata.var.columns:
            raise KeyError(
                f"mask_var={mask_var!r} is not a column of adata.var. Compute it first, e.g. "
                "`sc.pp.highly_variable_genes(adata, flavor='seurat_v3', layer='counts', "
                "n_top_genes=2000)` for 'highly_variable', or pass a boolean array."
            )
        mask = adata.var[mask_var].to_numpy()
        what = f"adata.var[{mask_var!r}]"
    else:
        mask = np.asarray(mask_var)
        what = "mask_var"
    if mask.dtype != bool:
        raise TypeError(f"{what} must be boolean (one value per gene), found dtype {mask.dtype}.")
    if mask.shape != (adata.n_vars,):
        raise ValueError(
            f"{what} has shape {mask.shape}; it needs one boolean per gene ({adata.n_vars},)."
        )
    if not mask.any():
        raise ValueError(f"{what} selects no gene; select at least one gene to cluster on.")
    return mask


def select_genes(counts: sp.csr_matrix, mask: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Restrict to ``mask`` genes and drop genes with no count (logged). Returns counts, mask."""
    mask = mask.copy()
    gene_totals = np.asarray(counts.sum(axis=0)).ravel()
    empty = mask & (gene_totals == 0)
    if empty.any():
        logger.info(
            "Leaving out %d of %d selected genes with zero counts in every cell "
            "(they carry no signal).",
            int(empty.sum()),
            int(mask.sum()),
        )
        mask &= ~empty
    if not mask.any():
        raise ValueError(
            "Every selected gene has zero counts in every cell; nothing to cluster on. "
            "Check `layer` and `mask_var`."
        )
    if not mask.all():  # no second copy of the matrix when every gene is kept
        counts = counts[:, np.flatnonzero(mask)].tocsr()
    check_cells_have_counts(counts, selected=not mask.all())
    return counts, mask


def check_cells_have_counts(counts: sp.csr_matrix, selected: bool) -> None:
    """Raise if a cell has no count (in the ``selected`` genes): its size factor would be 0."""
    cell_totals = np.asarray(counts.sum(axis=1)).ravel()
    n_empty = int(np.count_nonzero(cell_totals == 0))
    if n_empty:
        where = "in the selected genes" if selected else ""
        raise ValueError(
            f"{n_empty} cells have zero total counts {where}".rstrip()
            + "; size factors are undefined for them. Remove them first, e.g. "
            "`sc.pp.filter_cells(adata, min_counts=1)`"
            + (" after subsetting to the selected genes" if where else "")
            + "."
        )


def check_n_clusters(n_clusters: int | None, n_obs: int) -> int | None:
    """Check that 2 <= n_clusters <= n_obs."""
    if n_clusters is None:
        return None
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise TypeError(f"n_clusters must be an int or None, found {type(n_clusters).__name__}.")
    if n_clusters < 2:
        raise ValueError(
            f"n_clusters={n_clusters}: need at least 2 clusters. Pass n_clusters >= 2, or "
            "n_clusters=None to estimate the number with Leiden."
        )
    if n_clusters > n_obs:
        raise ValueError(
            f"n_clusters={n_clusters} is more than the {n_obs} cells; pass at most n_obs clusters."
        )
    return int(n_clusters)


def check_pairs(pairs, adata: AnnData, name: str) -> np.ndarray:
    """Return constraint pairs as an int64 (n_pairs, 2) array of row indices.

    Accepts integer row indices or obs names.
    """
    if pairs is None:
        return np.zeros((0, 2), dtype=np.int64)
    arr = np.asarray(pairs)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f"{name} must be an (n_pairs, 2) array of cell indices or obs names, "
            f"found shape {arr.shape}."
        )
    if arr.dtype.kind in "OUS":
        if not adata.obs_names.is_unique:
            raise ValueError(
                f"{name} gives cells by name, but adata.obs_names are not unique; call "
                "`adata.obs_names_make_unique()` first or pass integer row indices."
            )
        index = adata.obs_names.get_indexer(pd.Index(arr.ravel().astype(str)))
        missing = arr.ravel()[index < 0]
        if missing.size:
            raise ValueError(
                f"{name} names {missing.size} cells that are not in adata.obs_names, "
                f"e.g. {missing[:3].tolist()}."
            )
        arr = index.reshape(-1, 2)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError(f"{name} must hold integer cell indices, found non-integer values.")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer cell indices or obs names, found {arr.dtype}.")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= adata.n_obs)
    if bad.any():
        raise ValueError(
            f"{name} holds {int(bad.any(axis=1).sum())} pairs with a cell index outside "
            f"[0, {adata.n_obs - 1}] (n_obs = {adata.n_obs}); indices are 0-based row positions."
        )
    selfs = arr[:, 0] == arr[:, 1]
    if selfs.any():
        raise ValueError(
            f"{name} pairs {int(selfs.sum())} cells with themselves (e.g. row "
            f"{int(np.flatnonzero(selfs)[0])}); remove those pairs."
        )
    return arr


def check_pair_conflicts(must_link: np.ndarray, cannot_link: np.ndarray, adata: AnnData) -> None:
    """Raise ValueError if a pair of cells is both must-link and cannot-link (in any order)."""
    if not len(must_link) or not len(cannot_link):
        return
    ml = {tuple(sorted(p)) for p in must_link.tolist()}
    both = sorted(ml.intersection(tuple(sorted(p)) for p in cannot_link.tolist()))
    if both:
        i, j = both[0]
        raise ValueError(
            f"{len(both)} pairs are both must-link and cannot-link, e.g. cells {i} and {j} "
            f"({adata.obs_names[i]!r}, {adata.obs_names[j]!r}); a pair can be one or the "
            "other: remove it from one of the two lists."
        )


def warn_user(message: str) -> None:
    """A UserWarning attributed to the caller's line outside scdeepclust (tool, model or CLI)."""
    package = Path(__file__).resolve().parents[1]
    frame, level = sys._getframe(1), 1
    while frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level + 1)


def warn_duplicate_obs_names(adata: AnnData) -> None:
    """Warn as anndata does when obs_names repeat (outputs are still written by position)."""
    if not adata.obs_names.is_unique:
        warn_user("obs_names are not unique. To make them unique, call `.obs_names_make_unique`.")
