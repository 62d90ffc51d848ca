"""Writing results into the AnnData (the only place that touches it), scanpy style."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .._version import __version__


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


def write_assignments(adata: AnnData, key: str, embedding: np.ndarray, q: np.ndarray) -> None:
    """Write ``obsm['X_<key>']`` (embedding), ``obsm['<key>_q']`` (q), ``obs[key]`` (argmax q)."""
    adata.obsm[f"X_{key}"] = np.ascontiguousarray(embedding, dtype=np.float32)
    adata.obsm[f"{key}_q"] = np.ascontiguousarray(q, dtype=np.float32)
    adata.obs[key] = labels_to_categorical(q.argmax(axis=1), q.shape[1], adata.obs_names)


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
    write_assignments(adata, key, embedding, q)
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


@dataclass
class MethodResult:
    """Everything one clustering run writes, held until all runs of a call have succeeded."""

    key: str
    embedding: np.ndarray
    q: np.ndarray
    centers: np.ndarray
    params: Mapping[str, Any]
    history: Mapping[str, Mapping[str, np.ndarray]]
    n_epochs: Mapping[str, int]
    converged: bool
    extra: Mapping[str, Any] | None = None


def output_target(adata: AnnData, copy: bool) -> AnnData:
    """The AnnData to write into: a copy, or ``adata`` itself (a view becomes actual, as scanpy)."""
    if copy:
        return adata.copy()
    if adata.is_view:
        warnings.warn(
            "Received a view of an AnnData; making a copy to write the results into "
            "(as scanpy does).",
            UserWarning,
            stacklevel=4,
        )
        adata._init_as_actual(adata.copy())
    return adata


def write(adata: AnnData, copy: bool, results: Sequence[MethodResult]) -> AnnData | None:
    """Write every result's slots (only after all runs succeeded); returns the copy if asked."""
    target = output_target(adata, copy)
    for r in results:
        fields = {f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name != "key"}
        write_results(target, r.key, **fields)
    return target if copy else None


def plain_params(**params: Any) -> dict[str, Any]:
    """Parameters as h5ad-safe plain values (sequences -> lists, arrays -> summary)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            out[k] = "None"
        elif isinstance(v, bool | int | float | str):
            out[k] = v
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif isinstance(v, Sequence) and all(isinstance(x, int | float) for x in v):
            out[k] = list(v)
        elif isinstance(v, Sequence) and all(isinstance(x, str) for x in v):
            out[k] = [str(x) for x in v]  # column names; h5ad stores a string array
        else:
            out[k] = str(v)
    return out
