"""``tl.desc``: DESC (deep embedding for single-cell clustering) on an AnnData."""

from __future__ import annotations

import copy as _copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from anndata import AnnData

from .._core import validation, workflow
from .._core.engine import run_stage
from .._core.mse_model import (
    build_mse_autoencoder,
    desc_dims,
    desc_pretrain_schedule,
    kl_pass,
    pretrain_desc,
)
from .._core.utils import resolve_device, seeded, show_progress


def desc(
    adata: AnnData,
    resolution: float | Sequence[float] = 0.8,
    *,
    n_clusters: int | None = None,
    layer: str | None = "counts",
    mask_var: str | np.ndarray | None = None,
    batch_key: str | None = None,
    max_value: float | None = 6.0,
    target_sum: float | None = 1e4,
    hidden_dims: Sequence[int] | None = None,
    latent_dim: int | None = None,
    n_neighbors: int = 10,
    alpha: float = 1.0,
    dropout: float = 0.2,
    stacked: bool = True,
    pretrain_epochs: int = 30,
    pretrain_patience: int | None = 10,
    pretrain_min_delta: float = 1e-4,
    batch_size: int = 256,
    lr: float = 0.01,
    momentum: float = 0.9,
    max_epochs: int = 300,
    update_interval: int = 5,
    tol: float = 0.005,
    key_added: str = "desc",
    random_state: int | None = 0,
    device: str | torch.device = "auto",
    precision: str = "float32",
    progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Cluster cells with DESC, at one or several Leiden resolutions.

    An autoencoder is pretrained on the mean squared error of the scaled expression: first
    layer by layer as denoising autoencoders (dropout ``dropout``), then end to end, both with
    SGD (momentum 0.9) over step-down learning rates with early stopping. Cluster centres are
    initialised on its embedding by Leiden at ``resolution`` (or k-means with ``n_clusters``);
    then the decoder is dropped and the encoder and centres are trained on KL(P||Q) alone,
    with Student-t soft assignments q and the target distribution p refreshed every
    ``update_interval`` epochs, until less than ``tol`` of the cells change label.

    Input preparation, inside the call (the caller's ``X`` is never changed): counts scaled to
    ``target_sum`` per cell, log1p, per-gene z-score clipped to [-``max_value``, ``max_value``]
    (as ``sc.pp.scale``); with ``batch_key`` the z-score is computed within each batch, as
    DESC's ``scale_bygroup`` batch-effect recipe. Genes with zero counts in every cell are
    left out (logged).

    Several resolutions (``resolution=[0.4, 0.8, 1.2]``) pretrain once; each resolution then
    starts from the pretrained weights and is fine-tuned independently (the result at one
    resolution is the same whether or not others are run in the same call).

    Parameters
    ----------
    adata
        Annotated data matrix, n_obs x n_vars. Not modified except for the slots below.
    resolution
        Leiden resolution, or a sequence of them.
    n_clusters
        Number of clusters for a k-means initialisation (``n_init=20``) instead of Leiden;
        only with a single resolution.
    layer
        Layer holding the raw counts (non-negative integers); None reads ``adata.X``.
    mask_var
        Genes to use: a boolean array of length n_vars or an ``adata.var`` column name such as
        ``"highly_variable"`` (DESC users select highly variable genes). None: all genes.
    batch_key
        ``adata.obs`` column of batches; scaling is then done within each batch.
    max_value
        Clip of the z-scores (DESC's tutorials use 6); None: no clipping.
    target_sum
        Counts per cell after normalisation (DESC: 1e4); None: the median library size.
    hidden_dims, latent_dim
        Encoder hidden widths and latent dimension. None: chosen from n_obs as DESC does
        (n_obs > 20,000: (128,), 32; > 10,000: (64,), 32; > 5,000: (32,), 16;
        > 2,000: (), 128; > 500: (), 64; else (), 16).
    n_neighbors
        Neighbours of the kNN graph for Leiden.
    alpha
        Degrees of freedom of the Student-t kernel of q.
    dropout
        Dropout rate of the layer-wise denoising autoencoders.
    stacked
        Layer-wise pretraining before the end-to-end one (DESC's ``is_stacked``).
    pretrain_epochs
        DESC's pretraining budget, scaled as desc 2.1.1 scales its 300: layer-wise phases of
        ``ceil(pretrain_epochs / 6)`` epochs at learning rates 0.1, 0.01, 0.001 for each layer,
        then six end-to-end phases of ``ceil(pretrain_epochs / 6)`` epochs at 1, 0.1, ...,
        1e-5 (the annealing of the reference; with 300 the schedule is the reference's).
        Default 30: on 10X PBMC, 300 gave ARI 0.63-0.72 in 80 s (seeds 0-2).
    pretrain_patience, pretrain_min_delta
        Each phase stops when its MSE has not improved by ``pretrain_min_delta`` (absolute) for
        ``pretrain_patience`` epochs; None disables the early stop.
    batch_size
        Cells per minibatch.
    lr, momentum
        SGD of the clustering stage.
    max_epochs
        Maximum clustering epochs (default 300, i.e. 60 refreshes of p; desc 2.1.1 allows
        1,000 refreshes). Where the ``tol`` rule is met, it was met within 220 epochs on the
        shared datasets (worm with Leiden; 40-85 on PBMC and bladder); where it is not
        (CBMC, whose labels keep changing as centres merge), more epochs only cost time.
        ``uns[key]['stopped_by']['cluster']`` says ``'cap'`` then.
    update_interval
        Epochs between refreshes of the target distribution p (computed from all cells).
    tol
        Stop when less than this fraction of cells changed label between two refreshes.
    key_added
        Name of the output slots for a single resolution. With several resolutions each gets
        ``f"{key_added}_r{resolution:g}"``, e.g. ``desc_r0.4``, ``desc_r0.8``, ``desc_r1.2``.
    random_state
        Seed of everything the call does; the caller's global random state is left alone.
    device
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", "mps".
    precision
        ``"float32"`` (default) or ``"bfloat16"``: the training matrix products in bfloat16
        under :func:`torch.autocast` (losses, q and every output stay float32). Faster on a
        CPU with AVX512-BF16 or AMX and on recent GPUs; not the default because its effect on
        ARI has not been measured over seeds on all shared datasets.
    progress_bar
        One tqdm bar per stage; None shows them when stderr is a terminal.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    None, or a new AnnData if ``copy=True``. Writes, per resolution (``key``: see
    ``key_added``):

    ``adata.obsm['X_' + key]``
        Embedding, n_obs x latent_dim, float32.
    ``adata.obs[key]``
        Hard labels (argmax q), categorical with categories ``'0'..'k-1'`` matching the
        columns of q, including clusters that emptied during training.
    ``adata.obsm[key + '_q']``
        Soft assignments q, n_obs x k.
    ``adata.uns[key]``
        ``params``, ``cluster_centers``, ``history`` (loss per epoch of the ``pretrain`` and
        ``cluster`` stages), ``n_epochs``, ``converged``, ``seconds``, ``version``.
        Diagnostics (no labels needed): ``n_steps`` (optimizer steps per stage),
        ``stopped_by`` per stage (``'converged'``: the ``tol`` rule, ``'plateau'``: early
        stop, ``'cap'``: the epoch budget ran out; one entry per phase, comma-separated,
        for the ``layerwise_<i>`` and ``end_to_end`` stages), ``label_change`` (fraction of
        cells whose label changed at each refresh of p, float32), ``init_labels`` (the
        labels the centres were initialised from, int32, length n_obs) and
        ``n_clusters_init``.

    Raises
    ------
    KeyError
        If ``layer``, a ``mask_var`` column or ``batch_key`` is missing.
    TypeError
        If inputs have the wrong type.
    ValueError
        If the counts hold NaN / inf, negative or non-integer values, cells have zero counts,
        ``mask_var`` selects nothing, ``n_clusters`` is out of range or combined with several
        resolutions, or Leiden finds a single cluster. Raised before any fine-tuning is
        written; ``adata`` is left unchanged.
    scdeepclust.TrainingDivergedError
        If a loss becomes NaN or infinite; ``adata`` is left unchanged.

    References
    ----------
    Li, X., Wang, K., Lyu, Y. et al. Deep learning enables accurate clustering with batch
    effect removal in single-cell RNA-seq analysis. Nat Commun 11, 2338 (2020).

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.pbmc_10x()
    >>> sdc.tl.desc(adata, resolution=[0.4, 0.8])
    >>> adata.obs[["desc_r0.4", "desc_r0.8"]].nunique()
    """
    timer = workflow.Timer()
    start = time.perf_counter()
    resolutions = _resolutions(resolution)
    key = workflow.check_key(key_added)
    seed = workflow.check_random_state(random_state)
    dev = resolve_device(device)
    amp = workflow.autocast_dtype(precision)
    n_clusters = validation.check_n_clusters(n_clusters, adata.n_obs)
    if n_clusters is not None and len(resolutions) > 1:
        raise ValueError(
            "n_clusters gives a k-means initialisation and cannot be combined with several "
            "resolutions; pass a single resolution or n_clusters=None."
        )
    workflow.check_positive(batch_size=batch_size, update_interval=update_interval)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), found {dropout}.")
    auto_hidden, auto_latent = desc_dims(adata.n_obs)
    hidden = list(auto_hidden if hidden_dims is None else hidden_dims)
    latent = auto_latent if latent_dim is None else latent_dim
    workflow.check_schedule(
        hidden_dims=hidden,
        alpha=alpha,
        tol=tol,
        latent_dim=latent,
        pretrain_epochs=pretrain_epochs,
        n_neighbors=n_neighbors,
        max_epochs=max_epochs,
    )
    prepared, gene_mask = workflow.prepare_input(
        adata,
        layer=layer,
        mask_var=mask_var,
        target_sum=target_sum,
        batch_key=batch_key,
        max_value=max_value,
    )
    data = prepared.to(dev)
    timer.add("prepare", start)
    progress = show_progress(progress_bar)

    with seeded(seed, dev):
        model = build_mse_autoencoder(prepared.n_genes, hidden, latent).to(dev)
        schedule = desc_pretrain_schedule(pretrain_epochs)
        pre = pretrain_desc(
            model,
            data,
            stacked=stacked,
            dropout=dropout,
            **schedule,
            patience=pretrain_patience,
            min_delta=pretrain_min_delta,
            momentum=0.9,
            batch_size=batch_size,
            rng=np.random.default_rng(seed),
            progress=progress,
            autocast_dtype=amp,
        )
    timer.seconds["pretrain"] = sum(r.seconds for r in pre.values())
    model.decoder = None  # DESC fine-tunes the encoder alone
    pretrained = _copy.deepcopy(model.state_dict())

    results = []
    for res in resolutions:
        with seeded(seed + 1, dev):
            results.append(
                _fine_tune(
                    model, pretrained, data, res, n_clusters,
                    key=key if len(resolutions) == 1 else f"{key}_r{res:g}",
                    n_neighbors=n_neighbors, alpha=alpha, lr=lr, momentum=momentum,
                    max_epochs=max_epochs, update_interval=update_interval, tol=tol,
                    batch_size=batch_size, seed=seed, progress=progress, pre=pre, amp=amp,
                    timer=workflow.Timer(dict(timer.seconds)),
                    params=dict(
                        resolution=res, n_clusters=n_clusters, layer=layer,
                        mask_var=workflow.describe_mask(mask_var), batch_key=batch_key,
                        max_value=max_value, target_sum=target_sum, hidden_dims=hidden,
                        latent_dim=latent, n_neighbors=n_neighbors, alpha=alpha,
                        dropout=dropout, stacked=stacked, pretrain_epochs=pretrain_epochs,
                        pretrain_patience=pretrain_patience,
                        pretrain_min_delta=pretrain_min_delta, batch_size=batch_size, lr=lr,
                        momentum=momentum, max_epochs=max_epochs,
                        update_interval=update_interval, tol=tol, random_state=seed,
                        device=str(dev), precision=precision,
                    ),
                    n_genes_used=int(gene_mask.sum()),
                )
            )  # fmt: skip
    return workflow.write(adata, copy, results)


def _fine_tune(
    model, pretrained, data, res, n_clusters, *, key, n_neighbors, alpha, lr, momentum,
    max_epochs, update_interval, tol, batch_size, seed, progress, pre, amp, timer, params,
    n_genes_used,
) -> workflow.MethodResult:  # fmt: skip
    """Initialise centres at one resolution and fine-tune a fresh copy of the encoder."""
    model.head = None
    model.load_state_dict(pretrained)
    centers, init_labels = workflow.init_head(
        model,
        data,
        n_clusters=n_clusters,
        resolution=res,
        n_neighbors=n_neighbors,
        alpha=alpha,
        random_state=seed,
        timer=timer,
    )
    target = workflow.self_training(
        model, data, init_labels, update_interval=update_interval, tol=tol
    )
    clu = run_stage(
        f"cluster (resolution {res:g})" if n_clusters is None else "cluster",
        model,
        [kl_pass(model, data, target, batch_size, np.random.default_rng(seed + 1))],
        torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum),
        max_epochs,
        before_epoch=target,
        progress=progress,
        autocast_dtype=amp,
    )
    timer.seconds["cluster"] = clu.seconds
    pre_history = {
        f"{stage}_{term}": values for stage, r in pre.items() for term, values in r.history.items()
    }
    n_pre = {stage: r.n_epochs for stage, r in pre.items()}
    return workflow.collect(
        key,
        model,
        data,
        params=workflow.plain_params(**params),
        history={"pretrain": pre_history, "cluster": clu.history},
        n_epochs={"pretrain": sum(n_pre.values()), **n_pre, "cluster": clu.n_epochs},
        converged=clu.converged,
        extra={
            "seconds": timer.seconds,
            "n_genes_used": n_genes_used,
            "n_clusters_init": int(centers.shape[0]),
            **workflow.diagnostics({**pre, "cluster": clu}, target, init_labels),
        },
    )


def _resolutions(resolution: float | Sequence[float]) -> list[float]:
    values = [resolution] if np.isscalar(resolution) else list(resolution)
    if not values:
        raise ValueError("resolution is empty; pass a positive number or a list of them.")
    for r in values:
        if isinstance(r, bool) or not isinstance(r, int | float | np.number) or not r > 0:
            raise ValueError(f"resolution must be positive numbers, found {r!r}.")
    if len({f"{float(r):g}" for r in values}) != len(values):
        raise ValueError(f"resolution holds duplicates: {values}.")
    return [float(r) for r in values]
