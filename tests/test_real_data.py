"""Real-data checks of both tools on the shared datasets (marked slow: minutes on 2 cores).

They run in CI (`make test` runs the whole suite); `make test-quick` skips them. Each runs a
tool at its defaults with the annotated k and seed 0, and checks a bar set 0.05 below the
mean ARI over seeds 0, 1, 2 measured by the README's benchmark command.

Runs that a user-facing test already makes are checked there rather than repeated here:
scdcc on PBMC (tutorial 01), a model fitted on 70% of PBMC (tutorial 03), constraints on
CITE (tutorial 05) in ``tests/test_tutorials.py``; both tools on CITE in
``tests/test_scanpy_chain.py``.
"""

import pytest
from sklearn.metrics import adjusted_rand_score

import scdeepclust as sdc
from benchmarks import datasets

pytestmark = pytest.mark.slow

#: (tool, dataset) -> mean ARI over seeds 0-2 with k given (benchmarks page, `make benchmark`)
MEASURED = {
    ("scdcc", "bladder"): 0.525,
    ("scdcc", "worm"): 0.524,
    ("desc", "pbmc"): 0.814,
    ("desc", "bladder"): 0.56,
    ("desc", "worm"): 0.538,
}


#: Where the seed spread is larger than 0.05, seed 0 may sit further below the mean: DESC on
#: worm gave 0.474 / 0.549 / 0.592 (seeds 0-2, sd 0.060), so its bar is 0.10 below the mean.
MARGIN = {("desc", "worm"): 0.10}


def _dataset(name: str):
    """A benchmark dataset with the README's gene selection (worm: 2,000 seurat HVGs)."""
    adata = datasets.load_dataset(name)
    mask_var, _ = datasets.select_genes(adata, datasets.DATASETS[name].n_top_genes)
    return adata, mask_var


def _run(tool: str, name: str):
    adata, mask_var = _dataset(name)
    k = datasets.DATASETS[name].k
    getattr(sdc.tl, tool)(
        adata, n_clusters=k, mask_var=mask_var, random_state=0, progress_bar=False
    )
    return adata


@pytest.mark.parametrize(("tool", "name"), list(MEASURED))
def test_quality_at_defaults(tool, name):
    adata = _run(tool, name)
    ari = adjusted_rand_score(adata.obs["cell_type"], adata.obs[tool])
    uns = adata.uns[tool]
    print(
        f"{tool} {name} k given, seed 0: ARI {ari:.3f}, epochs {dict(uns['n_epochs'])}, "
        f"stopped by {dict(uns['stopped_by'])}"
    )
    bar = MEASURED[(tool, name)] - MARGIN.get((tool, name), 0.05)
    assert ari >= bar
    assert adata.obs[tool].nunique() >= 0.5 * datasets.DATASETS[name].k
    assert len(uns["label_change"]) >= 1 and uns["init_labels"].shape == (adata.n_obs,)
