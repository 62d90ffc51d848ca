"""Minibatch sources and loss terms shared by the methods' passes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from . import device_data as _data
from .device_data import DeviceData
from .engine import SelfTraining
from .losses import kl_divergence
from .networks import DeepClusterModel


def cell_batches(
    data: DeviceData,
    batch_size: int,
    rng: np.random.Generator,
    *,
    with_counts: bool = True,
    self_training: SelfTraining | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled minibatches of cells; with ``self_training`` each batch also carries its rows of p.

    Under data parallelism each rank gets its shard of every minibatch.
    """
    for idx in data.dist.shard(_data.minibatches(data.n_obs, batch_size, rng)):
        batch = data.batch(idx, with_counts=with_counts)
        if self_training is not None:
            batch["p"] = self_training.p[torch.from_numpy(idx).to(data.device)]
        yield batch


def pair_batches(
    data: DeviceData,
    pairs: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    with_counts: bool,
) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled blocks of constraint pairs; rows 0..m-1 are the first cells, m..2m-1 the second."""
    for idx in data.dist.shard(_data.minibatches(len(pairs), batch_size, rng)):
        block = pairs[idx]
        yield data.batch(np.concatenate([block[:, 0], block[:, 1]]), with_counts=with_counts)


def kl_term(model: DeepClusterModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """KL(P || Q) of a minibatch, q from the clean embedding."""
    return kl_divergence(batch["p"], model.head(model.embed(batch["x"], batch.get("covariate"))))


def pair_log_q(
    model: DeepClusterModel, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log q of the first and of the second cell of each pair of a pair batch."""
    log_q = model.head(model.embed(batch["x"], batch.get("covariate")))
    m = log_q.shape[0] // 2
    return log_q[:m], log_q[m:]
