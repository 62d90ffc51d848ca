"""The DESC model: what differs from the shared pipeline (pretraining, KL-only fine-tuning)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..module.desc import (
    build_mse_autoencoder,
    desc_dims,
    desc_pretrain_schedule,
    kl_pass,
    pretrain_desc,
)
from ..module.engine import Pass, StageResult
from ..module.networks import DeepClusterModel
from ._base import BaseModel
from ._config import DESCConfig, check_schedule, epochs_within
from ._docs import shared_docs


@shared_docs
class DESC(BaseModel):
    """DESC as a model object that outlives the call.

    {doc_model_methods}

    With several resolutions the model holds one fine-tuned encoder and its centres per
    resolution (``model.keys``, e.g. ``['desc_r0.4', 'desc_r0.8']``); ``predict`` writes them
    all.

    Parameters
    ----------
    **params
        Every keyword parameter of :func:`scdeepclust.tl.desc` except ``adata``,
        ``mask_var``, ``progress_bar`` and ``copy`` (arguments of :meth:`fit`), with the
        same defaults; held, validated, as ``model.config``
        (:class:`scdeepclust.models.DESCConfig`).

    {doc_model_raises}

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.pbmc_10x()
    >>> model = sdc.models.DESC(resolution=[0.4, 0.8]).fit(adata)
    >>> model.predict(adata)  # writes desc_r0.4 and desc_r0.8 slots
    """

    tool = "desc"
    config_class = DESCConfig
    clustering_uses_decoder = False  # DESC fine-tunes the encoder alone
    clustering_seed_offset = 1  # each resolution's run is seeded alike, whatever its order

    def _input_options(self) -> dict[str, Any]:
        c = self.config
        return {"target_sum": c.target_sum, "max_value": c.max_value, "scale_by_batch": True}

    def _architecture(self, n_obs: int) -> dict[str, Any]:
        """The given widths, or those DESC chooses from the number of cells; checked."""
        c = self.config
        auto_hidden, auto_latent = desc_dims(n_obs)
        hidden = list(auto_hidden if c.hidden_dims is None else c.hidden_dims)
        latent = auto_latent if c.latent_dim is None else c.latent_dim
        check_schedule(
            hidden_dims=hidden,
            alpha=c.alpha,
            tol=c.tol,
            latent_dim=latent,
            pretrain_epochs=c.pretrain_epochs,
            n_neighbors=c.n_neighbors,
            max_epochs=c.max_epochs,
        )
        return {"hidden_dims": hidden, "latent_dim": latent}

    def _build_module(self, arch: Mapping[str, Any]) -> DeepClusterModel:
        return build_mse_autoencoder(self.state_.n_genes, arch["hidden_dims"], arch["latent_dim"])

    def _pretrain(self, module, data, *, rng, progress) -> dict[str, StageResult]:
        c = self.config
        return pretrain_desc(
            module,
            data,
            stacked=c.stacked,
            dropout=c.dropout,
            **self._pretrain_schedule(data.n_obs),
            patience=c.pretrain_patience,
            min_delta=c.pretrain_min_delta,
            momentum=0.9,
            batch_size=c.batch_size,
            rng=rng,
            progress=progress,
            autocast_dtype=c.autocast(),
        )

    def _pretrain_schedule(self, n_obs: int) -> dict[str, Any]:
        """DESC's phases for ``pretrain_epochs``, each capped at ``pretrain_phase_steps``."""
        c = self.config
        schedule = desc_pretrain_schedule(c.pretrain_epochs)
        for name in ("layerwise_epochs", "end_to_end_epochs"):
            schedule[name] = epochs_within(
                schedule[name], c.pretrain_phase_steps, n_obs, c.batch_size
            )
        return schedule

    def _clustering_passes(self, module, data, self_training, *, rng, inputs) -> list[Pass]:
        return [kl_pass(module, data, self_training, self.config.batch_size, rng)]

    def _clustering_optimizer(self, module: DeepClusterModel) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.SGD(module.parameters(), lr=c.lr, momentum=c.momentum)
