"""Categorical covariates (``batch_key`` and ``categorical_covariate_keys``), declared once."""

import anndata as ad
import numpy as np
import pytest

import scdeepclust as sdc
from scdeepclust import cli
from scdeepclust.data.covariates import Covariates
from scdeepclust.data.state import InputState

FAST = dict(n_clusters=3, pretrain_epochs=3, max_epochs=3, batch_size=64)

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture
def adata(synthetic_adata):
    a = synthetic_adata
    a.obs["batch"] = np.where(np.arange(a.n_obs) % 2, "b1", "b0")
    a.obs["donor"] = np.array(["d0", "d1", "d2"])[np.arange(a.n_obs) % 3]
    return a


def test_codes_index_one_concatenated_one_hot(adata):
    cov = Covariates.fit(adata, ["batch", "donor"], ["batch_key", "categorical_covariate_keys"])
    assert cov.width == 5
    codes = cov.codes(adata)
    assert codes.shape == (adata.n_obs, 2)
    assert set(codes[:, 0]) == {0, 1} and set(codes[:, 1]) == {2, 3, 4}


def test_scdcc_with_batch_and_donor_fits_saves_and_predicts(adata, tmp_path):
    model = sdc.models.SCDCC(batch_key="batch", categorical_covariate_keys=["donor"], **FAST)
    model.fit(adata, progress_bar=False)
    assert model.state_.n_covariates == 5
    module = model.modules_["scdcc"]
    assert module.encoder.net[0].in_features == model.state_.n_genes + 5
    loaded = sdc.models.load(model.save(tmp_path / "m"))
    out = loaded.predict(adata, copy=True)
    np.testing.assert_array_equal(out.obsm["X_scdcc"], model.results_[0].embedding)


def test_unseen_or_missing_covariate_values_are_errors(adata):
    model = sdc.models.SCDCC(categorical_covariate_keys=["donor"], **FAST)
    model.fit(adata, progress_bar=False)
    new = adata.copy()
    new.obs["donor"] = "d9"
    with pytest.raises(ValueError, match=r"adata.obs\['donor'\] holds values the model was not"):
        model.predict(new)
    with pytest.raises(KeyError, match="categorical_covariate_keys='nope' is not a column"):
        sdc.tl.scdcc(adata, categorical_covariate_keys=["nope"], **FAST)


@pytest.mark.parametrize(
    ("keys", "error", "match"),
    [
        ("donor", TypeError, "found the string 'donor'"),
        (["donor", "donor"], ValueError, "repeats a column"),
        (["batch"], ValueError, "repeats a column"),
    ],
)
def test_bad_covariate_keys_are_refused_at_construction(keys, error, match):
    with pytest.raises(error, match=match):
        sdc.models.SCDCC(batch_key="batch", categorical_covariate_keys=keys)


def test_state_saved_before_covariates_loads_its_batch(adata):
    state, _ = InputState.fit(adata, layer="counts", batch_key="batch", batch_covariate=True)
    fields, arrays = state.to_plain()
    del fields["covariates"]  # a folder written by 0.2
    old = InputState.from_plain(fields, arrays)
    assert old.covariates.keys == ["batch"] and old.n_covariates == 2
    np.testing.assert_array_equal(old.covariates.codes(adata), state.covariates.codes(adata))


def test_command_line_takes_several_covariate_columns(adata, tmp_path):
    src, out = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    adata.write_h5ad(src)
    argv = ["scdcc", str(src), str(out), "--n-clusters", "3", "--batch-key", "batch"]
    argv += ["--categorical-covariate-keys", "donor", "group", "--pretrain-epochs", "2"]
    assert cli.main([*argv, "--max-epochs", "2", "--no-progress"]) == 0
    params = ad.read_h5ad(out).uns["scdcc"]["params"]
    assert list(params["categorical_covariate_keys"]) == ["donor", "group"]
