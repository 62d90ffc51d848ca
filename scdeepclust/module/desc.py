"""DESC: MSE autoencoder with stacked (layer-wise, denoising) pretraining; KL-only fine-tuning.

Architecture and schedule follow desc 2.1.1 (Li et al., Nat Commun 2020): ReLU hidden layers,
tanh bottleneck and tanh output; each encoder layer first trained as a denoising autoencoder
(dropout 0.2 on its input and hidden units), then the whole autoencoder end to end, both with
SGD (momentum 0.9) over step-down learning rates with early stopping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device_data import DeviceData
from .engine import Pass, SelfTraining, StageResult, run_phases
from .networks import DeepClusterModel, Encoder, MSEDecoder
from .passes import cell_batches, kl_term


def desc_dims(n_obs: int) -> tuple[list[int], int]:
    """Hidden widths and latent dimension chosen from the number of cells as DESC does."""
    if n_obs > 20000:
        return [128], 32
    if n_obs > 10000:
        return [64], 32
    if n_obs > 5000:
        return [32], 16
    if n_obs > 2000:
        return [], 128
    if n_obs > 500:
        return [], 64
    return [], 16


def build_mse_autoencoder(
    n_genes: int, hidden_dims: Sequence[int], latent_dim: int
) -> DeepClusterModel:
    """Encoder (ReLU hidden, tanh bottleneck) and mirrored decoder (ReLU hidden, tanh output).

    Every layer starts from Glorot-uniform weights and zero biases, as in desc's Keras code.
    """
    encoder = Encoder(n_genes, hidden_dims, latent_dim, "relu", "tanh", init="glorot")
    decoder = MSEDecoder(latent_dim, list(reversed(hidden_dims)), n_genes, "relu", "tanh", "glorot")
    return DeepClusterModel(encoder, decoder, noise_sd=0.0)


def desc_pretrain_schedule(pretrain_epochs: int) -> dict:
    """DESC's pretraining phases for a budget of ``pretrain_epochs`` (desc 2.1.1 uses 300).

    Layer-wise: ``ceil(pretrain_epochs / 6)`` epochs at each of 0.1, 0.01, 0.001 (desc:
    ``ceil(300 / 2 / 3) = 50``); end to end: six phases of ``ceil(pretrain_epochs / 6)``
    epochs at 1, 0.1, ..., 1e-5 (desc: 6 x 50). A smaller budget keeps every phase, so the
    end-to-end learning rate is still annealed.

    Returns
    -------
    Keyword arguments of :func:`pretrain_desc`: ``layerwise_lrs``, ``layerwise_epochs``,
    ``end_to_end_lrs``, ``end_to_end_epochs``.
    """
    epochs = math.ceil(pretrain_epochs / 6)
    return {
        "layerwise_lrs": [0.1, 0.01, 0.001],
        "layerwise_epochs": epochs,
        "end_to_end_lrs": [10.0**-i for i in range(6)],
        "end_to_end_epochs": epochs,
    }


def _linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


def stacked_autoencoders(model: DeepClusterModel, dropout: float) -> list[nn.Sequential]:
    """The layer-wise denoising autoencoders of DESC, sharing their Linear layers with ``model``.

    Stack i: Dropout -> encoder layer i -> act_hidden -> Dropout -> decoder layer i -> act_out,
    act_hidden = tanh for the deepest stack else ReLU, act_out = tanh for the first stack else
    ReLU. Training a stack therefore trains the corresponding autoencoder weights in place.
    """
    enc, dec = _linears(model.encoder.net), _linears(model.decoder.net)
    n = len(enc)
    stacks = []
    for i in range(n):
        act_hidden = nn.Tanh() if i == n - 1 else nn.ReLU()
        act_out = nn.Tanh() if i == 0 else nn.ReLU()
        stacks.append(
            nn.Sequential(
                nn.Dropout(dropout),
                enc[i],
                act_hidden,
                nn.Dropout(dropout),
                dec[n - 1 - i],
                act_out,
            )
        )
    return stacks


def mse_pass(
    model: DeepClusterModel, data: DeviceData, batch_size: int, rng: np.random.Generator
) -> Pass:
    """End-to-end pretraining: MSE between the scaled input and its reconstruction."""

    def loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"mse": F.mse_loss(model.reconstruct(batch["x"])["recon"], batch["x"])}

    return Pass("cells", lambda: cell_batches(data, batch_size, rng, with_counts=False), loss)


def stack_pass(
    model: DeepClusterModel,
    stack: nn.Sequential,
    depth: int,
    data: DeviceData,
    batch_size: int,
    rng: np.random.Generator,
) -> Pass:
    """Layer-wise pretraining of stack ``depth`` on the (dropout-free) activations below it."""
    below = model.encoder.net[: 2 * depth]

    def loss(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            h = below(batch["x"])
        return {"mse": F.mse_loss(stack(h).float(), h)}

    return Pass("cells", lambda: cell_batches(data, batch_size, rng, with_counts=False), loss)


def sgd(momentum: float):
    """Optimizer factory: SGD with momentum over the given parameters, lr set per phase."""

    def factory(params):
        return lambda lr: torch.optim.SGD(params, lr=lr, momentum=momentum)

    return factory


def pretrain_desc(
    model: DeepClusterModel,
    data: DeviceData,
    *,
    stacked: bool,
    dropout: float,
    layerwise_lrs: Sequence[float],
    layerwise_epochs: int,
    end_to_end_lrs: Sequence[float],
    end_to_end_epochs: int,
    patience: int | None,
    min_delta: float,
    momentum: float,
    batch_size: int,
    rng: np.random.Generator,
    progress: bool,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, StageResult]:
    """Stacked layer-wise pretraining (optional) followed by end-to-end MSE training."""
    make = sgd(momentum)
    results: dict[str, StageResult] = {}
    if stacked:
        for depth, stack in enumerate(stacked_autoencoders(model, dropout)):
            stack.train()
            results[f"layerwise_{depth}"] = run_phases(
                f"layer-wise {depth}",
                stack,
                [stack_pass(model, stack, depth, data, batch_size, rng)],
                make(list(stack.parameters())),
                list(layerwise_lrs),
                layerwise_epochs,
                patience=patience,
                min_delta=min_delta,
                progress=progress,
                autocast_dtype=autocast_dtype,
                dist=data.dist,
            )
    results["end_to_end"] = run_phases(
        "end-to-end",
        model,
        [mse_pass(model, data, batch_size, rng)],
        make(list(model.parameters())),
        list(end_to_end_lrs),
        end_to_end_epochs,
        patience=patience,
        min_delta=min_delta,
        progress=progress,
        autocast_dtype=autocast_dtype,
        dist=data.dist,
    )
    return results


def kl_pass(
    model: DeepClusterModel,
    data: DeviceData,
    self_training: SelfTraining,
    batch_size: int,
    rng: np.random.Generator,
) -> Pass:
    """DESC fine-tuning: KL(P || Q) alone over the encoder and the centres (no decoder)."""
    return Pass(
        "cells",
        lambda: cell_batches(data, batch_size, rng, with_counts=False, self_training=self_training),
        lambda b: {"kl": kl_term(model, b)},
    )
