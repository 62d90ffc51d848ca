"""Pairwise must-link / cannot-link constraints for scDCC.

scDCC (Tian et al., Nat Commun 2021) adds two pairwise terms to the deep embedded clustering
loss: a must-link (ML) pair of cells is pushed into the same cluster, a cannot-link (CL) pair
into different clusters. The builders here turn prior knowledge stored in an AnnData into the
two index arrays that :func:`scdeepclust.tl.scdcc` accepts, following the rules used in the
paper's experiments:

- :func:`constraints_from_labels`: pairs of cells with partially known labels (same label ->
  ML, different label -> CL);
- :func:`constraints_from_rep`: the CITE-seq protein rule (pairs very close in protein space ->
  ML, very far apart -> CL).

Pair sampling works on the linear index of the unordered pair, so no step allocates
``n_obs x n_obs`` memory and every row is a distinct pair ``(i, j)`` with ``i < j``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial.distance import pdist

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger(__name__)

__all__ = ["constraints_from_labels", "constraints_from_rep"]

# Up to this many distinct pairs, cut-offs are computed exactly from all pairwise distances
# (scipy ``pdist``: 16 MB of float64); beyond it they are estimated from a random sample of
# ``_N_QUANTILE_SAMPLE`` pairs (about n_obs = 2,000 cells).
_MAX_EXACT_PAIRS = 2_000_000
_N_QUANTILE_SAMPLE = 2_000_000
# Rejection sampling: candidate pairs per block (bounds) and the number of blocks after which
# :func:`constraints_from_rep` gives up.
_MIN_BLOCK = 1 << 16
_MAX_BLOCK = 1 << 20
_MAX_BLOCKS = 1000
# Rows of ``x[i] - x[j]`` materialised at once when computing pair distances (~ 64 MB float64).
_DIST_CHUNK_VALUES = 1 << 23


def _n_pairs_total(n: int) -> int:
    """Count the distinct unordered pairs among ``n`` items."""
    return n * (n - 1) // 2


def _decode_pairs(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map linear pair indices to ``(i, j)`` with ``i < j``.

    ``k = j * (j - 1) / 2 + i`` enumerates the strict lower triangle row by row, so
    ``k in [0, n * (n - 1) / 2)`` covers every unordered pair of ``n`` items exactly once.
    """
    k = np.asarray(k, dtype=np.int64)
    j = ((1.0 + np.sqrt(1.0 + 8.0 * k.astype(np.float64))) / 2.0).astype(np.int64)
    # Correct float rounding for very large k (at most one step either way).
    j -= (j * (j - 1) // 2) > k
    j += ((j + 1) * j // 2) <= k
    i = k - j * (j - 1) // 2
    return i, j


def _as_pairs(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Stack two index vectors into an int64 array of shape (n, 2)."""
    out = np.empty((len(i), 2), dtype=np.int64)
    out[:, 0] = i
    out[:, 1] = j
    return out


def _check_n_pairs(n_pairs: int) -> int:
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer):
        msg = f"`n_pairs` must be a positive integer, got {n_pairs!r} ({type(n_pairs).__name__})."
        raise TypeError(msg)
    if n_pairs < 1:
        msg = f"`n_pairs` must be at least 1, got {n_pairs}. Ask for one or more pairs."
        raise ValueError(msg)
    return int(n_pairs)


def _pair_distances(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Euclidean distances ``||x[i] - x[j]||`` computed in bounded-memory chunks."""
    out = np.empty(len(i), dtype=np.float64)
    chunk = max(1024, _DIST_CHUNK_VALUES // max(x.shape[1], 1))
    for start in range(0, len(i), chunk):
        stop = start + chunk
        diff = x[i[start:stop]] - x[j[start:stop]]
        out[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def constraints_from_labels(
    adata: AnnData,
    label_key: str,
    *,
    n_pairs: int = 1000,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Must-link / cannot-link pairs from partially known cell labels.

    The label rule of scDCC (Tian et al. 2021): among the cells whose label is known, draw
    distinct random pairs uniformly; a pair with equal labels becomes a must-link (ML)
    constraint, a pair with different labels a cannot-link (CL) constraint. In the paper 10 %
    of the cells are treated as labelled and the clustering is evaluated on the other cells.

    Parameters
    ----------
    adata
        Annotated data matrix (views work; nothing is written to it).
    label_key
        Column of ``adata.obs`` with the known labels. Missing values (``NaN``, ``None``,
        ``pd.NA``, also in categorical columns) mark cells whose label is unknown; those cells
        take part in no constraint.
    n_pairs
        Total number of constraints (ML + CL) to draw. The default of 1000 is of the order
        used in the paper's label experiments (a few thousand pairs at most) and needs at least
        46 labelled cells; at most ``m * (m - 1) / 2`` pairs exist for ``m`` labelled cells.
    random_state
        Seed of the local :class:`numpy.random.Generator` (``None``: fresh entropy). The global
        NumPy random state is never used.

    Returns
    -------
    must_link
        ``int64`` array of shape ``(n_ml, 2)``: 0-based row indices into ``adata`` of cells
        that share a label.
    cannot_link
        ``int64`` array of shape ``(n_cl, 2)``: pairs of cells with different labels.

    ``n_ml + n_cl == n_pairs``. Every row ``(i, j)`` has ``i < j`` and no unordered pair
    occurs twice across both arrays; rows are in random order. Pairs are a uniform random
    sample without replacement of all pairs of labelled cells (the same distribution as the
    reference code's draw-and-reject loop, without its duplicate checks). The arrays are passed
    on as ``scdeepclust.tl.scdcc(adata, must_link=ml, cannot_link=cl)``.

    Raises
    ------
    KeyError
        If ``label_key`` is not a column of ``adata.obs``.
    ValueError
        If fewer than 2 cells are labelled, if ``n_pairs < 1``, or if ``n_pairs`` exceeds the
        number of distinct pairs of labelled cells.
    TypeError
        If ``n_pairs`` is not an integer.

    References
    ----------
    Tian, T., Zhang, J., Lin, X., Wei, Z. & Hakonarson, H. Model-based deep embedding for
    constrained clustering analysis of single cell RNA-seq data. *Nat Commun* **12**, 1873
    (2021). https://doi.org/10.1038/s41467-021-22008-3

    Examples
    --------
    Keep the labels of a random 10 % of the cells, as in the paper, and draw 1000 pairs:

    >>> import numpy as np
    >>> import pandas as pd
    >>> import scdeepclust as sdc
    >>> rng = np.random.default_rng(0)  # doctest: +SKIP
    >>> known = rng.random(adata.n_obs) < 0.1  # doctest: +SKIP
    >>> adata.obs["known"] = adata.obs["cell_type"].where(known)  # doctest: +SKIP
    >>> ml, cl = sdc.pp.constraints_from_labels(adata, "known", n_pairs=1000)  # doctest: +SKIP
    >>> sdc.tl.scdcc(adata, n_clusters=8, must_link=ml, cannot_link=cl)  # doctest: +SKIP

    ``Series.where`` sets the other labels to ``NaN`` (categories are kept in categorical
    columns).
    """
    n_pairs = _check_n_pairs(n_pairs)
    if label_key not in adata.obs.columns:
        cols = list(map(str, adata.obs.columns))
        msg = (
            f"Label column {label_key!r} not found in `adata.obs`; available columns: "
            f"{cols}. Store the partially known labels there (missing values = unknown)."
        )
        raise KeyError(msg)
    codes, _ = pd.factorize(adata.obs[label_key], use_na_sentinel=True)
    codes = np.asarray(codes)
    labelled = np.flatnonzero(codes >= 0)
    m = len(labelled)
    if m < 2:
        msg = (
            f"Column `adata.obs[{label_key!r}]` has {m} labelled cell(s) out of {adata.n_obs}; "
            "at least 2 are needed to form a pair. Missing values (NaN/None/pd.NA) mark "
            "unknown labels; give known labels to more cells."
        )
        raise ValueError(msg)
    total = _n_pairs_total(m)
    if n_pairs > total:
        msg = (
            f"`n_pairs={n_pairs}` exceeds the {total} distinct pairs among the {m} labelled "
            f"cells of `adata.obs[{label_key!r}]`. Use `n_pairs <= {total}` or label more cells."
        )
        raise ValueError(msg)

    rng = np.random.default_rng(random_state)
    # Uniform sample without replacement of linear pair indices (Floyd / partial shuffle inside
    # numpy: memory O(n_pairs) unless n_pairs is a large fraction of all pairs).
    k = rng.choice(total, size=n_pairs, replace=False, shuffle=True)
    a, b = _decode_pairs(k)
    i, j = labelled[a], labelled[b]  # labelled is sorted, so i < j holds
    same = codes[i] == codes[j]
    must_link = _as_pairs(i[same], j[same])
    cannot_link = _as_pairs(i[~same], j[~same])
    logger.info(
        "constraints_from_labels: %d must-link + %d cannot-link pairs from %d labelled cells",
        len(must_link),
        len(cannot_link),
        m,
    )
    return must_link, cannot_link


def _get_rep(adata: AnnData, use_rep: str) -> np.ndarray:
    """Fetch ``adata.obsm[use_rep]`` as a finite float64 array of shape (n_obs, n_features)."""
    if use_rep not in adata.obsm:
        keys = list(adata.obsm.keys())
        msg = (
            f"Representation {use_rep!r} not found in `adata.obsm`; available keys: {keys}. "
            "Store the per-cell protein levels (e.g. normalised CITE-seq ADT) there, "
            f"e.g. `adata.obsm[{use_rep!r}] = adt`."
        )
        raise KeyError(msg)
    rep = adata.obsm[use_rep]
    if isinstance(rep, pd.DataFrame):
        rep = rep.to_numpy()
    elif sparse.issparse(rep):
        rep = rep.toarray()
    rep = np.asarray(rep)
    if rep.dtype == object or not (
        np.issubdtype(rep.dtype, np.number) or np.issubdtype(rep.dtype, np.bool_)
    ):
        msg = (
            f"`adata.obsm[{use_rep!r}]` has non-numeric dtype {rep.dtype}; "
            "a numeric (n_obs x n_features) matrix is needed."
        )
        raise TypeError(msg)
    if rep.ndim != 2 or rep.shape[0] != adata.n_obs or rep.shape[1] < 1:
        msg = (
            f"`adata.obsm[{use_rep!r}]` has shape {rep.shape}; expected "
            f"({adata.n_obs}, n_features) with n_features >= 1 (one row per cell)."
        )
        raise ValueError(msg)
    rep = rep.astype(np.float64, copy=False)
    bad = ~np.isfinite(rep)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        msg = (
            f"`adata.obsm[{use_rep!r}]` contains {int(bad.sum())} NaN/inf value(s) in "
            f"{len(rows)} cell(s) (first rows: {rows[:5].tolist()}). Impute or remove them, "
            "or drop those cells, before computing distances."
        )
        raise ValueError(msg)
    return rep


def constraints_from_rep(
    adata: AnnData,
    use_rep: str = "protein",
    *,
    n_pairs: int = 20000,
    ml_quantile: float = 0.005,
    cl_quantile: float = 0.95,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Must-link / cannot-link pairs from distances in a per-cell representation.

    The protein rule of scDCC (Tian et al. 2021, CITE-seq experiment): with Euclidean
    distances between cells in ``adata.obsm[use_rep]`` (e.g. normalised surface-protein
    levels), a random pair closer than the ``ml_quantile`` quantile of all pairwise distances
    becomes a must-link (ML) constraint, a pair farther apart than the ``cl_quantile``
    quantile a cannot-link (CL) constraint, and any other pair is discarded; pairs are drawn
    until ``n_pairs`` are accepted. With the defaults about 9 % of the pairs are ML (the
    paper's tutorial: 1,714 ML + 18,286 CL out of 20,000).

    Memory never scales as ``n_obs x n_obs``: if the number of distinct pairs
    ``n_obs * (n_obs - 1) / 2`` is at most 2,000,000 (about 2,000 cells) the cut-offs are the
    exact quantiles of all distances (:func:`scipy.spatial.distance.pdist`) and the pairs are
    sampled from the qualifying ones; otherwise the quantiles are estimated from 2,000,000
    random distinct-cell pairs and pairs are rejection-sampled in vectorised blocks.

    Parameters
    ----------
    adata
        Annotated data matrix (views work; nothing is written to it).
    use_rep
        Key of ``adata.obsm`` holding a numeric ``(n_obs, n_features)`` matrix (array or
        DataFrame; real values, may be negative), e.g. the normalised ADT matrix of CITE-seq.
    n_pairs
        Total number of constraints (ML + CL) to draw. Default 20,000 as in the paper.
    ml_quantile
        Quantile of the pairwise distances below which a pair is must-linked (paper: 0.005,
        the 0.5th percentile).
    cl_quantile
        Quantile above which a pair is cannot-linked (paper: 0.95, the 95th percentile).
    random_state
        Seed of the local :class:`numpy.random.Generator` (``None``: fresh entropy). The global
        NumPy random state is never used.

    Returns
    -------
    must_link
        ``int64`` array of shape ``(n_ml, 2)``: 0-based row indices into ``adata`` of pairs
        with distance ``< cut_ml``.
    cannot_link
        ``int64`` array of shape ``(n_cl, 2)``: pairs with distance ``> cut_cl``.

    ``n_ml + n_cl == n_pairs``. Every row ``(i, j)`` has ``i < j``, no unordered pair occurs
    twice across both arrays, and rows are in random order. The arrays are passed on as
    ``scdeepclust.tl.scdcc(adata, must_link=ml, cannot_link=cl)``.

    Raises
    ------
    KeyError
        If ``use_rep`` is not a key of ``adata.obsm``.
    TypeError
        If the representation is not numeric or ``n_pairs`` is not an integer.
    ValueError
        If the representation has the wrong shape or contains NaN/inf, if fewer than 2 cells
        are present, if not ``0 < ml_quantile < cl_quantile < 1``, if ``n_pairs < 1``, if
        ``n_pairs`` exceeds the (estimated) number of qualifying pairs, or if the sampler
        gives up after 1000 blocks of candidate pairs without finding ``n_pairs`` distinct
        qualifying pairs.

    References
    ----------
    Tian, T., Zhang, J., Lin, X., Wei, Z. & Hakonarson, H. Model-based deep embedding for
    constrained clustering analysis of single cell RNA-seq data. *Nat Commun* **12**, 1873
    (2021). https://doi.org/10.1038/s41467-021-22008-3

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata.obsm["protein"] = adt  # doctest: +SKIP
    >>> ml, cl = sdc.pp.constraints_from_rep(adata, "protein", n_pairs=20000)  # doctest: +SKIP
    >>> sdc.tl.scdcc(adata, n_clusters=15, must_link=ml, cannot_link=cl)  # doctest: +SKIP
    """
    n_pairs = _check_n_pairs(n_pairs)
    for name, q in (("ml_quantile", ml_quantile), ("cl_quantile", cl_quantile)):
        if isinstance(q, bool) or not isinstance(q, int | float | np.integer | np.floating):
            msg = f"`{name}` must be a number in (0, 1), got {q!r}."
            raise TypeError(msg)
    if not (0.0 < ml_quantile < cl_quantile < 1.0):
        msg = (
            f"Quantiles must satisfy 0 < ml_quantile < cl_quantile < 1, got "
            f"ml_quantile={ml_quantile}, cl_quantile={cl_quantile} "
            "(paper: ml_quantile=0.005, cl_quantile=0.95)."
        )
        raise ValueError(msg)
    x = _get_rep(adata, use_rep)
    n = x.shape[0]
    if n < 2:
        msg = f"At least 2 cells are needed to form a pair, got {n}."
        raise ValueError(msg)
    total = _n_pairs_total(n)
    rng = np.random.default_rng(random_state)

    if total <= _MAX_EXACT_PAIRS:
        # Exact: all distances (pdist order = upper triangle, row-major), sample qualifiers.
        d = pdist(x, metric="euclidean")
        cut_ml, cut_cl = np.quantile(d, [ml_quantile, cl_quantile])
        is_ml = d < cut_ml
        qualifying = np.flatnonzero(is_ml | (d > cut_cl))
        if n_pairs > len(qualifying):
            msg = (
                f"`n_pairs={n_pairs}` exceeds the {len(qualifying)} distinct pairs of the "
                f"{n} cells with distance < {cut_ml:.4g} (ml_quantile={ml_quantile}) or "
                f"> {cut_cl:.4g} (cl_quantile={cl_quantile}). Lower `n_pairs` or widen the "
                "quantiles (larger ml_quantile / smaller cl_quantile)."
            )
            raise ValueError(msg)
        pick = rng.choice(qualifying, size=n_pairs, replace=False, shuffle=True)
        del d
        iu, ju = np.triu_indices(n, k=1)
        i, j, ml_mask = iu[pick], ju[pick], is_ml[pick]
        del iu, ju
        how = "exact"
    else:
        # Estimated cut-offs from a random sample of distinct-cell pairs.
        k = rng.integers(total, size=_N_QUANTILE_SAMPLE, dtype=np.int64)
        d = _pair_distances(x, *_decode_pairs(k))
        cut_ml, cut_cl = np.quantile(d, [ml_quantile, cl_quantile])
        accept_rate = float(np.mean((d < cut_ml) | (d > cut_cl)))
        del k, d
        expected = accept_rate * total
        if n_pairs > expected:
            msg = (
                f"`n_pairs={n_pairs}` exceeds the estimated {expected:.0f} distinct pairs of "
                f"the {n} cells with distance < {cut_ml:.4g} (ml_quantile={ml_quantile}) or "
                f"> {cut_cl:.4g} (cl_quantile={cl_quantile}). Lower `n_pairs` or widen the "
                "quantiles (larger ml_quantile / smaller cl_quantile)."
            )
            raise ValueError(msg)
        i, j, ml_mask = _rejection_sample(
            x, rng, n_pairs, cut_ml, cut_cl, max(accept_rate, 1e-6), total
        )
        how = "estimated from 2e6 sampled pairs"

    must_link = _as_pairs(i[ml_mask], j[ml_mask])
    cannot_link = _as_pairs(i[~ml_mask], j[~ml_mask])
    logger.info(
        "constraints_from_rep(%r): cut-offs %.4g / %.4g (%s); %d must-link + %d cannot-link",
        use_rep,
        cut_ml,
        cut_cl,
        how,
        len(must_link),
        len(cannot_link),
    )
    if len(must_link) == 0:
        logger.warning(
            "constraints_from_rep: no must-link pair found (cut-off %.4g); many identical "
            "rows in `adata.obsm[%r]`? Consider a larger `ml_quantile`.",
            cut_ml,
            use_rep,
        )
    return must_link, cannot_link


def _rejection_sample(
    x: np.ndarray,
    rng: np.random.Generator,
    n_pairs: int,
    cut_ml: float,
    cut_cl: float,
    accept_rate: float,
    total: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw distinct random pairs in blocks until ``n_pairs`` have d < cut_ml or d > cut_cl."""
    keys: list[np.ndarray] = []
    ml: list[np.ndarray] = []
    seen = np.empty(0, dtype=np.int64)  # sorted accepted keys
    n_acc = 0
    for _ in range(_MAX_BLOCKS):
        need = n_pairs - n_acc
        block = int(np.clip(np.ceil(1.5 * need / accept_rate), _MIN_BLOCK, _MAX_BLOCK))
        k = rng.integers(total, size=block, dtype=np.int64)
        d = _pair_distances(x, *_decode_pairs(k))
        is_ml = d < cut_ml
        ok = is_ml | (d > cut_cl)
        k, is_ml = k[ok], is_ml[ok]
        # Drop repeats within the block (keep first draw) and pairs accepted earlier.
        _, first = np.unique(k, return_index=True)
        first.sort()
        k, is_ml = k[first], is_ml[first]
        new = ~np.isin(k, seen, assume_unique=True)
        k, is_ml = k[new][:need], is_ml[new][:need]
        keys.append(k)
        ml.append(is_ml)
        n_acc += len(k)
        if n_acc >= n_pairs:
            break
        seen = np.union1d(seen, k)
    else:
        msg = (
            f"Found only {n_acc} of `n_pairs={n_pairs}` distinct qualifying pairs after "
            f"{_MAX_BLOCKS} blocks of random candidate pairs. Lower `n_pairs` or widen the "
            "quantiles (larger ml_quantile / smaller cl_quantile)."
        )
        raise ValueError(msg)
    i, j = _decode_pairs(np.concatenate(keys))
    return i, j, np.concatenate(ml)
