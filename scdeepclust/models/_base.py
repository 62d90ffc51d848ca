"""What every model shares: the fit pipeline, predict / embed new cells, save and load.

The folder format of :meth:`BaseModel.save` is described in :mod:`._storage`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .._atomic import atomic_write
from .._version import __version__
from ..data import results as _results
from ..data import validation
from ..data.state import InputState, describe_mask
from ..module import distributed
from ..module.device_data import DeviceData
from ..module.engine import Pass, StageResult, embed, run_stage, soft_assignments
from ..module.networks import ClusteringHead, DeepClusterModel
from ..module.utils import seeded, show_progress
from . import _training
from ._config import ClusteringConfig, epochs_within
from ._storage import (
    FILES,
    FORMAT,
    FORMAT_VERSION,
    ModelFormatError,
    json_safe,
    read_arrays,
    read_meta,
    read_weights,
)

#: Model class of each tool name, for :func:`scdeepclust.models.load` (filled by subclassing).
MODEL_CLASSES: dict[str, type[BaseModel]] = {}


class BaseModel:
    """A deep embedded clustering model: config, fitted input state and one module per run.

    :meth:`fit` runs the sequence every method shares: check the input, fit the input state
    (genes, size factors, scaling, covariates), pretrain an autoencoder, then for each run
    (one per Leiden resolution) initialise the centres on the embedding and train the
    self-training clustering stage. A method subclasses this and fills in what differs:

    - ``tool`` and ``config_class`` (a :class:`ClusteringConfig` subclass);
    - :meth:`_build_module`: the autoencoder of an architecture (``hidden_dims``,
      ``latent_dim``; :meth:`_architecture` chooses them);
    - :meth:`_pretrain`: the pretraining stages;
    - :meth:`_clustering_passes` and :meth:`_clustering_optimizer`: the clustering stage;
    - optionally :meth:`_input_options`, :meth:`_check_inputs`, ``clustering_uses_decoder``
      and ``clustering_seed_offset``.

    Centre initialisation (k-means with ``n_clusters``, else Leiden at ``resolution``) and the
    target distribution p are the pipeline's, chosen by the config.
    """

    #: Tool name written into the saved folder.
    tool: ClassVar[str] = ""
    #: Config dataclass of the method.
    config_class: ClassVar[type[ClusteringConfig]]
    #: False: the decoder is dropped after pretraining (DESC fine-tunes the encoder alone).
    clustering_uses_decoder: ClassVar[bool] = True
    #: None: the clustering stage continues the random streams of the pretraining (scDCC);
    #: an int: each run is seeded with ``random_state`` + this (DESC: runs at several
    #: resolutions do not depend on each other or on their order).
    clustering_seed_offset: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if cls.tool:
            MODEL_CLASSES[cls.tool] = cls

    def __init__(self, **params: Any):
        self.config = self.config_class(**params).validate()
        self.state_: InputState | None = None
        self.modules_: dict[str, DeepClusterModel] = {}
        self.runs_: list[dict[str, Any]] = []
        self.results_: list[_results.MethodResult] = []
        self.summary_: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        fitted = (
            f"fitted on {self.state_.n_genes} genes, runs {', '.join(self.modules_)}"
            if self.is_fitted
            else "not fitted"
        )
        return f"{type(self).__name__}({fitted})"

    @property
    def is_fitted(self) -> bool:
        """True once :meth:`fit` has run (or the model was loaded)."""
        return self.state_ is not None and bool(self.modules_)

    @property
    def keys(self) -> list[str]:
        """Output key of each trained run (the names of the ``obs`` / ``obsm`` slots)."""
        return list(self.modules_)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(
                f"This {type(self).__name__} is not fitted; call `.fit(adata)` first or "
                f"load a saved one with `{type(self).__name__}.load(dir)`."
            )

    def _device(self) -> torch.device:
        return next(iter(self.modules_.values())).encoder.net[0].weight.device

    def _outputs(self, adata: AnnData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Embedding and q of the cells of ``adata`` from every run."""
        self._check_fitted()
        validation.warn_duplicate_obs_names(adata)
        data = self.state_.transform(adata).to(self._device())
        out = {}
        for key, module in self.modules_.items():
            z = embed(module, data)
            out[key] = (z.cpu().numpy(), soft_assignments(module, z).cpu().numpy())
        return out

    def get_latent_representation(self, adata: AnnData, key: str | None = None) -> np.ndarray:
        """Embedding of the cells of ``adata``, n_obs x latent_dim, float32.

        ``adata`` needs the model's genes (found by ``var_names``; extra genes ignored,
        order free) with raw counts in the training ``layer``, and, for a model trained with
        ``batch_key``, a batch column with training batches only. ``key`` selects the run
        (DESC at several resolutions); None: the first.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        KeyError
            If genes, the layer or the batch column are missing, or ``key`` is unknown.
        ValueError
            For counts that are not raw counts, cells without counts or unseen batches.
        """
        self._check_fitted()
        key = self.keys[0] if key is None else key
        if key not in self.modules_:
            raise KeyError(f"No run {key!r}; this model has {', '.join(map(repr, self.keys))}.")
        return self._outputs(adata)[key][0]

    def predict(self, adata: AnnData, *, copy: bool = False) -> AnnData | None:
        """Embed and cluster the cells of ``adata`` with the trained model.

        Writes, for each run ``key`` (``model.keys``), the same slots as the tool:
        ``obsm['X_' + key]`` (embedding, n_obs x latent_dim), ``obs[key]`` (argmax of q,
        categories ``'0'..'k-1'`` of the training clusters), ``obsm[key + '_q']`` (soft
        assignments, n_obs x k), and ``uns[key]`` with ``params``, ``cluster_centers``,
        ``version`` and ``predicted=True``. On the training cells the labels are those of
        the fit. Nothing is written if a check fails (see
        :meth:`get_latent_representation` for the requirements and errors).

        Returns
        -------
        None, or the new AnnData with ``copy=True``.
        """
        outputs = self._outputs(adata)
        target = _results.output_target(adata, copy)
        for key, (z, q) in outputs.items():
            _results.write_assignments(target, key, z, q)
            target.uns[key] = _results.to_uns(
                {
                    "params": self.summary_.get(key, {}).get("params", {}),
                    "cluster_centers": self.modules_[key].head.centers.detach().cpu().numpy(),
                    "version": __version__,
                    "predicted": True,
                }
            )
        return target if copy else None

    @property
    def history(self) -> dict[str, pd.DataFrame]:
        """Loss per epoch of each training stage, as DataFrames (scvi-tools' name).

        Keys are the stages (``pretrain``, or DESC's ``layerwise_0``, ..., ``end_to_end``,
        then ``cluster``; with several runs ``cluster/<key>``); each frame has one row per
        epoch (index ``epoch`` from 1) and one column per loss term, ``loss`` their sum.
        """
        self._check_fitted()
        frames: dict[str, pd.DataFrame] = {}
        for key in self.keys:
            stages = self.summary_[key].get("stage_history", {})
            for stage, terms in stages.items():
                name = stage if stage != "cluster" or len(self.keys) == 1 else f"cluster/{key}"
                frame = pd.DataFrame(
                    {term: np.asarray(v, dtype=np.float32) for term, v in terms.items()}
                )
                frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
                frames.setdefault(name, frame)
        return frames

    # --- the shared fit ---

    def fit(
        self,
        adata: AnnData,
        *,
        mask_var: str | np.ndarray | None = None,
        progress_bar: bool | None = None,
        **inputs: Any,
    ):
        """Pretrain, initialise the centres and train the clustering stage on ``adata``.

        ``adata`` (n_obs x n_vars) is read, never modified; the tool function
        (:func:`scdeepclust.tl.scdcc`, :func:`scdeepclust.tl.desc`) documents the arguments,
        the schedule and the errors, all raised before any training. ``inputs`` are the
        method's own arguments of fit (scDCC's ``must_link`` and ``cannot_link``).
        Afterwards ``model.results_`` holds the outputs of the training cells per run (what
        the tool writes), ``model.summary_`` the JSON-safe training records and
        ``model.history`` the loss curves.

        Returns
        -------
        self
        """
        c = self.config
        timer = _training.Timer()
        start = time.perf_counter()
        seed, dev = c.seed(), c.torch_device()
        n_clusters = validation.check_n_clusters(c.n_clusters, adata.n_obs)
        validation.warn_duplicate_obs_names(adata)
        checked = self._check_inputs(adata, **inputs)
        arch = self._architecture(adata.n_obs)
        state, prepared = InputState.fit(
            adata, layer=c.layer, mask_var=mask_var, batch_key=c.batch_key, **self._input_options()
        )
        self.state_ = state
        data = prepared.to(dev, distributed.init_from_env(dev))
        timer.add("prepare", start)
        progress = show_progress(progress_bar)
        runs = [
            {"key": key, "resolution": res, "n_clusters": n_clusters, **arch}
            for key, res in zip(c.keys(), c.resolutions(), strict=True)
        ]
        params = {**c.to_dict(), **arch, "mask_var": describe_mask(mask_var)}
        params.update(random_state=seed, device=str(dev), n_clusters=n_clusters)
        params.update(self._describe_inputs(checked))

        rng = np.random.default_rng(seed)
        with seeded(seed, dev):
            module = self._build_module(arch).to(dev)
            pre = self._pretrain(module, data, rng=rng, progress=progress)
            timer.seconds["pretrain"] = sum(r.seconds for r in pre.values())
            if not self.clustering_uses_decoder:
                module.decoder = None
            pretrained = copy.deepcopy(module.state_dict()) if len(runs) > 1 else None
            self.modules_, self.runs_, self.results_, self.summary_ = {}, [], [], {}
            for run in runs:
                with self._run_random_streams(seed, dev, rng) as run_rng:
                    result, stage_history = self._cluster(
                        module, pretrained, data, run, run_rng, checked,
                        pre=pre, timer=_training.Timer(dict(timer.seconds)),
                        params={**params, "resolution": run["resolution"]},
                        progress=progress, several=len(runs) > 1,
                    )  # fmt: skip
                run["n_clusters"] = int(result.centers.shape[0])
                self.results_.append(result)
                self.modules_[run["key"]] = (
                    copy.deepcopy(module).eval() if len(runs) > 1 else module.eval()
                )
                self.runs_.append(run)
                self.summary_[run["key"]] = summarise(result, stage_history)
        return self

    @contextlib.contextmanager
    def _run_random_streams(self, seed: int, device: torch.device, rng: np.random.Generator):
        """Context of one clustering run, yielding its numpy Generator (see class attribute)."""
        if self.clustering_seed_offset is None:
            yield rng
            return
        run_seed = seed + self.clustering_seed_offset
        with seeded(run_seed, device):
            yield np.random.default_rng(run_seed)

    def _cluster(
        self,
        module: DeepClusterModel,
        pretrained: dict[str, torch.Tensor] | None,
        data: DeviceData,
        run: dict[str, Any],
        rng: np.random.Generator,
        inputs: dict[str, Any],
        *,
        pre: dict[str, StageResult],
        timer: _training.Timer,
        params: dict[str, Any],
        progress: bool,
        several: bool,
    ) -> tuple[_results.MethodResult, dict[str, dict[str, np.ndarray]]]:
        """One run: initialise the centres, train the clustering stage, collect the outputs.

        Returns the run's result and the loss history of each stage (pretraining and
        clustering), for :attr:`history`.
        """
        c = self.config
        if pretrained is not None:  # several runs: each starts from the pretrained weights
            module.head = None
            module.load_state_dict(pretrained)
        centers, init_labels, self_training = _training.start_clustering(
            module, data, c, n_clusters=run["n_clusters"], resolution=run["resolution"], timer=timer
        )
        clu = run_stage(
            f"cluster (resolution {run['resolution']:g})" if several else "cluster",
            module,
            self._clustering_passes(module, data, self_training, rng=rng, inputs=inputs),
            self._clustering_optimizer(module),
            epochs_within(c.max_epochs, c.max_steps, data.n_obs, c.batch_size),
            before_epoch=self_training,
            progress=progress,
            autocast_dtype=c.autocast(),
            dist=data.dist,
        )
        timer.seconds["cluster"] = clu.seconds
        self_training.p = None  # memory: p (n_obs x k) is not needed after the clustering stage
        _training.check_weights_finite(module, run["key"])
        stages = {**pre, "cluster": clu}
        result = _training.collect(
            run["key"],
            module,
            data,
            params=_results.plain_params(**params),
            history=_training.history_record(pre, clu),
            n_epochs=_training.epochs_record(pre, clu),
            converged=clu.converged,
            extra={
                "seconds": timer.seconds,
                "n_genes_used": self.state_.n_genes,
                "n_clusters_init": int(centers.shape[0]),
                **_training.diagnostics(stages, self_training, init_labels),
            },
        )
        result.extra["n_empty_clusters"] = _training.empty_clusters(result.q)
        collapse = _training.collapse_warning(run["key"], result.q, n_obs=data.n_obs, lr=c.lr)
        if collapse:
            validation.warn_user(collapse)
            result.extra["warning"] = collapse
        return result, {name: r.history for name, r in stages.items()}

    # --- extension points (per method) ---

    def _check_inputs(self, adata: AnnData, **inputs: Any) -> dict[str, Any]:
        """Check the method's own arguments of :meth:`fit` (before any training)."""
        if inputs:
            raise TypeError(
                f"{type(self).__name__}.fit() got unexpected arguments: {', '.join(inputs)}."
            )
        return {}

    def _describe_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """What ``uns[key]['params']`` records of the checked :meth:`fit` arguments."""
        return {}

    def _input_options(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`InputState.fit` besides layer, mask_var and batch_key."""
        return {}

    def _architecture(self, n_obs: int) -> dict[str, Any]:
        """Layer widths of the run: ``{"hidden_dims": [...], "latent_dim": d}``."""
        return {"hidden_dims": list(self.config.hidden_dims), "latent_dim": self.config.latent_dim}

    def _build_module(self, arch: Mapping[str, Any]) -> DeepClusterModel:
        """An untrained autoencoder (with its decoder) of architecture ``arch``."""
        raise NotImplementedError

    def _pretrain(
        self,
        module: DeepClusterModel,
        data: DeviceData,
        *,
        rng: np.random.Generator,
        progress: bool,
    ) -> dict[str, StageResult]:
        """Pretrain ``module`` in place; returns the result of each pretraining stage."""
        raise NotImplementedError

    def _clustering_passes(
        self,
        module: DeepClusterModel,
        data: DeviceData,
        self_training: _training.SelfTraining,
        *,
        rng: np.random.Generator,
        inputs: Mapping[str, Any],
    ) -> list[Pass]:
        """The passes of one clustering epoch; ``self_training.p`` is the target distribution."""
        raise NotImplementedError

    def _clustering_optimizer(self, module: DeepClusterModel) -> torch.optim.Optimizer:
        """The optimizer of the clustering stage."""
        raise NotImplementedError

    def _with_head(self, module: DeepClusterModel, run: Mapping[str, Any]) -> DeepClusterModel:
        latent = run["latent_dim"]
        module.head = ClusteringHead(torch.zeros(run["n_clusters"], latent), self.config.alpha)
        return module

    def _saved_module(self, run: Mapping[str, Any]) -> DeepClusterModel:
        """An untrained module of a saved run (architecture from the run, else the config)."""
        arch = {
            "hidden_dims": run.get("hidden_dims", self.config.hidden_dims),
            "latent_dim": run.get("latent_dim", self.config.latent_dim),
        }
        module = self._build_module(arch)
        if not self.clustering_uses_decoder:
            module.decoder = None
        return self._with_head(module, run)

    # --- save / load ---

    def save(self, dir_path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Save the fitted model into the folder ``dir_path`` (created; see module docs).

        Under ``torchrun`` only rank 0 writes (every rank holds the same model); on the other
        ranks this returns the path without writing.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        FileExistsError
            If ``dir_path`` exists and ``overwrite`` is False.
        """
        self._check_fitted()
        path = Path(dir_path)
        if distributed.process_rank() != 0:
            return path
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{path} exists; pass overwrite=True to replace it, or choose another folder."
            )
        fields, arrays = self.state_.to_plain()
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool": self.tool,
            "scdeepclust_version": __version__,
            "config": self.config.to_dict(),
            "state": fields,
            "runs": self.runs_,
            "summary": self.summary_,
        }
        weights = {
            f"{key}/{name}": t.detach().cpu()
            for key, module in self.modules_.items()
            for name, t in module.state_dict().items()
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, folder=True, suffix="") as tmp:
            (tmp / FILES["json"]).write_text(json.dumps(json_safe(meta), indent=1))
            np.savez(tmp / FILES["arrays"], **arrays)
            torch.save(weights, tmp / FILES["weights"])
        return path

    @classmethod
    def load(cls, dir_path: str | os.PathLike, device: str | torch.device | None = None):
        """Load a model saved by :meth:`save`; ``device`` overrides the saved one.

        Raises
        ------
        FileNotFoundError
            If ``dir_path`` does not exist.
        scdeepclust.models.ModelFormatError
            (a ``ValueError``) if the folder is not a scdeepclust model (another tool's, or
            files missing), is corrupt, holds a pickled payload instead of plain tensors,
            was written by a newer format version, or holds the other method.
        """
        meta = read_meta(dir_path)
        if meta["tool"] != cls.tool:
            raise ModelFormatError(
                f"{dir_path} holds a {meta['tool']!r} model, not {cls.tool!r}; load it with "
                "`scdeepclust.models.load(dir)`."
            )
        config = dict(meta["config"])
        if device is not None:
            config["device"] = str(device)
        arrays = read_arrays(Path(dir_path))
        try:
            model = cls(**config)
            model.state_ = InputState.from_plain(meta["state"], arrays)
            model.runs_ = list(meta["runs"])
            model.summary_ = dict(meta["summary"])
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFormatError(f"{dir_path}: model.json is inconsistent ({err}).") from err
        weights = read_weights(Path(dir_path), model.config.torch_device())
        for run in model.runs_:
            module = model._saved_module(run)
            prefix = f"{run['key']}/"
            own = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
            try:
                module.load_state_dict(own, strict=True)
            except RuntimeError as err:
                raise ModelFormatError(
                    f"{dir_path}: the weights do not fit the saved architecture ({err})."
                ) from err
            module.to(model.config.torch_device()).eval()
            model.modules_[run["key"]] = module
        return model


def summarise(result, stage_history: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-safe training record of a run (no per-cell arrays); with the loss per stage."""
    extra = {k: v for k, v in (result.extra or {}).items() if k not in ("init_labels",)}
    return json_safe(
        {
            "params": dict(result.params),
            "n_epochs": dict(result.n_epochs),
            "converged": bool(result.converged),
            **extra,
            **({"stage_history": dict(stage_history)} if stage_history else {}),
        }
    )
