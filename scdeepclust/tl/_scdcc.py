"""``tl.scdcc``: scDCC / scDeepCluster on an AnnData (a thin wrapper over ``models.SCDCC``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from anndata import AnnData

from ..data.results import write
from ..models import SCDCC, SCDCCConfig
from ..models._docs import shared_docs


@shared_docs
def scdcc(
    adata: AnnData,
    n_clusters: int | None = None,
    *,
    layer: str | None = "counts",
    mask_var: str | np.ndarray | None = None,
    batch_key: str | None = None,
    categorical_covariate_keys: Sequence[str] | None = None,
    must_link: np.ndarray | Sequence | None = None,
    cannot_link: np.ndarray | Sequence | None = None,
    ml_weight: float = 1.0,
    cl_weight: float = 1.0,
    resolution: float = 0.4,
    n_neighbors: int = 20,
    hidden_dims: Sequence[int] = (256, 64),
    latent_dim: int = 32,
    noise_sd: float = 2.5,
    gamma: float = 1.0,
    alpha: float = 1.0,
    batch_size: int = 256,
    pretrain_epochs: int | None = None,
    pretrain_steps: int = 700,
    pretrain_lr: float = 1e-3,
    pretrain_patience: int | None = None,
    pretrain_min_delta: float = 1e-3,
    max_epochs: int = 300,
    max_steps: int | None = 12_000,
    lr: float = 1.0,
    update_interval: int = 1,
    tol: float = 1e-3,
    init: str = "auto",
    target_distribution: str = "dec",
    init_max_cells: int | None = 50_000,
    key_added: str = "scdcc",
    random_state: int | None = 0,
    device: str | torch.device = "auto",
    precision: str = "float32",
    progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Cluster cells with scDCC (scDeepCluster with optional pairwise constraints).

    A denoising autoencoder whose decoder gives the mean, dispersion and dropout of a
    zero-inflated negative binomial (ZINB) likelihood of the raw counts is pretrained on the
    ZINB loss; cluster centres are initialised on its embedding (k-means when ``n_clusters``
    is given, else Leiden); then encoder, decoder and centres are trained on
    ZINB + ``gamma`` * KL(P||Q) with Student-t soft assignments q and the sharpened target
    distribution p, plus must-link / cannot-link losses when constraints are given. Without
    constraints this is scDeepCluster.

    Input preparation: size factors s_i = library size / median library size, log1p(counts /
    s_i), per-gene z-score (statistics from sparse sums, no clipping) as the encoder input;
    the ZINB target is the raw counts with the mean scaled by s_i. Genes with zero counts in
    every cell are left out (logged).

    With ``batch_key`` this is the batch version of scDeepCluster (scDeepClusterBatch): the
    one-hot batch is appended to the encoder input and to the decoder input, so the ZINB
    mean, dispersion and dropout are per batch and the embedding need not encode the batch.
    The result is a batch-aware embedding and clustering, not batch-corrected counts.

    The trained model itself is :class:`scdeepclust.models.SCDCC` (this function is a thin
    wrapper over ``SCDCC(...).fit(adata)``): use it to save the model and to embed new
    cells.

    Parameters
    ----------
    adata
        Annotated data matrix, n_obs x n_vars. Not modified except for the slots below.
    n_clusters
        Number of clusters k; centres from k-means (``n_init=20``). None: Leiden on the
        pretrained embedding decides k (``resolution``, ``n_neighbors``).
    {doc_layer}
    {doc_mask_var}
    batch_key
        ``adata.obs`` column of batches (categorical or strings); the network gets the
        one-hot batch as an input of the encoder and the decoder. None: no batches.
    categorical_covariate_keys
        Further categorical ``adata.obs`` columns (donor, protocol, ...) given to the network
        like the batch: each one-hot, concatenated after the batch's (scvi-tools' name).
        ``predict`` needs the same columns, with categories seen in training. None: none.
    must_link, cannot_link
        Pairwise constraints, (n_pairs, 2) arrays of 0-based cell indices or of obs names,
        e.g. from :func:`scdeepclust.pp.constraints_from_labels` or
        :func:`scdeepclust.pp.constraints_from_rep`.
    ml_weight
        Weight of the must-link loss -log sum_k q_ik q_jk of each must-link pair (i, j).
    cl_weight
        Weight of the cannot-link loss -log(1 - sum_k q_ik q_jk) of each cannot-link pair.
    resolution
        Leiden resolution for the initialisation when ``n_clusters`` is None. Default 0.4
        (the scDeepCluster code: 0.8).
    {doc_n_neighbors}
    hidden_dims
        Encoder hidden layer widths; the decoder mirrors them. Default (256, 64).
    latent_dim
        Latent dimension (width of the embedding). Default 32.
    noise_sd
        Standard deviation of the Gaussian noise added to the scaled input (denoising AE).
    gamma
        Weight of the KL clustering loss relative to the ZINB loss (mean over genes and cells).
    {doc_alpha}
    batch_size
        Cells (or constraint pairs) per minibatch.
    pretrain_epochs
        Pretraining epochs (Adam with AMSGrad). None (default): as many epochs as give
        ``pretrain_steps`` optimizer steps, at least one (the reference runs 300 epochs).
    pretrain_steps
        Pretraining budget in optimizer steps (minibatches) when ``pretrain_epochs`` is None.
        Default 700, about 40 epochs of 4,000 cells; the cost grows with the budget, not
        with n_obs.
    pretrain_lr
        Pretraining learning rate.
    pretrain_patience
        Optional early stop: pretraining ends when the epoch ZINB loss has not improved by
        ``pretrain_min_delta`` for this many epochs (Keras' EarlyStopping semantics). None
        (default): run the whole budget.
    pretrain_min_delta
        Smallest improvement of the pretraining loss, relative to the best loss so far,
        that resets the ``pretrain_patience`` count.
    max_epochs
        Maximum clustering epochs (Adadelta, ``lr``, rho 0.95). Default 300 (the reference:
        2000). ``uns[key]['stopped_by']['cluster']`` is ``'cap'`` when the cap ends the
        stage.
    {doc_max_steps}
    lr
        Learning rate of the clustering stage.
    {doc_update_tol}
    {doc_strategies}
    {doc_init_max_cells}
    key_added
        Name of every output slot (labels, embedding, soft assignments, run record). They
        are ``obs[key_added]``, ``obsm["X_" + key_added]``, ``obsm[key_added + "_q"]`` and
        ``uns[key_added]``.
    {doc_runtime}
    {doc_progress_bar}
    {doc_copy}

    Returns
    -------
    None, or a new AnnData if ``copy=True``. Writes:

    ``adata.obsm['X_scdcc' | 'X_' + key_added]``
        Embedding, n_obs x latent_dim, float32 (use with ``sc.pp.neighbors(use_rep=...)``).
    ``adata.obs['scdcc' | key_added]``
        Hard labels (argmax q), categorical with categories ``'0'..'k-1'``.
    ``adata.obsm['scdcc_q' | key_added + '_q']``
        Soft assignments q, n_obs x k, rows sum to 1.
    ``adata.uns['scdcc' | key_added]``
        ``params``, ``cluster_centers`` (k x latent_dim), ``history`` (loss terms per epoch
        of the ``pretrain`` and ``cluster`` stages), ``n_epochs`` per stage, ``converged``,
        ``seconds`` per stage, ``n_genes_used``, ``version``.
        {doc_diagnostics}

    Raises
    ------
    KeyError
        If ``layer``, a ``mask_var`` column or ``batch_key`` is missing.
    TypeError
        If counts, ``mask_var``, constraints or ``n_clusters`` have the wrong type.
    ValueError
        If the counts hold NaN / inf, negative or non-integer values, if cells have zero
        counts, if ``mask_var`` selects nothing, if ``n_clusters`` < 2 or > n_obs, if a
        constraint index is out of range or pairs a cell with itself, or if Leiden finds a
        single cluster. All raised before any training; ``adata`` is left unchanged.
    {doc_diverged}

    References
    ----------
    Tian, T., Zhang, J., Lin, X., Wei, Z., Hakonarson, H. Model-based deep embedding for
    constrained clustering analysis of single cell RNA-seq data. Nat Commun 12, 1873 (2021).

    Tian, T., Wan, J., Song, Q., Wei, Z. Clustering single-cell RNA-seq data with a
    model-based deep learning approach. Nat Mach Intell 1, 191-198 (2019).

    Examples
    --------
    >>> import scanpy as sc
    >>> import scdeepclust as sdc
    >>> adata = sdc.datasets.pbmc_10x()
    >>> sdc.tl.scdcc(adata, n_clusters=8)
    >>> sc.pp.neighbors(adata, use_rep="X_scdcc")
    >>> sc.tl.umap(adata)
    >>> sc.pl.umap(adata, color=["scdcc", "cell_type"])
    """
    model = SCDCC(**SCDCCConfig.pick(locals()))  # every config field is a parameter here
    model.fit(
        adata,
        mask_var=mask_var,
        must_link=must_link,
        cannot_link=cannot_link,
        progress_bar=progress_bar,
    )
    return write(adata, copy, model.results_)
