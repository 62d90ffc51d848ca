"""Run the scDCC authors' own PyTorch code on the shared datasets, for a side-by-side figure.

Needs a checkout of https://github.com/ttgump/scDCC (its ``scDCC.py`` and ``layers.py``; no
code of it is copied here). Runs what its ``scDCC_pairwise.py`` main runs with
``--n_pairwise 0`` (that is, scDeepCluster), on CPU, one torch thread:

- DCA preprocessing: genes and cells with at least one count, ``normalize_per_cell``, size
  factors = n_counts / median, ``log1p``, ``scale``;
- sigma 2.5, z 32, encoder [256, 64], decoder [64, 256], gamma 1;
- ``pretrain_autoencoder``: 300 epochs (``--pretrain-epochs``), Adam (amsgrad) lr 1e-3, batch 256;
- ``fit``: k-means (n_init 20) with the annotated k, Adadelta lr 1, maxiter 2000, tol 0.001.

The reference sets no seed; here numpy's and torch's are set to each ``--seeds`` value. Its
``.cuda()`` calls are made no-ops, and ``cluster_acc`` (printed only) comes from a small
stand-in module, since ``utils.py`` has changed across the repository's history. Data and the
annotated k come from :mod:`benchmarks.datasets` (the package's loaders); worm keeps the
authors' 2,000 genes (gene flavour ``"authors"``, in the full file's gene order). Prints
one TSV row per run, with seconds per epoch of each stage.

``--time-epochs N`` times the code only: N pretraining epochs, then at most N clustering
epochs (compare with ``python -m benchmarks.timing`` at the same ``--threads`` on a quiet machine):

    git clone https://github.com/ttgump/scDCC ../scDCC
    SCDEEPCLUST_DATASETDIR=../shared/data python -m benchmarks.authors \
        --ref-dir ../scDCC --datasets pbmc,bladder,worm,cite --seeds 0,1,2
    python -m benchmarks.authors --ref-dir ../scDCC --datasets pbmc --seeds 0 \
        --time-epochs 3 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
import time
import types

import numpy as np

from .datasets import DATASETS, load_dataset, select_genes
from .runner import Output


def cluster_acc(y_true, y_pred):
    """Best one-to-one matching accuracy (printed by the reference code only)."""
    from scipy.optimize import linear_sum_assignment

    y_true = np.asarray(y_true).astype(np.int64)  # CITE's labels are stored as floats
    size = int(max(y_pred.max(), y_true.max())) + 1
    w = np.zeros((size, size), dtype=np.int64)
    np.add.at(w, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(w.max() - w)
    return w[rows, cols].sum() / y_pred.size


def import_reference(ref_dir: str):
    """The reference ``scDCC`` class, running on CPU."""
    import torch

    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    sys.modules["utils"] = types.SimpleNamespace(cluster_acc=cluster_acc)
    sys.path.insert(0, os.path.abspath(ref_dir))
    from scDCC import scDCC

    return scDCC


def dca_normalize(x: np.ndarray):
    """The reference's ``read_dataset`` + ``normalize`` (DCA preprocessing)."""
    import scanpy as sc

    adata = sc.AnnData(x.astype(np.float32))
    sc.pp.filter_genes(adata, min_counts=1)
    sc.pp.filter_cells(adata, min_counts=1)
    adata.raw = adata.copy()
    sc.pp.normalize_per_cell(adata)
    adata.obs["size_factors"] = adata.obs.n_counts / np.median(adata.obs.n_counts)
    sc.pp.log1p(adata)
    sc.pp.scale(adata)
    return adata


def counts_and_labels(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense raw counts (n_obs x n_vars) and integer cell-type labels of a shared dataset."""
    adata = load_dataset(name)
    mask_var, _ = select_genes(adata, DATASETS[name].n_top_genes, flavor="authors")
    if mask_var is not None:
        adata = adata[:, adata.var[mask_var].to_numpy()]
    counts = adata.layers["counts"]
    x = counts.toarray() if hasattr(counts, "toarray") else np.asarray(counts)
    return x, adata.obs["cell_type"].cat.codes.to_numpy()


def run_one(scdcc_class, name: str, seed: int, epochs: int, max_cluster_epochs: int = 2000) -> dict:
    """One run of the reference code: scores, epochs and seconds."""
    import torch
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    x, y = counts_and_labels(name)
    k = DATASETS[name].k
    np.random.seed(seed)
    torch.manual_seed(seed)
    adata = dca_normalize(x)
    model = scdcc_class(
        input_dim=adata.n_vars,
        z_dim=32,
        n_clusters=k,
        encodeLayer=[256, 64],
        decodeLayer=[64, 256],
        sigma=2.5,
        gamma=1.0,
    )
    log = io.StringIO()
    with contextlib.redirect_stdout(log), tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model.pretrain_autoencoder(
            x=adata.X,
            X_raw=adata.raw.X,
            size_factor=adata.obs.size_factors,
            batch_size=256,
            epochs=epochs,
            ae_weights=os.path.join(tmp, "ae.pth.tar"),
        )
        t1 = time.perf_counter()
        model.fit(
            X=adata.X,
            X_raw=adata.raw.X,
            sf=adata.obs.size_factors,
            y=y,
            batch_size=256,
            num_epochs=max_cluster_epochs,
            update_interval=1,
            tol=0.001,
            save_dir=tmp,
        )
        t2 = time.perf_counter()
    labels = np.asarray(model.y_pred)  # the labels of the last refresh of q
    text = log.getvalue()
    init = re.search(r"Initializing k-means:.*ARI= ([0-9.]+)", text)
    n_cluster = len(re.findall(r"^#Epoch", text, re.M))
    return {
        "ari": adjusted_rand_score(y, labels),
        "nmi": normalized_mutual_info_score(y, labels),
        "ari_init": float(init.group(1)) if init else float("nan"),
        "epochs_cluster": n_cluster,
        "s_pretrain": t1 - t0,
        "s_cluster": t2 - t1,
        "s_per_epoch_pretrain": (t1 - t0) / epochs,
        "s_per_epoch_cluster": (t2 - t1) / max(n_cluster, 1),
    }


def main() -> None:
    import torch

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.authors", description=__doc__.splitlines()[0]
    )
    p.add_argument("--ref-dir", required=True, help="checkout of ttgump/scDCC")
    p.add_argument("--datasets", default="pbmc,bladder,worm,cite")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--pretrain-epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-epochs", type=int, default=None, help="time N epochs per stage")
    p.add_argument("--out", default=None, help="also append the TSV rows to this file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    scdcc_class = import_reference(a.ref_dir)
    pre, clu = (a.time_epochs, a.time_epochs) if a.time_epochs else (a.pretrain_epochs, 2000)
    with Output(a.out) as out:
        out(
            "dataset\tseed\tari\tnmi\tari_init\tepochs_pretrain\tepochs_cluster\ts_pretrain"
            "\ts_cluster\ts_total\ts_per_epoch_pretrain\ts_per_epoch_cluster"
        )
        for seed in map(int, a.seeds.split(",")):
            for name in a.datasets.split(","):
                r = run_one(scdcc_class, name, seed, pre, clu)
                out(
                    f"{name}\t{seed}\t{r['ari']:.4f}\t{r['nmi']:.4f}\t{r['ari_init']:.4f}\t{pre}"
                    f"\t{r['epochs_cluster']}\t{r['s_pretrain']:.1f}\t{r['s_cluster']:.1f}"
                    f"\t{r['s_pretrain'] + r['s_cluster']:.1f}\t{r['s_per_epoch_pretrain']:.2f}"
                    f"\t{r['s_per_epoch_cluster']:.2f}"
                )


if __name__ == "__main__":
    main()
