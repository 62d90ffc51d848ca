"""API tests of ``scdeepclust.tl.scdcc`` on small synthetic counts (tiny schedules, CPU)."""

from __future__ import annotations

import importlib
import logging
import random

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _adata_checks import (
    assert_matrix_equal,
    assert_tree_equal,
    assert_unchanged,
    snapshot_adata,
)

import scdeepclust as sdc
from scdeepclust.module.engine import TrainingDivergedError

_scdcc_module = importlib.import_module("scdeepclust.models._scdcc")
_engine = importlib.import_module("scdeepclust.module.engine")

pytestmark = pytest.mark.usefixtures("torch_single_thread")

N_OBS, N_VARS, LATENT = 240, 60, 8

#: A tiny schedule: well under a second per call on one CPU core.
FAST = {
    "hidden_dims": (32, 16),
    "latent_dim": LATENT,
    "pretrain_epochs": 3,
    "max_epochs": 3,
    "batch_size": 64,
    "progress_bar": False,
    "device": "cpu",
}


def run(adata, n_clusters=3, **kwargs):
    """``tl.scdcc`` with the tiny schedule; ``kwargs`` override it."""
    return sdc.tl.scdcc(adata, n_clusters, **{**FAST, **kwargs})


# ---------------------------------------------------------------------------
# Helpers: snapshot an AnnData and compare deeply
# ---------------------------------------------------------------------------


snapshot = snapshot_adata


# ---------------------------------------------------------------------------
# One shared run (seed 0, default key) on which several tests only read
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(make_synthetic):
    """(result AnnData, snapshot before the call, return value) of one default run."""
    adata = make_synthetic()
    adata.obsm["X_pca"] = np.zeros((N_OBS, 2), dtype=np.float32)
    adata.uns["neighbors"] = {"params": {"n_neighbors": 15}, "connectivities_key": "c"}
    adata.obsp["connectivities"] = sp.identity(N_OBS, format="csr", dtype=np.float32)
    snap = snapshot(adata)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the torch_single_thread fixture, for this module fixture
    try:
        returned = run(adata, random_state=0)
    finally:
        torch.set_num_threads(threads)
    return adata, snap, returned


@pytest.fixture
def base_adata(base):
    """A private copy of the shared result (safe to modify)."""
    return base[0].copy()


# ---------------------------------------------------------------------------
# Bad input: raised before any training, AnnData exactly unchanged
# ---------------------------------------------------------------------------


@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if a model is built or a stage is run."""

    def boom(*args, **kwargs):
        raise AssertionError("training started although the input is invalid")

    monkeypatch.setattr(_engine, "_run_epoch", boom)  # every stage's epochs run through it
    monkeypatch.setattr(_scdcc_module, "build_zinb_autoencoder", boom, raising=False)
    monkeypatch.setattr(_scdcc_module, "run_stage", boom, raising=False)


def _set_count(value):
    def mutate(a):
        counts = a.layers["counts"].copy()
        counts.data[5] = value
        a.layers["counts"] = counts

    return mutate


def _zero_cells(rows):
    def mutate(a):
        counts = a.layers["counts"].tolil()
        counts[rows, :] = 0
        counts = counts.tocsr()
        counts.eliminate_zeros()
        a.layers["counts"] = counts.astype(np.float32)

    return mutate


def _zero_genes(cols):
    def mutate(a):
        counts = a.layers["counts"].tolil()
        counts[:, cols] = 0
        counts = counts.tocsr()
        counts.eliminate_zeros()
        a.layers["counts"] = counts.astype(np.float32)
        a.X = counts.astype(np.float32)

    return mutate


def _add_var_column(name, value):
    def mutate(a):
        a.var[name] = value

    return mutate


def _only_genes(idx):
    mask = np.zeros(N_VARS, dtype=bool)
    mask[idx] = True
    return mask


BAD_INPUTS = [
    ("missing_layer", None, {"layer": "raw"}, KeyError, r"Layer 'raw' not found.*layer=None"),
    ("negative", _set_count(-1.0), {}, ValueError, r"1 negative values"),
    ("non_integer", _set_count(0.5), {}, ValueError, r"1 non-integer values"),
    ("nan", _set_count(np.nan), {}, ValueError, r"1 NaN or infinite"),
    ("inf", _set_count(np.inf), {}, ValueError, r"1 NaN or infinite"),
    (
        "empty_cells",
        _zero_cells([3, 10, 20]),
        {},
        ValueError,
        r"^3 cells have zero total counts.*filter_cells",
    ),
    (
        "empty_cells_in_selected_genes",
        None,
        {"mask_var": _only_genes([0])},
        ValueError,
        r"cells have zero total counts in the selected genes.*filter_cells",
    ),
    (
        "selected_genes_all_zero",
        _zero_genes([0, 1]),
        {"mask_var": _only_genes([0, 1])},
        ValueError,
        r"Every selected gene has zero counts",
    ),
    ("n_clusters_1", None, {"n_clusters": 1}, ValueError, r"n_clusters=1.*at least 2"),
    ("n_clusters_0", None, {"n_clusters": 0}, ValueError, r"at least 2"),
    (
        "n_clusters_gt_n_obs",
        None,
        {"n_clusters": N_OBS + 1},
        ValueError,
        rf"n_clusters={N_OBS + 1} is more than the {N_OBS} cells",
    ),
    ("n_clusters_float", None, {"n_clusters": 3.0}, TypeError, r"n_clusters must be an int"),
    (
        "must_link_out_of_range",
        None,
        {"must_link": [[0, 1], [2, N_OBS]]},
        ValueError,
        rf"must_link holds 1 pairs with a cell index outside \[0, {N_OBS - 1}\]",
    ),
    (
        "must_link_negative",
        None,
        {"must_link": np.array([[-1, 3]])},
        ValueError,
        r"must_link .*outside",
    ),
    (
        "cannot_link_self_pair",
        None,
        {"cannot_link": [[0, 1], [5, 5]]},
        ValueError,
        r"cannot_link pairs 1 cells with themselves",
    ),
    (
        "must_link_1d",
        None,
        {"must_link": np.arange(6)},
        ValueError,
        r"must_link must be an \(n_pairs, 2\) array.*\(6,\)",
    ),
    (
        "cannot_link_three_columns",
        None,
        {"cannot_link": np.zeros((4, 3), dtype=int)},
        ValueError,
        r"cannot_link must be an \(n_pairs, 2\) array.*\(4, 3\)",
    ),
    (
        "must_link_unknown_names",
        None,
        {"must_link": [["cell0", "cell1"], ["cell2", "no_such_cell"]]},
        ValueError,
        r"must_link names 1 cells that are not in adata.obs_names.*no_such_cell",
    ),
    (
        "must_link_fractional",
        None,
        {"must_link": np.array([[0.5, 1.0]])},
        TypeError,
        r"must_link must hold integer cell indices",
    ),
    (
        "mask_var_all_false",
        None,
        {"mask_var": np.zeros(N_VARS, dtype=bool)},
        ValueError,
        r"mask_var selects no gene",
    ),
    (
        "mask_var_column_all_false",
        _add_var_column("highly_variable", False),
        {"mask_var": "highly_variable"},
        ValueError,
        r"adata.var\['highly_variable'\] selects no gene",
    ),
    (
        "mask_var_column_missing",
        None,
        {"mask_var": "highly_variable"},
        KeyError,
        r"'highly_variable' is not a column of adata.var",
    ),
    (
        "mask_var_wrong_length",
        None,
        {"mask_var": np.ones(N_VARS - 1, dtype=bool)},
        ValueError,
        r"one boolean per gene",
    ),
    (
        "mask_var_not_bool",
        None,
        {"mask_var": np.ones(N_VARS)},
        TypeError,
        r"must be boolean",
    ),
    ("bad_device", None, {"device": "gpu0"}, ValueError, r"device='gpu0' is not a torch device"),
    ("device_not_str", None, {"device": 0}, TypeError, r"device must be a string"),
    ("key_added_empty", None, {"key_added": ""}, TypeError, r"key_added"),
    ("random_state_float", None, {"random_state": 1.5}, TypeError, r"random_state"),
    ("batch_size_0", None, {"batch_size": 0}, ValueError, r"batch_size must be a positive"),
]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("mutate", "kwargs", "exc", "match"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input_raises_before_training(synthetic_adata, mutate, kwargs, exc, match):
    adata = synthetic_adata
    if mutate is not None:
        mutate(adata)
    snap = snapshot(adata)
    kwargs = {"n_clusters": 3, **kwargs}
    with pytest.raises(exc, match=match):
        run(adata, **kwargs)
    assert_unchanged(adata, snap)


@pytest.mark.usefixtures("no_training")
@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(synthetic_adata):
    snap = snapshot(synthetic_adata)
    with pytest.raises(ValueError, match=r"CUDA is not available.*device='cpu'"):
        run(synthetic_adata, device="cuda")
    assert_unchanged(synthetic_adata, snap)


@pytest.mark.usefixtures("no_training")
def test_constraint_names_with_duplicate_obs_names(synthetic_adata):
    adata = synthetic_adata
    adata.obs_names = ["dup"] * 10 + list(adata.obs_names[10:])
    snap = snapshot(adata)
    with pytest.raises(ValueError, match="unique"):
        run(adata, must_link=[["cell20", "cell21"]])
    assert_unchanged(adata, snap)


@pytest.mark.usefixtures("no_training")
def test_dense_counts_are_checked_too(synthetic_adata):
    adata = synthetic_adata
    dense = adata.layers["counts"].toarray()
    dense[0, 0] = -2.0
    adata.layers["counts"] = dense
    snap = snapshot(adata)
    with pytest.raises(ValueError, match="negative"):
        run(adata)
    assert_unchanged(adata, snap)


# ---------------------------------------------------------------------------
# Training divergence and failures after pretraining leave the AnnData alone
# ---------------------------------------------------------------------------


def test_diverged_error_is_runtime_error():
    assert issubclass(TrainingDivergedError, RuntimeError)


def test_diverged_error_is_exported():
    assert sdc.TrainingDivergedError is TrainingDivergedError


def test_divergence_in_pretraining(synthetic_adata, monkeypatch):
    """Adam (the pretraining optimizer) leaves NaN weights: the ZINB loss becomes NaN."""
    original = torch.optim.Adam.step

    def poisoned_step(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        with torch.no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    param.fill_(float("nan"))
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned_step)
    snap = snapshot(synthetic_adata)
    with pytest.raises(TrainingDivergedError, match=r"^pretrain: the 'zinb' loss became nan"):
        run(synthetic_adata)
    assert_unchanged(synthetic_adata, snap)


def test_divergence_in_clustering(synthetic_adata, monkeypatch):
    """A NaN target distribution makes the KL term NaN in the clustering stage."""
    from scdeepclust.module.losses import TARGET_DISTRIBUTIONS

    nan = lambda q, inplace=False: torch.full_like(q, torch.nan)  # noqa: E731
    monkeypatch.setitem(TARGET_DISTRIBUTIONS, "nan", nan)
    snap = snapshot(synthetic_adata)
    with pytest.raises(TrainingDivergedError, match=r"^cluster: the '\w+' loss became nan"):
        run(synthetic_adata, target_distribution="nan")
    assert_unchanged(synthetic_adata, snap)


def test_huge_learning_rate_diverges(synthetic_adata):
    snap = snapshot(synthetic_adata)
    with pytest.raises(TrainingDivergedError, match="diverged"):
        run(synthetic_adata, pretrain_lr=1e30, pretrain_epochs=10)
    assert_unchanged(synthetic_adata, snap)


def test_leiden_single_cluster_raises(synthetic_adata):
    snap = snapshot(synthetic_adata)
    with pytest.raises(ValueError, match=r"single cluster.*n_clusters"):
        run(synthetic_adata, n_clusters=None, resolution=1e-6)
    assert_unchanged(synthetic_adata, snap)


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def test_outputs(base):
    adata, snap, returned = base
    assert returned is None
    k = 3
    z = adata.obsm["X_scdcc"]
    assert isinstance(z, np.ndarray)
    assert z.shape == (N_OBS, LATENT) and z.dtype == np.float32
    assert np.isfinite(z).all()

    q = adata.obsm["scdcc_q"]
    assert q.shape == (N_OBS, k) and q.dtype == np.float32
    assert (q >= 0).all()
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)

    labels = adata.obs["scdcc"]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert list(labels.cat.categories) == [str(i) for i in range(q.shape[1])]
    np.testing.assert_array_equal(labels.cat.codes.to_numpy(), q.argmax(axis=1))

    uns = adata.uns["scdcc"]
    assert {"params", "cluster_centers", "history", "n_epochs", "converged", "version"} <= set(uns)
    assert uns["version"] == sdc.__version__
    assert uns["cluster_centers"].shape == (k, LATENT)
    assert isinstance(uns["converged"], bool | np.bool_)
    assert set(uns["history"]) == {"pretrain", "cluster"}
    for stage in ("pretrain", "cluster"):
        n = uns["n_epochs"][stage]
        assert 0 < n <= FAST[f"{'pretrain' if stage == 'pretrain' else 'max'}_epochs"]
        for term, values in uns["history"][stage].items():
            assert isinstance(values, np.ndarray), term
            assert values.shape == (n,), term
            assert np.isfinite(values).all(), term
    assert "zinb" in uns["history"]["pretrain"]
    assert {"zinb", "kl"} <= set(uns["history"]["cluster"])
    params = uns["params"]
    for name, value in params.items():  # plain, h5ad-safe values
        if isinstance(value, np.ndarray):
            assert value.dtype.kind in "iuf", name
        else:
            assert isinstance(value, str | int | float | bool), name
    assert params["n_clusters"] == k
    assert params["latent_dim"] == LATENT
    assert params["random_state"] == 0
    assert uns["n_genes_used"] == N_VARS
    # nothing else was touched: X, layers, obs, var, X_pca, the user's graph and neighbors
    assert_unchanged(adata, snap, except_keys="scdcc")


def test_no_print(synthetic_adata, capsys):
    run(synthetic_adata, max_epochs=1, pretrain_epochs=1)
    out, _ = capsys.readouterr()
    assert out == ""


def test_key_added_and_copy(synthetic_adata):
    adata = synthetic_adata
    snap = snapshot(adata)
    result = run(adata, key_added="foo", copy=True)
    assert isinstance(result, ad.AnnData) and result is not adata
    assert_unchanged(adata, snap)  # the input is untouched
    assert result.obsm["X_foo"].shape == (N_OBS, LATENT)
    assert result.obsm["foo_q"].shape == (N_OBS, 3)
    assert list(result.obs["foo"].cat.categories) == ["0", "1", "2"]
    assert "foo" in result.uns and "params" in result.uns["foo"]
    for key in ("X_scdcc", "scdcc_q"):
        assert key not in result.obsm
    assert "scdcc" not in result.obs and "scdcc" not in result.uns
    assert_unchanged(result, snap, except_keys="foo")  # and its other slots equal the input's


def test_view(synthetic_adata):
    parent = synthetic_adata
    parent_snap = snapshot(parent)
    view = parent[parent.obs["group"] != "g2"]
    assert view.is_view
    n = view.n_obs
    with pytest.warns(UserWarning, match="view"):
        assert run(view) is None
    assert not view.is_view
    assert view.obsm["X_scdcc"].shape == (n, LATENT)
    assert view.obs["scdcc"].shape == (n,)
    assert_unchanged(parent, parent_snap)


def test_view_with_copy(synthetic_adata):
    view = synthetic_adata[:150]
    snap = snapshot(view)
    result = run(view, copy=True)
    assert not result.is_view and result.obsm["X_scdcc"].shape == (150, LATENT)
    assert view.is_view
    assert_unchanged(view, snap)


def test_layer_none_reads_x(synthetic_adata, base):
    adata = synthetic_adata
    del adata.layers["counts"]
    run(adata, layer=None, random_state=0)
    # X holds the same counts as layers["counts"] of the shared run: same result
    np.testing.assert_array_equal(adata.obsm["X_scdcc"], base[0].obsm["X_scdcc"])
    pd.testing.assert_series_equal(adata.obs["scdcc"], base[0].obs["scdcc"])
    assert adata.uns["scdcc"]["params"]["layer"] == "None"


def test_layer_none_checks_x(synthetic_adata):
    adata = synthetic_adata
    adata.X = adata.X.copy()
    adata.X.data[0] = 0.25  # e.g. a normalised X
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"adata.X holds 1 non-integer"):
        run(adata, layer=None)
    assert_unchanged(adata, snap)


def test_mask_var_array_and_column(make_synthetic):
    mask = np.zeros(N_VARS, dtype=bool)
    mask[::4] = True
    mask[:30] = True  # the first two marker blocks + every 4th gene
    a1, a2 = make_synthetic(), make_synthetic()
    a2.var["highly_variable"] = mask
    run(a1, mask_var=mask)
    run(a2, mask_var="highly_variable")
    for a in (a1, a2):
        assert a.uns["scdcc"]["n_genes_used"] == int(mask.sum())
        assert a.obsm["X_scdcc"].shape == (N_OBS, LATENT)
    assert a1.uns["scdcc"]["params"]["mask_var"] == "array"
    assert a2.uns["scdcc"]["params"]["mask_var"] == "highly_variable"
    np.testing.assert_array_equal(a1.obsm["X_scdcc"], a2.obsm["X_scdcc"])
    pd.testing.assert_series_equal(a1.obs["scdcc"], a2.obs["scdcc"])


def test_all_zero_genes_dropped_with_log(synthetic_adata, caplog):
    adata = synthetic_adata
    _zero_genes([0, 7, 33, 50, 59])(adata)
    snap = snapshot(adata)
    with caplog.at_level(logging.INFO, logger="scdeepclust"):
        run(adata)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("scdeepclust")]
    assert any("Leaving out 5 of 60" in m for m in messages), messages
    assert adata.uns["scdcc"]["n_genes_used"] == N_VARS - 5
    assert adata.obsm["X_scdcc"].shape == (N_OBS, LATENT)
    assert_unchanged(adata, snap, except_keys="scdcc")  # the layer still has all 60 genes


def _constraints(adata, n_pairs=30, seed=1):
    rng = np.random.default_rng(seed)
    groups = adata.obs["group"].to_numpy()
    ml, cl = [], []
    while len(ml) < n_pairs or len(cl) < n_pairs:
        i, j = rng.integers(adata.n_obs, size=2)
        if i == j:
            continue
        if groups[i] == groups[j] and len(ml) < n_pairs:
            ml.append((i, j))
        elif groups[i] != groups[j] and len(cl) < n_pairs:
            cl.append((i, j))
    return np.array(ml), np.array(cl)


def test_constraints_by_name_equal_by_index(make_synthetic):
    a_idx, a_name = make_synthetic(), make_synthetic()
    ml, cl = _constraints(a_idx)
    names = a_idx.obs_names.to_numpy()
    run(a_idx, must_link=ml, cannot_link=cl, random_state=3)
    run(a_name, must_link=names[ml], cannot_link=names[cl].tolist(), random_state=3)
    pd.testing.assert_series_equal(a_idx.obs["scdcc"], a_name.obs["scdcc"])
    np.testing.assert_array_equal(a_idx.obsm["X_scdcc"], a_name.obsm["X_scdcc"])
    for a in (a_idx, a_name):
        params = a.uns["scdcc"]["params"]
        assert params["n_must_link"] == len(ml) and params["n_cannot_link"] == len(cl)
        history = a.uns["scdcc"]["history"]["cluster"]
        assert {"must_link", "cannot_link"} <= set(history)
        assert all(np.isfinite(v).all() for v in history.values())


# ---------------------------------------------------------------------------
# h5ad round trip and the scanpy chain
# ---------------------------------------------------------------------------


def test_h5ad_round_trip(base_adata, tmp_path):
    adata = base_adata
    path = tmp_path / "result.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    for key in ("X_scdcc", "scdcc_q"):
        assert_matrix_equal(back.obsm[key], adata.obsm[key], f"obsm[{key!r}]")
    pd.testing.assert_series_equal(back.obs["scdcc"], adata.obs["scdcc"])
    assert isinstance(back.obs["scdcc"].dtype, pd.CategoricalDtype)
    assert_tree_equal(dict(back.uns["scdcc"]), dict(adata.uns["scdcc"]), "uns['scdcc']")


def test_scanpy_chain(base_adata):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    adata = base_adata
    sc.pp.neighbors(adata, use_rep="X_scdcc")
    sc.tl.umap(adata)
    assert adata.obsm["X_umap"].shape == (N_OBS, 2)
    try:
        sc.pl.umap(adata, color=["scdcc"], show=False)
        sc.pl.embedding(adata, basis="scdcc", color="scdcc", show=False)
    finally:
        plt.close("all")


# ---------------------------------------------------------------------------
# Seeds and the caller's random state
# ---------------------------------------------------------------------------


def test_same_seed_same_result_and_rng_untouched(synthetic_adata, base):
    np.random.seed(123)
    torch.manual_seed(123)
    random.seed(123)
    np_state, torch_state, py_state = (
        np.random.get_state(),
        torch.get_rng_state(),
        random.getstate(),
    )

    adata = synthetic_adata
    run(adata, random_state=0)

    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert random.getstate() == py_state

    np.testing.assert_array_equal(adata.obsm["X_scdcc"], base[0].obsm["X_scdcc"])
    np.testing.assert_array_equal(adata.obsm["scdcc_q"], base[0].obsm["scdcc_q"])
    pd.testing.assert_series_equal(adata.obs["scdcc"], base[0].obs["scdcc"])


def test_different_seed_different_embedding(synthetic_adata, base):
    run(synthetic_adata, random_state=1)
    assert not np.allclose(synthetic_adata.obsm["X_scdcc"], base[0].obsm["X_scdcc"])
    assert synthetic_adata.uns["scdcc"]["params"]["random_state"] == 1


# ---------------------------------------------------------------------------
# Leiden initialisation
# ---------------------------------------------------------------------------


def test_leiden_init(synthetic_adata):
    adata = synthetic_adata
    run(adata, n_clusters=None, pretrain_epochs=10)
    q = adata.obsm["scdcc_q"]
    k = q.shape[1]
    assert k >= 2
    assert adata.uns["scdcc"]["n_clusters_init"] == k
    assert list(adata.obs["scdcc"].cat.categories) == [str(i) for i in range(k)]
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)
    assert adata.uns["scdcc"]["params"]["n_clusters"] == "None"
    # the Leiden graph was temporary: the user's neighbors / graphs are not written
    assert "neighbors" not in adata.uns and "leiden" not in adata.uns
    assert len(adata.obsp) == 0 and "leiden" not in adata.obs
