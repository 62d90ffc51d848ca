"""Shared pytest fixtures of the scdeepclust test suite."""

import os
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------
# Datasets: point scdeepclust.datasets at the shared, read-only data folder
# ---------------------------------------------------------------------------

#: ``<repo root>/../shared/data``: the shared copies of the benchmark .h5 files.
SHARED_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _shared_datasetdir():
    """Set ``SCDEEPCLUST_DATASETDIR`` to the shared data folder unless already set."""
    var = "SCDEEPCLUST_DATASETDIR"
    if os.environ.get(var):
        yield Path(os.environ[var])
        return
    os.environ[var] = str(SHARED_DATA_DIR)
    try:
        yield SHARED_DATA_DIR
    finally:
        os.environ.pop(var, None)


# ---------------------------------------------------------------------------
# End of datasets section
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Synthetic counts: small negative-binomial data with well-separated groups
# (used by test_scdcc_api.py; fast enough for the default test run)
# ---------------------------------------------------------------------------

import anndata as ad  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402


def make_synthetic_counts(
    n_obs: int = 240,
    n_vars: int = 60,
    n_groups: int = 3,
    seed: int = 0,
    theta: float = 5.0,
) -> ad.AnnData:
    """AnnData of negative binomial counts in ``n_groups`` well-separated groups.

    Each group over-expresses its own block of ``n_vars // n_groups`` marker genes (about 10x);
    library sizes vary about 2-fold. ``layers["counts"]`` is CSR float32, ``X`` a copy of it,
    ``obs["group"]`` categorical ('g0', 'g1', ...), and every cell has a count.
    """
    rng = np.random.default_rng(seed)
    groups = np.arange(n_obs) % n_groups
    rng.shuffle(groups)
    base = rng.gamma(2.0, 0.5, size=n_vars)  # baseline mean per gene
    mu = np.tile(base, (n_obs, 1))
    block = n_vars // n_groups
    for g in range(n_groups):
        mu[groups == g, g * block : (g + 1) * block] *= 10.0
    mu *= rng.lognormal(0.0, 0.3, size=(n_obs, 1))  # library size variation
    counts = rng.negative_binomial(theta, theta / (theta + mu)).astype(np.float32)
    empty = counts.sum(axis=1) == 0
    counts[empty, 0] = 1.0
    counts = sp.csr_matrix(counts)
    a = ad.AnnData(counts.copy())
    a.layers["counts"] = counts
    a.obs_names = [f"cell{i}" for i in range(n_obs)]
    a.var_names = [f"gene{j}" for j in range(n_vars)]
    a.obs["group"] = pd.Categorical([f"g{g}" for g in groups])
    return a


@pytest.fixture(scope="session")
def make_synthetic():
    """The generator :func:`make_synthetic_counts` itself, for module-scoped fixtures.

    (Test modules cannot ``import conftest`` under ``--import-mode=importlib``.)
    """
    return make_synthetic_counts


@pytest.fixture
def torch_single_thread():
    """Run torch on one intra-op thread during the test, then restore the thread count.

    The test models are tiny: one thread is several times faster than two, and on a busy
    2-core machine two spinning OpenMP threads can make a 0.1 s fit take over 10 s. Set per
    test because numba's OpenMP layer (used by ``sc.pp.neighbors``) resets the shared OpenMP
    thread count, and with it torch's.
    """
    from _threads import one_thread

    with one_thread():
        yield


@pytest.fixture
def synthetic_adata() -> ad.AnnData:
    """A fresh small synthetic AnnData (240 cells x 60 genes, 3 groups) for each test."""
    return make_synthetic_counts()


# ---------------------------------------------------------------------------
# End of synthetic counts section
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# AnnData snapshots: deep copies of every slot and deep comparisons
# (the helpers of test_scdcc_api.py, shared as a fixture: test modules cannot
# ``import conftest`` under ``--import-mode=importlib``)
# ---------------------------------------------------------------------------

from types import SimpleNamespace as _SimpleNamespace  # noqa: E402

from _adata_checks import (  # noqa: E402
    assert_matrix_equal,
    assert_tree_equal,
    assert_unchanged,
    snapshot_adata,
)


@pytest.fixture(scope="session")
def adata_checks():
    """The snapshot helpers as one namespace.

    ``snapshot(adata)``, ``assert_unchanged(adata, snap, except_keys=...)``,
    ``assert_tree_equal(a, b, where)`` and ``assert_matrix_equal(a, b, where)``.
    """
    return _SimpleNamespace(
        snapshot=snapshot_adata,
        assert_unchanged=assert_unchanged,
        assert_tree_equal=assert_tree_equal,
        assert_matrix_equal=assert_matrix_equal,
    )


# ---------------------------------------------------------------------------
# End of AnnData snapshots section
# ---------------------------------------------------------------------------


@pytest.fixture
def restore_logger():
    """Put the scdeepclust logger and the settings' handler back as they were."""
    import logging

    import scdeepclust as sdc

    logger = logging.getLogger("scdeepclust")
    saved = (logger.level, list(logger.handlers), logger.propagate, sdc.settings._handler)
    yield logger
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]
    sdc.settings._handler = saved[3]
