"""Trace scDCC pretraining: loss per epoch and the embedding at chosen epochs.

One long pretraining run per dataset and seed replays every stopping rule exactly (a rule
that stops at epoch E leaves the weights the long run had at epoch E), so pretraining
budgets and stopping rules can be compared without rerunning them. Writes
``OUT/<dataset>_s<seed>.npz`` (``loss``, ``z_<epoch>``) and ``OUT/<dataset>_s<seed>_e<E>.pt``
state dicts at the ``--save`` epochs.

    python -m benchmarks.studies.pretraining.trace --dataset pbmc --seed 0 --epochs 150 \
        --worm-genes seurat_v3 --out /tmp/trace
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from benchmarks.datasets import GENE_FLAVORS, load_with_genes

SNAPSHOTS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 125, 150, 200, 250, 300)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--save", default="20,40,80,150")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worm-genes", default="seurat", choices=GENE_FLAVORS)
    p.add_argument("--out", default="/tmp/trace")
    p.add_argument("--param", action="append", default=[], help="key=value model option")
    p.add_argument("--max-value", type=float, default=None, help="clip of the scaled input")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    from scdeepclust.data.state import InputState
    from scdeepclust.module.engine import embed, run_stage
    from scdeepclust.module.scdcc import build_zinb_autoencoder, pretrain_pass
    from scdeepclust.module.utils import seeded

    opts = {"lr": 1e-3, "noise_sd": 2.5, "batch_size": 256}
    opts.update({k: float(v) for k, v in (s.split("=") for s in a.param)})
    adata, mask = load_with_genes(a.dataset, a.worm_genes)
    _, prepared = InputState.fit(adata, layer="counts", mask_var=mask, max_value=a.max_value)
    dev = torch.device("cpu")
    data = prepared.to(dev)
    save = {int(e) for e in a.save.split(",") if e}
    snaps: dict[str, np.ndarray] = {}
    tag = f"{a.dataset}_s{a.seed}" + "".join(f"_{s}" for s in a.param)
    tag += f"_clip{a.max_value:g}" if a.max_value else ""
    rng = np.random.default_rng(a.seed)
    with seeded(a.seed, dev):
        model = build_zinb_autoencoder(prepared.n_genes, (256, 64), 32, opts["noise_sd"])

        def snapshot(epoch: int) -> bool:
            if epoch in SNAPSHOTS:
                snaps[f"z_{epoch}"] = embed(model, data).numpy()
            if epoch in save:
                torch.save(model.state_dict(), os.path.join(a.out, f"{tag}_e{epoch}.pt"))
            return False

        t = time.perf_counter()
        res = run_stage(
            "pretrain",
            model,
            [pretrain_pass(model, data, int(opts["batch_size"]), rng)],
            torch.optim.Adam(model.parameters(), lr=opts["lr"], amsgrad=True, fused=True),
            a.epochs + 1,
            before_epoch=lambda e: snapshot(e) or e >= a.epochs,
        )
        secs = time.perf_counter() - t
    np.savez(os.path.join(a.out, f"{tag}.npz"), loss=res.history["zinb"], seconds=secs, **snaps)
    print(f"{tag}: {res.n_epochs} epochs, {secs:.0f} s, loss {res.history['zinb'][-1]:.4f}")


if __name__ == "__main__":
    main()
