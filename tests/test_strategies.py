"""Centre initialisation and target distribution as named strategies chosen by the config."""

import numpy as np
import pytest
import torch

import scdeepclust as sdc
from scdeepclust.data.centres import INITIALISATIONS, centers_from_labels
from scdeepclust.module.losses import TARGET_DISTRIBUTIONS, squared_target, target_distribution

FAST = dict(pretrain_epochs=3, max_epochs=3, batch_size=64, progress_bar=False)

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def test_squared_target_sharpens_q_without_the_cluster_frequencies():
    q = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1]])
    p = squared_target(q)
    torch.testing.assert_close(p, q**2 / (q**2).sum(dim=1, keepdim=True))
    torch.testing.assert_close(p.sum(dim=1), torch.ones(3))
    assert not torch.allclose(p, target_distribution(q))  # DEC divides by f_j
    assert squared_target(q.clone(), inplace=True).equal(p)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(init="kmeans"), "init='kmeans' needs n_clusters"),
        (dict(init="leiden", n_clusters=3), "init='leiden' takes the number of clusters"),
        (dict(init="spectral"), "init must be 'auto' or one of"),
        (dict(target_distribution="student"), "target_distribution must be one of"),
    ],
)
@pytest.mark.parametrize("tool", ["scdcc", "desc"])
def test_bad_strategy_is_refused_before_training(synthetic_adata, tool, kwargs, match):
    before = synthetic_adata.copy()
    with pytest.raises(ValueError, match=match):
        getattr(sdc.tl, tool)(synthetic_adata, **kwargs, **FAST)
    assert list(synthetic_adata.obs.columns) == list(before.obs.columns)
    assert set(synthetic_adata.obsm) == set(before.obsm) and set(synthetic_adata.uns) == set(
        before.uns
    )


@pytest.mark.parametrize(("n_clusters", "init"), [(3, "kmeans"), (None, "leiden")])
def test_named_init_is_what_auto_picks(synthetic_adata, n_clusters, init):
    auto = sdc.tl.scdcc(synthetic_adata, n_clusters, resolution=0.3, copy=True, **FAST)
    named = sdc.tl.scdcc(synthetic_adata, n_clusters, resolution=0.3, init=init, copy=True, **FAST)
    np.testing.assert_array_equal(auto.obsm["X_scdcc"], named.obsm["X_scdcc"])
    assert named.uns["scdcc"]["params"]["init"] == init


def test_squared_target_is_used_and_recorded(synthetic_adata):
    dec = sdc.tl.scdcc(synthetic_adata, 3, copy=True, **FAST)
    squared = sdc.tl.scdcc(synthetic_adata, 3, target_distribution="squared", copy=True, **FAST)
    assert squared.uns["scdcc"]["params"]["target_distribution"] == "squared"
    np.testing.assert_array_equal(
        dec.uns["scdcc"]["init_labels"], squared.uns["scdcc"]["init_labels"]
    )
    assert not np.array_equal(dec.obsm["X_scdcc"], squared.obsm["X_scdcc"])


def test_a_new_strategy_is_one_registry_entry(synthetic_adata, monkeypatch):
    """A centre initialisation and a target distribution added without touching the engine."""

    def by_group(z, *, n_clusters, resolution, n_neighbors, random_state):
        labels = synthetic_adata.obs["group"].cat.codes.to_numpy().astype(np.int64)
        return centers_from_labels(z, labels), labels

    calls = []

    def recorded_dec(q, inplace=False):
        calls.append(q.shape)
        return target_distribution(q, inplace)

    monkeypatch.setitem(INITIALISATIONS, "by_group", by_group)
    monkeypatch.setitem(TARGET_DISTRIBUTIONS, "recorded", recorded_dec)
    out = sdc.tl.desc(
        synthetic_adata, init="by_group", target_distribution="recorded", copy=True, **FAST
    )
    np.testing.assert_array_equal(
        out.uns["desc"]["init_labels"], synthetic_adata.obs["group"].cat.codes.to_numpy()
    )
    assert calls and calls[0] == (synthetic_adata.n_obs, synthetic_adata.obs["group"].nunique())
