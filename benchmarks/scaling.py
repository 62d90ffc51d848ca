r"""Scaling of both tools with the number of cells: seconds per stage and memory vs n_obs.

Datasets of n cells are resampled from 10X PBMC (4,271 cells x 2,000 genes, 8 cell types) by
:func:`resample`: each new cell copies a source cell picked uniformly at random, with its
counts redrawn as Poisson(source counts x f), f a per-cell library factor ~ lognormal(0,
0.25). The cell-type structure (and the labels, ``obs['cell_type']``, for the ARI) is the
source's; only the number of cells changes. Files are cached as
``<cache>/pbmc_resampled_<n>_s<seed>.h5ad`` and regenerated when missing.

Every case (tool x k mode x size) runs in a fresh process
(``python -m benchmarks.scaling --one <json spec>``) so its peak memory is its own: load the
file, then ``tl.scdcc`` / ``tl.desc`` with
``n_clusters=8`` (``given``) or ``n_clusters=None`` (``estimated``: Leiden at the tool's
default resolution decides k), ``random_state=--seed``, ``progress_bar=False`` and the
``--params``. One TSV row per case on stdout (appended to ``--out``):

- ``n_obs``, ``nnz``, ``csr_mib`` (data + indices + indptr of the count matrix, MiB);
- ``seconds_total`` (wall time of the call) and ``s_prepare`` / ``s_pretrain`` / ``s_init``
  / ``s_cluster`` (``uns[key]['seconds']``);
- ``epochs_pretrain`` / ``epochs_cluster`` (``uns[key]['n_epochs']``) and
  ``steps_pretrain`` / ``steps_cluster`` (``uns[key]['n_steps']``; DESC's pretraining
  phases summed), ``stopped_cluster`` (``uns[key]['stopped_by']['cluster']``: converged,
  plateau or cap);
- ``n_clusters`` (non-empty clusters found) and ``ari`` against ``obs['cell_type']``;
- ``rss_after_load_mib`` (resident memory after imports and loading the file) and
  ``peak_rss_mib`` (peak of the case); ``error`` (exception or timeout, else empty).

Memory is read from /proc/self/status (``VmRSS``, ``VmHWM``), with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) only where /proc is missing:
on Linux a freshly started child's ``ru_maxrss`` starts at the parent's resident size at the
fork (the kernel carries it over; measured here: a child of a 480 MiB parent reports 480 MiB
whereas its ``VmHWM`` is 9 MiB), so it would charge the generator's memory to the first case.

Counts live once in memory: the h5ad file stores them in ``X`` only (half the disk and load
time) and the child aliases ``layers['counts']`` to the same CSR object (anndata keeps the
reference, no copy), so the tools run with their default ``layer='counts'``. Both tools
still make their own float32 CSR copy of the counts (``data.validation.get_counts``) and
their prepared input, which is part of what ``peak_rss_mib`` measures.

Note what scales: scDCC's pretraining is ~700 minibatch steps whatever n_obs
(``pretrain_steps``), its clustering stage and DESC's stages are capped at 12,000 steps
(``max_steps``), and both initialise on at most 50,000 cells (``init_max_cells``); DESC also
picks its layer widths from n_obs (a wider encoder above 10,000 and 20,000 cells). The
``steps_*`` columns tell whether a stage ran into such a cap.

Run it with nothing else on the machine (timings). Reproduce (``make benchmark-scaling``
runs the first)::

    OUT=results/benchmarks/scaling
    python -m benchmarks.scaling --sizes 10000,30000,100000,300000 --out $OUT/scaling.tsv \
        --plot $OUT/scaling.png
    python -m benchmarks.scaling --sizes 1000 --out $OUT/scaling_baseline.tsv
    python -m benchmarks.scaling --sizes 1000000 --k given --out $OUT/scaling_1m.tsv
    python -m benchmarks.scaling --plot-only --out $OUT/scaling.tsv --plot $OUT/scaling.png

(the second gives the memory baseline of a tiny run of each case; the third the 1,000,000-
cell runs, about 16 minutes on 2 cores plus a minute to generate the 1.27 GB file;
``--plot-only`` redraws the plot and prints the log-log slopes from the TSV). Smoke test
with tiny schedules::

    SCDEEPCLUST_DATASETDIR=/data python -m benchmarks.scaling --sizes 2000 --tools scdcc \
        --k given --threads 1 --params '{"pretrain_epochs": 2, "max_epochs": 2}' \
        --out /tmp/scal.tsv --plot /tmp/scal.png --cache /tmp/scalcache
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np

from .datasets import DATASETS, load_dataset
from .runner import current_rss_mib, one_line, peak_rss_mib, run_child, write_result

K = DATASETS["pbmc"].k  # cell types of 10X PBMC
LIBRARY_SDLOG = 0.25
CHUNK = 20_000  # cells drawn at a time by the generator (bounds its temporary memory)
STAGES = ("prepare", "pretrain", "init", "cluster")
COLUMNS = (
    "tool", "k_mode", "seed", "threads", "device", "n_obs", "nnz", "csr_mib", "seconds_total",
    *(f"s_{s}" for s in STAGES),
    "epochs_pretrain", "epochs_cluster", "steps_pretrain", "steps_cluster", "stopped_cluster",
    "n_clusters", "ari", "rss_after_load_mib", "peak_rss_mib", "error",
)  # fmt: skip
FORMATS = {
    "csr_mib": ".1f",
    "seconds_total": ".2f",
    "ari": ".4f",
    "rss_after_load_mib": ".0f",
    "peak_rss_mib": ".0f",
    **{f"s_{s}": ".2f" for s in STAGES},
}


# --------------------------------------------------------------------------------------------
# Resampled datasets


def resample(source, n_obs: int, seed: int):
    """``n_obs`` cells resampled from ``source`` (raw counts in ``layers['counts']``).

    With ``rng = np.random.default_rng(seed)``: the source cell of every new cell is drawn
    uniformly (``rng.integers``), then its library factor f ~ lognormal(0, 0.25)
    (``rng.lognormal``), then, ``CHUNK`` cells at a time, counts ~ Poisson(source counts x
    f) on the source cell's non-zero genes only (its zero genes stay zero). A cell left with
    no count gets one count on its source cell's largest gene (the tools reject empty
    cells). The result is a fresh AnnData with the counts as a CSR float32 matrix that is
    both ``X`` and ``layers['counts']`` (one object), ``obs['cell_type']`` and
    ``obs['source']`` (row of the source cell), unique ``obs_names`` ``c0``, ``c1``, ...,
    the source's ``var`` and the recipe in ``uns['resample']``.
    """
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    src = sp.csr_matrix(source.layers["counts"], dtype=np.float32)
    src.sum_duplicates()
    src.eliminate_zeros()
    lengths = np.diff(src.indptr)
    if (lengths == 0).any():
        raise ValueError("the source has cells with zero counts")
    # position of each source cell's largest gene inside its row
    top = np.array(
        [src.data[a:b].argmax() for a, b in zip(src.indptr[:-1], src.indptr[1:], strict=True)]
    )
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, source.n_obs, size=n_obs)
    factor = rng.lognormal(0.0, LIBRARY_SDLOG, size=n_obs)

    data, indices, row_nnz = [], [], []
    for a in range(0, n_obs, CHUNK):
        rows = pick[a : a + CHUNK]
        ln = lengths[rows]
        starts = np.repeat(src.indptr[rows] - np.cumsum(ln) + ln, ln)
        pos = starts + np.arange(ln.sum())  # positions of the rows' non-zeros in src
        lam = src.data[pos] * np.repeat(factor[a : a + CHUNK], ln)
        y = rng.poisson(lam).astype(np.float32)
        offsets = np.concatenate([[0], np.cumsum(ln)[:-1]])
        empty = np.flatnonzero(np.add.reduceat(y, offsets) == 0)
        y[offsets[empty] + top[rows[empty]]] = 1.0
        keep = y > 0
        data.append(y[keep])
        indices.append(src.indices[pos[keep]])
        row_nnz.append(np.add.reduceat(keep.astype(np.int64), offsets))
    nnz = sum(len(d) for d in data)
    index_dtype = np.int32 if nnz < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(row_nnz))]).astype(index_dtype)
    counts = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices).astype(index_dtype), indptr),
        shape=(n_obs, source.n_vars),
    )
    del data, indices
    obs = pd.DataFrame(
        {"cell_type": source.obs["cell_type"].to_numpy()[pick], "source": pick.astype(np.int32)},
        index=pd.Index([f"c{i}" for i in range(n_obs)]),
    )
    if isinstance(source.obs["cell_type"].dtype, pd.CategoricalDtype):
        obs["cell_type"] = pd.Categorical(
            obs["cell_type"], categories=source.obs["cell_type"].cat.categories
        )
    out = ad.AnnData(X=counts, obs=obs, var=source.var.copy())
    out.layers["counts"] = out.X  # the same object, not a copy
    out.uns["resample"] = {
        "n_source": int(source.n_obs),
        "seed": int(seed),
        "library_sdlog": LIBRARY_SDLOG,
    }
    return out


def cache_path(cache: str, n_obs: int, seed: int) -> str:
    """``<cache>/pbmc_resampled_<n>_s<seed>.h5ad``."""
    return os.path.join(cache, f"pbmc_resampled_{n_obs}_s{seed}.h5ad")


def write_counts(adata, path: str) -> None:
    """Write ``adata`` with the counts once, in ``X`` (``layers['counts']`` is an alias)."""
    import anndata as ad

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    ad.AnnData(X=adata.X, obs=adata.obs, var=adata.var, uns=adata.uns).write_h5ad(tmp)
    os.replace(tmp, path)  # never leave a half-written file under the cached name


def read_counts(path: str):
    """Read a cached file; ``layers['counts']`` is ``X`` (the same CSR object)."""
    import anndata as ad

    adata = ad.read_h5ad(path)
    adata.layers["counts"] = adata.X
    return adata


def ensure_dataset(cache: str, n_obs: int, seed: int, source_cache: dict) -> str:
    """Path of the cached dataset, generated (from ``pbmc_10x``, loaded once) if missing."""
    path = cache_path(cache, n_obs, seed)
    if os.path.exists(path):
        return path
    if "pbmc" not in source_cache:
        source_cache["pbmc"] = load_dataset("pbmc")
    start = time.perf_counter()
    adata = resample(source_cache["pbmc"], n_obs, seed)
    write_counts(adata, path)
    print(
        f"generated {path}: {adata.n_obs} x {adata.n_vars}, nnz {adata.X.nnz} "
        f"({time.perf_counter() - start:.2f} s)",
        file=sys.stderr,
        flush=True,
    )
    return path


def csr_mib(X) -> float:
    """Bytes of data + indices + indptr of a CSR matrix, in MiB."""
    return (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20


def file_sizes(path: str) -> tuple[int | None, float | None]:
    """The nnz and CSR MiB of a cached file's X, read from the h5ad without loading it."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            x = f["X"]
            parts = [x[name] for name in ("data", "indices", "indptr")]
            return int(parts[0].shape[0]), sum(p.size * p.dtype.itemsize for p in parts) / 2**20
    except (OSError, KeyError):
        return None, None


# --------------------------------------------------------------------------------------------
# One case (child process)


def run_case(spec: dict) -> dict:
    """Load the spec's file, run the tool, return the row (errors go into ``error``)."""
    import torch
    from sklearn.metrics import adjusted_rand_score
    from threadpoolctl import threadpool_limits

    import scdeepclust as sdc

    row = {
        "tool": spec["tool"],
        "k_mode": spec["k_mode"],
        "seed": spec["seed"],
        "threads": spec["threads"],
        "device": spec["device"],
        "n_obs": spec["n_obs"],
    }
    try:
        threadpool_limits(spec["threads"])
        adata = read_counts(spec["path"])
        counts = adata.layers["counts"]
        row.update(
            n_obs=adata.n_obs,
            nnz=int(counts.nnz),
            csr_mib=csr_mib(counts),
            rss_after_load_mib=current_rss_mib(),
        )
        torch.set_num_threads(spec["threads"])  # after anything that may touch numba
        tool = spec["tool"]
        kwargs = {
            "n_clusters": K if spec["k_mode"] == "given" else None,
            "random_state": spec["seed"],
            "progress_bar": False,
            "device": spec["device"],
            **spec["params"],
        }
        start = time.perf_counter()
        getattr(sdc.tl, tool)(adata, **kwargs)
        row["seconds_total"] = time.perf_counter() - start
        key = kwargs.get("key_added", tool)
        uns = adata.uns[key]
        seconds, epochs = uns.get("seconds", {}), uns.get("n_epochs", {})
        steps, stopped = uns.get("n_steps", {}), uns.get("stopped_by", {})
        pre = [s for s in steps if s != "cluster"]
        row.update({f"s_{s}": seconds.get(s) for s in STAGES})
        row.update(
            epochs_pretrain=epochs.get("pretrain"),
            epochs_cluster=epochs.get("cluster"),
            steps_pretrain=sum(int(steps[s]) for s in pre) if pre else None,
            steps_cluster=steps.get("cluster"),
            stopped_cluster=stopped.get("cluster"),
            n_clusters=int(adata.obs[key].nunique()),
            ari=adjusted_rand_score(adata.obs["cell_type"], adata.obs[key]),
        )
    except Exception as err:  # noqa: BLE001 - reported in the row, the benchmark goes on
        traceback.print_exc()
        row["error"] = one_line(f"{type(err).__name__}: {err}", width=300)
    row["peak_rss_mib"] = peak_rss_mib()
    return row


def run_in_subprocess(spec: dict, timeout: float | None) -> dict:
    """Run ``run_case`` in a fresh process; a row with the error on failure."""
    base = {k: spec[k] for k in ("tool", "k_mode", "seed", "threads", "device", "n_obs")}
    base["nnz"], base["csr_mib"] = file_sizes(spec["path"])
    row, error = run_child("benchmarks.scaling", spec, timeout)
    return row if error is None else {**base, "error": error}


# --------------------------------------------------------------------------------------------
# Output


def format_row(row: dict) -> str:
    cells = []
    for c in COLUMNS:
        v = row.get(c)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            cells.append("")
        elif c in FORMATS:
            cells.append(format(float(v), FORMATS[c]))
        else:
            cells.append(str(v).replace("\t", " "))
    return "\t".join(cells)


def loglog_slope(n_obs: np.ndarray, seconds: np.ndarray) -> float:
    """Least-squares slope of log(seconds) on log(n_obs): 1 is linear, NaN for < 2 sizes."""
    if len(n_obs) < 2:
        return float("nan")
    return float(np.polyfit(np.log(n_obs.astype(float)), np.log(seconds.astype(float)), 1)[0])


def plot(tsv: str, png: str) -> None:
    """Log-log seconds_total vs n_obs per tool and k mode, each with a slope-1 guide.

    The least-squares log-log slope of each line is printed and shown in the legend.

    Rows with an error are left out; where the TSV holds several rows of one (tool, k mode,
    seed, n_obs) (appended runs), the last one is used.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(tsv, sep="\t", keep_default_na=False, na_values=[""])
    df = df[df["tool"] != "tool"]  # header lines of appended runs, if any
    df = df[df["error"].isna() & df["seconds_total"].notna()]
    df = df.astype({"n_obs": int, "seconds_total": float})
    df = df.drop_duplicates(["tool", "k_mode", "seed", "n_obs"], keep="last")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((tool, k_mode), g) in enumerate(df.groupby(["tool", "k_mode"], sort=True)):
        g = g.groupby("n_obs")["seconds_total"].mean().sort_index()
        color = colors[i % len(colors)]
        slope = loglog_slope(g.index.to_numpy(), g.to_numpy())
        print(
            f"{tool}, k {k_mode}: log-log slope of seconds vs n_obs over "
            f"{g.index.min():,}-{g.index.max():,} cells = {slope:.2f}",
            file=sys.stderr,
        )
        label = f"{tool}, k {k_mode} (slope {slope:.2f})"
        ax.plot(g.index, g.to_numpy(), "o-", color=color, label=label)
        n0, s0 = g.index[0], g.iloc[0]
        xs = np.array([n0, max(df["n_obs"].max(), n0)])
        ax.plot(
            xs,
            s0 * xs / n0,
            "--",
            color=color,
            alpha=0.5,
            lw=1,
            label="slope 1 (linear)" if i == 0 else None,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cells (n_obs)")
    ax.set_ylabel("seconds (whole call)")
    ax.set_title("scdeepclust scaling, PBMC resampled")
    ax.grid(True, which="both", alpha=0.3)
    if len(df):
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(png)), exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    print(f"wrote {png}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------


def _list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--tools", default="scdcc,desc")
    p.add_argument("--k", default="given,estimated", help="given (n_clusters=8), estimated")
    p.add_argument("--sizes", default="10000,30000,100000,300000")
    p.add_argument("--seed", type=int, default=0, help="generator seed and random_state")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--device", default="cpu", help="torch device of the tools: cpu, cuda, cuda:1, auto"
    )
    p.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    p.add_argument(
        "--cache", default="results/benchmarks/scaling/cache", help="folder of the generated h5ad"
    )
    p.add_argument("--params", default="{}", help="JSON keyword arguments for the tool")
    p.add_argument("--out", default=None, help="TSV to append the rows to")
    p.add_argument("--plot", default=None, help="PNG of seconds vs n_obs (log-log)")
    p.add_argument("--plot-only", action="store_true", help="redraw --plot from --out")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.one is not None:
        write_result(run_case(json.loads(a.one)), a.result)
        return
    if a.plot_only:
        if not (a.out and a.plot):
            p.error("--plot-only needs --out (the TSV to read) and --plot (the PNG to write)")
        plot(a.out, a.plot)
        return

    tools, k_modes = _list(a.tools), _list(a.k)
    bad = [t for t in tools if t not in ("scdcc", "desc")] + [
        k for k in k_modes if k not in ("given", "estimated")
    ]
    if bad:
        p.error(f"unknown tool or k mode: {', '.join(bad)}")
    sizes = [int(s) for s in _list(a.sizes)]
    params = json.loads(a.params)
    if not isinstance(params, dict):
        p.error("--params must be a JSON object")

    new_file = a.out is not None and (not os.path.exists(a.out) or os.path.getsize(a.out) == 0)
    out = None
    if a.out is not None:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        out = open(a.out, "a")  # noqa: SIM115 - kept open for the whole run
        if new_file:
            out.write("\t".join(COLUMNS) + "\n")
            out.flush()
    print("\t".join(COLUMNS), flush=True)
    source: dict = {}
    lines: list[str] = []
    cases = [(n, tool, k) for n in sizes for tool in tools for k in k_modes]
    try:
        for i, (n, tool, k_mode) in enumerate(cases, 1):
            path = ensure_dataset(a.cache, n, a.seed, source)
            spec = {
                "tool": tool,
                "k_mode": k_mode,
                "n_obs": n,
                "seed": a.seed,
                "threads": a.threads,
                "device": a.device,
                "path": os.path.abspath(path),
                "params": params,
            }
            start = time.perf_counter()
            row = run_in_subprocess(spec, a.timeout)
            line = format_row(row)
            lines.append(line)
            print(line, flush=True)
            if out is not None:
                out.write(line + "\n")
                out.flush()
            print(
                f"[{i}/{len(cases)}] {tool} {k_mode} {n}: {row.get('error') or 'ok'} "
                f"({time.perf_counter() - start:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if out is not None:
            out.close()
    if a.plot and a.out is not None:
        plot(a.out, a.plot)
    elif a.plot:  # no --out: plot this run's rows
        with tempfile.NamedTemporaryFile("w", suffix=".tsv") as fh:
            fh.write("\n".join(["\t".join(COLUMNS), *lines]) + "\n")
            fh.flush()
            plot(fh.name, a.plot)


if __name__ == "__main__":
    main()
