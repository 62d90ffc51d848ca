"""Count preparation fitted on the training cells: size factors, per-gene scaling statistics.

Counts stay sparse. :func:`prepare` fits the statistics (library reference, per-group mean
and std of log1p(counts / size factor)) from sparse sums; :func:`apply_preparation` reuses
them on new cells. The per-minibatch work (slicing rows, log-normalising and scaling them
on the device) is :class:`scdeepclust.module.device_data.DeviceData`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from ..module.device_data import DeviceData, log_normalize
from ..module.distributed import Dist


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
