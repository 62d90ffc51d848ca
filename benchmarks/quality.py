"""Benchmark the deep clustering methods on the scDeepCluster / scDCC datasets.

Usage
-----
::

    python -m benchmarks.quality [--datasets pbmc,bladder,worm,cite] [--methods scdcc]
                                 [--k given,estimated] [--constraints none,protein]
                                 [--seeds 0,1,2] [--jobs 1] [--quick]
                                 [--param key=value ...]
                                 [--out results.tsv] [--markdown]

Every case (dataset x method x k mode x constraints) runs in a fresh Python process
(``python -m benchmarks.quality --one <json spec>``), so its peak memory is its own. Next
to each dataset the standard scanpy pipeline is run once on the same cells and genes
(normalize_total, log1p, scale to 10, PCA 50, then k-means with the true k and Leiden).

Datasets (:data:`benchmarks.datasets.QUALITY`; folder from ``SCDEEPCLUST_DATASETDIR``)

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

    SCDEEPCLUST_DATASETDIR=/data python -m benchmarks.quality --quick --datasets pbmc

Full benchmark written as TSV plus a markdown table for the README::

    python -m benchmarks.quality --out results.tsv --markdown

Tuning: keyword arguments passed through to the method::

    python -m benchmarks.quality --datasets bladder --k given \
        --param gamma=0.5 --param "hidden_dims=(512, 64)"
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .baseline import kmeans_labels, leiden_labels, pipeline_pca
from .datasets import DATASETS, QUALITY, load_dataset, select_genes
from .metrics import clustering_scores, unconstrained_mask
from .report import FIELDS, aggregate, format_markdown, format_table, write_tsv
from .runner import (
    current_rss_mib,
    machine_info,
    one_line,
    peak_rss_mib,
    run_child,
    torch_threads,
    write_result,
)

__all__ = ["METHODS", "run_case", "build_specs", "parse_args", "main"]

Constraints = tuple[np.ndarray, np.ndarray]

#: This module, as the children run it (``python -m benchmarks.quality --one ...``).
MODULE = "benchmarks.quality"


# ---------------------------------------------------------------------------------------------
# Methods
# ---------------------------------------------------------------------------------------------

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
# Constraints
# ---------------------------------------------------------------------------------------------


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
        return [{**_empty_record(spec), "error": one_line(f"{type(err).__name__}: {err}")}]
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


def _run_baseline(adata, spec: Mapping[str, Any], mask_var: str | None) -> list[dict[str, Any]]:
    """Run the scanpy pipeline: PCA 50 of the scaled log data, then k-means and Leiden."""
    seed, k = spec["seed"], DATASETS[spec["dataset"]].k
    start = time.perf_counter()
    genes = slice(None) if mask_var is None else adata.var[mask_var].to_numpy()
    bdata = pipeline_pca(adata.layers["counts"][:, genes], seed, obs=adata.obs[["cell_type"]])
    prepare = time.perf_counter() - start

    start = time.perf_counter()
    kmeans = kmeans_labels(bdata.obsm["X_pca"], k, seed)
    s_kmeans = time.perf_counter() - start

    start = time.perf_counter()
    leiden = leiden_labels(bdata, seed)
    s_leiden = time.perf_counter() - start

    rows = [
        ("pca+kmeans", "given", kmeans, s_kmeans),
        ("pca+leiden", "estimated", leiden, s_leiden),
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
    """Run :func:`run_case` in a fresh ``python -m benchmarks.quality --one`` process.

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
    records, error = run_child(MODULE, spec, timeout, verbose)
    return records if error is None else [{**_empty_record(spec), "error": error}]


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
        prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--datasets",
        type=_csv_list(list(QUALITY)),
        default=list(QUALITY),
        help=f"comma-separated, of {','.join(QUALITY)} (default: all)",
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
    write_result(run_case(json.loads(spec_json)), result)
    return 0


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
