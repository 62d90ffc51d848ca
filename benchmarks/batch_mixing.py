"""Batch-aware clustering on the two real multi-batch datasets: labels and batch mixing.

CellBench (1,021 cells, 5 batches on 2 technologies, 5 cell lines; 2,000 ``seurat`` HVG of
normalize_total + log1p) and Kang 2018 (1,556 PBMC, 4 samples = ctrl/stim x 2 donors, 5 cell
types; all 1,267 genes). Variants, all with k = the number of cell types:

- ``scdcc`` / ``scdcc_batch``: ``tl.scdcc`` with ``batch_key`` None / 'batch';
- ``desc`` / ``desc_batch``: ``tl.desc`` with ``batch_key`` None / 'batch';
- ``pca`` / ``pca_combat``: normalize_total, log1p, (``sc.pp.combat`` on 'batch'), scale
  (max 10), PCA 50, k-means.

Metrics: ARI / NMI of the labels against ``cell_type``; on the embedding (``X_pca`` for the
baselines) iLISI of the batch and cLISI of the cell type (self-contained LISI, see ``lisi``),
both in scib's [0, 1] forms (iLISI (median - 1) / (n_batches - 1), 1 = fully mixed; cLISI
(n_types - median) / (n_types - 1), 1 = cell types kept apart), their raw medians, and the
batch ASW (scib's per-cell-type 1 - |silhouette of batch|, mean over cell types).

Prints one TSV row per (dataset, variant, seed), then with ``--markdown`` a mean ± sd table.

    python benchmarks/batch_mixing.py --seeds 0,1,2 --markdown
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

N_HVG = 2000
VARIANTS = ("pca", "pca_combat", "scdcc", "scdcc_batch", "desc", "desc_batch")
COLUMNS = (
    "ari",
    "nmi",
    "ilisi",
    "clisi",
    "ilisi_med",
    "clisi_med",
    "asw_batch",
    "n_clusters",
    "seconds",
)


def load(name: str):
    """Dataset with counts in layers['counts'] and the gene mask (None: all genes)."""
    os.environ.setdefault("SCDEEPCLUST_DATASETDIR", os.path.abspath("../shared/data"))
    import scanpy as sc

    import scdeepclust as sdc

    if name == "kang":
        return sdc.datasets.kang2018(), None
    adata = sdc.datasets.cellbench()
    tmp = sc.AnnData(adata.layers["counts"].copy())
    sc.pp.normalize_total(tmp)
    sc.pp.log1p(tmp)
    sc.pp.highly_variable_genes(tmp, flavor="seurat", n_top_genes=N_HVG)
    adata.var["highly_variable"] = tmp.var["highly_variable"].to_numpy()
    return adata, "highly_variable"


# --------------------------------------------------------------------------------------------
# LISI (Korsunsky et al. 2019, Harmony), numpy / sklearn only


def knn(emb: np.ndarray, k: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the ``k`` nearest neighbours, the cell itself excluded."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, emb.shape[0] - 1)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb)
    self_col = idx == np.arange(emb.shape[0])[:, None]
    # drop the cell itself (normally column 0; duplicates can put it elsewhere)
    keep = ~self_col
    keep[~self_col.any(axis=1), -1] = False
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def lisi(
    dist: np.ndarray,
    idx: np.ndarray,
    labels,
    perplexity: float = 30.0,
    tol: float = 1e-5,
    n_iter: int = 50,
) -> np.ndarray:
    """Per-cell LISI: inverse Simpson index of ``labels`` among the kNN, Gaussian-weighted.

    Per cell, the kernel weights p_j ∝ exp(-beta d_j) over its neighbours (d: Euclidean
    distances, as the lisi R package and scib-metrics use) have beta found by bisection so
    that the entropy H(p) = log(perplexity) (within ``tol``, at most ``n_iter`` steps); the
    LISI is 1 / sum_l (sum of p over neighbours with label l)^2.
    """
    import pandas as pd

    codes = pd.Categorical(labels).codes
    n_labels = codes.max() + 1
    n, k = dist.shape
    log_u = np.log(perplexity)
    beta = np.ones(n)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    active = np.ones(n, dtype=bool)
    for _ in range(n_iter):
        d = dist[active]
        p = np.exp(-d * beta[active, None])
        s = p.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(s > 0, np.log(s) + beta[active] * (d * p).sum(axis=1) / s, 0.0)
        diff = h - log_u
        rows = np.flatnonzero(active)
        done = np.abs(diff) < tol
        up = ~done & (diff > 0)  # entropy too high: sharpen (raise beta)
        down = ~done & (diff <= 0)
        r = rows[up]
        lo[r] = beta[r]
        beta[r] = np.where(np.isinf(hi[r]), beta[r] * 2, (beta[r] + hi[r]) / 2)
        r = rows[down]
        hi[r] = beta[r]
        beta[r] = np.where(np.isinf(lo[r]), beta[r] / 2, (beta[r] + lo[r]) / 2)
        active[rows[done]] = False
        if not active.any():
            break
    p = np.exp(-dist * beta[:, None])
    s = p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(s > 0, p / s, 0.0)
    onehot_sums = np.zeros((n, n_labels))
    np.add.at(onehot_sums, (np.repeat(np.arange(n), k), codes[idx].ravel()), p.ravel())
    simpson = (onehot_sums**2).sum(axis=1)
    with np.errstate(divide="ignore"):
        return 1.0 / simpson


def mixing(emb: np.ndarray, batch, cell_type, k: int = 90) -> dict:
    """The iLISI / cLISI in scib's [0, 1] forms and as raw medians, and the batch ASW."""
    dist, idx = knn(emb, k)
    perplexity = np.floor(k / 3)
    n_b, n_t = len(np.unique(batch)), len(np.unique(cell_type))
    il = float(np.nanmedian(lisi(dist, idx, batch, perplexity)))
    cl = float(np.nanmedian(lisi(dist, idx, cell_type, perplexity)))
    return {
        "ilisi": (il - 1) / (n_b - 1),
        "clisi": (n_t - cl) / (n_t - 1),
        "ilisi_med": il,
        "clisi_med": cl,
        "asw_batch": asw_batch(emb, batch, cell_type),
    }


def asw_batch(emb: np.ndarray, batch, cell_type) -> float:
    """Batch ASW as scib: per cell type the mean of 1 - |silhouette of batch|, then the mean."""
    from sklearn.metrics import silhouette_samples

    batch, cell_type = np.asarray(batch), np.asarray(cell_type)
    scores = []
    for t in np.unique(cell_type):
        sel = cell_type == t
        if len(np.unique(batch[sel])) < 2 or sel.sum() < 3:
            continue
        scores.append(np.mean(1 - np.abs(silhouette_samples(emb[sel], batch[sel]))))
    return float(np.mean(scores)) if scores else float("nan")


# --------------------------------------------------------------------------------------------


def baseline(adata, mask, k: int, seed: int, combat: bool) -> tuple[np.ndarray, np.ndarray]:
    """The scanpy pipeline: (labels, X_pca)."""
    import scanpy as sc
    from sklearn.cluster import KMeans

    genes = slice(None) if mask is None else adata.var[mask].to_numpy()
    b = sc.AnnData(adata.layers["counts"][:, genes].copy(), obs=adata.obs[["batch"]].copy())
    sc.pp.normalize_total(b)
    sc.pp.log1p(b)
    if combat:
        sc.pp.combat(b, key="batch")
    sc.pp.scale(b, max_value=10)
    sc.pp.pca(b, n_comps=50, random_state=seed)
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(b.obsm["X_pca"])
    return labels, b.obsm["X_pca"]


def run(adata, mask, variant: str, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, embedding) of one variant."""
    import scdeepclust as sdc

    if variant.startswith("pca"):
        return baseline(adata, mask, k, seed, combat=variant == "pca_combat")
    batch_key = "batch" if variant.endswith("_batch") else None
    common = dict(
        n_clusters=k,
        mask_var=mask,
        batch_key=batch_key,
        key_added="m",
        random_state=seed,
        progress_bar=False,
        copy=True,
    )
    if variant.startswith("scdcc"):
        out = sdc.tl.scdcc(adata, **common)
    else:
        out = sdc.tl.desc(adata, **common)
    return out.obs["m"].to_numpy(), np.asarray(out.obsm["X_m"])


def summary(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    shown = ("ari", "nmi", "ilisi", "clisi", "asw_batch", "n_clusters", "seconds")
    lines = [
        "| dataset | variant | " + " | ".join(shown) + " |",
        "|---|---|" + "---:|" * len(shown),
    ]
    for (ds, var), g in df.groupby(["dataset", "variant"], sort=False):
        cells = []
        for c in shown:
            x = g[c].astype(float)
            sd = x.std(ddof=1) if len(x) > 1 else 0.0
            fmt = ".1f" if c in ("n_clusters", "seconds") else ".3f"
            cells.append(f"{x.mean():{fmt}} ± {sd:{fmt}}")
        lines.append(f"| {ds} | {var} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    import torch
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from threadpoolctl import threadpool_limits

    p = argparse.ArgumentParser()
    p.add_argument("--datasets", default="cellbench,kang")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k-lisi", type=int, default=90, help="neighbours of the LISI (perplexity k/3)")
    p.add_argument("--markdown", action="store_true", help="also print a mean ± sd table")
    a = p.parse_args()
    threadpool_limits(a.threads)
    torch.set_num_threads(a.threads)

    rows = []
    print("dataset\tvariant\tseed\t" + "\t".join(COLUMNS), flush=True)
    for name in a.datasets.split(","):
        adata, mask = load(name)
        torch.set_num_threads(a.threads)  # numba (scanpy HVG) resets it
        truth = adata.obs["cell_type"].to_numpy()
        batch = adata.obs["batch"].to_numpy()
        k = adata.obs["cell_type"].nunique()
        for variant in a.variants.split(","):
            for seed in map(int, a.seeds.split(",")):
                t = time.perf_counter()
                labels, emb = run(adata, mask, variant, k, seed)
                secs = time.perf_counter() - t
                torch.set_num_threads(a.threads)
                row = {
                    "dataset": name,
                    "variant": variant,
                    "seed": seed,
                    "ari": adjusted_rand_score(truth, labels),
                    "nmi": normalized_mutual_info_score(truth, labels),
                    **mixing(emb, batch, truth, a.k_lisi),
                    "n_clusters": len(np.unique(labels)),
                    "seconds": secs,
                }
                rows.append(row)
                vals = "\t".join(
                    f"{row[c]:.1f}"
                    if c == "seconds"
                    else str(row[c])
                    if c == "n_clusters"
                    else f"{row[c]:.4f}"
                    for c in COLUMNS
                )
                print(f"{name}\t{variant}\t{seed}\t{vals}", flush=True)
    if a.markdown:
        print()
        print(summary(rows), flush=True)


if __name__ == "__main__":
    main()
