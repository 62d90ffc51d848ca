"""Per-stage seconds and seconds per epoch of both tools on 10X PBMC, with the matmul bound.

Run it with nothing else on the machine (``make benchmark-timing``).

    python -m benchmarks.timing --threads 2 --precision float32,bfloat16

(``torch.compile`` of scdcc's ZINB loss, once an option of this script that replaced the
package's function, is recorded in ``benchmarks/studies/model_variants``.)
"""

from __future__ import annotations

import argparse
import time

from .datasets import DATASETS, load_dataset
from .runner import Output


def matmul_gflop_per_epoch(n_obs: int, dims: list[int]) -> float:
    """Forward + backward (3x forward) multiply-adds of the dense layers, in GFLOP."""
    macs = sum(a * b for a, b in zip(dims[:-1], dims[1:], strict=True))
    return 3 * 2 * macs * n_obs / 1e9


def main() -> None:
    """Parse the command line and print the timings."""
    import torch

    p = argparse.ArgumentParser(
        prog="python -m benchmarks.timing", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="float32,bfloat16", help="comma-separated")
    p.add_argument("--tools", default="scdcc,desc")
    p.add_argument("--out", default=None, help="also append the printed lines to this file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    adata = load_dataset("pbmc")
    with Output(a.out) as out:
        report(adata, a.tools.split(","), a.precision.split(","), out)


def report(adata, tools, precisions, out) -> None:
    """Print the matmul bound, then one line per tool and precision."""
    from sklearn.metrics import adjusted_rand_score

    import scdeepclust as sdc

    n, g = adata.shape
    # scDCC: encoder g-256-64-32, decoder 32-64-256 and the three 256 x g heads
    flop = matmul_gflop_per_epoch(n, [g, 256, 64, 32, 64, 256]) + 3 * 2 * 256 * 3 * g * n / 1e9
    out(
        f"PBMC {n} cells x {g} genes; scdcc matmul work per pretraining epoch {flop:.0f} "
        f"GFLOP; at 120-170 GFLOP/s (fp32, 2 threads) >= {flop / 170:.2f}-{flop / 120:.2f} "
        "s per epoch"
    )
    for tool in tools:
        for precision in precisions:
            t = time.perf_counter()
            res = getattr(sdc.tl, tool)(
                adata,
                n_clusters=DATASETS["pbmc"].k,
                random_state=0,
                copy=True,
                progress_bar=False,
                precision=precision,
            )
            total = time.perf_counter() - t
            uns = res.uns[tool]
            sec, ep = uns["seconds"], uns["n_epochs"]
            ari = adjusted_rand_score(res.obs["cell_type"], res.obs[tool])
            per = {s: sec[s] / max(int(ep[s]), 1) for s in ("pretrain", "cluster")}
            out(
                f"{tool} {precision}: total {total:.1f} s, ARI {ari:.3f}; "
                + ", ".join(f"{k} {v:.1f} s" for k, v in sec.items())
                + f"; epochs {int(ep['pretrain'])}/{int(ep['cluster'])}; s/epoch pretrain "
                f"{per['pretrain']:.3f}, cluster {per['cluster']:.3f}"
            )


if __name__ == "__main__":
    main()
