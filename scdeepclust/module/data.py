"""Count preparation: size factors, log-normalisation, per-gene scaling from sparse statistics.

Counts stay sparse; minibatches are densified (and scaled) one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

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
        Batch code of each cell given to the network as a one-hot covariate (batch-aware
        scDeepCluster), and the number of batches; None and 0 without one.
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

    def to(self, device: torch.device, dist: Dist | None = None) -> DeviceData:
        """Statistics moved to ``device``; the matrices stay on the host.

        ``dist``: the data-parallel group whose ranks share the minibatches (default: none).
        """
        return DeviceData(self, device, dist or Dist())


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
        None if covariate_codes is None else np.asarray(covariate_codes, np.int64),
        n_covariates,
    )


class DeviceData:
    """Builds dense minibatches on a device from a :class:`PreparedData`.

    ``dist`` is the data-parallel group (:class:`Dist`): each rank takes its shard of every
    minibatch and embeds its shard of the cells.
    """

    def __init__(self, data: PreparedData, device: torch.device, dist: Dist | None = None):
        self.data = data
        self.device = device
        self.dist = dist or Dist()
        self.mean = torch.from_numpy(data.mean).to(device)
        self.inv_std = torch.from_numpy(1.0 / data.std).to(device)
        self.codes = torch.from_numpy(data.group_codes).to(device)
        self.size_factors = torch.from_numpy(data.size_factors).to(device)
        self.covariate_codes = (
            None
            if data.covariate_codes is None
            else torch.from_numpy(data.covariate_codes).to(device)
        )

    @property
    def n_obs(self) -> int:  # noqa: D102
        return self.data.n_obs

    def scaled(self, idx: np.ndarray, counts: sp.csr_matrix | None = None) -> torch.Tensor:
        """Scaled log-normalised expression of cells ``idx``, len(idx) x n_genes.

        ``counts``: their rows of the counts when the caller has sliced them already.
        """
        idx = np.asarray(idx)
        codes = self.codes[torch.from_numpy(idx).to(self.device)]
        block = self.data.counts[idx] if counts is None else counts.copy()
        dense = log_normalize(block, self.data.size_factors[idx], copy=False).toarray()
        x = torch.from_numpy(dense).to(self.device, non_blocking=True)
        x = (x - self.mean[codes]) * self.inv_std[codes]
        if self.data.max_value is not None:
            x = x.clamp(-self.data.max_value, self.data.max_value)
        return x

    def covariate(self, idx: np.ndarray) -> torch.Tensor | None:
        """One-hot batch covariate of cells ``idx`` (len(idx) x n_covariates), or None."""
        if self.covariate_codes is None:
            return None
        codes = self.covariate_codes[torch.from_numpy(np.asarray(idx)).to(self.device)]
        return F.one_hot(codes, self.data.n_covariates).float()

    def batch(self, idx: np.ndarray, with_counts: bool = True) -> dict[str, torch.Tensor]:
        """Scaled input ``x`` of cells ``idx``; with ``with_counts`` also their raw counts.

        The counts come sparse: ``nz_index`` (flat row-major positions of the non-zero counts
        in the len(idx) x n_genes block), ``nz_counts`` (their values), and ``size_factors``.
        With a batch covariate, ``covariate`` holds its one-hot rows.
        """
        block = self.data.counts[idx]
        out = {"x": self.scaled(idx, block)}
        covariate = self.covariate(idx)
        if covariate is not None:
            out["covariate"] = covariate
        if with_counts:
            rows = np.repeat(np.arange(block.shape[0], dtype=np.int64), np.diff(block.indptr))
            flat = rows * block.shape[1] + block.indices
            out["nz_index"] = torch.from_numpy(flat).to(self.device)
            out["nz_counts"] = torch.from_numpy(block.data).to(self.device)
            t_idx = torch.from_numpy(np.asarray(idx)).to(self.device)
            out["size_factors"] = self.size_factors[t_idx]
        return out


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index blocks of size ``batch_size`` over ``range(n)``, shuffled when ``rng`` is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield np.sort(order[start : start + batch_size])
