"""Deep snapshots of an AnnData and equality checks, shared by the test modules."""

import copy as _copy
from collections.abc import Mapping as _Mapping
from collections.abc import Sequence as _Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def _copy_value(v):
    if sp.issparse(v):
        return v.copy()
    if isinstance(v, pd.DataFrame):
        return v.copy(deep=True)
    return _copy.deepcopy(np.asarray(v) if hasattr(v, "__array__") else v)


def snapshot_adata(adata: ad.AnnData) -> dict:
    """A deep copy of every slot of ``adata``."""
    return {
        "shape": adata.shape,
        "is_view": adata.is_view,
        "obs_names": adata.obs_names.copy(),
        "var_names": adata.var_names.copy(),
        "X": _copy_value(adata.X),
        "layers": {k: _copy_value(v) for k, v in adata.layers.items()},
        "obs": adata.obs.copy(deep=True),
        "var": adata.var.copy(deep=True),
        "obsm": {k: _copy_value(v) for k, v in adata.obsm.items()},
        "varm": {k: _copy_value(v) for k, v in adata.varm.items()},
        "obsp": {k: _copy_value(v) for k, v in adata.obsp.items()},
        "uns": _copy.deepcopy(dict(adata.uns)),
    }


def assert_matrix_equal(a, b, where: str) -> None:
    """Same sparsity, format, shape, dtype and values (NaN equals NaN)."""
    assert sp.issparse(a) == sp.issparse(b), where
    if sp.issparse(a):
        assert a.format == b.format, where
        a, b = a.toarray(), b.toarray()
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, where
    assert a.dtype == b.dtype, where
    np.testing.assert_array_equal(a, b, err_msg=where)


def assert_tree_equal(a, b, where: str = "uns") -> None:
    """Recursive equality of nested mappings / arrays / scalars (as read back from h5ad)."""
    if isinstance(a, _Mapping):
        assert isinstance(b, _Mapping), where
        assert set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_tree_equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif sp.issparse(a) or sp.issparse(b):
        assert_matrix_equal(a, b, where)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_, b_ = np.asarray(a), np.asarray(b)
        assert a_.shape == b_.shape, where
        if a_.dtype.kind in "fiub":
            assert a_.dtype == b_.dtype, f"{where}: {a_.dtype} != {b_.dtype}"
        np.testing.assert_array_equal(a_, b_, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
        assert (
            isinstance(b, type(a)) or isinstance(a, type(b)) or (np.isscalar(a) and np.isscalar(b))
        ), f"{where}: {type(a)} != {type(b)}"


def assert_unchanged(
    adata: ad.AnnData, snap: dict, *, except_keys: str | _Sequence[str] | None = None
) -> None:
    """``adata`` equals the snapshot, except for the slots written under ``except_keys``.

    For each key ``k`` in ``except_keys`` the method's output slots ``obs[k]``,
    ``obsm['X_' + k]``, ``obsm[k + '_q']`` and ``uns[k]`` are ignored.
    """
    keys = [except_keys] if isinstance(except_keys, str) else list(except_keys or [])
    new = {name for k in keys for name in (f"X_{k}", f"{k}_q", k)}
    assert adata.shape == snap["shape"]
    assert adata.is_view == snap["is_view"]
    pd.testing.assert_index_equal(adata.obs_names, snap["obs_names"])
    pd.testing.assert_index_equal(adata.var_names, snap["var_names"])
    assert_matrix_equal(adata.X, snap["X"], "X")
    assert set(adata.layers.keys()) == set(snap["layers"])
    for k, v in snap["layers"].items():
        assert_matrix_equal(adata.layers[k], v, f"layers[{k!r}]")
    obs = adata.obs.drop(columns=[c for c in adata.obs.columns if c in new])
    pd.testing.assert_frame_equal(obs, snap["obs"])
    pd.testing.assert_frame_equal(adata.var, snap["var"])
    for slot in ("obsm", "varm", "obsp"):
        current = {k: v for k, v in getattr(adata, slot).items() if k not in new}
        assert set(current) == set(snap[slot]), slot
        for k, v in snap[slot].items():
            assert_matrix_equal(current[k], v, f"{slot}[{k!r}]")
    uns = {k: v for k, v in adata.uns.items() if k not in new}
    assert_tree_equal(uns, snap["uns"])
