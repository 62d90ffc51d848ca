"""Real-data checks of tl.scdcc on the 10X PBMC data (marked slow: about a minute each on 2 cores).

They run in CI (`make test` runs the whole suite); `make test-quick` skips them.
"""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import scdeepclust as sdc

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pbmc():
    return sdc.datasets.pbmc_10x()


def test_scdcc_pbmc_quality(pbmc):
    adata = pbmc.copy()
    sdc.tl.scdcc(adata, n_clusters=8, random_state=0, progress_bar=False)
    ari = adjusted_rand_score(adata.obs["cell_type"], adata.obs["scdcc"])
    print(f"scdcc PBMC k=8: ARI {ari:.3f}, epochs {dict(adata.uns['scdcc']['n_epochs'])}")
    assert ari >= 0.70
    assert adata.obs["scdcc"].nunique() >= 6


def test_scdcc_constraints_help_on_unconstrained_cells(pbmc):
    """Labels of 10 % of cells -> pairs; ARI is measured on the cells in no pair."""
    adata = pbmc.copy()
    rng = np.random.default_rng(0)
    known = rng.random(adata.n_obs) < 0.10
    adata.obs["partial"] = adata.obs["cell_type"].where(known)
    ml, cl = sdc.pp.constraints_from_labels(adata, "partial", n_pairs=6000, random_state=0)
    free = np.ones(adata.n_obs, dtype=bool)
    free[np.concatenate([ml.ravel(), cl.ravel()])] = False
    assert free.sum() > 0.8 * adata.n_obs

    common = dict(n_clusters=8, random_state=0, progress_bar=False)
    plain = sdc.tl.scdcc(adata, copy=True, **common)
    constrained = sdc.tl.scdcc(adata, copy=True, must_link=ml, cannot_link=cl, **common)
    truth = adata.obs["cell_type"][free]
    ari_plain = adjusted_rand_score(truth, plain.obs["scdcc"][free])
    ari_constrained = adjusted_rand_score(truth, constrained.obs["scdcc"][free])
    print(f"ARI on unconstrained cells: {ari_plain:.3f} without, {ari_constrained:.3f} with")
    assert ari_constrained > ari_plain
