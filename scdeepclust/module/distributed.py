"""Data-parallel training with ``torch.distributed`` when launched under ``torchrun``.

The same tool call runs in every process (rank). Each rank holds the prepared data and takes
its own shard of every global minibatch (``batch_size`` cells split evenly over the ranks), so
a run on W ranks makes the same optimizer steps with the same global minibatches as a run in
one process; :class:`torch.nn.parallel.DistributedDataParallel` all-reduces (averages) the
gradients in the backward pass. Each rank embeds a contiguous shard of the cells and the
embeddings are all-gathered, so q, the target distribution p and the convergence test are
computed over all cells, identically on every rank. Rank 0 initialises the centres and
broadcasts them. Backend: NCCL on CUDA devices, gloo on the CPU.

Without ``torchrun`` (``WORLD_SIZE`` unset or 1) every helper here is a no-op.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


class PeerFailureError(RuntimeError):
    """Another process of a data-parallel run failed (or was stopped); this one cannot go on."""


@dataclass(frozen=True)
class Dist:
    """Rank of this process and number of processes of the run (0 and 1: not distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:  # noqa: D102
        return self.world_size > 1

    @property
    def is_main(self) -> bool:  # noqa: D102
        return self.rank == 0

    def shard_range(self, n: int) -> tuple[int, int]:
        """The contiguous rows ``[start, stop)`` of ``n`` that this rank handles."""
        bounds = _bounds(n, self.world_size)
        return int(bounds[self.rank]), int(bounds[self.rank + 1])

    def shard(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """The part of each global minibatch of indices that falls to this rank.

        Each block is split into ``world_size`` near-equal parts; a block with fewer indices
        than ranks (at most the last of an epoch) is skipped by every rank alike, so all
        ranks make the same number of optimizer steps.
        """
        if not self.enabled:
            yield from blocks
            return
        for block in blocks:
            if len(block) >= self.world_size:
                yield np.array_split(block, self.world_size)[self.rank]

    def all_gather_rows(self, local: torch.Tensor, n: int) -> torch.Tensor:
        """Concatenate every rank's ``local`` rows (its :meth:`shard_range` of ``n``)."""
        if not self.enabled:
            return local
        sizes = np.diff(_bounds(n, self.world_size)).tolist()
        padded = local.new_zeros((max(sizes), *local.shape[1:]))
        padded[: len(local)] = local
        parts = [torch.empty_like(padded) for _ in sizes]
        _collective(dist.all_gather, parts, padded.contiguous())
        return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)])

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``values`` over all ranks."""
        if not self.enabled:
            return values
        values = values.clone()
        _collective(dist.all_reduce, values, op=dist.ReduceOp.SUM)
        return values

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable objects, e.g. numpy arrays)."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        _collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def wrap(self, module: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
        """``module`` inside DistributedDataParallel (gradients averaged over ranks), or as is.

        ``find_unused_parameters``: some steps leave parameters without a gradient (DDP then
        traverses the autograd graph at every step to find them).
        """
        if not self.enabled:
            return module
        try:
            return nn.parallel.DistributedDataParallel(
                module, find_unused_parameters=find_unused_parameters
            )
        except (RuntimeError, dist.DistError) as err:
            raise _peer_failure(err) from err


def _bounds(n: int, parts: int) -> np.ndarray:
    return np.linspace(0, n, parts + 1).astype(np.int64)


def _peer_failure(err: BaseException) -> PeerFailureError:
    return PeerFailureError(
        "lost another process of this data-parallel run (a rank failed or was stopped; its "
        "own error is above). No output was written. "
        f"({' '.join(str(err).split())[:200]})"
    )


def _collective(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except (RuntimeError, dist.DistError) as err:
        raise _peer_failure(err) from err


def current() -> Dist:
    """The rank and world size of the initialised process group (else rank 0 of 1)."""
    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    return Dist()


def launched_world_size() -> int:
    """Number of processes ``torchrun`` started (``WORLD_SIZE``), 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """Rank of this process: the process group's, else ``RANK`` set by torchrun, else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_device(device: torch.device) -> torch.device:
    """Under torchrun, ``cuda`` without an index means this rank's GPU (``LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def init_from_env(device: torch.device) -> Dist:
    """Join the process group that torchrun describes; rank 0 of 1 outside torchrun.

    The backend is NCCL on CUDA devices and gloo otherwise. The group is created once per
    process (and destroyed at exit); an existing group is used as is.
    """
    if launched_world_size() <= 1 or not dist.is_available():
        return current()
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL's collectives use the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_destroy)
    return current()


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def finish() -> None:
    """Wait for every rank, then leave the process group (the end of a successful run).

    Ranks that exit while another is still writing its outputs can see the closed connection
    in gloo's background threads and abort (SIGABRT); leaving together avoids that. Not
    called on errors: a barrier would wait for a rank that is gone.
    """
    if launched_world_size() > 1 and dist.is_available() and dist.is_initialized():
        _collective(dist.barrier)
        dist.destroy_process_group()
