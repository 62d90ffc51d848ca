"""The method-independent steps around training: input, centre initialisation, output.

Both ``tl.scdcc`` and ``tl.desc`` are: check & prepare the input -> pretrain an autoencoder ->
initialise centres on the embedding -> self-training clustering stage -> write results.
This module holds every step that does not depend on the method.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from . import data as _data
from . import validation
from .engine import DeviceData, SelfTraining, StageResult, embed, soft_assignments
from .init import kmeans_centers, leiden_centers
from .modules import ClusteringHead, DeepClusterModel
from .results import write_results

logger = logging.getLogger("scdeepclust")


@dataclass
class Timer:
    """Wall seconds per named stage."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, start: float) -> None:  # noqa: D102
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def check_key(key_added: str) -> str:
    """A non-empty string key."""
    if not isinstance(key_added, str) or not key_added:
        raise TypeError(f"key_added must be a non-empty string, found {key_added!r}.")
    return key_added


def check_random_state(random_state: int | None) -> int:
    """Integer seed (None -> 0, documented)."""
    if random_state is None:
        return 0
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(f"random_state must be an int, found {type(random_state).__name__}.")
    return int(random_state)


def check_positive(**values: int) -> None:
    """Each value a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, found {value!r}.")


def check_schedule(
    *, hidden_dims, alpha: float, tol: float, resolution: float | None = None, **counts: int
) -> None:
    """Check architecture and schedule parameters before any training.

    Counts and widths positive, alpha > 0, 0 <= tol < 1, resolution > 0.
    """
    check_positive(**counts, **{f"hidden_dims[{i}]": h for i, h in enumerate(hidden_dims)})
    if not alpha > 0:
        raise ValueError(f"alpha (Student-t degrees of freedom) must be positive, found {alpha}.")
    if not 0 <= tol < 1:
        raise ValueError(f"tol is a fraction of cells and must be in [0, 1), found {tol}.")
    if resolution is not None and not resolution > 0:
        raise ValueError(f"resolution must be positive, found {resolution}.")


def epochs_for_steps(epochs: int | None, steps: int, n_obs: int, batch_size: int) -> int:
    """``epochs`` if given, else the epochs that hold about ``steps`` minibatches (>= 1)."""
    if epochs is not None:
        return epochs
    return max(1, round(steps / math.ceil(n_obs / batch_size)))


#: ``precision`` values of the tools and the autocast dtype of each (None: plain float32).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a ``precision`` argument; raises ValueError for an unknown one."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, found {precision!r}."
        )
    return PRECISIONS[precision]


def describe_mask(mask_var) -> str | None:
    """``mask_var`` as a plain value for ``uns[key]['params']``."""
    if mask_var is None or isinstance(mask_var, str):
        return mask_var
    return "array"


def group_codes(adata: AnnData, batch_key: str | None) -> np.ndarray | None:
    """Integer codes of ``adata.obs[batch_key]`` (None without a batch key)."""
    if batch_key is None:
        return None
    if batch_key not in adata.obs.columns:
        raise KeyError(
            f"batch_key={batch_key!r} is not a column of adata.obs "
            f"(columns: {', '.join(map(repr, adata.obs.columns)) or 'none'})."
        )
    col = adata.obs[batch_key]
    if col.isna().any():
        raise ValueError(
            f"adata.obs[{batch_key!r}] has {int(col.isna().sum())} missing values; every cell "
            "needs a batch."
        )
    return pd.Categorical(col).codes.astype(np.int64)


def prepare_input(
    adata: AnnData,
    *,
    layer: str | None,
    mask_var,
    target_sum: float | None = None,
    batch_key: str | None = None,
    max_value: float | None = None,
) -> tuple[_data.PreparedData, np.ndarray]:
    """Validate the counts and build the model input. Returns the data and the gene mask used."""
    counts = validation.get_counts(adata, layer)
    mask = validation.resolve_mask_var(adata, mask_var)
    counts, mask = validation.select_genes(counts, mask)
    if max_value is not None and not max_value > 0:
        raise ValueError(f"max_value must be positive or None, found {max_value}.")
    prepared = _data.prepare(
        counts,
        target_sum=target_sum,
        group_codes=group_codes(adata, batch_key),
        max_value=max_value,
    )
    return prepared, mask


def initial_clusters(
    z: np.ndarray,
    *,
    n_clusters: int | None,
    resolution: float,
    n_neighbors: int,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and labels: k-means (n_init 20) when ``n_clusters`` is given, else Leiden."""
    if n_clusters is not None:
        return kmeans_centers(z, n_clusters, random_state)
    return leiden_centers(z, resolution, n_neighbors, random_state)


def init_head(
    model: DeepClusterModel,
    data: DeviceData,
    *,
    n_clusters: int | None,
    resolution: float,
    n_neighbors: int,
    alpha: float,
    random_state: int,
    timer: Timer,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed all cells, initialise the centres (k-means or Leiden) and attach the head.

    Returns the centres (k x latent_dim) and the initial labels (n_obs); the wall time is
    added to ``timer`` as ``"init"``.
    """
    start = time.perf_counter()
    centers, labels = initial_clusters(
        final_outputs_embedding(model, data),
        n_clusters=n_clusters,
        resolution=resolution,
        n_neighbors=n_neighbors,
        random_state=random_state,
    )
    attach_head(model, centers, alpha, data.device)
    timer.add("init", start)
    return centers, labels


def attach_head(
    model: DeepClusterModel, centers: np.ndarray, alpha: float, device: torch.device
) -> None:
    """Give ``model`` a clustering head initialised at ``centers``."""
    model.head = ClusteringHead(torch.from_numpy(centers), alpha).to(device)


def final_outputs_embedding(model: DeepClusterModel, data: DeviceData) -> np.ndarray:
    """Clean embedding of all cells as a numpy array, n_obs x latent_dim."""
    return embed(model, data).cpu().numpy()


def final_outputs(model: DeepClusterModel, data: DeviceData) -> tuple[np.ndarray, np.ndarray]:
    """Embedding and soft assignments q of all cells from the final weights."""
    z = embed(model, data)
    q = soft_assignments(model, z)
    return z.cpu().numpy(), q.cpu().numpy()


def self_training(
    model: DeepClusterModel,
    data: DeviceData,
    init_labels: np.ndarray,
    *,
    update_interval: int,
    tol: float,
) -> SelfTraining:
    """The target-distribution hook of the clustering stage."""
    return SelfTraining(model, data, init_labels, update_interval, tol)


def diagnostics(
    stages: Mapping[str, StageResult], target: SelfTraining, init_labels: np.ndarray
) -> dict[str, Any]:
    """What explains a run, for ``uns[key]`` (no labels-based metric: users have no labels).

    ``n_steps`` and ``stopped_by`` per stage (``"converged"``: the tol rule, ``"plateau"``:
    early stop, ``"cap"``: the epoch budget ran out; multi-phase stages list each phase),
    ``label_change``: the fraction of cells whose label changed at each refresh of the target
    distribution (the first against the initial labels), and ``init_labels``: the labels the
    centres were initialised from (int32, n_obs).
    """
    return {
        "n_steps": {name: int(r.n_steps) for name, r in stages.items()},
        "stopped_by": {name: r.stopped_by for name, r in stages.items()},
        "label_change": np.asarray(target.delta, dtype=np.float32),
        "init_labels": np.asarray(init_labels, dtype=np.int32),
    }


def output_target(adata: AnnData, copy: bool) -> AnnData:
    """The AnnData to write into: a copy, or ``adata`` itself (a view becomes actual, as scanpy)."""
    if copy:
        return adata.copy()
    if adata.is_view:
        warnings.warn(
            "Received a view of an AnnData; making a copy to write the results into "
            "(as scanpy does).",
            UserWarning,
            stacklevel=3,
        )
        adata._init_as_actual(adata.copy())
    return adata


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


def collect(
    key: str,
    model: DeepClusterModel,
    data: DeviceData,
    *,
    params: Mapping[str, Any],
    history: Mapping[str, Mapping[str, np.ndarray]],
    n_epochs: Mapping[str, int],
    converged: bool,
    extra: Mapping[str, Any] | None = None,
) -> MethodResult:
    """Final embedding and q of all cells from the trained model, with the run's records."""
    z, q = final_outputs(model, data)
    centers = model.head.centers.detach().cpu().numpy()
    return MethodResult(key, z, q, centers, params, history, n_epochs, converged, extra)


def write(adata: AnnData, copy: bool, results: Sequence[MethodResult]) -> AnnData | None:
    """Write every result's slots (only after all runs succeeded); returns the copy if asked."""
    target = output_target(adata, copy)
    for r in results:
        write_results(
            target,
            r.key,
            embedding=r.embedding,
            q=r.q,
            centers=r.centers,
            params=r.params,
            history=r.history,
            n_epochs=r.n_epochs,
            converged=r.converged,
            extra=r.extra,
        )
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
        else:
            out[k] = str(v)
    return out
