"""Tests of the model objects ``sdc.models.SCDCC`` / ``sdc.models.DESC``.

fit / predict / save / load on small synthetic counts with tiny schedules (CPU, one thread):
equality with the tools, the on-disk format and its errors, gene alignment, the size-factor
reference, batches, config validation, the ``module/`` layout and the shared docstrings.
"""

from __future__ import annotations

import ast
import collections
import json
import shutil
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _threads import one_thread
from torch import nn

import scdeepclust as sdc
from scdeepclust.models import (
    DESC,
    FORMAT_VERSION,
    SCDCC,
    DESCConfig,
    ModelFormatError,
    SCDCCConfig,
    _docs,
)

pytestmark = pytest.mark.usefixtures("torch_single_thread")

N_OBS, N_VARS, LATENT = 240, 60, 4

#: Tiny schedules: well under a second per fit on one CPU core (plus Leiden for DESC).
SCDCC_PARAMS = {
    "n_clusters": 3,
    "hidden_dims": (16,),
    "latent_dim": LATENT,
    "pretrain_epochs": 3,
    "max_epochs": 3,
    "batch_size": 64,
    "device": "cpu",
}
DESC_PARAMS = {
    "resolution": (0.4, 0.8),
    "hidden_dims": (16,),
    "latent_dim": LATENT,
    "pretrain_epochs": 3,
    "max_epochs": 3,
    "batch_size": 64,
    "device": "cpu",
}
DESC_KEYS = ["desc_r0.4", "desc_r0.8"]
FILES = ["model.json", "state.npz", "weights.pt"]


class Fitted:
    """A training AnnData (left as it was), the tool's output and the fitted model."""

    def __init__(self, adata, snap, tool, model):
        self.adata, self.snap, self.tool, self.model = adata, snap, tool, model


def assert_slots_equal(a: ad.AnnData, b: ad.AnnData, key: str) -> None:
    """Embedding, q and labels of ``key`` exactly equal in two AnnData."""
    assert np.array_equal(a.obsm[f"X_{key}"], b.obsm[f"X_{key}"]), key
    assert np.array_equal(a.obsm[f"{key}_q"], b.obsm[f"{key}_q"]), key
    pd.testing.assert_series_equal(a.obs[key], b.obs[key])


def assert_slots_match_result(adata: ad.AnnData, result) -> None:
    """The slots of ``result.key`` in ``adata`` exactly equal the fit's ``MethodResult``."""
    key = result.key
    assert adata.obsm[f"X_{key}"].dtype == np.float32
    assert np.array_equal(adata.obsm[f"X_{key}"], result.embedding), key
    assert np.array_equal(adata.obsm[f"{key}_q"], result.q), key
    labels = adata.obs[key]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert list(labels.cat.categories) == [str(i) for i in range(result.q.shape[1])]
    assert np.array_equal(labels.cat.codes.to_numpy(), result.q.argmax(axis=1)), key


def message(excinfo) -> str:
    """The message of a raised exception (KeyError's str() adds quotes)."""
    return str(excinfo.value.args[0])


# ---------------------------------------------------------------------------
# Shared fits (module scope): every test only reads them
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scdcc_fit(make_synthetic, adata_checks):
    """``tl.scdcc`` and ``SCDCC(...).fit`` with the same parameters on the same data."""
    adata = make_synthetic()
    snap = adata_checks.snapshot(adata)
    with one_thread():
        tool = sdc.tl.scdcc(adata, progress_bar=False, copy=True, **SCDCC_PARAMS)
        model = SCDCC(**SCDCC_PARAMS).fit(adata, progress_bar=False)
    return Fitted(adata, snap, tool, model)


@pytest.fixture(scope="module")
def desc_fit(make_synthetic, adata_checks):
    """``tl.desc`` and ``DESC(...).fit`` at two resolutions on the same data."""
    adata = make_synthetic()
    snap = adata_checks.snapshot(adata)
    params = {k: v for k, v in DESC_PARAMS.items() if k != "resolution"}
    with one_thread():
        tool = sdc.tl.desc(adata, [0.4, 0.8], progress_bar=False, copy=True, **params)
        model = DESC(**DESC_PARAMS).fit(adata, progress_bar=False)
    return Fitted(adata, snap, tool, model)


@pytest.fixture(scope="module")
def saved_scdcc(scdcc_fit, tmp_path_factory) -> Path:
    """The fitted SCDCC saved once (copy it before modifying)."""
    return scdcc_fit.model.save(tmp_path_factory.mktemp("saved") / "scdcc_model")


@pytest.fixture(scope="module")
def saved_desc(desc_fit, tmp_path_factory) -> Path:
    """The fitted two-resolution DESC saved once (copy it before modifying)."""
    return desc_fit.model.save(tmp_path_factory.mktemp("saved") / "desc_model")


@pytest.fixture
def scdcc_copy(saved_scdcc, tmp_path) -> Path:
    """A private copy of the saved SCDCC folder."""
    return Path(shutil.copytree(saved_scdcc, tmp_path / "model"))


# ---------------------------------------------------------------------------
# 1. tool == model.fit == model.predict on the training cells
# ---------------------------------------------------------------------------


def test_scdcc_tool_equals_fit_equals_predict(scdcc_fit, adata_checks):
    adata, tool, model = scdcc_fit.adata, scdcc_fit.tool, scdcc_fit.model
    adata_checks.assert_unchanged(adata, scdcc_fit.snap)  # fit reads, never writes
    assert model.is_fitted
    assert model.keys == ["scdcc"]
    (result,) = model.results_
    assert result.key == "scdcc"
    assert result.embedding.shape == (N_OBS, LATENT)
    assert result.q.shape == (N_OBS, 3)
    assert_slots_match_result(tool, result)
    assert np.array_equal(tool.uns["scdcc"]["cluster_centers"], result.centers)

    predicted = adata.copy()
    assert model.predict(predicted) is None
    assert_slots_equal(predicted, tool, "scdcc")
    uns = predicted.uns["scdcc"]
    assert uns["predicted"] is True
    assert np.array_equal(uns["cluster_centers"], result.centers)
    assert uns["params"]["n_clusters"] == 3
    assert np.array_equal(model.get_latent_representation(adata), result.embedding)
    json.dumps(model.summary_)  # JSON-safe training record
    assert (
        model.summary_["scdcc"]["n_epochs"]["cluster"] == tool.uns["scdcc"]["n_epochs"]["cluster"]
    )


def test_desc_tool_equals_fit_equals_predict(desc_fit, adata_checks):
    adata, tool, model = desc_fit.adata, desc_fit.tool, desc_fit.model
    adata_checks.assert_unchanged(adata, desc_fit.snap)
    assert model.keys == DESC_KEYS
    assert [r.key for r in model.results_] == DESC_KEYS
    assert [run["resolution"] for run in model.runs_] == [0.4, 0.8]

    predicted = adata.copy()
    model.predict(predicted)
    for key, result in zip(DESC_KEYS, model.results_, strict=True):
        assert_slots_match_result(tool, result)
        assert_slots_equal(predicted, tool, key)
        assert np.array_equal(tool.uns[key]["cluster_centers"], result.centers)
        assert predicted.uns[key]["predicted"] is True
        assert np.array_equal(model.get_latent_representation(adata, key=key), result.embedding)
    # the first run is the default of get_latent_representation
    assert np.array_equal(model.get_latent_representation(adata), model.results_[0].embedding)
    with pytest.raises(KeyError, match="desc_r1.2"):
        model.get_latent_representation(adata, key="desc_r1.2")


# ---------------------------------------------------------------------------
# 2. save -> load -> predict
# ---------------------------------------------------------------------------


def test_saved_folder_contents(scdcc_fit, saved_scdcc):
    model = scdcc_fit.model
    assert sorted(p.name for p in saved_scdcc.iterdir()) == FILES
    meta = json.loads((saved_scdcc / "model.json").read_text())
    assert meta["format"] == "scdeepclust-model"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["tool"] == "scdcc"
    assert meta["config"] == model.config.to_dict()
    assert meta["state"]["var_names"] == model.state_.var_names.tolist()
    assert meta["state"]["library_reference"] == model.state_.library_reference
    assert [run["key"] for run in meta["runs"]] == ["scdcc"]

    weights = torch.load(saved_scdcc / "weights.pt", weights_only=True)
    assert isinstance(weights, dict) and weights
    assert all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items())
    own = model.modules_["scdcc"].state_dict()
    assert set(weights) == {f"scdcc/{k}" for k in own}
    for name, tensor in own.items():
        assert torch.equal(weights[f"scdcc/{name}"], tensor), name

    with np.load(saved_scdcc / "state.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"mean", "std"}
        assert np.array_equal(arrays["mean"], model.state_.mean)
        assert np.array_equal(arrays["std"], model.state_.std)


def test_scdcc_save_load_predict(scdcc_fit, saved_scdcc, adata_checks):
    model = scdcc_fit.model
    loaded = SCDCC.load(saved_scdcc)
    assert isinstance(loaded, SCDCC) and loaded.is_fitted
    assert loaded.keys == ["scdcc"]
    assert loaded.config == model.config
    assert np.array_equal(loaded.state_.var_names, model.state_.var_names)
    assert loaded.state_.library_reference == model.state_.library_reference
    assert np.array_equal(loaded.state_.mean, model.state_.mean)
    assert np.array_equal(loaded.state_.std, model.state_.std)
    assert loaded.summary_ == json.loads(json.dumps(model.summary_))

    adata = scdcc_fit.adata.copy()
    snap = adata_checks.snapshot(adata)
    out = loaded.predict(adata, copy=True)
    adata_checks.assert_unchanged(adata, snap)  # copy=True leaves the input alone
    assert isinstance(out, ad.AnnData) and out is not adata
    assert_slots_match_result(out, model.results_[0])
    assert_slots_equal(out, scdcc_fit.tool, "scdcc")
    assert out.uns["scdcc"]["predicted"] is True

    assert loaded.predict(adata) is None  # in place now
    assert_slots_match_result(adata, model.results_[0])
    adata_checks.assert_unchanged(adata, snap, except_keys="scdcc")

    again = sdc.models.load(saved_scdcc)  # dispatches by tool
    assert type(again) is SCDCC
    assert np.array_equal(
        again.get_latent_representation(scdcc_fit.adata), model.results_[0].embedding
    )


def test_desc_save_load_predict(desc_fit, saved_desc):
    model = desc_fit.model
    assert sorted(p.name for p in saved_desc.iterdir()) == FILES
    weights = torch.load(saved_desc / "weights.pt", weights_only=True)
    assert {k.split("/", 1)[0] for k in weights} == set(DESC_KEYS)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())

    loaded = sdc.models.load(saved_desc)
    assert type(loaded) is DESC
    assert loaded.keys == DESC_KEYS
    assert loaded.config == model.config
    adata = desc_fit.adata.copy()
    loaded.predict(adata)
    for key, result in zip(DESC_KEYS, model.results_, strict=True):
        assert_slots_match_result(adata, result)
        assert_slots_equal(adata, desc_fit.tool, key)
        assert np.array_equal(adata.uns[key]["cluster_centers"], result.centers)
    assert np.array_equal(DESC.load(saved_desc).state_.mean, model.state_.mean)


# ---------------------------------------------------------------------------
# 3. Genes on predict: aligned by name, missing ones named, duplicates refused
# ---------------------------------------------------------------------------


def test_predict_reordered_genes_with_extras(scdcc_fit):
    adata, model = scdcc_fit.adata, scdcc_fit.model
    reference = model.get_latent_representation(adata)
    rng = np.random.default_rng(1)
    order = rng.permutation(adata.n_vars)
    # many counts in the extra genes: they must not enter the size factors either
    extra = sp.csr_matrix(rng.poisson(20.0, size=(adata.n_obs, 5)).astype(np.float32))
    counts = sp.hstack([extra[:, :2], adata.layers["counts"][:, order], extra[:, 2:]]).tocsr()
    names = ["extra0", "extra1", *adata.var_names[order], "extra2", "extra3", "extra4"]
    new = ad.AnnData(
        counts.copy(),
        obs=adata.obs.copy(),
        var=pd.DataFrame(index=names),
        layers={"counts": counts},
    )
    np.testing.assert_allclose(model.get_latent_representation(new), reference, rtol=0, atol=1e-6)
    model.predict(new)
    pd.testing.assert_series_equal(new.obs["scdcc"], scdcc_fit.tool.obs["scdcc"])
    np.testing.assert_allclose(
        new.obsm["scdcc_q"], scdcc_fit.tool.obsm["scdcc_q"], rtol=0, atol=1e-6
    )


def test_predict_missing_genes_raises_keyerror(scdcc_fit, adata_checks):
    adata, model = scdcc_fit.adata, scdcc_fit.model
    missing = model.state_.var_names[[3, 17]].tolist()
    new = adata[:, ~adata.var_names.isin(missing)].copy()
    snap = adata_checks.snapshot(new)
    for call in (model.predict, model.get_latent_representation):
        with pytest.raises(KeyError) as info:
            call(new)
        text = message(info)
        assert f"2 of the model's {model.state_.n_genes} genes" in text
        for gene in missing:
            assert repr(gene) in text
    adata_checks.assert_unchanged(new, snap)


def test_predict_duplicate_var_names_raises(scdcc_fit, adata_checks):
    new = scdcc_fit.adata.copy()
    names = new.var_names.tolist()
    names[1] = names[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anndata: names not unique
        new.var_names = names
    snap = adata_checks.snapshot(new)
    with pytest.raises(ValueError, match="var_names are not unique"):
        scdcc_fit.model.predict(new)
    adata_checks.assert_unchanged(new, snap)


def test_predict_missing_layer_raises(scdcc_fit, adata_checks):
    new = scdcc_fit.adata.copy()
    del new.layers["counts"]
    snap = adata_checks.snapshot(new)
    with pytest.raises(KeyError, match="Layer 'counts' not found"):
        scdcc_fit.model.predict(new)
    adata_checks.assert_unchanged(new, snap)


# ---------------------------------------------------------------------------
# 4. Size factors: the training state's reference, not the new cells' median
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_name", ["scdcc_fit", "desc_fit"])
def test_subset_predicts_like_full_data(fit_name, request):
    fit = request.getfixturevalue(fit_name)
    adata, model = fit.adata, fit.model
    genes = adata.var_names.get_indexer(model.state_.var_names)
    library = np.asarray(adata.layers["counts"][:, genes].sum(axis=1), dtype=np.float64).ravel()
    if fit_name == "scdcc_fit":
        assert model.state_.library_reference == pytest.approx(np.median(library))
    else:
        assert model.state_.library_reference == 1e4  # DESC's target_sum
    # the 40 largest libraries: their own median is far from the training reference
    subset = np.sort(np.argsort(library)[-40:])
    assert np.median(library[subset]) > 1.2 * np.median(library)
    new = adata[subset].copy()
    for key in model.keys:
        full = model.get_latent_representation(adata, key=key)
        part = model.get_latent_representation(new, key=key)
        np.testing.assert_allclose(part, full[subset], rtol=0, atol=1e-6, err_msg=key)
    model.predict(new)
    for key in model.keys:
        np.testing.assert_array_equal(
            new.obs[key].to_numpy(), fit.tool.obs[key].to_numpy()[subset], err_msg=key
        )


# ---------------------------------------------------------------------------
# 5. Batches
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_adata(make_synthetic):
    """Synthetic counts with an ``obs['batch']`` of two batches (alternate cells)."""
    adata = make_synthetic(seed=2)
    adata.obs["batch"] = pd.Categorical(np.where(np.arange(adata.n_obs) % 2 == 0, "b0", "b1"))
    return adata


def test_scdcc_batch_key(batch_adata, adata_checks, tmp_path):
    adata = batch_adata.copy()
    snap = adata_checks.snapshot(adata)
    tool = sdc.tl.scdcc(adata, batch_key="batch", progress_bar=False, copy=True, **SCDCC_PARAMS)
    model = SCDCC(batch_key="batch", **SCDCC_PARAMS).fit(adata, progress_bar=False)
    adata_checks.assert_unchanged(adata, snap)
    assert_slots_equal(tool, _predicted(model, adata), "scdcc")
    assert_slots_match_result(tool, model.results_[0])

    state = model.state_
    assert state.batch_key == "batch"
    assert state.batch_categories == ["b0", "b1"]
    assert state.batch_covariate and not state.scale_by_batch
    assert state.n_covariates == 2
    assert state.mean.shape == (1, state.n_genes)  # one scaling group: batches enter the net
    module = model.modules_["scdcc"]
    first = module.encoder.net[0]
    assert isinstance(first, nn.Linear)
    assert first.in_features == state.n_genes + 2
    assert module.decoder.hidden[0].in_features == LATENT + 2
    assert tool.uns["scdcc"]["params"]["batch_key"] == "batch"

    # the batch is an input: swapping the two batches changes the embedding
    swapped = adata.copy()
    swapped.obs["batch"] = pd.Categorical(np.where(adata.obs["batch"] == "b0", "b1", "b0"))
    assert not np.allclose(
        model.get_latent_representation(swapped), model.results_[0].embedding, atol=1e-4
    )

    unseen = adata[:20].copy()
    unseen.obs["batch"] = pd.Categorical(["b0"] * 10 + ["b2"] * 10)
    snap = adata_checks.snapshot(unseen)
    with pytest.raises(ValueError, match=r"not trained on: 'b2'"):
        model.predict(unseen)
    adata_checks.assert_unchanged(unseen, snap)

    no_column = adata[:20].copy()
    del no_column.obs["batch"]
    with pytest.raises(KeyError, match="batch_key='batch'"):
        model.predict(no_column)

    loaded = sdc.models.load(model.save(tmp_path / "batch_model"))
    assert loaded.state_.batch_categories == ["b0", "b1"]
    assert loaded.state_.n_covariates == 2
    assert_slots_equal(_predicted(loaded, adata), tool, "scdcc")


def test_desc_batch_key_scales_within_batches(batch_adata, tmp_path):
    adata = batch_adata.copy()
    model = DESC(batch_key="batch", **{**DESC_PARAMS, "resolution": 0.8, "n_clusters": 3})
    model.fit(adata, progress_bar=False)
    assert model.keys == ["desc"]
    state = model.state_
    assert state.batch_categories == ["b0", "b1"]
    assert state.scale_by_batch and not state.batch_covariate
    assert state.n_covariates == 0
    assert state.mean.shape == (2, state.n_genes)
    assert state.std.shape == (2, state.n_genes)
    assert model.modules_["desc"].encoder.net[0].in_features == state.n_genes
    # each row holds its batch's mean of log1p(counts / (library / 1e4))
    counts = adata.layers["counts"][:, adata.var_names.get_indexer(state.var_names)].toarray()
    lognorm = np.log1p(counts / (counts.sum(axis=1, keepdims=True) / 1e4))
    for row, batch in enumerate(["b0", "b1"]):
        cells = (adata.obs["batch"] == batch).to_numpy()
        np.testing.assert_allclose(state.mean[row], lognorm[cells].mean(axis=0), rtol=1e-4)
    assert not np.allclose(state.mean[0], state.mean[1])

    predicted = _predicted(model, adata)
    assert_slots_match_result(predicted, model.results_[0])
    loaded = DESC.load(model.save(tmp_path / "desc_batch"))
    assert loaded.state_.mean.shape == (2, state.n_genes)
    assert_slots_equal(_predicted(loaded, adata), predicted, "desc")

    unseen = adata[:10].copy()
    unseen.obs["batch"] = pd.Categorical(["b3"] * 10)
    with pytest.raises(ValueError, match="'b3'"):
        model.predict(unseen)


def _predicted(model, adata: ad.AnnData) -> ad.AnnData:
    """``model.predict(adata, copy=True)``."""
    return model.predict(adata, copy=True)


# ---------------------------------------------------------------------------
# 6. save errors, unfitted models
# ---------------------------------------------------------------------------


def test_save_existing_folder_and_overwrite(scdcc_fit, tmp_path):
    model = scdcc_fit.model
    path = tmp_path / "m"
    assert model.save(path) == path
    (path / "marker.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)
    assert (path / "marker.txt").read_text() == "keep me"  # left alone
    model.save(str(path), overwrite=True)
    assert sorted(p.name for p in path.iterdir()) == FILES
    assert SCDCC.load(path).keys == ["scdcc"]

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FileExistsError):
        model.save(a_file)
    assert a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "m"]  # no temp folder left


@pytest.mark.parametrize("cls", [SCDCC, DESC])
def test_unfitted_model_raises(cls, synthetic_adata, adata_checks, tmp_path):
    model = cls(hidden_dims=(16,), latent_dim=LATENT)
    assert not model.is_fitted and model.keys == []
    assert "not fitted" in repr(model)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    snap = adata_checks.snapshot(synthetic_adata)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(synthetic_adata)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.get_latent_representation(synthetic_adata)
    adata_checks.assert_unchanged(synthetic_adata, snap)


# ---------------------------------------------------------------------------
# 7. load errors
# ---------------------------------------------------------------------------

#: Set when the payload of the pickled ``weights.pt`` below runs.
UNPICKLED: list[str] = []


def record_unpickle(text: str) -> str:
    """What the pickled payload calls when (if) it is unpickled."""
    UNPICKLED.append(text)
    return text


class Payload:
    """An object whose unpickling runs code (``record_unpickle``)."""

    def __reduce__(self):
        return (record_unpickle, ("payload ran",))


class WeightsDict(collections.OrderedDict):
    """An OrderedDict subclass: not on weights_only's allow list."""


def _edit_json(path: Path, **changes) -> None:
    meta = json.loads((path / "model.json").read_text())
    meta.update(changes)
    (path / "model.json").write_text(json.dumps(meta))


def _drop_json_key(name):
    def edit(path):
        meta = json.loads((path / "model.json").read_text())
        del meta[name]
        (path / "model.json").write_text(json.dumps(meta))

    return edit


def _edit_config(**changes):
    def edit(path):
        meta = json.loads((path / "model.json").read_text())
        meta["config"].update(changes)
        (path / "model.json").write_text(json.dumps(meta))

    return edit


def _truncate(name, keep=0.5):
    def edit(path):
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: int(len(data) * keep)])

    return edit


def _write(name, content):
    def edit(path):
        file = path / name
        file.write_bytes(content) if isinstance(content, bytes) else file.write_text(content)

    return edit


def _torch_save(make):
    def edit(path):
        torch.save(make(path), path / "weights.pt")

    return edit


def _wrong_shapes(path):
    weights = torch.load(path / "weights.pt", weights_only=True)
    return {k: torch.zeros(*(s + 1 for s in v.shape)) for k, v in weights.items()}


def _in_subclass(path):
    return WeightsDict(torch.load(path / "weights.pt", weights_only=True))


def _remove(name):
    def edit(path):
        (path / name).unlink()

    return edit


def _object_npz(path):
    np.savez(path / "state.npz", mean=np.array([{"a": 1}], dtype=object), std=np.ones(3))


CORRUPTIONS = {
    "corrupt json": (_write("model.json", '{"format": "scdeepclust-model", '), "not valid JSON"),
    "binary json": (_write("model.json", b"\xff\xfe\x00\x81"), "not valid JSON"),
    "json list": (_write("model.json", "[1, 2]"), "not written by scdeepclust"),
    "other format": (lambda p: _edit_json(p, format="other-tool"), "not written by scdeepclust"),
    "newer version": (
        lambda p: _edit_json(p, format_version=FORMAT_VERSION + 1),
        rf"format version {FORMAT_VERSION + 1}.*Upgrade scdeepclust",
    ),
    "version not int": (lambda p: _edit_json(p, format_version="1"), "format_version '1'"),
    "no runs": (_drop_json_key("runs"), "missing runs"),
    "unknown config key": (_edit_config(n_cluster=3), "inconsistent"),
    "bad config value": (_edit_config(batch_size=0), "inconsistent"),
    "pickled object": (_torch_save(lambda p: {"a": Payload()}), "weights_only"),
    "dict subclass": (_torch_save(_in_subclass), "weights_only"),
    "list of tensors": (_torch_save(lambda p: [torch.zeros(2)]), "not a plain state_dict"),
    "truncated weights": (_truncate("weights.pt"), "not a plain state_dict"),
    "garbage weights": (_write("weights.pt", b"not a torch file" * 10), "not a plain state_dict"),
    "wrong shapes": (_torch_save(_wrong_shapes), "do not fit the saved architecture"),
    "no weights": (_remove("weights.pt"), "lacks weights.pt"),
    "no arrays": (_remove("state.npz"), "lacks state.npz"),
    "truncated arrays": (_truncate("state.npz"), r"state.npz is corrupt"),
    "object arrays": (_object_npz, r"state.npz is corrupt"),
}


#: Cases that show a bug of the package (strict: the mark must be removed once fixed).
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_load_refuses_corrupt_folder(case, scdcc_copy):
    edit, match = CORRUPTIONS[case]
    edit(scdcc_copy)
    UNPICKLED.clear()
    with pytest.raises(ModelFormatError, match=match):
        SCDCC.load(scdcc_copy)
    with pytest.raises(ModelFormatError, match=match):
        sdc.models.load(scdcc_copy)
    assert UNPICKLED == []  # a pickled payload never runs


@pytest.mark.parametrize("case", ["no arrays", "object arrays"])
def test_load_error_names_the_bad_file_only(case, scdcc_copy):
    CORRUPTIONS[case][0](scdcc_copy)
    with pytest.raises(ModelFormatError) as info:
        SCDCC.load(scdcc_copy)
    assert "state.npz" in str(info.value)
    assert "model.json" not in str(info.value)


def test_pickled_payload_is_live(scdcc_copy):
    """The payload of the "pickled object" case would run under a plain ``torch.load``."""
    CORRUPTIONS["pickled object"][0](scdcc_copy)
    UNPICKLED.clear()
    torch.load(scdcc_copy / "weights.pt", weights_only=False)
    assert UNPICKLED == ["payload ran"]
    UNPICKLED.clear()


def test_load_refuses_folders_without_model_json(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"  # e.g. a Hugging Face / scvi-tools style folder
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model_type": "bert"}))
    torch.save({"w": torch.zeros(2)}, foreign / "weights.pt")
    a_file = tmp_path / "model.json"
    a_file.write_text("{}")
    for path in (empty, foreign, a_file):
        for load in (SCDCC.load, DESC.load, sdc.models.load):
            with pytest.raises(ModelFormatError, match="not a scdeepclust model folder"):
                load(path)


def test_load_missing_folder(tmp_path):
    for load in (SCDCC.load, DESC.load, sdc.models.load):
        with pytest.raises(FileNotFoundError, match="No model folder"):
            load(tmp_path / "nowhere")


def test_load_other_method_refused(saved_scdcc, saved_desc):
    with pytest.raises(ModelFormatError, match="holds a 'desc' model, not 'scdcc'"):
        SCDCC.load(saved_desc)
    with pytest.raises(ModelFormatError, match="holds a 'scdcc' model, not 'desc'"):
        DESC.load(saved_scdcc)


def test_load_unknown_tool(scdcc_copy):
    _edit_json(scdcc_copy, tool="scvi")
    with pytest.raises(ModelFormatError, match="unknown model type 'scvi'"):
        sdc.models.load(scdcc_copy)
    with pytest.raises(ModelFormatError, match="holds a 'scvi' model"):
        SCDCC.load(scdcc_copy)


def test_model_format_error_is_value_error():
    assert issubclass(ModelFormatError, ValueError)
    assert sdc.ModelFormatError is ModelFormatError
    assert sdc.models.ModelFormatError is ModelFormatError


# ---------------------------------------------------------------------------
# 8. Configs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "exc", "match"),
    [
        (SCDCC, {"batch_size": 0}, ValueError, "batch_size"),
        (SCDCC, {"precision": "fp8"}, ValueError, "precision"),
        (SCDCC, {"hidden_dims": (16, 0)}, ValueError, r"hidden_dims\[1\]"),
        (SCDCC, {"tol": 1.0}, ValueError, "tol"),
        (SCDCC, {"alpha": 0.0}, ValueError, "alpha"),
        (SCDCC, {"key_added": ""}, TypeError, "key_added"),
        (SCDCC, {"random_state": 1.5}, TypeError, "random_state"),
        (SCDCC, {"batch_key": 3}, TypeError, "batch_key"),
        (SCDCC, {"n_cluster": 3}, TypeError, "n_cluster"),
        (DESC, {"resolution": [0.4, 0.4]}, ValueError, "duplicates"),
        (DESC, {"n_clusters": 3, "resolution": [0.4, 0.8]}, ValueError, "several resolutions"),
        (DESC, {"resolution": -1.0}, ValueError, "positive"),
        (DESC, {"resolution": []}, ValueError, "empty"),
        (DESC, {"dropout": 1.0}, ValueError, "dropout"),
        (DESC, {"precision": "fp8"}, ValueError, "precision"),
        (DESC, {"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_params_raise_at_construction(cls, params, exc, match):
    with pytest.raises(exc, match=match):
        cls(**params)


def test_config_round_trip():
    scdcc = SCDCCConfig(n_clusters=5, hidden_dims=(16, 8), latent_dim=4, batch_key="b").validate()
    assert SCDCCConfig.from_dict(scdcc.to_dict()) == scdcc
    assert SCDCCConfig.from_dict(json.loads(json.dumps(scdcc.to_dict()))) == scdcc
    desc = DESCConfig(resolution=[0.4, 0.8], hidden_dims=[16]).validate()
    assert desc.resolution == (0.4, 0.8) and desc.hidden_dims == (16,)
    assert DESCConfig.from_dict(json.loads(json.dumps(desc.to_dict()))) == desc
    assert DESCConfig().validate() == DESCConfig.from_dict(DESCConfig().validate().to_dict())
    with pytest.raises(TypeError, match="unknown SCDCCConfig fields: n_cluster"):
        SCDCCConfig.from_dict({"n_cluster": 3})

    model = SCDCC(hidden_dims=[16], latent_dim=4)
    assert model.config.hidden_dims == (16,)
    assert SCDCCConfig.from_dict(model.config.to_dict()) == model.config
    assert DESC(resolution=[0.4, 0.8]).config.keys() == DESC_KEYS
    assert DESC(resolution=0.8, key_added="x").config.keys() == ["x"]


def test_model_params_match_tool_params():
    """Every keyword parameter of the tool is a config field (same default), and back."""
    import inspect

    fit_args = {"adata", "mask_var", "must_link", "cannot_link", "progress_bar", "copy"}
    for tool, config in ((sdc.tl.scdcc, SCDCCConfig), (sdc.tl.desc, DESCConfig)):
        params = {
            name: p.default
            for name, p in inspect.signature(tool).parameters.items()
            if name not in fit_args
        }
        fields = {f.name: f.default for f in config.__dataclass_fields__.values()}
        assert set(params) == set(fields), tool.__name__
        for name, default in params.items():
            assert fields[name] == default, f"{tool.__name__}: {name}"


# ---------------------------------------------------------------------------
# 9. Layout and shared docstrings
# ---------------------------------------------------------------------------


def test_module_package_never_imports_anndata_or_scanpy():
    folder = Path(sdc.__file__).parent / "module"
    files = sorted(folder.glob("*.py"))
    assert files
    for file in files:
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                # relative imports stay inside module/ (level 1): ``..data`` reads AnnData
                assert node.level <= 1, f"{file.name}:{node.lineno} imports from outside"
                roots = {(node.module or "").split(".")[0]} if node.level == 0 else set()
            else:
                continue
            assert not roots & {"anndata", "scanpy"}, f"{file.name}:{node.lineno}"


def _block_lines(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_shared_docstrings_filled():
    runtime = _docs.doc_runtime.splitlines()[1].strip()
    assert runtime.startswith("Seed of everything")
    tools = {"tl.scdcc": sdc.tl.scdcc.__doc__, "tl.desc": sdc.tl.desc.__doc__}
    for name, doc in tools.items():
        assert runtime in doc, name
        for block in ("doc_runtime", "doc_layer", "doc_mask_var", "doc_copy"):
            for line in _block_lines(getattr(_docs, block)):
                assert line in doc, f"{name}: {block}: {line}"
    classes = {"SCDCC": SCDCC.__doc__, "DESC": DESC.__doc__}
    for name, doc in classes.items():
        for line in _block_lines(_docs.doc_model_methods):
            assert line in doc, f"{name}: {line}"
    for name, doc in {**tools, **classes}.items():
        assert "{doc_" not in doc, name
