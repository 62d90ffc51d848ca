"""Budgets that scale with n_obs, initialisation on a subsample, chunked input statistics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import scdeepclust as sdc
from scdeepclust.data.preparation import group_mean_std, size_factors
from scdeepclust.models._config import epochs_within
from scdeepclust.models._training import initial_clusters
from scdeepclust.module.device_data import log_normalize

TINY = dict(hidden_dims=(16,), latent_dim=4, progress_bar=False)


@pytest.mark.parametrize(
    ("epochs", "max_steps", "n_obs", "expected"),
    [
        (300, 12_000, 4_271, 300),  # 17 minibatches per epoch: no cap on small data
        (300, 12_000, 100_000, 30),  # 391 per epoch
        (300, 12_000, 10_000_000, 1),  # at least one epoch
        (5, 500, 8_617, 5),
        (5, 500, 100_000, 1),
        (7, None, 10**9, 7),
    ],
)
def test_epochs_within(epochs, max_steps, n_obs, expected):
    assert epochs_within(epochs, max_steps, n_obs, 256) == expected


def test_cluster_stage_cap_in_steps(synthetic_adata, torch_single_thread):
    # 240 cells at batch size 64: 4 minibatches per epoch, so 9 steps allow 2 epochs
    a = sdc.tl.scdcc(
        synthetic_adata, 3, batch_size=64, pretrain_epochs=2, max_epochs=50, max_steps=9,
        tol=0.0, copy=True, **TINY,
    )  # fmt: skip
    assert a.uns["scdcc"]["n_epochs"]["cluster"] == 2
    assert a.uns["scdcc"]["stopped_by"]["cluster"] == "cap"
    assert a.uns["scdcc"]["params"]["max_steps"] == 9


def test_desc_pretrain_phases_capped(synthetic_adata, torch_single_thread):
    a = sdc.tl.desc(
        synthetic_adata, n_clusters=3, batch_size=64, pretrain_epochs=30,
        pretrain_phase_steps=8, pretrain_patience=None, max_epochs=2, copy=True, **TINY,
    )  # fmt: skip
    n = a.uns["desc"]["n_epochs"]
    # 6 end-to-end phases and 3 layer-wise phases per layer (2 layers), 2 epochs each
    assert n["end_to_end"] == 12 and n["layerwise_0"] == 6 and n["layerwise_1"] == 6


@pytest.mark.parametrize("n_clusters", [3, None])
def test_initialisation_on_a_subsample(n_clusters):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = rng.integers(0, 3, size=3000)
    z = (centres[truth] + rng.normal(size=(3000, 2))).astype(np.float32)
    # At resolution 0.1 splitting a blob of this kNN graph changes modularity by less than the
    # noise of Leiden's local moves: 3-6 clusters depending on the seed and on scanpy's igraph
    # RNG (changed in 1.11.4). At 0.02 every seed finds the 3 blobs.
    kwargs = dict(n_clusters=n_clusters, resolution=0.02, n_neighbors=15, random_state=0)
    c_sub, l_sub = initial_clusters(z, max_cells=500, **kwargs)
    c_all, l_all = initial_clusters(z, max_cells=None, **kwargs)
    assert l_sub.shape == (3000,) and c_sub.shape[1] == 2
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, l_sub) > 0.99
    assert adjusted_rand_score(l_all, l_sub) > 0.99
    # below the threshold nothing changes
    c_same, l_same = initial_clusters(z, max_cells=5000, **kwargs)
    np.testing.assert_array_equal(l_same, l_all)


def test_tool_with_subsampled_init(synthetic_adata, torch_single_thread):
    a = sdc.tl.scdcc(
        synthetic_adata, 3, init_max_cells=100, pretrain_epochs=3, max_epochs=3, copy=True,
        **TINY,
    )  # fmt: skip
    assert a.uns["scdcc"]["init_labels"].shape == (240,)
    assert a.uns["scdcc"]["params"]["init_max_cells"] == 100


def test_chunked_statistics_match_one_pass():
    rng = np.random.default_rng(1)
    counts = sp.random(1000, 30, density=0.3, random_state=1, format="csr", dtype=np.float32)
    counts.data = np.ceil(counts.data * 20)
    one_each = (np.ones(1000, np.float32), (np.arange(1000), rng.integers(0, 30, 1000)))
    counts = (counts + sp.csr_matrix(one_each, shape=(1000, 30))).tocsr()  # no empty cell
    sf = size_factors(counts, 50.0)
    codes = rng.integers(0, 3, size=1000)
    chunked = group_mean_std(counts, sf, codes, 3, chunk_size=97)
    x = log_normalize(counts, sf).toarray().astype(np.float64)
    for g in range(3):
        rows = x[codes == g]
        np.testing.assert_allclose(chunked[0][g], rows.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(chunked[1][g], rows.std(axis=0, ddof=1), rtol=1e-4)


def test_budget_parameters_validated():
    with pytest.raises(ValueError, match="max_steps"):
        sdc.models.SCDCC(max_steps=0)
    with pytest.raises(ValueError, match="init_max_cells"):
        sdc.models.DESC(init_max_cells=-1)
    with pytest.raises(ValueError, match="pretrain_phase_steps"):
        sdc.models.DESC(pretrain_phase_steps=0)


def test_backed_anndata(tmp_path, synthetic_adata, torch_single_thread):
    """A backed AnnData: X is read from disk in row blocks, results go to the in-memory slots."""
    import anndata as ad

    path = tmp_path / "a.h5ad"
    synthetic_adata.write_h5ad(path)
    params = dict(pretrain_epochs=2, max_epochs=2, **TINY)
    backed = ad.read_h5ad(path, backed="r")
    sdc.tl.scdcc(backed, 3, layer=None, **params)
    in_memory = sdc.tl.scdcc(synthetic_adata, 3, layer=None, copy=True, **params)
    assert backed.isbacked
    np.testing.assert_array_equal(backed.obsm["X_scdcc"], in_memory.obsm["X_scdcc"])
    np.testing.assert_array_equal(backed.obs["scdcc"], in_memory.obs["scdcc"])
    model = sdc.models.SCDCC(
        n_clusters=3, layer=None, **{k: v for k, v in params.items() if k != "progress_bar"}
    )
    model.fit(ad.read_h5ad(path, backed="r"))
    assert model.get_latent_representation(backed).shape == (240, 4)


def test_float32_csr_counts_are_shared_not_copied(synthetic_adata, adata_checks):
    from scdeepclust.data.validation import get_counts

    layer = synthetic_adata.layers["counts"]
    assert layer.dtype == np.float32 and layer.has_canonical_format
    assert get_counts(synthetic_adata, "counts") is layer  # no second copy
    as_int = synthetic_adata.copy()
    as_int.layers["counts"] = layer.astype(np.int64)
    assert get_counts(as_int, "counts") is not as_int.layers["counts"]
    snap = adata_checks.snapshot(synthetic_adata)
    sdc.tl.scdcc(synthetic_adata, 3, pretrain_epochs=2, max_epochs=2, copy=True, **TINY)
    adata_checks.assert_unchanged(synthetic_adata, snap)  # the shared counts stay untouched


def test_chunked_count_checks():
    from scdeepclust.data.validation import check_counts

    counts = sp.csr_matrix(np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 4.0]], dtype=np.float32))
    with pytest.raises(ValueError, match="1 non-integer"):
        check_counts(counts, "x", chunk=2)
    counts.data[0] = -1.0
    with pytest.raises(ValueError, match="1 negative"):
        check_counts(counts, "x", chunk=1)
