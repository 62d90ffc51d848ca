"""Pure torch modules: encoders, reconstruction heads and the clustering head.

The modules never see an AnnData. Architectures follow scDeepCluster / scDCC (Tian et al.
2019, 2021; encoder 256-64-32, ZINB decoder 64-256) and DESC (Li et al. 2020; ReLU hidden
layers, tanh bottleneck and output).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .losses import log_soft_assign

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, None: nn.Identity}


class GlorotLinear(nn.Linear):
    """``nn.Linear`` initialised as a Keras Dense layer: Glorot-uniform weights, zero bias.

    The reference code of DESC (and the Keras scDeepCluster) initialises every layer this
    way; torch's default is a Kaiming-uniform kernel with a uniform bias. The parameters and
    their names are those of ``nn.Linear``, so state dicts are interchangeable.
    """

    def reset_parameters(self) -> None:  # noqa: D102
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


#: ``init`` values of :func:`dense_stack` and the layer class of each.
LINEARS = {"torch": nn.Linear, "glorot": GlorotLinear}


def dense_stack(
    dims: Sequence[int],
    activation: str | None = "relu",
    last_activation: str | None = "relu",
    init: str = "torch",
) -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ... -> dims[-1]``, each followed by an activation.

    ``last_activation`` applies to the last layer, ``activation`` to all others. ``init`` is
    the weight initialisation: "torch" (torch's default) or "glorot" (Keras' default).
    """
    linear = LINEARS[init]
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(linear(d_in, d_out))
        act = last_activation if i == len(dims) - 2 else activation
        layers.append(_ACTIVATIONS[act]())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Encoder ``n_input -> hidden_dims -> latent_dim``.

    Hidden layers use ``activation``; the bottleneck uses ``latent_activation`` (None = linear,
    as scDeepCluster; "tanh" as DESC). ``init`` is the weight initialisation of
    :func:`dense_stack` ("torch" as the PyTorch scDCC code, "glorot" as desc's Keras code).
    """

    def __init__(
        self,
        n_input: int,
        hidden_dims: Sequence[int],
        latent_dim: int,
        activation: str = "relu",
        latent_activation: str | None = None,
        init: str = "torch",
    ):
        super().__init__()
        self.net = dense_stack(
            [n_input, *hidden_dims, latent_dim], activation, latent_activation, init
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.net(x)


class ZINBDecoder(nn.Module):
    """Decoder to the ZINB mean / dispersion / dropout of every gene (scDeepCluster).

    The mean head is exp clamped to [1e-5, 1e6] (normalised scale, to be multiplied by the
    size factor), the dispersion head softplus clamped to [1e-4, 1e4]; the dropout head returns
    logits (pi = sigmoid(logits)), which keeps the likelihood stable in log space.
    """

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], n_output: int):
        super().__init__()
        self.hidden = dense_stack([latent_dim, *hidden_dims], "relu", "relu")
        width = hidden_dims[-1] if hidden_dims else latent_dim
        # the three heads (mean, dispersion, dropout) as one matrix product
        self.heads = nn.Linear(width, 3 * n_output)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: D102
        # float32 from here on, also when the matrix products ran in bfloat16 (autocast)
        mean, dispersion, dropout = self.heads(self.hidden(z)).float().chunk(3, dim=1)
        return {
            "mean": torch.exp(mean).clamp(1e-5, 1e6),
            "dispersion": F.softplus(dispersion).clamp(1e-4, 1e4),
            "dropout_logits": dropout,
        }


class MSEDecoder(nn.Module):
    """Decoder that reconstructs the scaled expression itself (DESC: ReLU hidden, tanh output).

    ``init`` is the weight initialisation of :func:`dense_stack` ("torch" or "glorot").
    """

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int],
        n_output: int,
        activation: str = "relu",
        output_activation: str | None = "tanh",
        init: str = "torch",
    ):
        super().__init__()
        self.net = dense_stack(
            [latent_dim, *hidden_dims, n_output], activation, output_activation, init
        )

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: D102
        return {"recon": self.net(z).float()}


class ClusteringHead(nn.Module):
    """Trainable cluster centres with the Student-t soft assignment (DEC / DESC / scDCC)."""

    def __init__(self, centers: torch.Tensor, alpha: float = 1.0):
        super().__init__()
        self.centers = nn.Parameter(centers.clone().float())
        self.alpha = alpha

    @property
    def n_clusters(self) -> int:  # noqa: D102
        return self.centers.shape[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return log q, n_cells x n_clusters (always in float32, also under autocast)."""
        with torch.autocast(z.device.type, enabled=False):
            return log_soft_assign(z.float(), self.centers, self.alpha)


class DeepClusterModel(nn.Module):
    """Autoencoder with an optional clustering head.

    ``decoder`` may be set to None to drop it (DESC fine-tunes the encoder alone).
    ``noise_sd`` is the standard deviation of the Gaussian noise added to the encoder input on
    the reconstruction path (denoising autoencoder of scDeepCluster); the clustering head sees
    the clean embedding. With ``n_covariates`` > 0 (batch-aware scDeepCluster) a one-hot
    covariate, n_cells x n_covariates, is appended to the encoder input and to the decoder
    input (the noise is added to the expression only); the encoder and decoder must have been
    built with those extra input columns.
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder: nn.Module | None,
        noise_sd: float = 0.0,
        n_covariates: int = 0,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.noise_sd = noise_sd
        self.n_covariates = n_covariates
        self.head: ClusteringHead | None = None

    def _encode(self, x: torch.Tensor, covariate: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(x if covariate is None else torch.cat([x, covariate], dim=1))

    def embed(self, x: torch.Tensor, covariate: torch.Tensor | None = None) -> torch.Tensor:
        """Clean (noise-free) embedding, n_cells x latent_dim."""
        return self._encode(x, covariate)

    def reconstruct(
        self, x: torch.Tensor, covariate: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Decoder outputs for the noisy input (noise only while training)."""
        if self.decoder is None:
            raise RuntimeError("the decoder was dropped; reconstruction is not available")
        if self.training and self.noise_sd > 0:
            x = x + self.noise_sd * torch.randn_like(x)
        z = self._encode(x, covariate)
        return self.decoder(z if covariate is None else torch.cat([z, covariate], dim=1))
