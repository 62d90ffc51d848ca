"""Minibatches on a device: rows of the sparse counts, log-normalised and scaled one at a time.

:class:`DeviceData` reads a prepared count source (``scdeepclust.data.preparation.
PreparedData``: counts, size factors, scaling statistics, covariates) and builds each
minibatch where the model trains; the statistics themselves are fitted in ``data/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch

from .distributed import Dist


def log_normalize(counts: sp.csr_matrix, sf: np.ndarray, copy: bool = True) -> sp.csr_matrix:
    """log1p(counts / size factor), CSR with the sparsity of ``counts``.

    ``copy=False`` works in place on a float32 ``counts`` (for a block sliced just before).
    """
    out = sp.csr_matrix(counts, dtype=np.float32, copy=copy)
    out.data /= np.repeat(sf, np.diff(out.indptr))
    np.log1p(out.data, out=out.data)
    return out


class CountSource(Protocol):
    """What :class:`DeviceData` reads (``scdeepclust.data.preparation.PreparedData``)."""

    counts: sp.csr_matrix
    size_factors: np.ndarray
    group_codes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    max_value: float | None
    covariate_codes: np.ndarray | None
    n_covariates: int

    @property
    def n_obs(self) -> int: ...  # noqa: D102

    @property
    def n_genes(self) -> int: ...  # noqa: D102


#: Where minibatch rows are sliced: on the host into a dense block (CPU devices), on the host
#: into sparse triplets copied to the device (pinned, non-blocking), or on the device from
#: a CSR copy held there.
ROW_SOURCES = ("host-dense", "host-sparse", "device")

#: The CSR goes to a CUDA device when it takes at most this fraction of its free memory.
DEVICE_CSR_FRACTION = 0.5


def csr_nbytes(counts: sp.csr_matrix) -> int:
    """Bytes of the device copy of ``counts``: float32 values, int32 columns, int64 rows."""
    return counts.nnz * 8 + (counts.shape[0] + 1) * 8


def choose_row_source(counts: sp.csr_matrix, device: torch.device) -> str:
    """``"host-dense"`` on the CPU; on CUDA ``"device"`` when the CSR fits, else host-sparse."""
    if device.type != "cuda":
        return "host-dense"
    free, _ = torch.cuda.mem_get_info(device)
    return "device" if csr_nbytes(counts) <= DEVICE_CSR_FRACTION * free else "host-sparse"


@dataclass
class SparseRows:
    """Non-zero counts of a minibatch on the device: row in the block, gene, count, log1p."""

    rows: torch.Tensor
    cols: torch.Tensor
    counts: torch.Tensor
    lognorm: torch.Tensor


class DeviceData:
    """Builds dense minibatches on a device from a prepared count source (:class:`CountSource`).

    ``dist`` is the data-parallel group (:class:`Dist`): each rank takes its shard of every
    minibatch and embeds its shard of the cells. ``row_source`` (one of
    :data:`ROW_SOURCES`; default :func:`choose_row_source`) says where the rows of a
    minibatch are sliced: on a GPU the CSR is copied to the device when it fits, and
    minibatches are sliced there; otherwise the sparse rows are sliced on the host and
    copied through pinned memory without blocking. Only the non-zeros travel, and the dense
    block is built on the device.
    """

    def __init__(
        self,
        data: CountSource,
        device: torch.device,
        dist: Dist | None = None,
        row_source: str | None = None,
    ):
        self.data = data
        self.device = device
        self.dist = dist or Dist()
        self.row_source = row_source or choose_row_source(data.counts, device)
        if self.row_source not in ROW_SOURCES:
            raise ValueError(f"row_source must be one of {ROW_SOURCES}, found {row_source!r}")
        self.mean = torch.from_numpy(data.mean).to(device)
        self.inv_std = torch.from_numpy(1.0 / data.std).to(device)
        self.codes = torch.from_numpy(data.group_codes).to(device)
        self.size_factors = torch.from_numpy(data.size_factors).to(device)
        self.covariate_codes = (
            None
            if data.covariate_codes is None
            else torch.from_numpy(data.covariate_codes).to(device)
        )
        if self.row_source == "device":
            c = data.counts
            self.indptr = torch.from_numpy(c.indptr.astype(np.int64)).to(device)
            self.indices = torch.from_numpy(c.indices.astype(np.int32, copy=False)).to(device)
            self.values = torch.from_numpy(c.data).to(device)

    @property
    def n_obs(self) -> int:  # noqa: D102
        return self.data.n_obs

    def _index(self, idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(self.device)

    def scaled(self, idx: np.ndarray, counts: sp.csr_matrix | None = None) -> torch.Tensor:
        """Scaled log-normalised expression of cells ``idx``, len(idx) x n_genes.

        ``counts``: their rows of the counts when the caller has sliced them already.
        """
        idx = np.asarray(idx)
        if self.row_source != "host-dense":
            return self._dense(idx, self._sparse_rows(idx, counts))
        block = self.data.counts[idx] if counts is None else counts.copy()
        dense = log_normalize(block, self.data.size_factors[idx], copy=False).toarray()
        return self._standardise(idx, torch.from_numpy(dense).to(self.device))

    def _standardise(self, idx: np.ndarray, x: torch.Tensor) -> torch.Tensor:
        codes = self.codes[self._index(idx)]
        x = (x - self.mean[codes]) * self.inv_std[codes]
        if self.data.max_value is not None:
            x = x.clamp(-self.data.max_value, self.data.max_value)
        return x

    def _dense(self, idx: np.ndarray, nz: SparseRows) -> torch.Tensor:
        x = torch.zeros((len(idx), self.data.n_genes), device=self.device)
        x[nz.rows, nz.cols] = nz.lognorm
        return self._standardise(idx, x)

    def _sparse_rows(self, idx: np.ndarray, counts: sp.csr_matrix | None = None) -> SparseRows:
        """The non-zeros of rows ``idx`` on the device, in CSR order (rows, then genes)."""
        if self.row_source == "device":
            t_idx = self._index(idx)
            starts = self.indptr[t_idx]
            lengths = self.indptr[t_idx + 1] - starts
            rows = torch.repeat_interleave(torch.arange(len(idx), device=self.device), lengths)
            first = torch.cumsum(lengths, 0) - lengths
            pos = starts[rows] + torch.arange(len(rows), device=self.device) - first[rows]
            values = self.values[pos]
            lognorm = torch.log1p(values / self.size_factors[t_idx][rows])
            return SparseRows(rows, self.indices[pos].long(), values, lognorm)
        block = self.data.counts[idx] if counts is None else counts
        lognorm = log_normalize(block, self.data.size_factors[idx], copy=True).data
        rows = np.repeat(np.arange(len(idx), dtype=np.int64), np.diff(block.indptr))
        return SparseRows(
            *(
                self._transfer(a)
                for a in (rows, block.indices.astype(np.int64), block.data, lognorm)
            )
        )

    def _transfer(self, array: np.ndarray) -> torch.Tensor:
        """Host array to the device: through pinned memory, non-blocking, on CUDA."""
        t = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def covariate(self, idx: np.ndarray) -> torch.Tensor | None:
        """One-hot covariates of cells ``idx`` (len(idx) x n_covariates, float32), or None.

        One block per covariate column, concatenated: a 1 at each of the cell's codes.
        """
        if self.covariate_codes is None:
            return None
        codes = self.covariate_codes[self._index(idx)]
        out = torch.zeros((len(codes), self.data.n_covariates), device=codes.device)
        return out.scatter_(1, codes, 1.0)

    def batch(self, idx: np.ndarray, with_counts: bool = True) -> dict[str, torch.Tensor]:
        """Scaled input ``x`` of cells ``idx``; with ``with_counts`` also their raw counts.

        The counts come sparse: ``nz_index`` (flat row-major positions of the non-zero counts
        in the len(idx) x n_genes block), ``nz_counts`` (their values), and ``size_factors``.
        With a batch covariate, ``covariate`` holds its one-hot rows.
        """
        if self.row_source == "host-dense":
            block = self.data.counts[idx]
            out = {"x": self.scaled(idx, block)}
            rows = np.repeat(np.arange(block.shape[0], dtype=np.int64), np.diff(block.indptr))
            flat = torch.from_numpy(rows * block.shape[1] + block.indices)
            nz_counts = torch.from_numpy(block.data)
        else:
            nz = self._sparse_rows(idx)
            out = {"x": self._dense(idx, nz)}
            flat, nz_counts = nz.rows * self.data.n_genes + nz.cols, nz.counts
        covariate = self.covariate(idx)
        if covariate is not None:
            out["covariate"] = covariate
        if with_counts:
            out["nz_index"] = flat.to(self.device)
            out["nz_counts"] = nz_counts.to(self.device)
            out["size_factors"] = self.size_factors[self._index(idx)]
        return out


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index blocks of size ``batch_size`` over ``range(n)``, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield np.sort(order[start : start + batch_size])
