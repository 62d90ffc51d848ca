"""Per-stage seconds and seconds per epoch of both tools on 10X PBMC, with the matmul bound.

Run it with nothing else on the machine.

    python benchmarks/timing.py --threads 2 --precision float32,bfloat16

``--compile-loss`` wraps scdcc's ZINB loss (``zinb_nll_mean_sparse``) in ``torch.compile``
(inductor, dynamic shapes: the number of non-zero counts differs between minibatches) in this
process only, to measure that lever; the compilation time is part of the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def matmul_gflop_per_epoch(n_obs: int, dims: list[int]) -> float:
    """Forward + backward (3x forward) multiply-adds of the dense layers, in GFLOP."""
    macs = sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))
    return 3 * 2 * macs * n_obs / 1e9


def compile_zinb_loss() -> None:
    """Replace scdcc's ZINB loss by its ``torch.compile`` version (this process only)."""
    import torch

    from scdeepclust.module import losses, scdcc

    scdcc.zinb_nll_mean_sparse = torch.compile(losses.zinb_nll_mean_sparse, dynamic=True)


def main() -> None:
    import torch
    from sklearn.metrics import adjusted_rand_score

    import scdeepclust as sdc

    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="float32,bfloat16")
    p.add_argument("--tools", default="scdcc,desc")
    p.add_argument("--compile-loss", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.compile_loss:
        compile_zinb_loss()
    adata = _common.load("pbmc")
    n, g = adata.shape
    # scDCC: encoder g-256-64-32, decoder 32-64-256 and the three 256 x g heads
    flop = matmul_gflop_per_epoch(n, [g, 256, 64, 32, 64, 256]) + 3 * 2 * 256 * 3 * g * n / 1e9
    print(
        f"PBMC {n} cells x {g} genes; scdcc matmul work per pretraining epoch {flop:.0f} "
        f"GFLOP; at 120-170 GFLOP/s (fp32, 2 threads) >= {flop / 170:.2f}-{flop / 120:.2f} "
        "s per epoch"
    )
    for tool in a.tools.split(","):
        for precision in a.precision.split(","):
            t = time.perf_counter()
            out = getattr(sdc.tl, tool)(
                adata,
                n_clusters=8,
                random_state=0,
                copy=True,
                progress_bar=False,
                precision=precision,
            )
            total = time.perf_counter() - t
            uns = out.uns[tool]
            sec, ep = uns["seconds"], uns["n_epochs"]
            ari = adjusted_rand_score(out.obs["cell_type"], out.obs[tool])
            per = {s: sec[s] / max(int(ep[s]), 1) for s in ("pretrain", "cluster")}
            print(
                f"{tool} {precision}: total {total:.1f} s, ARI {ari:.3f}; "
                + ", ".join(f"{k} {v:.1f} s" for k, v in sec.items())
                + f"; epochs {int(ep['pretrain'])}/{int(ep['cluster'])}; s/epoch pretrain "
                f"{per['pretrain']:.3f}, cluster {per['cluster']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
