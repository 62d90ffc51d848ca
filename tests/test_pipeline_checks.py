"""What the shared fit pipeline checks for every method, and the loss history it keeps."""

import numpy as np
import pandas as pd
import pytest
import torch

import scdeepclust as sdc
from scdeepclust.models._training import check_weights_finite
from scdeepclust.module.engine import TrainingDivergedError

FAST_SCDCC = dict(n_clusters=3, pretrain_epochs=3, max_epochs=3, batch_size=64)
FAST_DESC = dict(pretrain_epochs=6, max_epochs=6, batch_size=64, resolution=[0.3, 0.8])

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def test_collapsed_run_warns_names_the_cause_and_is_recorded(make_synthetic):
    adata = make_synthetic(n_obs=300)
    with pytest.warns(UserWarning, match=r"2 of the 3 clusters ended empty.*learning rate") as rec:
        sdc.tl.desc(adata, n_clusters=3, lr=1e12, progress_bar=False)
    assert rec[0].filename == __file__  # attributed to the caller's line
    assert adata.obs["desc"].value_counts().max() == 300
    assert "ended empty" in adata.uns["desc"]["warning"]
    assert adata.uns["desc"]["n_empty_clusters"] == 2


def test_a_few_empty_clusters_are_counted_without_a_warning(synthetic_adata, recwarn):
    """3 groups in k=6 clusters: some end empty, which is not a collapse."""
    model = sdc.models.SCDCC(**{**FAST_SCDCC, "n_clusters": 6}).fit(synthetic_adata)
    (result,) = model.results_
    empty = 6 - len(np.unique(result.q.argmax(axis=1)))
    assert result.extra["n_empty_clusters"] == empty > 0
    assert not [w for w in recwarn if "ended empty" in str(w.message)]


def test_non_finite_weights_raise_training_diverged():
    module = torch.nn.Linear(2, 2)
    check_weights_finite(module, "x")
    with torch.no_grad():
        module.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match="x: the weights weight became NaN"):
        check_weights_finite(module, "x")


def test_same_pair_must_link_and_cannot_link_is_an_error(synthetic_adata, adata_checks):
    snap = adata_checks.snapshot(synthetic_adata)
    names = synthetic_adata.obs_names
    with pytest.raises(ValueError, match=r"both must-link and cannot-link, e\.g\. cells 3 and 7"):
        sdc.tl.scdcc(
            synthetic_adata,
            must_link=[[0, 1], [7, 3]],
            cannot_link=[[names[3], names[7]]],
            **FAST_SCDCC,
        )
    adata_checks.assert_unchanged(synthetic_adata, snap)


def test_duplicate_obs_names_warn_as_anndata_does(synthetic_adata):
    adata = synthetic_adata
    adata.obs_names = ["c"] * adata.n_obs
    with pytest.warns(UserWarning, match="obs_names are not unique") as rec:
        model = sdc.models.SCDCC(**FAST_SCDCC).fit(adata, progress_bar=False)
    assert any(w.filename == __file__ for w in rec)
    with (
        pytest.warns(UserWarning, match="obs_names are not unique"),
        pytest.raises(ValueError, match="gives cells by name, but adata.obs_names are not"),
    ):
        sdc.tl.scdcc(adata, must_link=[["c", "c"]], **FAST_SCDCC)
    with pytest.warns(UserWarning, match="obs_names are not unique"):
        model.predict(adata)


def test_history_is_one_dataframe_per_stage_and_survives_save(synthetic_adata, tmp_path):
    model = sdc.models.SCDCC(**FAST_SCDCC).fit(synthetic_adata, progress_bar=False)
    history = model.history
    assert list(history) == ["pretrain", "cluster"]
    assert list(history["pretrain"].columns) == ["zinb", "loss"]
    assert {"zinb", "kl", "loss"} <= set(history["cluster"].columns)
    assert history["pretrain"].index.name == "epoch" and history["pretrain"].index[0] == 1
    assert len(history["pretrain"]) == 3
    np.testing.assert_array_equal(
        history["cluster"]["loss"], model.results_[0].history["cluster"]["loss"]
    )
    loaded = sdc.models.load(model.save(tmp_path / "m"))
    for stage, frame in history.items():
        pd.testing.assert_frame_equal(loaded.history[stage], frame)


def test_history_of_several_runs_names_each_clustering_stage(synthetic_adata):
    model = sdc.models.DESC(**FAST_DESC).fit(synthetic_adata, progress_bar=False)
    # 240 cells: DESC's widths have no hidden layer, so one layer-wise stage
    stages = ["layerwise_0", "end_to_end", "cluster/desc_r0.3", "cluster/desc_r0.8"]
    assert list(model.history) == stages
    assert list(model.history["end_to_end"].columns) == ["mse", "loss"]
    assert list(model.history["cluster/desc_r0.8"].columns) == ["kl", "loss"]
