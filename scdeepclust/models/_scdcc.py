"""The scDCC / scDeepCluster model: fit, predict, save, load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from anndata import AnnData

from ..data import validation
from ..module.engine import EarlyStopping, Pass, StageResult, run_stage
from ..module.networks import DeepClusterModel
from ..module.scdcc import build_zinb_autoencoder, clustering_passes, pretrain_pass
from ._base import BaseModel
from ._config import SCDCCConfig
from ._docs import shared_docs


@shared_docs
class SCDCC(BaseModel):
    """scDCC / scDeepCluster as a model object that outlives the call.

    {doc_model_methods}

    Parameters
    ----------
    **params
        Every keyword parameter of :func:`scdeepclust.tl.scdcc` except ``adata``,
        ``mask_var``, ``must_link``, ``cannot_link``, ``progress_bar`` and ``copy`` (those
        are arguments of :meth:`fit`), with the same defaults; held, validated, as
        ``model.config`` (:class:`scdeepclust.models.SCDCCConfig`).

    {doc_model_raises}

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.pbmc_10x()
    >>> model = sdc.models.SCDCC(n_clusters=8).fit(adata)
    >>> model.save("pbmc_scdcc")
    >>> new = sdc.models.SCDCC.load("pbmc_scdcc")
    >>> new.predict(adata)  # writes obsm['X_scdcc'], obs['scdcc'], obsm['scdcc_q']
    """

    tool = "scdcc"
    config_class = SCDCCConfig

    def fit(
        self,
        adata: AnnData,
        *,
        mask_var: str | np.ndarray | None = None,
        must_link: np.ndarray | Sequence | None = None,
        cannot_link: np.ndarray | Sequence | None = None,
        progress_bar: bool | None = None,
    ) -> SCDCC:
        """Pretrain on the ZINB loss, initialise the centres, train the clustering stage.

        ``adata`` (n_obs x n_vars) is read, never modified; :func:`scdeepclust.tl.scdcc`
        documents the arguments, the schedule and the errors (all raised before any
        training). Afterwards ``model.results_`` holds the outputs of the training cells
        (what ``tl.scdcc`` writes), ``model.summary_`` the JSON-safe training record and
        ``model.history`` the loss curves.

        Returns
        -------
        self
        """
        return super().fit(
            adata,
            mask_var=mask_var,
            progress_bar=progress_bar,
            must_link=must_link,
            cannot_link=cannot_link,
        )

    def _check_inputs(self, adata: AnnData, *, must_link=None, cannot_link=None) -> dict:
        ml = validation.check_pairs(must_link, adata, "must_link")
        cl = validation.check_pairs(cannot_link, adata, "cannot_link")
        validation.check_pair_conflicts(ml, cl, adata)
        return {"must_link": ml, "cannot_link": cl}

    def _describe_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "n_must_link": len(inputs["must_link"]),
            "n_cannot_link": len(inputs["cannot_link"]),
        }

    def _input_options(self) -> dict[str, Any]:
        # batch-aware scDeepCluster: the one-hot batch (and other covariates) as input
        covariates = self.config.categorical_covariate_keys or ()
        return {"batch_covariate": True, "covariate_keys": covariates}

    def _build_module(self, arch: Mapping[str, Any]) -> DeepClusterModel:
        return build_zinb_autoencoder(
            self.state_.n_genes,
            arch["hidden_dims"],
            arch["latent_dim"],
            self.config.noise_sd,
            self.state_.n_covariates,
        )

    def _pretrain(self, module, data, *, rng, progress) -> dict[str, StageResult]:
        c = self.config
        stage = run_stage(
            "pretrain",
            module,
            [pretrain_pass(module, data, c.batch_size, rng)],
            torch.optim.Adam(module.parameters(), lr=c.pretrain_lr, amsgrad=True, fused=True),
            c.pretrain_epochs_for(data.n_obs),
            early_stopping=(
                EarlyStopping(c.pretrain_patience, c.pretrain_min_delta)
                if c.pretrain_patience
                else None
            ),
            progress=progress,
            autocast_dtype=c.autocast(),
            dist=data.dist,
        )
        return {"pretrain": stage}

    def _clustering_passes(self, module, data, self_training, *, rng, inputs) -> list[Pass]:
        c = self.config
        return clustering_passes(
            module,
            data,
            self_training,
            gamma=c.gamma,
            batch_size=c.batch_size,
            rng=rng,
            must_link=inputs["must_link"],
            cannot_link=inputs["cannot_link"],
            ml_weight=c.ml_weight,
            cl_weight=c.cl_weight,
        )

    def _clustering_optimizer(self, module: DeepClusterModel) -> torch.optim.Optimizer:
        return torch.optim.Adadelta(module.parameters(), lr=self.config.lr, rho=0.95)
