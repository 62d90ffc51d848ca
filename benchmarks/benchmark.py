"""Benchmark the deep clustering methods on the scDeepCluster / scDCC datasets.

Usage
-----
::

    python benchmarks/benchmark.py [--datasets pbmc,bladder,worm,cite] [--methods scdcc]
                                   [--k given,estimated] [--constraints none,protein]
                                   [--seeds 0,1,2] [--jobs 1] [--quick]
                                   [--param key=value ...]
                                   [--out results.tsv] [--markdown]

Every case (dataset x method x k mode x constraints) runs in a fresh Python process
(``python benchmarks/benchmark.py --one <json spec>``), so its peak memory is its own. Next
to each dataset the standard scanpy pipeline is run once on the same cells and genes
(normalize_total, log1p, scale to 10, PCA 50, then k-means with the true k and Leiden).

Datasets (:mod:`scdeepclust.datasets`, folder from ``SCDEEPCLUST_DATASETDIR``)

============  =================  ===  ==============================================
name          loader             k    notes
============  =================  ===  ==============================================
``pbmc``      ``pbmc_10x``       8
``bladder``   ``mouse_bladder``  16
``worm``      ``worm_neuron``    10   2,000 highly variable genes via ``mask_var``
``cite``      ``cite_cbmc``      15   also with 20,000 protein-derived constraints
============  =================  ===  ==============================================

k modes: ``given`` passes ``n_clusters=k``; ``estimated`` passes ``n_clusters=None`` (the
method's Leiden initialisation decides k). Constraints: ``protein`` adds the scDCC protein
rule (:func:`scdeepclust.pp.constraints_from_rep`, 20,000 pairs) on datasets with
``obsm["protein"]``; its ARI / NMI are also reported on the cells that are in no constraint
(``ARI_free`` / ``NMI_free``).

With several ``--seeds`` every case runs once per seed; the table then shows the mean ± sd
(ddof 1) of every number over the seeds (the per-seed rows are printed first and written to
``--out``).

Each row holds ARI and NMI against ``obs["cell_type"]``, the number of non-empty clusters,
the ARI of the initial labels (``uns[method]["init_labels"]``: k-means or Leiden on the
pretrained embedding) and their cluster count, optimizer steps and what ended each stage
(``converged``: the tol rule, ``plateau``: early stop, ``cap``: the epoch budget),
the number of target refreshes,
the epochs and wall seconds of each stage (``uns[method]["n_epochs"]``,
``uns[method]["seconds"]``), the wall seconds of the whole call, the resident memory right
after imports and data loading and the peak resident memory of the case (MiB), and the
converged flag. A failing case shows its error in its row; the others still run.

Adding a method is one entry in :data:`METHODS`: a callable ``(adata, n_clusters or None,
constraints or None, **kwargs)`` that writes ``obs[name]``, ``obsm["X_" + name]`` and
``uns[name]`` (with ``"n_epochs"`` and ``"seconds"`` dicts), ``name`` being its key.

Examples
--------
Smoke test with tiny schedules (2 pretraining and 2 clustering epochs)::

    SCDEEPCLUST_DATASETDIR=/data python benchmarks/benchmark.py --quick --datasets pbmc

Full benchmark written as TSV plus a markdown table for the README::

    python benchmarks/benchmark.py --out results.tsv --markdown

Tuning: keyword arguments passed through to the method::

    python benchmarks/benchmark.py --datasets bladder --k given \
        --param gamma=0.5 --param "hidden_dims=(512, 64)"
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import inspect
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DATASETS", "METHODS", "FIELDS", "run_case", "build_specs", "main"]

Constraints = tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------------------------
# Tables: datasets and methods
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset.

    Attributes
    ----------
    loader
        Name of the loader function in :mod:`scdeepclust.datasets`.
    k
        Number of ground-truth cell types (``n_clusters`` in the ``given`` k mode).
    n_top_genes
        Select this many highly variable genes (``mask_var="highly_variable"``); None: all.
    constraint_rep
        ``obsm`` key the protein constraints are built from; None: no constrained variant.
    """

    loader: str
    k: int
    n_top_genes: int | None = None
    constraint_rep: str | None = None


#: Benchmark datasets by short name.
DATASETS: dict[str, Dataset] = {
    "pbmc": Dataset("pbmc_10x", 8),
    "bladder": Dataset("mouse_bladder", 16),
    "worm": Dataset("worm_neuron", 10, n_top_genes=2000),
    "cite": Dataset("cite_cbmc", 15, constraint_rep="protein"),
}

#: Keyword arguments of ``--quick`` (only those the method accepts are passed).
QUICK_PARAMS: dict[str, Any] = {"pretrain_epochs": 2, "max_epochs": 2}

#: Number of protein-derived constraint pairs (scDCC paper).
N_PAIRS = 20000

BASELINE = "baseline"


class SkipCase(Exception):
    """Raised by a method callable that does not apply to a case (shown as a note)."""


def _tl_method(name: str) -> Callable[..., None]:
    """Make the benchmark callable of ``scdeepclust.tl.<name>``.

    Parameters
    ----------
    name
        Function name in :mod:`scdeepclust.tl`; also its output key.

    Returns
    -------
    Callable
        ``run(adata, n_clusters, constraints, **kwargs)``: calls the tool with
        ``n_clusters=`` and, when constraints are given, ``must_link=`` / ``cannot_link=``.
        Keyword arguments the tool does not accept are dropped, except those in
        ``kwargs["_explicit"]`` (the ``--param`` ones), which always reach the tool.
    """

    def run(adata, n_clusters: int | None, constraints: Constraints | None, **kwargs) -> None:
        func = _tl_function(name)
        if func is None:
            raise SkipCase(f"scdeepclust.tl has no {name!r}")
        explicit = kwargs.pop("_explicit", {})
        if constraints is not None:
            if not _accepts(func, "must_link"):
                raise SkipCase(f"{name} takes no pairwise constraints")
            kwargs["must_link"], kwargs["cannot_link"] = constraints
        kwargs = {**_accepted_kwargs(func, {"key_added": name, **kwargs}), **explicit}
        func(adata, n_clusters=n_clusters, **kwargs)

    run.__name__ = f"run_{name}"
    run.__doc__ = f"Run ``scdeepclust.tl.{name}`` on a benchmark case."
    return run


#: Benchmarked methods: name -> callable(adata, k or None, constraints or None, **kwargs).
#: The callable writes ``obs[name]``, ``obsm["X_" + name]`` and ``uns[name]``.
METHODS: dict[str, Callable[..., None]] = {
    "scdcc": _tl_method("scdcc"),
    "desc": _tl_method("desc"),
}


def _tl_function(name: str) -> Callable[..., Any] | None:
    """Return ``scdeepclust.tl.<name>``, or None when the package has no such tool."""
    from scdeepclust import tl

    return getattr(tl, name, None)


def _accepts(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return name in params


def _accepted_kwargs(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the keyword arguments that ``func`` accepts."""
    return {k: v for k, v in kwargs.items() if _accepts(func, k)}


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------

#: Fields of a result record, in TSV column order.
FIELDS: tuple[str, ...] = (
    "dataset",
    "method",
    "k_mode",
    "constraints",
    "seed",
    "n_obs",
    "n_genes",
    "gene_selection",
    "k_true",
    "ari",
    "nmi",
    "n_free",
    "ari_free",
    "nmi_free",
    "n_clusters",
    "ari_init",
    "n_clusters_init",
    "epochs_pretrain",
    "epochs_cluster",
    "steps_pretrain",
    "steps_cluster",
    "stopped_pretrain",
    "stopped_cluster",
    "n_refresh",
    "s_prepare",
    "s_pretrain",
    "s_init",
    "s_cluster",
    "s_total",
    "rss_base_mib",
    "rss_peak_mib",
    "converged",
    "device",
    "torch_threads",
    "params",
    "error",
)


def _empty_record(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return a record with every field None except those known from the case spec."""
    rec: dict[str, Any] = dict.fromkeys(FIELDS)
    rec.update(
        dataset=spec["dataset"],
        method=spec["method"],
        k_mode=spec.get("k_mode"),
        constraints=spec.get("constraints", "none"),
        seed=spec.get("seed"),
        params=" ".join(f"{k}={v}" for k, v in _case_params(spec).items()),
        error="",
    )
    return rec


def _case_params(spec: Mapping[str, Any]) -> dict[str, str]:
    """Return a case's method keyword arguments as source strings (quick, then --param)."""
    params = {k: repr(v) for k, v in QUICK_PARAMS.items()} if spec.get("quick") else {}
    params.update(spec.get("params") or {})
    return params


# ---------------------------------------------------------------------------------------------
# Memory and scores
# ---------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Return the peak resident set size of this process in MiB.

    ``VmHWM`` of /proc/self/status where it exists, else
    ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. On Linux ``ru_maxrss`` of a freshly
    started child also holds the parent's peak at the time of the fork / exec (the kernel
    carries it over), so it would never read below the parent's RSS; ``VmHWM`` belongs to the
    process's own address space.
    """
    value = _proc_status_kib("VmHWM")
    if value is not None:
        return value / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def _proc_status_kib(field: str) -> int | None:
    """Read a ``kB`` field of /proc/self/status; None where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_mib() -> float:
    """Return the current RSS in MiB (``VmRSS`` of /proc; the peak where /proc is absent)."""
    value = _proc_status_kib("VmRSS")
    return peak_rss_mib() if value is None else value / 1024


def clustering_scores(labels, truth, mask: np.ndarray | None = None) -> tuple[float, float]:
    """ARI and NMI of ``labels`` against ``truth`` (scikit-learn), optionally on a subset.

    Parameters
    ----------
    labels, truth
        Predicted and ground-truth labels, one per cell.
    mask
        Boolean mask of the cells to score; None: all cells.

    Returns
    -------
    tuple of float
        Adjusted Rand index and normalized mutual information (NaN for an empty subset).
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels, truth = np.asarray(labels), np.asarray(truth)
    if mask is not None:
        labels, truth = labels[mask], truth[mask]
    if labels.size == 0:
        return float("nan"), float("nan")
    ari = adjusted_rand_score(truth, labels)
    return float(ari), float(normalized_mutual_info_score(truth, labels))


def unconstrained_mask(n_obs: int, constraints: Constraints) -> np.ndarray:
    """Boolean mask of the cells that appear in no must-link or cannot-link pair."""
    free = np.ones(n_obs, dtype=bool)
    for pairs in constraints:
        free[np.asarray(pairs, dtype=np.int64).ravel()] = False
    return free


# ---------------------------------------------------------------------------------------------
# Data preparation (inside a case)
# ---------------------------------------------------------------------------------------------


def load_dataset(name: str, *, max_cells: int | None = None, seed: int = 0):
    """Load a benchmark dataset, optionally a random subset of its cells.

    Parameters
    ----------
    name
        Key of :data:`DATASETS`.
    max_cells
        Keep at most this many randomly chosen cells (smoke tests); None: all.
    seed
        Seed of the subsampling.

    Returns
    -------
    anndata.AnnData
        Raw counts in ``X`` and ``layers["counts"]``, labels in ``obs["cell_type"]``.
    """
    from scdeepclust import datasets

    adata = getattr(datasets, DATASETS[name].loader)()
    if max_cells is not None and adata.n_obs > max_cells:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(adata.n_obs, size=max_cells, replace=False))
        adata = adata[keep].copy()
    return adata


def select_genes(adata, n_top_genes: int | None) -> tuple[str | None, str]:
    """Mark the ``n_top_genes`` most variable genes in ``var["highly_variable"]``.

    The README's recommended call: ``sc.pp.highly_variable_genes(flavor="seurat")`` on a
    normalised, log-transformed copy of the counts. On the worm data it was measured against
    the scDCC authors' 2,000 genes, ``"seurat_v3"`` (scikit-misc; on raw worm counts its
    loess fails unless genes seen in fewer than 3 cells are dropped first) and
    ``"cell_ranger"``; none was better over seeds (``benchmarks/worm_genes.py``), and
    ``"seurat"`` needs no extra dependency.

    Parameters
    ----------
    adata
        Dataset with raw counts in ``layers["counts"]``; ``var`` gains the column.
    n_top_genes
        Genes to select; None selects nothing and adds no column.

    Returns
    -------
    mask_var
        ``"highly_variable"``, or None for all genes.
    description
        ``"all"`` or e.g. ``"hvg2000:seurat"``.
    """
    import scanpy as sc

    if n_top_genes is None:
        return None, "all"
    tmp = sc.AnnData(adata.layers["counts"].copy())
    sc.pp.normalize_total(tmp)
    sc.pp.log1p(tmp)
    sc.pp.highly_variable_genes(tmp, flavor="seurat", n_top_genes=n_top_genes)
    adata.var["highly_variable"] = tmp.var["highly_variable"].to_numpy()
    return "highly_variable", f"hvg{n_top_genes}:seurat"


def make_constraints(adata, spec: Mapping[str, Any]) -> Constraints | None:
    """Build the case's constraints (None for ``constraints == "none"``).

    Parameters
    ----------
    adata
        Dataset; ``"protein"`` reads ``obsm[Dataset.constraint_rep]``.
    spec
        Case spec with ``dataset``, ``constraints``, ``seed`` and optional ``n_pairs``.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(must_link, cannot_link)``.
    """
    from scdeepclust.pp import constraints_from_rep

    kind = spec.get("constraints", "none")
    if kind == "none":
        return None
    rep = DATASETS[spec["dataset"]].constraint_rep
    if kind != "protein" or rep is None:
        raise ValueError(f"constraints {kind!r} are not available for {spec['dataset']!r}")
    n_pairs = int(spec.get("n_pairs") or N_PAIRS)
    return constraints_from_rep(adata, rep, n_pairs=n_pairs, random_state=spec["seed"])


def _constraints_label(constraints: Constraints | None) -> str:
    """``"none"`` or ``"protein 1714ml+18286cl"``."""
    if constraints is None:
        return "none"
    return f"protein {len(constraints[0])}ml+{len(constraints[1])}cl"


# ---------------------------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------------------------


def run_case(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run one benchmark case in this process and return its result records.

    Parameters
    ----------
    spec
        ``dataset`` (key of :data:`DATASETS`), ``method`` (key of :data:`METHODS`, or
        ``"baseline"`` for the scanpy pipeline), ``k_mode`` (``"given"`` or ``"estimated"``),
        ``constraints`` (``"none"`` or ``"protein"``), ``seed``, and optional ``quick``
        (tiny schedules), ``params`` (keyword arguments as ``{name: source string}``,
        parsed with :func:`ast.literal_eval`), ``max_cells``, ``n_pairs``, ``threads``
        (torch intra-op threads during the case; None keeps torch's default).

    Returns
    -------
    list of dict
        One record (keys :data:`FIELDS`) per result row: one for a method, two for the
        baseline (PCA + k-means, PCA + Leiden). Errors do not propagate: they are written
        to the ``error`` field.
    """
    with torch_threads(spec.get("threads")):
        return _run_case(spec)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count inside the block, then restore it.

    Parameters
    ----------
    n
        Threads; None leaves the setting alone.
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_case(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Load, prepare and run a case; see :func:`run_case`."""
    try:
        adata = load_dataset(spec["dataset"], max_cells=spec.get("max_cells"), seed=spec["seed"])
        rss_base = current_rss_mib()
        mask_var, selection = select_genes(adata, DATASETS[spec["dataset"]].n_top_genes)
        if spec.get("threads") is not None:
            # scanpy's numba code (highly_variable_genes) resets torch's thread count
            import torch

            torch.set_num_threads(spec["threads"])
        if spec["method"] == BASELINE:
            records = _run_baseline(adata, spec, mask_var)
        else:
            records = [_run_method(adata, spec, mask_var)]
    except SkipCase as err:
        return [{**_empty_record(spec), "error": f"skipped: {err}"}]
    except Exception as err:  # noqa: BLE001 - reported in the row, the benchmark goes on
        traceback.print_exc()
        return [{**_empty_record(spec), "error": _one_line(f"{type(err).__name__}: {err}")}]
    for rec in records:
        n_genes = rec["n_genes"] if rec["n_genes"] is not None else _n_genes(adata, mask_var)
        rec.update(
            n_obs=adata.n_obs,
            n_genes=n_genes,
            gene_selection=selection,
            k_true=int(adata.obs["cell_type"].nunique()),
            rss_base_mib=rss_base,
            rss_peak_mib=peak_rss_mib(),
        )
    return records


def _one_line(text: str, width: int = 200) -> str:
    """Collapse whitespace (newlines included) and cut to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _n_genes(adata, mask_var: str | None) -> int:
    """Count the genes a ``mask_var`` selects."""
    return adata.n_vars if mask_var is None else int(adata.var[mask_var].sum())


def _run_method(adata, spec: Mapping[str, Any], mask_var: str | None) -> dict[str, Any]:
    """Run a method of :data:`METHODS` on a loaded dataset and score it."""
    import torch

    name = spec["method"]
    constraints = make_constraints(adata, spec)
    k = DATASETS[spec["dataset"]].k if spec["k_mode"] == "given" else None
    kwargs = _method_kwargs(spec, mask_var)
    start = time.perf_counter()
    METHODS[name](adata, k, constraints, **kwargs)
    total = time.perf_counter() - start

    rec = _empty_record(spec)
    rec.update(_method_outputs(adata, name), s_total=total, torch_threads=torch.get_num_threads())
    rec["constraints"] = _constraints_label(constraints)
    _add_scores(rec, adata.obs[name], adata.obs["cell_type"], constraints)
    init = adata.uns[name].get("init_labels")
    if init is not None:
        rec["ari_init"] = clustering_scores(init, adata.obs["cell_type"])[0]
    return rec


def _method_kwargs(spec: Mapping[str, Any], mask_var: str | None) -> dict[str, Any]:
    """Keyword arguments of a method call; ``--param`` ones under ``"_explicit"``."""
    explicit = {k: ast.literal_eval(v) for k, v in (spec.get("params") or {}).items()}
    kwargs: dict[str, Any] = {"random_state": spec["seed"], "progress_bar": False}
    if mask_var is not None:
        kwargs["mask_var"] = mask_var
    if spec.get("quick"):
        kwargs.update(QUICK_PARAMS)
    return {**kwargs, "_explicit": explicit}


def _method_outputs(adata, key: str) -> dict[str, Any]:
    """Epochs, stage seconds, genes used, convergence and device from ``uns[key]``."""
    uns = adata.uns[key]
    epochs, seconds = uns.get("n_epochs", {}), uns.get("seconds", {})
    steps, stopped = uns.get("n_steps", {}), uns.get("stopped_by", {})
    params = uns.get("params", {})
    pre_stages = [k for k in stopped if k != "cluster"]
    return {
        "epochs_pretrain": epochs.get("pretrain"),
        "epochs_cluster": epochs.get("cluster"),
        "steps_pretrain": sum(int(steps[k]) for k in pre_stages) if pre_stages else None,
        "steps_cluster": steps.get("cluster"),
        "stopped_pretrain": ";".join(str(stopped[k]) for k in pre_stages) or None,
        "stopped_cluster": stopped.get("cluster"),
        "n_refresh": len(uns["label_change"]) if "label_change" in uns else None,
        "n_clusters_init": uns.get("n_clusters_init"),
        **{
            f"s_{stage}": seconds.get(stage) for stage in ("prepare", "pretrain", "init", "cluster")
        },
        "n_genes": uns.get("n_genes_used"),
        "converged": uns.get("converged"),
        "device": params.get("device") if isinstance(params, Mapping) else None,
    }


def _add_scores(rec: dict, labels, truth, constraints: Constraints | None) -> None:
    """Write ARI, NMI, cluster count and (with constraints) scores on unconstrained cells."""
    labels = np.asarray(labels)
    rec["ari"], rec["nmi"] = clustering_scores(labels, truth)
    rec["n_clusters"] = len(np.unique(labels))
    if constraints is not None:
        free = unconstrained_mask(len(labels), constraints)
        rec["n_free"] = int(free.sum())
        rec["ari_free"], rec["nmi_free"] = clustering_scores(labels, truth, free)


def pipeline_pca(counts, seed: int, obs=None):
    """The scanpy pipeline up to PCA, on a copy of ``counts`` (n_obs x n_vars, raw).

    normalize_total, log1p, scale (clipped at 10), 50 principal components in
    ``obsm['X_pca']`` of the returned AnnData.
    """
    import scanpy as sc

    bdata = sc.AnnData(counts.copy(), obs=obs)
    sc.pp.normalize_total(bdata)
    sc.pp.log1p(bdata)
    sc.pp.scale(bdata, max_value=10)
    sc.pp.pca(bdata, n_comps=50, random_state=seed)
    return bdata


def _run_baseline(adata, spec: Mapping[str, Any], mask_var: str | None) -> list[dict[str, Any]]:
    """Run the scanpy pipeline: PCA 50 of the scaled log data, then k-means and Leiden."""
    import scanpy as sc
    from sklearn.cluster import KMeans

    seed, k = spec["seed"], DATASETS[spec["dataset"]].k
    start = time.perf_counter()
    genes = slice(None) if mask_var is None else adata.var[mask_var].to_numpy()
    bdata = pipeline_pca(adata.layers["counts"][:, genes], seed, obs=adata.obs[["cell_type"]])
    prepare = time.perf_counter() - start

    start = time.perf_counter()
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(bdata.obsm["X_pca"])
    s_kmeans = time.perf_counter() - start

    start = time.perf_counter()
    sc.pp.neighbors(
        bdata, n_neighbors=15, use_rep="X_pca", transformer="sklearn", random_state=seed
    )
    sc.tl.leiden(bdata, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    s_leiden = time.perf_counter() - start

    rows = [
        ("pca+kmeans", "given", kmeans, s_kmeans),
        ("pca+leiden", "estimated", bdata.obs["leiden"], s_leiden),
    ]
    return [
        _baseline_record(spec, method, k_mode, labels, prepare, seconds, bdata)
        for method, k_mode, labels, seconds in rows
    ]


def _baseline_record(spec, method, k_mode, labels, prepare, seconds, bdata) -> dict[str, Any]:
    """Record of one baseline variant."""
    rec = _empty_record({**spec, "method": method, "k_mode": k_mode, "constraints": "none"})
    rec.update(
        n_genes=bdata.n_vars,
        s_prepare=prepare,
        s_cluster=seconds,
        s_total=prepare + seconds,
        device="cpu",
        params="",
    )
    _add_scores(rec, labels, bdata.obs["cell_type"], None)
    return rec


# ---------------------------------------------------------------------------------------------
# Orchestration: case list, subprocesses
# ---------------------------------------------------------------------------------------------


def build_specs(
    datasets: Sequence[str],
    methods: Sequence[str],
    k_modes: Sequence[str],
    constraints: Sequence[str] = ("none", "protein"),
    *,
    seeds: Sequence[int] = (0,),
    quick: bool = False,
    params: Mapping[str, str] | None = None,
    baseline: bool = True,
    max_cells: int | None = None,
) -> list[dict[str, Any]]:
    """List the case specs of a benchmark run, dataset by dataset, baseline first.

    Parameters
    ----------
    datasets, methods, k_modes, constraints
        Keys of :data:`DATASETS` and :data:`METHODS`, k modes (``given``, ``estimated``)
        and constraint kinds (``none``, ``protein``; ``protein`` only where the dataset
        has a ``constraint_rep``).
    seeds
        Every case runs once per seed (``random_state`` of the method and of the baseline).
    quick, params, max_cells
        Copied into every spec (see :func:`run_case`).
    baseline
        Add the scanpy baseline case of each dataset.

    Returns
    -------
    list of dict
        JSON-serialisable specs for :func:`run_case`.
    """
    specs = []
    for seed in seeds:
        common = {
            "seed": seed,
            "quick": quick,
            "params": dict(params or {}),
            "max_cells": max_cells,
        }
        specs += _dataset_specs(datasets, methods, k_modes, constraints, common, baseline)
    return specs


def _dataset_specs(datasets, methods, k_modes, constraints, common, baseline) -> list[dict]:
    """The specs of one seed, dataset by dataset, baseline first."""
    specs = []
    for name in datasets:
        if baseline:
            specs.append(
                {
                    "dataset": name,
                    "method": BASELINE,
                    "k_mode": "given+estimated",
                    "constraints": "none",
                    **common,
                }
            )
        kinds = [c for c in constraints if c == "none" or DATASETS[name].constraint_rep]
        for method in methods:
            for k_mode in k_modes:
                for kind in kinds:
                    specs.append(
                        {
                            "dataset": name,
                            "method": method,
                            "k_mode": k_mode,
                            "constraints": kind,
                            **common,
                        }
                    )
    return specs


def run_in_subprocess(
    spec: Mapping[str, Any], *, timeout: float | None = None, verbose: bool = False
) -> list[dict[str, Any]]:
    """Run :func:`run_case` in a fresh ``python benchmarks/benchmark.py --one`` process.

    Parameters
    ----------
    spec
        Case spec.
    timeout
        Seconds before the case is killed; None: no limit.
    verbose
        Let the child's stdout / stderr through instead of capturing them.

    Returns
    -------
    list of dict
        The child's records, or one record whose ``error`` says why the child failed.
    """
    records, error = run_child(os.path.abspath(__file__), spec, timeout, verbose)
    return records if error is None else [{**_empty_record(spec), "error": error}]


def run_child(
    script: str, spec: dict, timeout: float | None, verbose: bool = False
) -> tuple[Any, str | None]:
    """Run ``python script --one <spec> --result <file>`` in a fresh process.

    Returns (the JSON the child wrote, None), or (None, a one-line error) if the child timed
    out or wrote nothing (its stderr tail is printed).
    """
    with tempfile.TemporaryDirectory(prefix="scdeepclust-bench-") as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = [sys.executable, script, "--one", json.dumps(spec), "--result", result]
        try:
            proc = subprocess.run(cmd, capture_output=not verbose, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timeout after {timeout:g} s"
        if os.path.exists(result):
            with open(result) as fh:
                return json.load(fh), None
    tail = (proc.stderr or "").strip().splitlines()[-20:]
    print("\n".join(tail), file=sys.stderr)
    last = tail[-1] if tail else ""
    return None, _one_line(f"exit code {proc.returncode}: {last}")


def machine_info() -> dict[str, Any]:
    """CPU count, versions, torch threads and the device ``"auto"`` resolves to."""
    from importlib.metadata import version

    import torch

    from scdeepclust import __version__

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",  # what device="auto" picks
        "scanpy": version("scanpy"),
        "scdeepclust": __version__,
    }


# ---------------------------------------------------------------------------------------------
# Output: fixed-width table, markdown, TSV
# ---------------------------------------------------------------------------------------------

#: Columns of the printed tables: (header, record field, format).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("dataset", "dataset", "s"),
    ("method", "method", "s"),
    ("k", "k_mode", "s"),
    ("constraints", "constraints", "s"),
    ("seeds", "seed", "s"),
    ("n_obs", "n_obs", "d"),
    ("genes", "n_genes", "d"),
    ("ARI", "ari", ".3f"),
    ("NMI", "nmi", ".3f"),
    ("n_free", "n_free", "d"),
    ("ARI_free", "ari_free", ".3f"),
    ("NMI_free", "nmi_free", ".3f"),
    ("clusters", "n_clusters", "d"),
    ("ARI_init", "ari_init", ".3f"),
    ("k_init", "n_clusters_init", "d"),
    ("ep_pre", "epochs_pretrain", "d"),
    ("ep_clu", "epochs_cluster", "d"),
    ("steps_pre", "steps_pretrain", "d"),
    ("steps_clu", "steps_cluster", "d"),
    ("stop_pre", "stopped_pretrain", "s"),
    ("stop_clu", "stopped_cluster", "s"),
    ("t_prep", "s_prepare", ".1f"),
    ("t_pre", "s_pretrain", ".1f"),
    ("t_init", "s_init", ".1f"),
    ("t_clu", "s_cluster", ".1f"),
    ("t_total", "s_total", ".1f"),
    ("rss_base", "rss_base_mib", ".0f"),
    ("rss_peak", "rss_peak_mib", ".0f"),
    ("conv", "converged", "s"),
    ("error", "error", "s"),
)


def _cell(value: Any, fmt: str) -> str:
    """Format one table cell; None is ``-``; a :class:`Spread` is ``mean +- sd``."""
    if isinstance(value, Spread):
        return value.format(fmt)
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation (ddof 1) of a field over the seeds of a case."""

    mean: float
    sd: float
    n: int

    def format(self, fmt: str) -> str:  # noqa: D102
        if fmt == "d":  # counts: a whole number when the seeds agree, else one decimal
            if (self.n < 2 or self.sd == 0) and float(self.mean).is_integer():
                return str(int(self.mean))
            fmt = ".1f"
        if self.n < 2 or self.sd == 0:
            return format(self.mean, fmt)
        return f"{format(self.mean, fmt)} ± {format(self.sd, fmt)}"


#: Fields that identify a case across seeds.
CASE_KEY = ("dataset", "method", "k_mode", "constraints")


def aggregate(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per case (:data:`CASE_KEY`), numbers as :class:`Spread` over the seeds.

    Constraint labels are grouped by their kind (``"protein 1855ml+18145cl"`` -> ``"protein"``);
    text fields keep their distinct values joined by ``/``; ``seed`` lists the seeds.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for rec in records:
        key = tuple(str(rec.get(f) or "").split(" ")[0] for f in CASE_KEY)
        groups.setdefault(key, []).append(rec)
    return [_aggregate_group(group) for group in groups.values()]


def _aggregate_group(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean +- sd of the numeric fields of one case's records."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        values = [r.get(field) for r in group if r.get(field) not in (None, "")]
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if field == "seed":
            out[field] = ",".join(str(v) for v in values)
        elif numbers and len(numbers) == len(values):
            finite = [v for v in numbers if np.isfinite(v)]
            sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
            out[field] = Spread(float(np.mean(finite)) if finite else float("nan"), sd, len(finite))
        else:
            distinct = list(dict.fromkeys(str(v) for v in values))
            out[field] = "/".join(distinct) if distinct else None
    out["constraints"] = str(group[0].get("constraints") or "").split(" ")[0]
    return out


def _table_rows(records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Header plus one row of formatted cells per record."""
    rows = [[header for header, _, _ in COLUMNS]]
    for rec in records:
        rows.append([_cell(rec.get(field), fmt) for _, field, fmt in COLUMNS])
    return rows


def format_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Fixed-width text table of the records (numbers right-aligned)."""
    rows = _table_rows(records)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    right = [fmt != "s" for _, _, fmt in COLUMNS]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """Markdown (GitHub) table of the records."""
    rows = _table_rows(records)
    align = ["---:" if fmt != "s" else "---" for _, _, fmt in COLUMNS]
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def write_tsv(records: Sequence[Mapping[str, Any]], path: str) -> None:
    """Write all fields of the records to a tab-separated file."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if rec.get(k) is None else rec.get(k) for k in FIELDS})


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _csv_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Argparse type: comma-separated names, each one of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [s.strip() for s in text.split(",") if s.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(choices)}"
            )
        return names

    return parse


def _int_list(text: str) -> list[int]:
    """Argparse type: comma-separated integers."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected integers like 0,1,2, got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return values


def _param(text: str) -> tuple[str, str]:
    """Argparse type: ``key=value`` with a value :func:`ast.literal_eval` can read."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError) as err:
        raise argparse.ArgumentTypeError(f"cannot read the value of {text!r}: {err}") from err
    return key.strip(), value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python benchmarks/benchmark.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--datasets",
        type=_csv_list(list(DATASETS)),
        default=list(DATASETS),
        help=f"comma-separated, of {','.join(DATASETS)} (default: all)",
    )
    p.add_argument(
        "--methods",
        type=_csv_list(list(METHODS)),
        default=["scdcc"],
        help=f"comma-separated, of {','.join(METHODS)} (default: scdcc)",
    )
    p.add_argument(
        "--k",
        type=_csv_list(["given", "estimated"]),
        default=["given", "estimated"],
        help="k modes: given (n_clusters=k), estimated (n_clusters=None)",
    )
    p.add_argument(
        "--constraints",
        type=_csv_list(["none", "protein"]),
        default=["none", "protein"],
        help="none, protein (cite only: 20,000 protein-derived pairs)",
    )
    p.add_argument("--n-pairs", type=int, default=N_PAIRS, help="protein constraint pairs")
    p.add_argument(
        "--seeds",
        "--seed",
        type=_int_list,
        default=[0],
        help="comma-separated random_state values; each case runs once per seed and the "
        "table shows mean ± sd over them (default: 0)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="cases run at the same time (timings are only clean with 1; use --threads 1)",
    )
    p.add_argument(
        "--quick", action="store_true", help=f"tiny schedules for a smoke test: {QUICK_PARAMS}"
    )
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument passed to the method (repeatable)",
    )
    p.add_argument(
        "--max-cells",
        type=int,
        default=None,
        help="random subset of at most this many cells per dataset",
    )
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the scanpy PCA + k-means / Leiden baseline",
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per case")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads in each case (default: torch's; 1 helps on a busy machine)",
    )
    p.add_argument("--out", default=None, help="write all fields as TSV to this file")
    p.add_argument("--markdown", action="store_true", help="also print a markdown table")
    p.add_argument("-v", "--verbose", action="store_true", help="show the cases' own output")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _run_one(spec_json: str, result: str | None) -> int:
    """Child entry point: run one case, write its records as JSON (file or stdout)."""
    records = run_case(json.loads(spec_json))
    text = json.dumps(records, default=_json_default)
    if result is None:
        print(text)
    else:
        with open(result, "w") as fh:
            fh.write(text)
    return 0


def _json_default(value: Any) -> Any:
    """JSON encoding of numpy scalars."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _available_methods(methods: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split methods into those present in :mod:`scdeepclust.tl` and notes on the others."""
    present, notes = [], []
    for name in methods:
        if _tl_function(name) is None:
            notes.append(f"method {name!r} skipped: scdeepclust.tl has no {name!r} yet")
        else:
            present.append(name)
    return present, notes


def run_all(
    specs: Sequence[Mapping[str, Any]],
    *,
    jobs: int = 1,
    timeout: float | None = None,
    verbose: bool = False,
) -> list[dict[str, Any]]:
    """Run every case in its own subprocess, ``jobs`` at a time; records in spec order."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        start = time.perf_counter()
        new = run_in_subprocess(spec, timeout=timeout, verbose=verbose)
        _progress(i, len(specs), spec, new, time.perf_counter() - start)
        return new

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        done = list(pool.map(one, range(1, len(specs) + 1), specs))
    return [rec for new in done for rec in new]


def _print_header(info: Mapping[str, Any]) -> None:
    """Print the machine description."""
    print("scdeepclust benchmark")
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))


def _progress(i: int, n: int, spec: Mapping[str, Any], records, seconds: float) -> None:
    """One line per finished case on stderr."""
    errors = [r["error"] for r in records if r.get("error")]
    status = errors[0] if errors else "ok"
    case = (
        f"{spec['dataset']} {spec['method']} {spec['k_mode']} {spec['constraints']} "
        f"seed {spec['seed']}"
    )
    print(f"[{i}/{n}] {case}: {status} ({seconds:.0f} s)", file=sys.stderr, flush=True)


def _notes(records: Sequence[Mapping[str, Any]], extra: Sequence[str]) -> list[str]:
    """List the notes printed under the table: gene selections, skipped methods."""
    notes = list(extra)
    seen = set()
    for rec in records:
        sel = rec.get("gene_selection")
        if sel and sel != "all" and rec["dataset"] not in seen:
            seen.add(rec["dataset"])
            notes.append(f"{rec['dataset']}: genes selected by {sel} (mask_var='highly_variable')")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    args = parse_args(argv)
    if args.one is not None:
        return _run_one(args.one, args.result)

    info = machine_info()
    if args.threads is not None:
        info["torch_threads"] = args.threads
    _print_header(info)
    methods, notes = _available_methods(args.methods)
    specs = build_specs(
        args.datasets,
        methods,
        args.k,
        args.constraints,
        seeds=args.seeds,
        quick=args.quick,
        params=dict(args.param),
        baseline=args.baseline,
        max_cells=args.max_cells,
    )
    for spec in specs:
        spec.update(n_pairs=args.n_pairs, threads=args.threads)
    records = run_all(specs, jobs=args.jobs, timeout=args.timeout, verbose=args.verbose)
    if len(args.seeds) > 1:
        print(f"per seed ({', '.join(map(str, args.seeds))}):")
        print(format_table(records))
        print(f"\nmean ± sd over seeds {', '.join(map(str, args.seeds))}:")
        records_shown = aggregate(records)
    else:
        records_shown = records
    print(format_table(records_shown))
    for note in _notes(records, notes):
        print("note: " + note)
    if args.markdown:
        print()
        print(format_markdown(records_shown))
    if args.out:
        write_tsv(records, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
