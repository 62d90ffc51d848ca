"""``tl.confidence``: per-cell confidence of a clustering, from its soft assignments q."""

from __future__ import annotations

import numpy as np
from anndata import AnnData


def confidence(adata: AnnData, key: str = "scdcc", *, copy: bool = False) -> AnnData | None:
    """Per-cell confidence of the cluster assignment: max q and the normalised entropy of q.

    Reads the soft assignments q (``adata.obsm[key + '_q']``, n_obs x k, written by
    :func:`scdeepclust.tl.scdcc`, :func:`scdeepclust.tl.desc` or a model's ``predict``) and
    writes two QC columns. Cells with a low ``max_q`` / high entropy sit between clusters:
    doublets, transitional states, or cells of a type the model did not learn (after
    ``predict`` on new data). Plot them with ``sc.pl.umap(adata, color=key + '_max_q')`` or
    filter, e.g. ``adata[adata.obs[key + '_max_q'] > 0.5]``. With the Student-t kernel of
    DEC/DESC/scDCC, q is sharpened by training, so most cells of a clean run are near 1.

    Parameters
    ----------
    adata
        Annotated data matrix with ``obsm[key + '_q']``.
    key
        Output key of the clustering run, e.g. ``"scdcc"``, ``"desc"``, ``"desc_r0.8"``.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    None, or a new AnnData with ``copy=True``. Writes ``adata.obs[key + '_max_q']`` (the
    largest q of each cell, in [1/k, 1]) and ``adata.obs[key + '_entropy']`` (the entropy of
    q divided by log k, in [0, 1]: 0 for a certain assignment, 1 for a uniform one), both
    float32.

    Raises
    ------
    KeyError
        If ``adata.obsm[key + '_q']`` is missing (run a tool first).
    ValueError
        If it is not an n_obs x k matrix of probabilities with k >= 2.
    """
    slot = f"{key}_q"
    if slot not in adata.obsm:
        raise KeyError(
            f"adata.obsm[{slot!r}] not found; run scdeepclust.tl.scdcc / tl.desc (or a "
            f"model's predict) with key_added={key!r} first."
        )
    q = np.asarray(adata.obsm[slot], dtype=np.float64)
    if q.ndim != 2 or q.shape[1] < 2 or not np.all(np.isfinite(q)) or (q < 0).any():
        raise ValueError(f"adata.obsm[{slot!r}] is not an n_obs x k (k >= 2) matrix of q.")
    q = q / q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q), 0.0)
    entropy = -terms.sum(axis=1) / np.log(q.shape[1])
    target = adata.copy() if copy else adata
    target.obs[f"{key}_max_q"] = q.max(axis=1).astype(np.float32)
    target.obs[f"{key}_entropy"] = np.clip(entropy, 0.0, 1.0).astype(np.float32)
    return target if copy else None
