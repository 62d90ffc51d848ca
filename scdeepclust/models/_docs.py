"""Parameter documentation shared by the tools and models, written once (scanpy's ``_doc_params``).

Placeholders such as ``{doc_layer}`` in a docstring are replaced by :func:`doc_params`; each
block starts at the parameter name and indents its lines for a numpydoc ``Parameters``
section at 4 spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

doc_layer = """\
layer
        Layer holding the raw counts (non-negative integers, n_obs x n_vars, dense or
        sparse). None reads ``adata.X``. A backed AnnData (``read_h5ad(path, backed="r")``)
        works: its ``X`` is read from disk once, in row blocks, into a float32 CSR matrix
        (anndata keeps the layers of a backed AnnData in memory), and the results are
        written to its in-memory ``obs`` / ``obsm`` / ``uns``; write them to disk with
        ``adata.write_h5ad(new_path)``."""

doc_mask_var = """\
mask_var
        Genes to use: a boolean array of length n_vars or an ``adata.var`` column name such
        as ``"highly_variable"``. None: all genes. Genes with zero counts in every cell are
        left out (logged)."""

doc_n_neighbors = """\
n_neighbors
        Neighbours of the kNN graph for Leiden (exact kNN, scikit-learn)."""

doc_alpha = """\
alpha
        Degrees of freedom of the Student-t kernel of the soft assignment q."""

doc_update_tol = """\
update_interval
        Epochs between refreshes of the target distribution p (computed from all cells).
    tol
        The clustering stage stops when less than this fraction of cells changed label since
        the previous refresh of p."""

doc_strategies = """\
init
        Centre initialisation on the pretrained embedding: ``"auto"`` (k-means with
        ``n_clusters``, Leiden at ``resolution`` without), ``"kmeans"`` (needs
        ``n_clusters``) or ``"leiden"`` (needs ``n_clusters=None``).
    target_distribution
        The target distribution p that q is trained towards: ``"dec"`` (DEC's
        p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with cluster frequencies f_j = sum_i
        q_ij, as the authors') or ``"squared"`` (q_ij^2 / sum_j' q_ij'^2: no division by f_j,
        so large clusters may take over small ones). Xie et al. 2016."""

doc_max_steps = """\
max_steps
        Cap of the clustering stage in optimizer steps (cell minibatches): the stage runs at
        most ``min(max_epochs, max_steps // minibatches per epoch)`` epochs (at least one).
        Default 12,000 (3.07M cells seen at ``batch_size=256``, about 31 epochs of 100,000
        cells), so the cost stops growing with n_obs. None: ``max_epochs`` alone."""

doc_init_max_cells = """\
init_max_cells
        Above this many cells, k-means (or the kNN graph and Leiden) that initialise the
        centres are fitted on a random subsample of this size, and every cell is labelled by
        its nearest centre. Default 50,000; None: always all cells."""

doc_runtime = """\
random_state
        Seed of everything the call does (weights, noise, minibatch order, k-means, Leiden);
        the caller's global random state is left alone. None means 0. The same seed on the
        same device gives the same labels.
    device
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", "mps", or a
        ``torch.device``. On CUDA the counts are copied to the device when they take at
        most half of its free memory, and minibatches are sliced there. Under ``torchrun``
        the call trains data-parallel (torch DDP; gloo on the CPU, NCCL on CUDA, where
        "cuda" / "auto" mean this rank's GPU, ``cuda:LOCAL_RANK``): each rank takes its
        share of every minibatch, q and p are computed over all cells, and the results are
        written into every rank's ``adata``; see the documentation's scaling page.
    precision
        ``"float32"`` (default) or ``"bfloat16"``: the training matrix products in bfloat16
        under :func:`torch.autocast` (losses, q and every output stay float32). Faster on a
        CPU with native bfloat16 (AVX512-BF16 or AMX) and on recent GPUs. float32 stays the
        default because it gives the same labels on every machine."""

doc_progress_bar = """\
progress_bar
        One tqdm bar per stage. None (default) shows them in Jupyter (a widget when ipywidgets
        is installed) and on a terminal, and hides them when stderr is a file or pipe."""

doc_copy = """\
copy
        Return a new AnnData instead of writing into ``adata``."""

doc_diagnostics = """\
Diagnostics (no labels needed): ``n_steps`` (optimizer steps per stage),
        ``stopped_by`` per stage (``'converged'``: the ``tol`` rule, ``'plateau'``: early
        stop, ``'cap'``: the epoch budget ran out), ``label_change`` (fraction of cells
        whose label changed at each refresh of p, float32), ``init_labels`` (the labels the
        centres were initialised from, int32, length n_obs) and ``n_clusters_init``."""

doc_diverged = """\
scdeepclust.TrainingDivergedError
        (a ``RuntimeError``) if a loss becomes NaN or infinite; ``adata`` is left unchanged."""

doc_model_methods = """\
The model keeps everything needed to embed and cluster new cells: the fitted input
    state (genes by ``var_names``, the size-factor reference, the per-gene (per-batch) mean
    and std, the batch categories), the config and the trained weights. ``fit`` trains,
    ``predict`` writes the embedding, labels and q of any cells, ``save`` / ``load`` keep it
    in a folder (weights as a plain ``state_dict``, everything else JSON / ``.npz``; no
    pickles)."""

doc_model_raises = """\
Raises
    ------
    TypeError, ValueError
        For a bad parameter, at construction (before any data is read)."""

BLOCKS = {name: value for name, value in globals().items() if name.startswith("doc_")}


def doc_params(**blocks: str) -> Callable[[T], T]:
    """Replace ``{name}`` placeholders of the decorated object's docstring by ``blocks``."""

    def decorate(obj: T) -> T:
        doc = obj.__doc__ or ""
        for name, text in blocks.items():
            doc = doc.replace("{" + name + "}", text)
        obj.__doc__ = doc
        return obj

    return decorate


def shared_docs(obj: T) -> T:
    """Fill every shared block of this module into ``obj``'s docstring."""
    return doc_params(**BLOCKS)(obj)
