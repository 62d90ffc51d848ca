"""Run ``scdeepclust.cli.main`` under torchrun, optionally failing one rank on purpose.

Usage: ``torchrun --standalone --nproc_per_node 2 tests/_ddp_script.py [--fail-rank R
--fail-how raise|kill] -- <scdeepclust arguments>``. The failure hits rank R in the
clustering stage, after one epoch of data-parallel training.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-rank", type=int, default=None)
    parser.add_argument("--fail-how", choices=["raise", "kill"], default="raise")
    parser.add_argument("cli", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.fail_rank is not None:
        _inject_failure(args.fail_rank, args.fail_how)
    from scdeepclust.cli import main as cli_main

    cli_args = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    return cli_main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
