"""The diagnostics a run records in ``uns[key]``, the engine's stop reasons, and the
benchmark's aggregation over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scdeepclust as sdc
from benchmarks import quality, report
from scdeepclust.module.engine import STOP_REASONS, EarlyStopping, Pass, run_stage

FAST = {
    "hidden_dims": (16,),
    "latent_dim": 4,
    "batch_size": 64,
    "pretrain_epochs": 4,
    "max_epochs": 6,
    "progress_bar": False,
}


def _toy_stage(max_epochs: int, **kwargs):
    """A stage over 3 minibatches of a linear model; returns its result."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    x = torch.randn(30, 2)
    batches = [x[:10], x[10:20], x[20:]]
    p = Pass("cells", lambda: iter(batches), lambda b: {"mse": (model(b) ** 2).mean()})
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return run_stage("toy", model, [p], opt, max_epochs, **kwargs)


def test_stage_counts_steps_and_reports_a_cap():
    res = _toy_stage(4)
    assert res.n_epochs == 4 and res.n_steps == 12
    assert res.stopped_by == "cap" and not res.converged


def test_stage_reports_convergence_and_plateau():
    conv = _toy_stage(10, before_epoch=lambda epoch: epoch == 2)
    assert (conv.n_epochs, conv.n_steps, conv.stopped_by) == (2, 6, "converged")
    flat = _toy_stage(50, early_stopping=EarlyStopping(patience=2, min_delta=10.0))
    assert flat.stopped_by == "plateau" and flat.n_epochs == 3


def _check_diagnostics(uns, n_obs: int, stages: set[str], kmeans: bool):
    assert set(uns["n_steps"]) == stages == set(uns["stopped_by"])
    assert all(int(v) > 0 for v in uns["n_steps"].values())
    for reason in uns["stopped_by"].values():  # one reason per phase, comma-separated
        assert set(str(reason).split(",")) <= set(STOP_REASONS), reason
    changes = uns["label_change"]
    assert changes.dtype == np.float32 and changes.ndim == 1 and len(changes) >= 1
    assert ((changes >= 0) & (changes <= 1)).all()
    if kmeans:  # k-means labels are the nearest centres, i.e. argmax q at the start
        assert changes[0] == 0.0
    init = uns["init_labels"]
    assert init.shape == (n_obs,) and init.dtype == np.int32
    assert init.min() >= 0 and init.max() < uns["n_clusters_init"]


def test_scdcc_records_diagnostics(synthetic_adata):
    adata = sdc.tl.scdcc(synthetic_adata, 3, copy=True, **FAST)
    uns = adata.uns["scdcc"]
    _check_diagnostics(uns, adata.n_obs, {"pretrain", "cluster"}, kmeans=True)
    n_refresh = len(uns["label_change"])
    # one refresh per clustering epoch (update_interval 1), plus the converging one
    assert n_refresh in (uns["n_epochs"]["cluster"], uns["n_epochs"]["cluster"] + 1)
    assert (uns["stopped_by"]["cluster"] == "converged") == bool(uns["converged"])


def test_desc_records_diagnostics(synthetic_adata):
    adata = sdc.tl.desc(synthetic_adata, 0.8, copy=True, **FAST)
    uns = adata.uns["desc"]
    stages = {"layerwise_0", "layerwise_1", "end_to_end", "cluster"}  # hidden_dims (16,)
    _check_diagnostics(uns, adata.n_obs, stages, kmeans=False)
    assert uns["n_steps"]["end_to_end"] > 0


def test_diagnostics_survive_h5ad(synthetic_adata, tmp_path):
    import anndata as ad

    adata = sdc.tl.scdcc(synthetic_adata, 3, copy=True, **FAST)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad").uns["scdcc"]
    np.testing.assert_array_equal(back["label_change"], adata.uns["scdcc"]["label_change"])
    np.testing.assert_array_equal(back["init_labels"], adata.uns["scdcc"]["init_labels"])
    assert dict(back["stopped_by"]) == dict(adata.uns["scdcc"]["stopped_by"])


def test_aggregate_over_seeds():
    recs = [
        {
            "dataset": "d",
            "method": "m",
            "k_mode": "given",
            "constraints": f"protein {n}ml",
            "seed": seed,
            "ari": ari,
            "n_clusters": 8,
            "stopped_cluster": stop,
        }
        for seed, ari, n, stop in [(0, 0.5, 3, "converged"), (1, 0.7, 4, "cap")]
    ]
    (row,) = report.aggregate(recs)
    assert row["constraints"] == "protein" and row["seed"] == "0,1"
    assert row["ari"].mean == pytest.approx(0.6) and row["ari"].n == 2
    assert row["ari"].sd == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert row["stopped_cluster"] == "converged/cap"
    assert report.format_cell(row["ari"], ".3f") == "0.600 ± 0.141"
    assert report.format_cell(row["n_clusters"], "d") == "8"
    one = report.Spread(0.6234, 0.0, 1)  # a single seed keeps the column's format
    assert report.format_cell(one, ".3f") == "0.623"
    assert report.format_cell(report.Spread(10.5, 0.7, 2), "d") == "10.5 ± 0.7"
    assert "0.600 ± 0.141" in report.format_markdown([row])


def test_seeds_option_builds_one_spec_per_seed():
    specs = quality.build_specs(["pbmc"], ["scdcc"], ["given"], ["none"], seeds=[0, 1, 2])
    assert [s["seed"] for s in specs if s["method"] == "scdcc"] == [0, 1, 2]
    args = quality.parse_args(["--seeds", "0,1,2"])
    assert args.seeds == [0, 1, 2]
    with pytest.raises(SystemExit):
        quality.parse_args(["--seeds", "a,b"])
