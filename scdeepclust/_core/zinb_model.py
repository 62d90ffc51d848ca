"""scDeepCluster / scDCC: ZINB autoencoder, its pretraining and clustering passes (pure torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .data import DeviceData
from .engine import Pass
from .losses import cannot_link_loss, kl_divergence, must_link_loss, zinb_nll_mean_sparse
from .modules import DeepClusterModel, Encoder, ZINBDecoder
from .workflow import cell_batches, pair_batches


def build_zinb_autoencoder(
    n_genes: int, hidden_dims: Sequence[int], latent_dim: int, noise_sd: float
) -> DeepClusterModel:
    """Encoder n_genes-256-64-32 (linear bottleneck), decoder 32-64-256 with ZINB heads."""
    encoder = Encoder(n_genes, hidden_dims, latent_dim, "relu", None)
    decoder = ZINBDecoder(latent_dim, list(reversed(hidden_dims)), n_genes)
    return DeepClusterModel(encoder, decoder, noise_sd)


def zinb_loss(model: DeepClusterModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean ZINB negative log-likelihood of the raw counts (noisy-input reconstruction)."""
    out = model.reconstruct(batch["x"])
    mean = out["mean"] * batch["size_factors"].unsqueeze(1)
    return zinb_nll_mean_sparse(
        batch["nz_index"], batch["nz_counts"], mean, out["dispersion"], out["dropout_logits"]
    )


def pretrain_pass(
    model: DeepClusterModel, data: DeviceData, batch_size: int, rng: np.random.Generator
) -> Pass:
    """Pretraining: ZINB loss over shuffled minibatches of cells."""
    return Pass(
        "cells",
        lambda: (data.batch(idx) for idx in cell_batches(data.n_obs, batch_size, rng)),
        lambda batch: {"zinb": zinb_loss(model, batch)},
    )


def clustering_passes(
    model: DeepClusterModel,
    data: DeviceData,
    target,
    *,
    gamma: float,
    batch_size: int,
    rng: np.random.Generator,
    must_link: np.ndarray,
    cannot_link: np.ndarray,
    ml_weight: float,
    cl_weight: float,
) -> list[Pass]:
    """The passes of one clustering epoch (scDCC schedule).

    1. cells: ZINB + gamma * KL(P || Q);
    2. must-link pairs: ml_weight * -log sum_k q_ik q_jk + ZINB of both cells;
    3. cannot-link pairs: cl_weight * -log(1 - sum_k q_ik q_jk).
    """

    def cell_batch(idx: np.ndarray) -> dict[str, torch.Tensor]:
        batch = data.batch(idx)
        batch["p"] = target.p[torch.from_numpy(idx).to(data.device)]
        return batch

    def cell_loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        log_q = model.head(model.embed(batch["x"]))
        return {"zinb": zinb_loss(model, batch), "kl": gamma * kl_divergence(batch["p"], log_q)}

    passes = [
        Pass(
            "cells",
            lambda: (cell_batch(idx) for idx in cell_batches(data.n_obs, batch_size, rng)),
            cell_loss,
        )
    ]

    def pair_log_q(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        log_q = model.head(model.embed(batch["x"]))
        m = log_q.shape[0] // 2
        return log_q[:m], log_q[m:]

    def ml_loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        log_qi, log_qj = pair_log_q(batch)
        return {
            "must_link": ml_weight * must_link_loss(log_qi, log_qj),
            "must_link_zinb": 2.0 * zinb_loss(model, batch),
        }

    def cl_loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        log_qi, log_qj = pair_log_q(batch)
        return {"cannot_link": cl_weight * cannot_link_loss(log_qi, log_qj)}

    if len(must_link) and ml_weight > 0:
        passes.append(
            Pass(
                "must_link",
                lambda: (
                    data.batch(np.concatenate([b[:, 0], b[:, 1]]))
                    for b in pair_batches(must_link, batch_size, rng)
                ),
                ml_loss,
            )
        )
    if len(cannot_link) and cl_weight > 0:
        passes.append(
            Pass(
                "cannot_link",
                lambda: (
                    data.batch(np.concatenate([b[:, 0], b[:, 1]]), with_counts=False)
                    for b in pair_batches(cannot_link, batch_size, rng)
                ),
                cl_loss,
            )
        )
    return passes
