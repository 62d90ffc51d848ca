"""``tl.desc``: DESC on an AnnData (a thin wrapper over ``models.DESC``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from anndata import AnnData

from ..data.results import write
from ..models import DESC, DESCConfig
from ..models._docs import shared_docs


@shared_docs
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
    pretrain_phase_steps: int | None = 500,
    max_epochs: int = 300,
    max_steps: int | None = 12_000,
    update_interval: int = 5,
    tol: float = 0.005,
    init: str = "auto",
    target_distribution: str = "dec",
    init_max_cells: int | None = 50_000,
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

    The trained model itself is :class:`scdeepclust.models.DESC` (this function is a thin
    wrapper over ``DESC(...).fit(adata)``): use it to save the model and to embed new cells.

    Parameters
    ----------
    adata
        Annotated data matrix, n_obs x n_vars. Not modified except for the slots below.
    resolution
        Leiden resolution, or a sequence of them.
    n_clusters
        Number of clusters for a k-means initialisation (``n_init=20``) instead of Leiden;
        only with a single resolution.
    {doc_layer}
    {doc_mask_var}
    batch_key
        ``adata.obs`` column of batches; scaling is then done within each batch.
    max_value
        Clip of the z-scores (DESC's tutorials use 6); None: no clipping.
    target_sum
        Counts per cell after normalisation (DESC: 1e4); None: the median library size.
    hidden_dims
        Encoder hidden layer widths; the decoder mirrors them. None: chosen from n_obs as
        DESC does (n_obs > 20,000: (128,); > 10,000: (64,); > 5,000: (32,); else none).
    latent_dim
        Latent dimension (width of the embedding). None: chosen from n_obs as DESC does
        (n_obs > 10,000: 32; > 5,000: 16; > 2,000: 128; > 500: 64; else 16).
    {doc_n_neighbors}
    {doc_alpha}
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
    pretrain_patience
        Each pretraining phase stops when its MSE has not improved by ``pretrain_min_delta``
        for this many epochs. None: no early stop.
    pretrain_min_delta
        Smallest improvement of a pretraining phase's MSE (absolute) that resets the
        ``pretrain_patience`` count.
    batch_size
        Cells per minibatch.
    lr
        Learning rate of the clustering stage (SGD).
    momentum
        Momentum of the clustering stage's SGD.
    pretrain_phase_steps
        Cap of each pretraining phase in optimizer steps: a phase runs at most
        ``pretrain_phase_steps // minibatches per epoch`` epochs (at least one). Default 500:
        no cap up to 25,600 cells, one epoch per phase above 64,000 cells. None: no cap.
    max_epochs
        Maximum clustering epochs (default 300, i.e. 60 refreshes of p; desc 2.1.1 allows
        1,000 refreshes). ``uns[key]['stopped_by']['cluster']`` is ``'cap'`` when the cap
        ends the stage.
    {doc_max_steps}
    {doc_update_tol}
    {doc_strategies}
    {doc_init_max_cells}
    key_added
        Name of the output slots for a single resolution. With several resolutions each gets
        ``f"{key_added}_r{resolution:g}"``, e.g. ``desc_r0.4``, ``desc_r0.8``, ``desc_r1.2``.
    {doc_runtime}
    {doc_progress_bar}
    {doc_copy}

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
        {doc_diagnostics} DESC lists each pretraining phase of the
        ``layerwise_<i>`` and ``end_to_end`` stages, comma-separated.

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
    {doc_diverged}

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
    model = DESC(**DESCConfig.pick(locals()))  # every config field is a parameter here
    model.fit(adata, mask_var=mask_var, progress_bar=progress_bar)
    return write(adata, copy, model.results_)
