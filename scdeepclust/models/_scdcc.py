"""The scDCC / scDeepCluster model: fit, predict, save, load."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from anndata import AnnData

from ..data import validation
from ..data.results import plain_params
from ..data.state import InputState, describe_mask
from ..module import distributed
from ..module.engine import EarlyStopping, run_stage
from ..module.modules import DeepClusterModel
from ..module.scdcc import build_zinb_autoencoder, clustering_passes, pretrain_pass
from ..module.utils import seeded, show_progress
from . import _training
from ._base import BaseModel, summarise
from ._config import SCDCCConfig, epochs_within
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

    def _build_module(self, run: Mapping[str, Any]) -> DeepClusterModel:
        c = self.config
        return build_zinb_autoencoder(
            self.state_.n_genes, c.hidden_dims, c.latent_dim, c.noise_sd, self.state_.n_covariates
        )

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
        (what ``tl.scdcc`` writes) and ``model.summary_`` the JSON-safe training record.

        Returns
        -------
        self
        """
        c = self.config
        timer = _training.Timer()
        start = time.perf_counter()
        seed, dev, amp = c.seed(), c.torch_device(), c.autocast()
        n_clusters = validation.check_n_clusters(c.n_clusters, adata.n_obs)
        ml = validation.check_pairs(must_link, adata, "must_link")
        cl = validation.check_pairs(cannot_link, adata, "cannot_link")
        state, prepared = InputState.fit(
            adata, layer=c.layer, mask_var=mask_var, batch_key=c.batch_key, batch_covariate=True
        )
        self.state_ = state
        data = prepared.to(dev, distributed.init_from_env(dev))
        timer.add("prepare", start)

        rng = np.random.default_rng(seed)
        with seeded(seed, dev):
            progress = show_progress(progress_bar)
            model = build_zinb_autoencoder(
                prepared.n_genes, c.hidden_dims, c.latent_dim, c.noise_sd, state.n_covariates
            ).to(dev)
            pre = run_stage(
                "pretrain",
                model,
                [pretrain_pass(model, data, c.batch_size, rng)],
                torch.optim.Adam(model.parameters(), lr=c.pretrain_lr, amsgrad=True, fused=True),
                c.pretrain_epochs_for(data.n_obs),
                early_stopping=(
                    EarlyStopping(c.pretrain_patience, c.pretrain_min_delta)
                    if c.pretrain_patience
                    else None
                ),
                progress=progress,
                autocast_dtype=amp,
                dist=data.dist,
            )
            timer.seconds["pretrain"] = pre.seconds
            centers, init_labels, target = _training.start_clustering(
                model, data, c, n_clusters=n_clusters, resolution=c.resolution, timer=timer
            )
            passes = clustering_passes(
                model,
                data,
                target,
                gamma=c.gamma,
                batch_size=c.batch_size,
                rng=rng,
                must_link=ml,
                cannot_link=cl,
                ml_weight=c.ml_weight,
                cl_weight=c.cl_weight,
            )
            clu = run_stage(
                "cluster",
                model,
                passes,
                torch.optim.Adadelta(model.parameters(), lr=c.lr, rho=0.95),
                epochs_within(c.max_epochs, c.max_steps, data.n_obs, c.batch_size),
                before_epoch=target,
                progress=progress,
                autocast_dtype=amp,
                dist=data.dist,
            )
            timer.seconds["cluster"] = clu.seconds
        target.p = None  # memory: p (n_obs x k) is not needed after the clustering stage

        params = plain_params(
            n_clusters=n_clusters, layer=c.layer, mask_var=describe_mask(mask_var),
            batch_key=c.batch_key, n_must_link=len(ml), n_cannot_link=len(cl),
            ml_weight=c.ml_weight, cl_weight=c.cl_weight, resolution=c.resolution,
            n_neighbors=c.n_neighbors, hidden_dims=list(c.hidden_dims), latent_dim=c.latent_dim,
            noise_sd=c.noise_sd, gamma=c.gamma, alpha=c.alpha, batch_size=c.batch_size,
            pretrain_epochs=c.pretrain_epochs, pretrain_steps=c.pretrain_steps,
            pretrain_lr=c.pretrain_lr, pretrain_patience=c.pretrain_patience,
            pretrain_min_delta=c.pretrain_min_delta, max_epochs=c.max_epochs,
            max_steps=c.max_steps, lr=c.lr, update_interval=c.update_interval, tol=c.tol,
            init_max_cells=c.init_max_cells, random_state=seed, device=str(dev),
            precision=c.precision,
        )  # fmt: skip
        result = _training.collect(
            c.key_added,
            model,
            data,
            params=params,
            history={"pretrain": pre.history, "cluster": clu.history},
            n_epochs={"pretrain": pre.n_epochs, "cluster": clu.n_epochs},
            converged=clu.converged,
            extra={
                "seconds": timer.seconds,
                "n_genes_used": state.n_genes,
                "n_clusters_init": int(centers.shape[0]),
                **_training.diagnostics({"pretrain": pre, "cluster": clu}, target, init_labels),
            },
        )
        run = {"key": c.key_added, "n_clusters": int(centers.shape[0]), "latent_dim": c.latent_dim}
        self.modules_ = {c.key_added: model.eval()}
        self.runs_ = [run]
        self.results_ = [result]
        self.summary_ = {c.key_added: summarise(result)}
        return self
