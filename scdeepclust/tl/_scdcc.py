"""``tl.scdcc``: scDCC / scDeepCluster on an AnnData."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import torch
from anndata import AnnData

from .._core import validation, workflow
from .._core.engine import EarlyStopping, run_stage
from .._core.utils import resolve_device, seeded, show_progress
from .._core.zinb_model import build_zinb_autoencoder, clustering_passes, pretrain_pass

logger = logging.getLogger("scdeepclust")


def scdcc(
    adata: AnnData,
    n_clusters: int | None = None,
    *,
    layer: str | None = "counts",
    mask_var: str | np.ndarray | None = None,
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
    lr: float = 1.0,
    update_interval: int = 1,
    tol: float = 1e-3,
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

    Parameters
    ----------
    adata
        Annotated data matrix, n_obs x n_vars. Not modified except for the slots below.
    n_clusters
        Number of clusters k; centres from k-means (``n_init=20``). None: Leiden on the
        pretrained embedding decides k (``resolution``, ``n_neighbors``).
    layer
        Layer holding the raw counts (non-negative integers, n_obs x n_vars, dense or sparse).
        None reads ``adata.X``.
    mask_var
        Genes to use: a boolean array of length n_vars or an ``adata.var`` column name such as
        ``"highly_variable"``. None: all genes.
    must_link, cannot_link
        Pairwise constraints, (n_pairs, 2) arrays of 0-based cell indices or of obs names,
        e.g. from :func:`scdeepclust.pp.constraints_from_labels` or
        :func:`scdeepclust.pp.constraints_from_rep`.
    ml_weight, cl_weight
        Weights of the must-link loss -log sum_k q_ik q_jk and of the cannot-link loss
        -log(1 - sum_k q_ik q_jk).
    resolution
        Leiden resolution for the initialisation when ``n_clusters`` is None. Default 0.4
        (the scDeepCluster code: 0.8, which gave about twice the annotated number of cell
        types on the shared datasets; the ZINB embedding is finer-grained than DESC's).
    n_neighbors
        Neighbours of the kNN graph for Leiden.
    hidden_dims
        Encoder hidden layer widths; the decoder mirrors them. Default (256, 64).
    latent_dim
        Latent dimension (width of the embedding). Default 32.
    noise_sd
        Standard deviation of the Gaussian noise added to the scaled input (denoising AE).
    gamma
        Weight of the KL clustering loss relative to the ZINB loss (mean over genes and cells).
    alpha
        Degrees of freedom of the Student-t kernel of q.
    batch_size
        Cells (or constraint pairs) per minibatch.
    pretrain_epochs
        Pretraining epochs (Adam with AMSGrad). None (default): as many epochs as give
        ``pretrain_steps`` optimizer steps, at least one (the reference runs 300 epochs).
    pretrain_steps
        Pretraining budget in optimizer steps (minibatches) when ``pretrain_epochs`` is None.
        Default 700: about 40 epochs of 4,000 cells, where the k-means ARI of the pretrained
        embedding stopped improving on the shared datasets; the cost then grows with the
        budget, not with n_obs.
    pretrain_lr
        Pretraining learning rate.
    pretrain_patience, pretrain_min_delta
        Optional early stop: pretraining ends when the epoch ZINB loss has not improved by
        ``pretrain_min_delta`` (relative to the best loss) for ``pretrain_patience`` epochs
        (Keras' EarlyStopping semantics). None (default): run the whole budget.
    max_epochs
        Maximum clustering epochs (Adadelta, ``lr``, rho 0.95). Default 300 (the reference:
        2000). With ``tol=0.001`` a run of 4,000 cells converges only in an epoch where at
        most 4 cells change label; on the shared datasets the changes were down to a handful
        of cells per epoch after 10-20 epochs, so when the rule fires after that is down to
        chance (on worm, 12 epochs in one run, hundreds in another). The cap bounds that
        tail; ``uns[key]['stopped_by']['cluster']`` is ``'cap'`` when it ends the stage.
    lr
        Learning rate of the clustering stage.
    update_interval
        Epochs between refreshes of the target distribution p (computed from all cells).
    tol
        The clustering stage stops when less than this fraction of cells changed label since
        the previous refresh.
    key_added
        Name of every output slot (see Returns).
    random_state
        Seed of everything the call does (weights, noise, minibatch order, k-means, Leiden);
        the caller's global random state is left alone. None means 0. Same seed on CPU gives
        the same labels.
    device
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", "mps", or a
        ``torch.device``.
    precision
        ``"float32"`` (default) or ``"bfloat16"``: the training matrix products in bfloat16
        under :func:`torch.autocast` (losses, q and every output stay float32). About 1.3x
        faster per epoch on a CPU with AVX512-BF16 or AMX (10X PBMC pretraining: 0.50 vs
        0.60-0.73 s per epoch on 2 cores); not the default because its effect on ARI has
        not been measured over seeds on all shared datasets.
    progress_bar
        One tqdm bar per stage; None shows them when stderr is a terminal.
    copy
        Return a new AnnData instead of writing into ``adata``.

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
        Diagnostics (no labels needed): ``n_steps`` (optimizer steps per stage),
        ``stopped_by`` per stage (``'converged'``: the ``tol`` rule, ``'plateau'``: early
        stop, ``'cap'``: the epoch budget ran out), ``label_change`` (fraction of
        cells whose label changed at each refresh of p, float32), ``init_labels`` (the
        labels the centres were initialised from, int32, length n_obs) and
        ``n_clusters_init``.

    Raises
    ------
    KeyError
        If ``layer``, a ``mask_var`` column is missing.
    TypeError
        If counts, ``mask_var``, constraints or ``n_clusters`` have the wrong type.
    ValueError
        If the counts hold NaN / inf, negative or non-integer values, if cells have zero
        counts, if ``mask_var`` selects nothing, if ``n_clusters`` < 2 or > n_obs, if a
        constraint index is out of range or pairs a cell with itself, or if Leiden finds a
        single cluster. All raised before any training; ``adata`` is left unchanged.
    scdeepclust.TrainingDivergedError
        (a ``RuntimeError``) if a loss becomes NaN or infinite; ``adata`` is left unchanged.

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
    timer = workflow.Timer()
    start = time.perf_counter()
    key = workflow.check_key(key_added)
    seed = workflow.check_random_state(random_state)
    dev = resolve_device(device)
    amp = workflow.autocast_dtype(precision)
    n_clusters = validation.check_n_clusters(n_clusters, adata.n_obs)
    ml = validation.check_pairs(must_link, adata, "must_link")
    cl = validation.check_pairs(cannot_link, adata, "cannot_link")
    workflow.check_schedule(
        hidden_dims=list(hidden_dims),
        alpha=alpha,
        tol=tol,
        resolution=resolution,
        batch_size=batch_size,
        latent_dim=latent_dim,
        update_interval=update_interval,
        pretrain_steps=pretrain_steps,
        **({} if pretrain_epochs is None else {"pretrain_epochs": pretrain_epochs}),
        n_neighbors=n_neighbors,
        max_epochs=max_epochs,
    )
    prepared, gene_mask = workflow.prepare_input(adata, layer=layer, mask_var=mask_var)
    data = prepared.to(dev)
    timer.add("prepare", start)

    rng = np.random.default_rng(seed)
    with seeded(seed, dev):
        progress = show_progress(progress_bar)
        model = build_zinb_autoencoder(prepared.n_genes, hidden_dims, latent_dim, noise_sd).to(dev)
        pre = run_stage(
            "pretrain",
            model,
            [pretrain_pass(model, data, batch_size, rng)],
            torch.optim.Adam(model.parameters(), lr=pretrain_lr, amsgrad=True, fused=True),
            workflow.epochs_for_steps(pretrain_epochs, pretrain_steps, data.n_obs, batch_size),
            early_stopping=(
                EarlyStopping(pretrain_patience, pretrain_min_delta) if pretrain_patience else None
            ),
            progress=progress,
            autocast_dtype=amp,
        )
        timer.seconds["pretrain"] = pre.seconds

        centers, init_labels = workflow.init_head(
            model,
            data,
            n_clusters=n_clusters,
            resolution=resolution,
            n_neighbors=n_neighbors,
            alpha=alpha,
            random_state=seed,
            timer=timer,
        )

        target = workflow.self_training(
            model, data, init_labels, update_interval=update_interval, tol=tol
        )
        passes = clustering_passes(
            model,
            data,
            target,
            gamma=gamma,
            batch_size=batch_size,
            rng=rng,
            must_link=ml,
            cannot_link=cl,
            ml_weight=ml_weight,
            cl_weight=cl_weight,
        )
        clu = run_stage(
            "cluster",
            model,
            passes,
            torch.optim.Adadelta(model.parameters(), lr=lr, rho=0.95),
            max_epochs,
            before_epoch=target,
            progress=progress,
            autocast_dtype=amp,
        )
        timer.seconds["cluster"] = clu.seconds

    params = workflow.plain_params(
        n_clusters=n_clusters, layer=layer, mask_var=workflow.describe_mask(mask_var),
        n_must_link=len(ml), n_cannot_link=len(cl), ml_weight=ml_weight, cl_weight=cl_weight,
        resolution=resolution, n_neighbors=n_neighbors, hidden_dims=list(hidden_dims),
        latent_dim=latent_dim, noise_sd=noise_sd, gamma=gamma, alpha=alpha,
        batch_size=batch_size, pretrain_epochs=pretrain_epochs, pretrain_steps=pretrain_steps,
        pretrain_lr=pretrain_lr,
        pretrain_patience=pretrain_patience, pretrain_min_delta=pretrain_min_delta,
        max_epochs=max_epochs, lr=lr, update_interval=update_interval, tol=tol,
        random_state=seed, device=str(dev), precision=precision,
    )  # fmt: skip
    result = workflow.collect(
        key,
        model,
        data,
        params=params,
        history={"pretrain": pre.history, "cluster": clu.history},
        n_epochs={"pretrain": pre.n_epochs, "cluster": clu.n_epochs},
        converged=clu.converged,
        extra={
            "seconds": timer.seconds,
            "n_genes_used": int(gene_mask.sum()),
            "n_clusters_init": int(centers.shape[0]),
            **workflow.diagnostics({"pretrain": pre, "cluster": clu}, target, init_labels),
        },
    )
    return workflow.write(adata, copy, [result])
