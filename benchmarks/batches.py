"""Batch-aware clustering on the two real multi-batch datasets: labels and batch mixing.

CellBench (1,021 cells, 5 batches on 2 technologies, 5 cell lines; 2,000 ``seurat`` HVG of
normalize_total + log1p) and Kang 2018 (1,556 PBMC, 4 samples = ctrl/stim x 2 donors, 5 cell
types; all 1,267 genes). Variants, all with k = the number of cell types:

- ``scdcc`` / ``scdcc_batch``: ``tl.scdcc`` with ``batch_key`` None / 'batch';
- ``desc`` / ``desc_batch``: ``tl.desc`` with ``batch_key`` None / 'batch';
- ``pca`` / ``pca_combat``: normalize_total, log1p, (``sc.pp.combat`` on 'batch'), scale
  (max 10), PCA 50, k-means.

Metrics: ARI / NMI of the labels against ``cell_type``; on the embedding (``X_pca`` for the
baselines) iLISI of the batch and cLISI of the cell type (self-contained LISI,
:func:`benchmarks.metrics.lisi`),
both in scib's [0, 1] forms (iLISI (median - 1) / (n_batches - 1), 1 = fully mixed; cLISI
(n_types - median) / (n_types - 1), 1 = cell types kept apart), their raw medians, and the
batch ASW (scib's per-cell-type 1 - |silhouette of batch|, mean over cell types).

Prints one TSV row per (dataset, variant, seed), then with ``--markdown`` a mean ± sd table.

    python -m benchmarks.batches --seeds 0,1,2 --markdown
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .baseline import kmeans_labels, pipeline_pca
from .datasets import BATCHES, DATASETS, load_with_genes
from .metrics import clustering_scores, mixing
from .report import Spread
from .runner import Output

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


def baseline(adata, mask, k: int, seed: int, combat: bool) -> tuple[np.ndarray, np.ndarray]:
    """The scanpy pipeline (with ComBat on 'batch' for ``combat``): (labels, X_pca)."""
    genes = slice(None) if mask is None else adata.var[mask].to_numpy()
    counts = adata.layers["counts"][:, genes]
    b = pipeline_pca(
        counts, seed, obs=adata.obs[["batch"]].copy(), combat_key="batch" if combat else None
    )
    return kmeans_labels(b.obsm["X_pca"], k, seed), b.obsm["X_pca"]


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
    """Markdown table of mean ± sd over the seeds, per dataset and variant."""
    shown = ("ari", "nmi", "ilisi", "clisi", "asw_batch", "n_clusters", "seconds")
    lines = [
        "| dataset | variant | " + " | ".join(shown) + " |",
        "|---|---|" + "---:|" * len(shown),
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["variant"]), []).append(row)
    for (ds, var), group in groups.items():
        cells = [
            Spread.of([r[c] for r in group]).format(
                ".1f" if c in ("n_clusters", "seconds") else ".3f"
            )
            for c in shown
        ]
        lines.append(f"| {ds} | {var} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def score(name: str, variant: str, seed: int, data, k_lisi: int) -> dict:
    """One run of ``variant``: its row of :data:`COLUMNS` (ARI / NMI, mixing, seconds)."""
    adata, mask = data
    truth = adata.obs["cell_type"].to_numpy()
    k = DATASETS[name].k
    start = time.perf_counter()
    labels, emb = run(adata, mask, variant, k, seed)
    seconds = time.perf_counter() - start
    ari, nmi = clustering_scores(labels, truth)
    return {
        "dataset": name,
        "variant": variant,
        "seed": seed,
        "ari": ari,
        "nmi": nmi,
        **mixing(emb, adata.obs["batch"].to_numpy(), truth, k_lisi),
        "n_clusters": len(np.unique(labels)),
        "seconds": seconds,
    }


def format_row(row: dict) -> str:
    """A TSV line: dataset, variant, seed, then :data:`COLUMNS`."""
    cells = [
        f"{row[c]:.1f}" if c == "seconds" else str(row[c]) if c == "n_clusters" else f"{row[c]:.4f}"
        for c in COLUMNS
    ]
    return "\t".join([row["dataset"], row["variant"], str(row["seed"]), *cells])


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.batches", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--datasets", default=",".join(BATCHES), help=f"of {','.join(BATCHES)}")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"of {','.join(VARIANTS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k-lisi", type=int, default=90, help="neighbours of the LISI (perplexity k/3)")
    p.add_argument("--markdown", action="store_true", help="also print a mean ± sd table")
    p.add_argument("--out", default=None, help="also append the TSV rows to this file")
    return p.parse_args(argv)


def main(argv=None) -> None:
    """Run every dataset x variant x seed; print TSV rows, then the markdown table."""
    import torch
    from threadpoolctl import threadpool_limits

    a = parse_args(argv)
    threadpool_limits(a.threads)
    rows = []
    with Output(a.out) as out:
        out("dataset\tvariant\tseed\t" + "\t".join(COLUMNS))
        for name in a.datasets.split(","):
            data = load_with_genes(name)
            for variant in a.variants.split(","):
                for seed in map(int, a.seeds.split(",")):
                    torch.set_num_threads(a.threads)  # numba (scanpy HVG, Leiden) resets it
                    rows.append(score(name, variant, seed, data, a.k_lisi))
                    out(format_row(rows[-1]))
    if a.markdown:
        print()
        print(summary(rows), flush=True)


if __name__ == "__main__":
    main()
