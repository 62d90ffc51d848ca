"""The DESC model: fit (pretrain once, fine-tune per resolution), predict, save, load."""

from __future__ import annotations

import copy as _copy
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from anndata import AnnData

from ..data import validation
from ..data.results import MethodResult, plain_params
from ..data.state import InputState, describe_mask
from ..module import distributed
from ..module.desc import (
    build_mse_autoencoder,
    desc_dims,
    desc_pretrain_schedule,
    kl_pass,
    pretrain_desc,
)
from ..module.engine import StageResult, run_stage
from ..module.modules import DeepClusterModel
from ..module.utils import seeded, show_progress
from . import _training
from ._base import BaseModel, summarise
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

    def _build_module(self, run: Mapping[str, Any]) -> DeepClusterModel:
        module = build_mse_autoencoder(self.state_.n_genes, run["hidden_dims"], run["latent_dim"])
        module.decoder = None  # DESC keeps the fine-tuned encoder only
        return module

    def fit(
        self,
        adata: AnnData,
        *,
        mask_var: str | np.ndarray | None = None,
        progress_bar: bool | None = None,
    ) -> DESC:
        """Pretrain the autoencoder once, then fine-tune a copy of it per resolution.

        ``adata`` (n_obs x n_vars) is read, never modified; :func:`scdeepclust.tl.desc`
        documents the arguments, schedule and errors (all raised before any training).
        Afterwards ``model.results_`` holds the outputs of the training cells per resolution
        and ``model.summary_`` the JSON-safe training records.

        Returns
        -------
        self
        """
        c = self.config
        timer = _training.Timer()
        start = time.perf_counter()
        resolutions, keys = c.resolutions(), c.keys()
        seed, dev, amp = c.seed(), c.torch_device(), c.autocast()
        n_clusters = validation.check_n_clusters(c.n_clusters, adata.n_obs)
        auto_hidden, auto_latent = desc_dims(adata.n_obs)
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
        state, prepared = InputState.fit(
            adata,
            layer=c.layer,
            mask_var=mask_var,
            target_sum=c.target_sum,
            batch_key=c.batch_key,
            max_value=c.max_value,
            scale_by_batch=True,
        )
        self.state_ = state
        data = prepared.to(dev, distributed.init_from_env(dev))
        timer.add("prepare", start)
        progress = show_progress(progress_bar)

        with seeded(seed, dev):
            model = build_mse_autoencoder(prepared.n_genes, hidden, latent).to(dev)
            pre = pretrain_desc(
                model,
                data,
                stacked=c.stacked,
                dropout=c.dropout,
                **self._pretrain_schedule(data.n_obs),
                patience=c.pretrain_patience,
                min_delta=c.pretrain_min_delta,
                momentum=0.9,
                batch_size=c.batch_size,
                rng=np.random.default_rng(seed),
                progress=progress,
                autocast_dtype=amp,
            )
        timer.seconds["pretrain"] = sum(r.seconds for r in pre.values())
        model.decoder = None  # DESC fine-tunes the encoder alone
        pretrained = _copy.deepcopy(model.state_dict())

        self.modules_, self.runs_, self.results_ = {}, [], []
        for res, key in zip(resolutions, keys, strict=True):
            params = plain_params(
                resolution=res, n_clusters=n_clusters, layer=c.layer,
                mask_var=describe_mask(mask_var), batch_key=c.batch_key,
                max_value=c.max_value, target_sum=c.target_sum, hidden_dims=hidden,
                latent_dim=latent, n_neighbors=c.n_neighbors, alpha=c.alpha,
                dropout=c.dropout, stacked=c.stacked, pretrain_epochs=c.pretrain_epochs,
                pretrain_patience=c.pretrain_patience,
                pretrain_min_delta=c.pretrain_min_delta, batch_size=c.batch_size, lr=c.lr,
                momentum=c.momentum, pretrain_phase_steps=c.pretrain_phase_steps,
                max_epochs=c.max_epochs, max_steps=c.max_steps,
                update_interval=c.update_interval, tol=c.tol,
                init_max_cells=c.init_max_cells, random_state=seed,
                device=str(dev), precision=c.precision,
            )  # fmt: skip
            with seeded(seed + 1, dev):
                result = self._fine_tune(
                    model, pretrained, data, res, n_clusters, key=key, pre=pre,
                    timer=_training.Timer(dict(timer.seconds)), params=params,
                    progress=progress, n_genes_used=state.n_genes,
                )  # fmt: skip
            self.results_.append(result)
            self.modules_[key] = _copy.deepcopy(model).eval()
            self.runs_.append(
                {
                    "key": key,
                    "resolution": res,
                    "n_clusters": int(result.centers.shape[0]),
                    "hidden_dims": hidden,
                    "latent_dim": latent,
                }
            )
        self.summary_ = {r.key: summarise(r) for r in self.results_}
        return self

    def _pretrain_schedule(self, n_obs: int) -> dict[str, Any]:
        """DESC's phases for ``pretrain_epochs``, each capped at ``pretrain_phase_steps``."""
        c = self.config
        schedule = desc_pretrain_schedule(c.pretrain_epochs)
        for name in ("layerwise_epochs", "end_to_end_epochs"):
            schedule[name] = epochs_within(
                schedule[name], c.pretrain_phase_steps, n_obs, c.batch_size
            )
        return schedule

    def _fine_tune(
        self,
        model: DeepClusterModel,
        pretrained: dict[str, torch.Tensor],
        data,
        res: float,
        n_clusters: int | None,
        *,
        key: str,
        pre: dict[str, StageResult],
        timer: _training.Timer,
        params: dict[str, Any],
        progress: bool,
        n_genes_used: int,
    ) -> MethodResult:
        """Initialise centres at one resolution and fine-tune a fresh copy of the encoder."""
        c = self.config
        seed = c.seed()
        model.head = None
        model.load_state_dict(pretrained)
        centers, init_labels, target = _training.start_clustering(
            model, data, c, n_clusters=n_clusters, resolution=res, timer=timer
        )
        clu = run_stage(
            f"cluster (resolution {res:g})" if n_clusters is None else "cluster",
            model,
            [kl_pass(model, data, target, c.batch_size, np.random.default_rng(seed + 1))],
            torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum),
            epochs_within(c.max_epochs, c.max_steps, data.n_obs, c.batch_size),
            before_epoch=target,
            progress=progress,
            autocast_dtype=c.autocast(),
            dist=data.dist,
        )
        timer.seconds["cluster"] = clu.seconds
        target.p = None  # memory: p (n_obs x k) is not needed after the clustering stage
        pre_history = {
            f"{stage}_{term}": values
            for stage, r in pre.items()
            for term, values in r.history.items()
        }
        n_pre = {stage: r.n_epochs for stage, r in pre.items()}
        return _training.collect(
            key,
            model,
            data,
            params=params,
            history={"pretrain": pre_history, "cluster": clu.history},
            n_epochs={"pretrain": sum(n_pre.values()), **n_pre, "cluster": clu.n_epochs},
            converged=clu.converged,
            extra={
                "seconds": timer.seconds,
                "n_genes_used": n_genes_used,
                "n_clusters_init": int(centers.shape[0]),
                **_training.diagnostics({**pre, "cluster": clu}, target, init_labels),
            },
        )
