"""Writing results into the AnnData (the only place that touches it), scanpy style."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData


def labels_to_categorical(labels: np.ndarray, n_clusters: int, index: pd.Index) -> pd.Series:
    """Hard labels as a categorical with string categories '0'..'K-1' (all, even empty ones)."""
    categories = [str(i) for i in range(n_clusters)]
    values = pd.Categorical.from_codes(np.asarray(labels, dtype=np.int64), categories=categories)
    return pd.Series(values, index=index)


def to_uns(value: Any) -> Any:
    """Convert to values that survive ``write_h5ad`` / ``read_h5ad`` (None entries dropped)."""
    if isinstance(value, Mapping):
        return {str(k): to_uns(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return np.asarray(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_results(
    adata: AnnData,
    key: str,
    *,
    embedding: np.ndarray,
    q: np.ndarray,
    centers: np.ndarray,
    params: Mapping[str, Any],
    history: Mapping[str, Mapping[str, np.ndarray]],
    n_epochs: Mapping[str, int],
    converged: bool,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write ``obsm['X_<key>']``, ``obs[key]``, ``obsm['<key>_q']`` and ``uns[key]``."""
    from .. import __version__

    n_clusters = q.shape[1]
    adata.obsm[f"X_{key}"] = np.ascontiguousarray(embedding, dtype=np.float32)
    adata.obsm[f"{key}_q"] = np.ascontiguousarray(q, dtype=np.float32)
    adata.obs[key] = labels_to_categorical(q.argmax(axis=1), n_clusters, adata.obs_names)
    adata.uns[key] = to_uns(
        {
            "params": dict(params),
            "cluster_centers": np.asarray(centers, dtype=np.float32),
            "history": {stage: dict(h) for stage, h in history.items()},
            "n_epochs": dict(n_epochs),
            "converged": bool(converged),
            "version": __version__,
            **(extra or {}),
        }
    )
