"""The method-independent steps of a fit: centre initialisation, diagnostics, final outputs.

Both models are: prepare the input -> pretrain an autoencoder -> initialise centres on the
embedding -> self-training clustering stage -> final embedding and q. This module holds every
step that does not depend on the method.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..data.centres import INITIALISATIONS, nearest_center_labels, resolve_init
from ..data.results import MethodResult
from ..module.device_data import DeviceData
from ..module.engine import (
    SelfTraining,
    StageResult,
    TrainingDivergedError,
    embed,
    soft_assignments,
)
from ..module.losses import TARGET_DISTRIBUTIONS
from ..module.networks import ClusteringHead, DeepClusterModel

logger = logging.getLogger("scdeepclust")


@dataclass
class Timer:
    """Wall seconds per named stage."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, start: float) -> None:  # noqa: D102
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def initial_clusters(
    z: np.ndarray,
    *,
    n_clusters: int | None,
    resolution: float,
    n_neighbors: int,
    random_state: int,
    max_cells: int | None = None,
    init: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and labels from the centre initialisation ``init`` (``data.centres``).

    ``"auto"``: k-means (n_init 20) when ``n_clusters`` is given, else Leiden.

    With more than ``max_cells`` cells, k-means / the kNN graph and Leiden are fitted on a
    random subsample of ``max_cells`` cells (seeded by ``random_state``) and every cell is then
    labelled by its nearest centre, so the cost stops growing with n_obs.
    """
    if max_cells is not None and len(z) > max(max_cells, n_clusters or 0):
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(len(z), size=max(max_cells, n_clusters or 0), replace=False))
        logger.info("initialising on a subsample of %d of %d cells", len(sample), len(z))
        centers, _ = initial_clusters(
            z[sample],
            n_clusters=n_clusters,
            resolution=resolution,
            n_neighbors=n_neighbors,
            random_state=random_state,
            init=init,
        )
        return centers, nearest_center_labels(z, centers)
    start = INITIALISATIONS[resolve_init(init, n_clusters)]
    return start(
        z,
        n_clusters=n_clusters,
        resolution=resolution,
        n_neighbors=n_neighbors,
        random_state=random_state,
    )


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
    max_cells: int | None = None,
    init: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Embed all cells, initialise the centres (strategy ``init``) and attach the head.

    Returns the centres (k x latent_dim) and the initial labels (n_obs); the wall time is
    added to ``timer`` as ``"init"``. Under data parallelism rank 0 initialises and
    broadcasts the centres and labels to the other ranks.
    """
    start = time.perf_counter()
    z = final_outputs_embedding(model, data)
    found = None
    if data.dist.is_main:
        found = initial_clusters(
            z,
            n_clusters=n_clusters,
            resolution=resolution,
            n_neighbors=n_neighbors,
            random_state=random_state,
            max_cells=max_cells,
            init=init,
        )
    centers, labels = data.dist.broadcast(found)
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


def start_clustering(
    model: DeepClusterModel,
    data: DeviceData,
    config,
    *,
    n_clusters: int | None,
    resolution: float,
    timer: Timer,
) -> tuple[np.ndarray, np.ndarray, SelfTraining]:
    """Initialise the centres (``config.init``) and build the self-training hook.

    The hook refreshes the target distribution ``config.target_distribution``. Returns the
    centres, the initial labels and the :class:`SelfTraining` hook.
    """
    centers, init_labels = init_head(
        model,
        data,
        n_clusters=n_clusters,
        resolution=resolution,
        n_neighbors=config.n_neighbors,
        alpha=config.alpha,
        random_state=config.seed(),
        timer=timer,
        max_cells=config.init_max_cells,
        init=config.init,
    )
    self_training = SelfTraining(
        model,
        data,
        init_labels,
        config.update_interval,
        config.tol,
        distribution=TARGET_DISTRIBUTIONS[config.target_distribution],
    )
    return centers, init_labels, self_training


def diagnostics(
    stages: Mapping[str, StageResult], self_training: SelfTraining, init_labels: np.ndarray
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
        "label_change": np.asarray(self_training.delta, dtype=np.float32),
        "init_labels": np.asarray(init_labels, dtype=np.int32),
    }


def history_record(
    pre: Mapping[str, StageResult], clu: StageResult
) -> dict[str, dict[str, np.ndarray]]:
    """``uns[key]['history']``: loss terms per epoch of the pretraining and clustering stages.

    A single pretraining stage named ``pretrain`` gives its terms as they are; several stages
    (DESC's layer-wise and end-to-end phases) are prefixed ``<stage>_<term>``.
    """
    if list(pre) == ["pretrain"]:
        pretrain = dict(pre["pretrain"].history)
    else:
        pretrain = {
            f"{stage}_{term}": v for stage, r in pre.items() for term, v in r.history.items()
        }
    return {"pretrain": pretrain, "cluster": clu.history}


def epochs_record(pre: Mapping[str, StageResult], clu: StageResult) -> dict[str, int]:
    """``uns[key]['n_epochs']``: all pretraining epochs, those of each stage, clustering."""
    stages = {stage: r.n_epochs for stage, r in pre.items() if stage != "pretrain"}
    return {"pretrain": sum(r.n_epochs for r in pre.values()), **stages, "cluster": clu.n_epochs}


def check_weights_finite(model: torch.nn.Module, key: str) -> None:
    """Raise :class:`TrainingDivergedError` if a weight became NaN or infinite."""
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise TrainingDivergedError(
            f"{key}: the weights {', '.join(bad[:3])} became NaN or infinite. Training "
            "diverged; try a smaller learning rate, a different random_state, or check the "
            "input counts."
        )


def empty_clusters(q: np.ndarray) -> int:
    """Number of clusters no cell has its largest soft assignment in."""
    return q.shape[1] - len(np.unique(q.argmax(axis=1)))


def collapse_warning(key: str, q: np.ndarray, *, n_obs: int, lr: float) -> str | None:
    """A message if at least half of the clusters ended empty (a collapsed run), else None.

    A few empty clusters are a normal outcome at large k (a small type absorbed by a
    neighbour: 1 of 15 on CITE-seq with constraints); they are logged and counted in
    ``uns[key]["n_empty_clusters"]`` without a warning.
    """
    k, empty = q.shape[1], empty_clusters(q)
    if empty:
        logger.info("%s: %d of the %d clusters ended empty", key, empty, k)
    if k - empty > k // 2:
        return None
    return (
        f"{key}: {empty} of the {k} clusters ended empty (the {n_obs} cells fell into "
        f"{k - empty}). The clustering stage collapsed: try a smaller learning rate "
        f"(lr={lr:g}), fewer clusters, or more cells."
    )


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
