"""Tests of the must-link / cannot-link constraint builders (scdeepclust.pp)."""

from __future__ import annotations

import time

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform

import scdeepclust as sdc
from scdeepclust.pp import _constraints, constraints_from_labels, constraints_from_rep

N_OBS = 300


@pytest.fixture
def adata() -> ad.AnnData:
    rng = np.random.default_rng(42)
    n_types = 4
    types = rng.integers(n_types, size=N_OBS)
    centres = rng.normal(scale=3.0, size=(n_types, 6))
    protein = centres[types] + rng.normal(size=(N_OBS, 6))  # real values, some negative
    x = rng.poisson(1.0, size=(N_OBS, 20)).astype(np.float32)
    a = ad.AnnData(x)
    a.obs_names = [f"c{i}" for i in range(N_OBS)]
    cell_type = pd.Series([f"t{t}" for t in types], index=a.obs_names)
    a.obs["cell_type"] = pd.Categorical(cell_type)
    known = rng.random(N_OBS) < 0.3
    a.obs["known"] = a.obs["cell_type"].where(known)  # categorical with NaN
    a.obs["known_obj"] = pd.Series(
        [t if k else None for t, k in zip(cell_type, known, strict=True)],
        index=a.obs_names,
        dtype=object,
    )
    a.obs["known_na"] = pd.Series(
        [t if k else pd.NA for t, k in zip(cell_type, known, strict=True)],
        index=a.obs_names,
        dtype="string",
    )
    a.obs["known_float"] = np.where(known, types.astype(float), np.nan)
    a.obsm["protein"] = protein
    a.obsm["protein_df"] = pd.DataFrame(protein, index=a.obs_names)
    return a


def _unordered_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    return lo * n + hi


def _check_pair_arrays(ml: np.ndarray, cl: np.ndarray, n_obs: int, n_pairs: int) -> None:
    for arr in (ml, cl):
        assert isinstance(arr, np.ndarray)
        assert arr.dtype == np.int64
        assert arr.ndim == 2 and arr.shape[1] == 2
        assert (arr >= 0).all() and (arr < n_obs).all()
        assert (arr[:, 0] != arr[:, 1]).all()  # no self pairs
    assert len(ml) + len(cl) == n_pairs
    keys = _unordered_keys(np.concatenate([ml, cl]), n_obs)
    assert len(np.unique(keys)) == len(keys)  # no duplicates, (i, j) == (j, i)


def _snapshot(a: ad.AnnData) -> dict:
    return {
        "obs": a.obs.copy(),
        "obsm": {k: (v.copy()) for k, v in a.obsm.items()},
        "obsm_keys": list(a.obsm.keys()),
        "uns_keys": list(a.uns.keys()),
        "layers": list(a.layers.keys()),
        "X": np.array(a.X, copy=True),
    }


def _assert_unchanged(a: ad.AnnData, snap: dict) -> None:
    pd.testing.assert_frame_equal(a.obs, snap["obs"])
    assert list(a.obsm.keys()) == snap["obsm_keys"]
    for k, v in snap["obsm"].items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(a.obsm[k], v)
        else:
            np.testing.assert_array_equal(a.obsm[k], v)
    assert list(a.uns.keys()) == snap["uns_keys"]
    assert list(a.layers.keys()) == snap["layers"]
    np.testing.assert_array_equal(a.X, snap["X"])


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("key", ["known", "known_obj", "known_na", "known_float"])
def test_labels_rule(adata, key):
    n_pairs = 500
    snap = _snapshot(adata)
    ml, cl = constraints_from_labels(adata, key, n_pairs=n_pairs, random_state=1)
    _check_pair_arrays(ml, cl, adata.n_obs, n_pairs)
    lab = adata.obs[key].to_numpy(dtype=object)
    labelled = set(np.flatnonzero(pd.notna(adata.obs[key]).to_numpy()))
    assert set(np.unique(np.concatenate([ml, cl]))) <= labelled  # only labelled cells
    assert all(lab[i] == lab[j] for i, j in ml)
    assert all(lab[i] != lab[j] for i, j in cl)
    assert len(ml) > 0 and len(cl) > 0
    _assert_unchanged(adata, snap)


def test_labels_all_pairs_and_seeding(adata):
    # n_pairs equal to every available pair: each pair of labelled cells exactly once
    lab = adata.obs["known"]
    m = int(lab.notna().sum())
    total = m * (m - 1) // 2
    ml, cl = constraints_from_labels(adata, "known", n_pairs=total, random_state=0)
    _check_pair_arrays(ml, cl, adata.n_obs, total)
    codes = lab.cat.codes.to_numpy()
    codes = codes[codes >= 0]
    expected_ml = sum(c * (c - 1) // 2 for c in np.bincount(codes))
    assert len(ml) == expected_ml

    a1 = constraints_from_labels(adata, "known", n_pairs=200, random_state=7)
    a2 = constraints_from_labels(adata, "known", n_pairs=200, random_state=7)
    b = constraints_from_labels(adata, "known", n_pairs=200, random_state=8)
    np.testing.assert_array_equal(a1[0], a2[0])
    np.testing.assert_array_equal(a1[1], a2[1])
    assert not np.array_equal(np.concatenate(a1), np.concatenate(b))
    # None: fresh entropy, still valid
    ml, cl = constraints_from_labels(adata, "known", n_pairs=200, random_state=None)
    _check_pair_arrays(ml, cl, adata.n_obs, 200)


def test_labels_global_rng_untouched(adata):
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    constraints_from_labels(adata, "known", n_pairs=100)
    constraints_from_rep(adata, n_pairs=100)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_labels_on_view(adata):
    view = adata[50:250]
    assert view.is_view
    ml, cl = constraints_from_labels(view, "known", n_pairs=100, random_state=0)
    _check_pair_arrays(ml, cl, view.n_obs, 100)
    lab = view.obs["known"].to_numpy(dtype=object)
    assert all(lab[i] == lab[j] for i, j in ml)
    assert all(lab[i] != lab[j] for i, j in cl)
    assert view.is_view  # not actualised by a write


def test_labels_errors(adata):
    with pytest.raises(KeyError, match=r"'nope' not found in `adata.obs`.*available columns"):
        constraints_from_labels(adata, "nope")
    adata.obs["one"] = pd.Series([np.nan] * adata.n_obs, index=adata.obs_names, dtype=object)
    adata.obs.iloc[3, adata.obs.columns.get_loc("one")] = "a"
    with pytest.raises(ValueError, match=r"has 1 labelled cell\(s\) out of 300.*at least 2"):
        constraints_from_labels(adata, "one")
    adata.obs["none"] = pd.Categorical([np.nan] * adata.n_obs, categories=["a", "b"])
    with pytest.raises(ValueError, match=r"has 0 labelled cell"):
        constraints_from_labels(adata, "none")
    adata.obs["two"] = pd.Categorical(["a", "b", "a"] + [np.nan] * (adata.n_obs - 3))
    with pytest.raises(ValueError, match=r"`n_pairs=4` exceeds the 3 distinct pairs among the 3"):
        constraints_from_labels(adata, "two", n_pairs=4)
    ml, cl = constraints_from_labels(adata, "two", n_pairs=3)
    assert len(ml) == 1 and len(cl) == 2
    with pytest.raises(ValueError, match=r"`n_pairs` must be at least 1, got 0"):
        constraints_from_labels(adata, "known", n_pairs=0)
    with pytest.raises(TypeError, match=r"`n_pairs` must be a positive integer"):
        constraints_from_labels(adata, "known", n_pairs=10.5)


# --------------------------------------------------------------------------- representation


def _check_rep_rule(a, ml, cl, key="protein", ml_q=0.005, cl_q=0.95, tol=0.0):
    x = np.asarray(a.obsm[key], dtype=float)
    d_exact = pdist(x)
    cut_ml_hi = np.quantile(d_exact, min(ml_q + tol, 1.0))
    cut_cl_lo = np.quantile(d_exact, max(cl_q - tol, 0.0))
    dm = squareform(d_exact)
    assert (dm[ml[:, 0], ml[:, 1]] < cut_ml_hi).all()
    assert (dm[cl[:, 0], cl[:, 1]] > cut_cl_lo).all()


@pytest.mark.parametrize("key", ["protein", "protein_df"])
def test_rep_rule_exact(adata, key):
    snap = _snapshot(adata)
    n_pairs = 1500
    ml, cl = constraints_from_rep(adata, key, n_pairs=n_pairs, random_state=0)
    _check_pair_arrays(ml, cl, adata.n_obs, n_pairs)
    _check_rep_rule(adata, ml, cl, key)  # exact cut-offs on small data
    assert 0.03 < len(ml) / n_pairs < 0.2  # about 0.005 / 0.055 = 9 %
    _assert_unchanged(adata, snap)


def test_rep_rule_sampled(adata, monkeypatch):
    # force the large-data path (sampled quantiles + block rejection sampling)
    monkeypatch.setattr(_constraints, "_MAX_EXACT_PAIRS", 0)
    monkeypatch.setattr(_constraints, "_N_QUANTILE_SAMPLE", 200_000)
    monkeypatch.setattr(_constraints, "_MIN_BLOCK", 1024)  # several blocks
    snap = _snapshot(adata)
    n_pairs = 2000
    ml, cl = constraints_from_rep(adata, n_pairs=n_pairs, random_state=3)
    _check_pair_arrays(ml, cl, adata.n_obs, n_pairs)
    _check_rep_rule(adata, ml, cl, tol=0.003)
    assert 0.03 < len(ml) / n_pairs < 0.2
    _assert_unchanged(adata, snap)
    a = constraints_from_rep(adata, n_pairs=500, random_state=11)
    b = constraints_from_rep(adata, n_pairs=500, random_state=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_rep_quantiles_and_seeding(adata):
    ml, cl = constraints_from_rep(
        adata, n_pairs=3000, ml_quantile=0.05, cl_quantile=0.8, random_state=0
    )
    _check_pair_arrays(ml, cl, adata.n_obs, 3000)
    _check_rep_rule(adata, ml, cl, ml_q=0.05, cl_q=0.8)
    assert 0.12 < len(ml) / 3000 < 0.30  # about 0.05 / 0.25 = 20 %
    a = constraints_from_rep(adata, n_pairs=300, random_state=5)
    b = constraints_from_rep(adata, n_pairs=300, random_state=5)
    c = constraints_from_rep(adata, n_pairs=300, random_state=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))


def test_rep_on_view(adata):
    view = adata[::2]
    ml, cl = constraints_from_rep(view, n_pairs=400, random_state=0)
    _check_pair_arrays(ml, cl, view.n_obs, 400)
    _check_rep_rule(view, ml, cl)
    assert view.is_view


def test_decode_pairs_roundtrip():
    n = 5000
    k = np.arange(n * (n - 1) // 2, dtype=np.int64)[::997]
    i, j = _constraints._decode_pairs(k)
    assert (i < j).all() and (i >= 0).all() and (j < n).all()
    np.testing.assert_array_equal(j * (j - 1) // 2 + i, k)
    big = np.array([10**12, 10**13 + 12345, 2**52], dtype=np.int64)
    i, j = _constraints._decode_pairs(big)
    assert (i < j).all() and (i >= 0).all()
    np.testing.assert_array_equal(j * (j - 1) // 2 + i, big)


def test_rep_errors(adata):
    with pytest.raises(KeyError, match=r"'adt' not found in `adata.obsm`; available keys: \["):
        constraints_from_rep(adata, "adt")
    bad = adata.obsm["protein"].copy()
    bad[5, 2] = np.nan
    bad[7, 0] = np.inf
    adata.obsm["bad"] = bad
    with pytest.raises(ValueError, match=r"contains 2 NaN/inf value\(s\) in 2 cell\(s\)"):
        constraints_from_rep(adata, "bad")
    adata.obsm["empty"] = np.zeros((adata.n_obs, 0))
    with pytest.raises(ValueError, match=r"has shape \(300, 0\); expected \(300, n_features\)"):
        constraints_from_rep(adata, "empty")
    adata.obsm["cube"] = np.zeros((adata.n_obs, 2, 2))
    with pytest.raises(ValueError, match=r"has shape \(300, 2, 2\)"):
        constraints_from_rep(adata, "cube")
    adata.obsm["text"] = pd.DataFrame({"a": ["x"] * adata.n_obs}, index=adata.obs_names)
    with pytest.raises(TypeError, match=r"non-numeric dtype"):
        constraints_from_rep(adata, "text")
    for ml_q, cl_q in [(0.0, 0.95), (0.5, 0.4), (0.005, 1.0), (-0.1, 0.5), (0.3, 0.3)]:
        with pytest.raises(ValueError, match=r"0 < ml_quantile < cl_quantile < 1"):
            constraints_from_rep(adata, ml_quantile=ml_q, cl_quantile=cl_q)
    with pytest.raises(ValueError, match=r"`n_pairs` must be at least 1"):
        constraints_from_rep(adata, n_pairs=0)
    with pytest.raises(ValueError, match=r"`n_pairs=40000` exceeds the \d+ distinct pairs"):
        constraints_from_rep(adata, n_pairs=40000)
    with pytest.raises(ValueError, match=r"At least 2 cells"):
        constraints_from_rep(adata[:1])


def test_rep_gives_up(adata, monkeypatch):
    monkeypatch.setattr(_constraints, "_MAX_EXACT_PAIRS", 0)
    monkeypatch.setattr(_constraints, "_N_QUANTILE_SAMPLE", 50_000)
    monkeypatch.setattr(_constraints, "_MAX_BLOCKS", 2)
    monkeypatch.setattr(_constraints, "_MIN_BLOCK", 16)
    monkeypatch.setattr(_constraints, "_MAX_BLOCK", 64)
    with pytest.raises(ValueError, match=r"Found only \d+ of `n_pairs=2000`.*after 2 blocks"):
        constraints_from_rep(adata, n_pairs=2000)
    monkeypatch.setattr(_constraints, "_MAX_BLOCKS", 1000)
    with pytest.raises(ValueError, match=r"`n_pairs=30000` exceeds the estimated \d+"):
        constraints_from_rep(adata, n_pairs=30000)


# --------------------------------------------------------------------------- real data


def test_rep_cite_cbmc():
    """The protein rule on the real CITE-seq CBMC protein levels (8,617 cells x 10 ADTs)."""
    a = sdc.datasets.cite_cbmc()
    adt = np.asarray(a.obsm["protein"], dtype=np.float64)
    assert adt.shape == (8617, 10)
    t0 = time.perf_counter()
    ml, cl = constraints_from_rep(a, "protein", n_pairs=20000, random_state=0)
    elapsed = time.perf_counter() - t0
    _check_pair_arrays(ml, cl, a.n_obs, 20000)
    frac = len(ml) / 20000
    print(f"CITE CBMC: {len(ml)} ML ({frac:.1%}) + {len(cl)} CL in {elapsed:.2f} s")
    assert 0.03 < frac < 0.20
    # ML pairs are much closer than CL pairs
    d_ml = np.linalg.norm(adt[ml[:, 0]] - adt[ml[:, 1]], axis=1)
    d_cl = np.linalg.norm(adt[cl[:, 0]] - adt[cl[:, 1]], axis=1)
    assert d_ml.max() < d_cl.min()
