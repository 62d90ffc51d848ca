"""Count preparation: size factors, log-normalisation, per-gene scaling from sparse statistics.

Counts stay sparse; minibatches are densified (and scaled) one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .distributed import Dist


def library_reference(counts: sp.csr_matrix, target_sum: float | None = None) -> float:
    """The library size of size factor 1: ``target_sum``, or the median library size."""
    if target_sum is not None:
        return float(target_sum)
    return float(np.median(np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()))


def size_factors(counts: sp.csr_matrix, reference: float) -> np.ndarray:
    """Size factors s_i = library size / ``reference`` (see :func:`library_reference`).

    Parameters
    ----------
    counts
        Raw counts, n_obs x n_vars, no all-zero cell.
    reference
        Library size (counts per cell) that has size factor 1; the median library size of
        the training cells (scDeepCluster) or a fixed ``target_sum`` (DESC: 1e4).

    Returns
    -------
    float32 array of length n_obs.
    """
    library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    return (library / reference).astype(np.float32)


def log_normalize(counts: sp.csr_matrix, sf: np.ndarray, copy: bool = True) -> sp.csr_matrix:
    """log1p(counts / size factor), CSR with the sparsity of ``counts``.

    ``copy=False`` works in place on a float32 ``counts`` (for a block sliced just before).
    """
    out = sp.csr_matrix(counts, dtype=np.float32, copy=copy)
    out.data /= np.repeat(sf, np.diff(out.indptr))
    np.log1p(out.data, out=out.data)
    return out


def group_mean_std(
    counts: sp.csr_matrix,
    sf: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    chunk_size: int = 32768,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group, per-gene mean and unbiased standard deviation of log1p(counts / sf).

    One pass over row blocks of ``chunk_size`` cells, float64 sums of x and x^2 of the
    non-zeros only: memory is that of one block, never a second copy of the matrix. Genes
    constant within a group get standard deviation 1 (as ``sc.pp.scale``).

    Returns
    -------
    mean, std: float32 arrays of shape n_groups x n_vars.
    """
    n_genes = counts.shape[1]
    s1 = np.zeros((n_groups, n_genes))
    s2 = np.zeros((n_groups, n_genes))
    for start in range(0, counts.shape[0], chunk_size):
        rows = slice(start, start + chunk_size)
        x = log_normalize(counts[rows], sf[rows], copy=False).astype(np.float64)
        block_codes = codes[rows]
        onehot = sp.csr_matrix(
            (np.ones(len(block_codes)), (block_codes, np.arange(len(block_codes)))),
            shape=(n_groups, len(block_codes)),
        )
        s1 += (onehot @ x).toarray()
        x.data **= 2
        s2 += (onehot @ x).toarray()
    n = np.bincount(codes, minlength=n_groups).astype(np.float64)[:, None]
    mean = s1 / np.maximum(n, 1)
    var = (s2 - n * mean**2) / np.maximum(n - 1, 1)
    std = np.sqrt(np.clip(var, 0, None))
    std[std < 1e-12] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


@dataclass
class PreparedData:
    """Model-ready view of the counts of one AnnData.

    Attributes
    ----------
    counts
        Raw counts of the kept genes, n_obs x n_genes, CSR float32: the ZINB target, and
        the source of the input log1p(counts / size factor), computed per minibatch (the
        only copy of the matrix that a run holds).
    size_factors
        Length n_obs.
    group_codes
        Scaling group of each cell (its batch when scaling within batches, else all 0),
        length n_obs.
    mean, std
        Per-group, per-gene scaling statistics, n_groups x n_genes.
    max_value
        Clip of the scaled values to [-max_value, max_value]; None: no clipping.
    library_reference
        Library size of size factor 1 (the median library size of the training cells, or
        ``target_sum``).
    covariate_codes, n_covariates
        Categorical covariates given to the network as one-hot input (the batch in
        batch-aware scDeepCluster, other ``adata.obs`` columns): per cell and column, the
        position of its 1 in the concatenated one-hot vector (n_obs x n_columns), and the
        vector's length; None and 0 without covariates.
    """

    counts: sp.csr_matrix
    size_factors: np.ndarray
    group_codes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    max_value: float | None = None
    library_reference: float = 1.0
    covariate_codes: np.ndarray | None = None
    n_covariates: int = 0

    @property
    def n_obs(self) -> int:  # noqa: D102
        return self.counts.shape[0]

    @property
    def n_genes(self) -> int:  # noqa: D102
        return self.counts.shape[1]

    def to(
        self, device: torch.device, dist: Dist | None = None, row_source: str | None = None
    ) -> DeviceData:
        """Statistics moved to ``device`` (see :class:`DeviceData` for the counts).

        ``dist``: the data-parallel group whose ranks share the minibatches (default: none).
        """
        return DeviceData(self, device, dist, row_source)


def _codes(codes: np.ndarray | None, n_obs: int) -> np.ndarray:
    return np.zeros(n_obs, dtype=np.int64) if codes is None else np.asarray(codes, np.int64)


def prepare(
    counts: sp.csr_matrix,
    *,
    target_sum: float | None = None,
    group_codes: np.ndarray | None = None,
    n_groups: int | None = None,
    max_value: float | None = None,
    covariate_codes: np.ndarray | None = None,
    n_covariates: int = 0,
) -> PreparedData:
    """Fit the preparation on ``counts``: size factors, log-normalisation, z-score statistics.

    The statistics (library reference, per-group mean and std) are computed from these cells;
    :func:`apply_preparation` reuses them on new cells.
    """
    reference = library_reference(counts, target_sum)
    sf = size_factors(counts, reference)
    codes = _codes(group_codes, counts.shape[0])
    mean, std = group_mean_std(counts, sf, codes, n_groups or int(codes.max()) + 1)
    return apply_preparation(
        counts,
        library_reference=reference,
        mean=mean,
        std=std,
        group_codes=codes,
        max_value=max_value,
        covariate_codes=covariate_codes,
        n_covariates=n_covariates,
    )


def apply_preparation(
    counts: sp.csr_matrix,
    *,
    library_reference: float,
    mean: np.ndarray,
    std: np.ndarray,
    group_codes: np.ndarray | None = None,
    max_value: float | None = None,
    covariate_codes: np.ndarray | None = None,
    n_covariates: int = 0,
) -> PreparedData:
    """Prepare ``counts`` with statistics fitted before (on the training cells)."""
    return PreparedData(
        counts,
        size_factors(counts, library_reference),
        _codes(group_codes, counts.shape[0]),
        mean,
        std,
        max_value,
        library_reference,
        None
        if covariate_codes is None
        else np.asarray(covariate_codes, np.int64).reshape(counts.shape[0], -1),
        n_covariates,
    )


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
    """Builds dense minibatches on a device from a :class:`PreparedData`.

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
        data: PreparedData,
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
