"""scDeepCluster / scDCC: ZINB autoencoder, its pretraining and clustering passes (pure torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .device_data import DeviceData
from .engine import Pass, SelfTraining
from .losses import cannot_link_loss, must_link_loss, zinb_nll_mean_sparse
from .networks import DeepClusterModel, Encoder, ZINBDecoder
from .passes import cell_batches, kl_term, pair_batches, pair_log_q


def build_zinb_autoencoder(
    n_genes: int,
    hidden_dims: Sequence[int],
    latent_dim: int,
    noise_sd: float,
    n_covariates: int = 0,
) -> DeepClusterModel:
    """Encoder n_genes-256-64-32 (linear bottleneck), decoder 32-64-256 with ZINB heads.

    With ``n_covariates`` > 0 (scDeepCluster's batch version) the one-hot batch is appended to
    the encoder input and to the decoder input, so the ZINB mean, dispersion and dropout are
    conditional on the batch.
    """
    encoder = Encoder(n_genes + n_covariates, hidden_dims, latent_dim, "relu", None)
    decoder = ZINBDecoder(latent_dim + n_covariates, list(reversed(hidden_dims)), n_genes)
    return DeepClusterModel(encoder, decoder, noise_sd, n_covariates)


def zinb_loss(model: DeepClusterModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean ZINB negative log-likelihood of the raw counts (noisy-input reconstruction)."""
    out = model.reconstruct(batch["x"], batch.get("covariate"))
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
        lambda: cell_batches(data, batch_size, rng),
        lambda batch: {"zinb": zinb_loss(model, batch)},
    )


def clustering_passes(
    model: DeepClusterModel,
    data: DeviceData,
    self_training: SelfTraining,
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
    passes = [
        Pass(
            "cells",
            lambda: cell_batches(data, batch_size, rng, self_training=self_training),
            lambda b: {"zinb": zinb_loss(model, b), "kl": gamma * kl_term(model, b)},
        )
    ]

    def ml_loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # zinb_loss is the mean over both cells of each pair: x2 gives ZINB(i) + ZINB(j)
        return {
            "must_link": ml_weight * must_link_loss(*pair_log_q(model, batch)),
            "must_link_zinb": 2.0 * zinb_loss(model, batch),
        }

    if len(must_link) and ml_weight > 0:
        passes.append(
            Pass(
                "must_link",
                lambda: pair_batches(data, must_link, batch_size, rng, with_counts=True),
                ml_loss,
            )
        )
    if len(cannot_link) and cl_weight > 0:
        passes.append(
            Pass(
                "cannot_link",
                lambda: pair_batches(data, cannot_link, batch_size, rng, with_counts=False),
                lambda b: {"cannot_link": cl_weight * cannot_link_loss(*pair_log_q(model, b))},
                uses_all_parameters=False,  # the decoder gets no gradient
            )
        )
    return passes
