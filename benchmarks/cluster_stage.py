"""Run scDCC's clustering stage from a traced pretrained state, with stage variants.

Loads ``TRACE/<dataset>_s<seed>_e<epoch>.pt`` (from ``scdcc_pretrain_trace.py``), initialises
the centres and runs the clustering stage; prints ARI of the initial and final labels,
epochs, what ended the stage and seconds, one TSV row per run.

    python benchmarks/cluster_stage.py --datasets pbmc --seeds 0,1,2 --epoch 40 \
        --variant base: --variant lr01:lr=0.1
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402
from variants import parse_variant  # noqa: E402


def main() -> None:
    from sklearn.metrics import adjusted_rand_score as ari

    from scdeepclust.data.state import InputState
    from scdeepclust.models import _training as workflow
    from scdeepclust.module.engine import run_stage
    from scdeepclust.module.scdcc import build_zinb_autoencoder, clustering_passes
    from scdeepclust.module.utils import seeded

    p = argparse.ArgumentParser()
    p.add_argument("--trace", default="/tmp/trace")
    p.add_argument("--datasets", default="pbmc,bladder,worm,cite")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epoch", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variant", action="append", default=[])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(
        "variant\tdataset\tseed\tepoch\tari_init\tari\tclusters\tepochs\tstopped\tlast_changes"
        "\tseconds",
        flush=True,
    )
    for name in a.datasets.split(","):
        adata = _common.load(name)
        mask = "highly_variable" if "highly_variable" in adata.var else None
        truth = adata.obs["cell_type"].to_numpy()
        _, prepared = InputState.fit(adata, layer="counts", mask_var=mask)
        dev = torch.device("cpu")
        data = prepared.to(dev)
        for vname, opt in map(parse_variant, a.variant or ["base:"]):
            o = {
                "lr": 1.0,
                "gamma": 1.0,
                "update_interval": 1,
                "tol": 1e-3,
                "max_epochs": 300,
                "k": "given",
                "resolution": 0.8,
                "n_neighbors": 20,
                "rho": 0.95,
                **opt,
            }
            for seed in map(int, a.seeds.split(",")):
                path = os.path.join(a.trace, f"{name}_s{seed}_e{a.epoch}.pt")
                if not os.path.exists(path):
                    continue
                t = time.perf_counter()
                with seeded(seed + 100, dev):
                    model = build_zinb_autoencoder(prepared.n_genes, (256, 64), 32, 2.5)
                    model.load_state_dict(torch.load(path, weights_only=True))
                    k = _common.K[name] if o["k"] == "given" else None
                    centers, init = workflow.init_head(
                        model,
                        data,
                        n_clusters=k,
                        resolution=o["resolution"],
                        n_neighbors=o["n_neighbors"],
                        alpha=1.0,
                        random_state=seed,
                        timer=workflow.Timer(),
                    )
                    target = workflow.self_training(
                        model, data, init, update_interval=o["update_interval"], tol=o["tol"]
                    )
                    rng = np.random.default_rng(seed + 100)
                    passes = clustering_passes(
                        model,
                        data,
                        target,
                        gamma=o["gamma"],
                        batch_size=256,
                        rng=rng,
                        must_link=np.zeros((0, 2), int),
                        cannot_link=np.zeros((0, 2), int),
                        ml_weight=1.0,
                        cl_weight=1.0,
                    )
                    opt_ = torch.optim.Adadelta(model.parameters(), lr=o["lr"], rho=o["rho"])
                    res = run_stage(
                        "cluster", model, passes, opt_, int(o["max_epochs"]), before_epoch=target
                    )
                    _, q = workflow.final_outputs(model, data)
                labels = q.argmax(1)
                ch = ",".join(f"{x:.4f}" for x in target.delta[-3:])
                print(
                    f"{vname}\t{name}\t{seed}\t{a.epoch}\t{ari(truth, init):.4f}"
                    f"\t{ari(truth, labels):.4f}\t{len(np.unique(labels))}\t{res.n_epochs}"
                    f"\t{res.stopped_by}\t{ch}\t{time.perf_counter() - t:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
