"""Run ``scdeepclust.cli.main`` under torchrun, optionally failing one rank on purpose.

Usage: ``torchrun --standalone --nproc_per_node 2 tests/_ddp_script.py [--fail-rank R
--fail-how raise|kill] -- <scdeepclust arguments>``. The failure hits rank R in the
clustering stage, after one epoch of data-parallel training.

``--constraints IN.h5ad OUT.npy`` instead runs ``tl.scdcc`` from Python with must-link and
cannot-link pairs drawn from ``obs['group']`` (the cannot-link pass leaves the decoder
without gradients) and saves rank 0's labels.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import numpy as np
import torch


def _inject_failure(rank: int, how: str) -> None:
    from scdeepclust.module import engine
    from scdeepclust.module.distributed import process_rank

    original = engine.SelfTraining.__call__

    def failing(self, epoch: int) -> bool:
        if process_rank() == rank and epoch == 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise MemoryError(f"injected failure on rank {rank}")
        return original(self, epoch)

    engine.SelfTraining.__call__ = failing


def constrained_run(src: str, dst: str | None) -> np.ndarray:
    """``tl.scdcc`` with 60 must-link and 60 cannot-link pairs from ``obs['group']``, 3 epochs."""
    import anndata as ad

    import scdeepclust as sdc

    adata = ad.read_h5ad(src)
    groups = adata.obs["group"].to_numpy()
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, adata.n_obs, size=(600, 2))
    same = groups[pairs[:, 0]] == groups[pairs[:, 1]]
    ml, cl = pairs[same][:60], pairs[~same][:60]
    sdc.tl.scdcc(
        adata,
        3,
        pretrain_steps=30,
        must_link=ml,
        cannot_link=cl,
        tol=0.0,
        max_epochs=3,
        progress_bar=False,
    )  # tol 0: all 3 clustering epochs run, each after a cannot-link pass
    labels = adata.obs["scdcc"].astype(int).to_numpy()
    if dst is not None and int(os.environ.get("RANK", "0")) == 0:
        np.save(dst, labels)
    if dst is not None:
        from scdeepclust.module.distributed import finish

        finish()
    return labels


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--constraints", nargs=2, metavar=("IN", "OUT"), default=None)
    parser.add_argument("--fail-rank", type=int, default=None)
    parser.add_argument("--fail-how", choices=["raise", "kill"], default="raise")
    parser.add_argument("cli", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.constraints:
        constrained_run(*args.constraints)
        return 0
    if args.fail_rank is not None:
        _inject_failure(args.fail_rank, args.fail_how)
    from scdeepclust.cli import main as cli_main

    cli_args = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    return cli_main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
