"""Tests of DESC: its model pieces (``scdeepclust.module.desc``) and ``tl.desc``.

Tiny synthetic counts and tiny schedules on one CPU thread, except the real-data test
(marked ``slow``), which runs the default settings on the 10x PBMC data.
"""

from __future__ import annotations

import importlib
import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch import nn

import scdeepclust as sdc
from scdeepclust.data.results import labels_to_categorical, write_results
from scdeepclust.data.state import InputState
from scdeepclust.models import _training as workflow
from scdeepclust.module import desc as mse_model
from scdeepclust.module.desc import (
    build_mse_autoencoder,
    desc_dims,
    pretrain_desc,
    stacked_autoencoders,
)
from scdeepclust.module.networks import Encoder, GlorotLinear

_desc_module = importlib.import_module("scdeepclust.models._desc")
_base_module = importlib.import_module("scdeepclust.models._base")
_engine = importlib.import_module("scdeepclust.module.engine")

pytestmark = pytest.mark.usefixtures("torch_single_thread")

N_OBS, N_VARS, LATENT = 240, 60, 8
HIDDEN = (32, 16)

#: A tiny schedule: a few seconds per call on one CPU core.
FAST = {
    "hidden_dims": HIDDEN,
    "latent_dim": LATENT,
    "pretrain_epochs": 6,
    "max_epochs": 5,
    "batch_size": 64,
    "progress_bar": False,
    "device": "cpu",
}

RESOLUTIONS = [0.4, 0.8]


def run(adata, resolution=0.8, **kwargs):
    """``tl.desc`` with the tiny schedule; ``kwargs`` override it."""
    return sdc.tl.desc(adata, resolution, **{**FAST, **kwargs})


class _SingleThread:
    """torch on one thread inside a module-scoped fixture (as the ``torch_single_thread``)."""

    def __enter__(self):
        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)


# ---------------------------------------------------------------------------
# Shared runs, read by several tests
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single(make_synthetic, adata_checks):
    """One single-resolution run (0.8, seed 0) with the KL pass's model and loss terms seen.

    Returns (adata, snapshot before the call, return value, record of the clustering stage).
    The AnnData has a user's PCA and graph beforehand, which must survive untouched.
    """
    adata = make_synthetic()
    adata.obsm["X_pca"] = np.zeros((N_OBS, 2), dtype=np.float32)
    adata.uns["neighbors"] = {"params": {"n_neighbors": 15}, "connectivities_key": "c"}
    adata.obsp["connectivities"] = sp.identity(N_OBS, format="csr", dtype=np.float32)
    snap = adata_checks.snapshot(adata)
    record = {"models": [], "decoder_at_build": [], "terms": [], "decoder_at_loss": []}
    original = _desc_module.kl_pass

    def spy_kl_pass(model, *args, **kwargs):
        record["models"].append(model)
        record["decoder_at_build"].append(model.decoder)
        p = original(model, *args, **kwargs)
        inner = p.loss

        def loss(batch):
            terms = inner(batch)
            record["terms"].append(sorted(terms))
            record["decoder_at_loss"].append(model.decoder)
            return terms

        p.loss = loss
        return p

    with pytest.MonkeyPatch.context() as mp, _SingleThread():
        mp.setattr(_desc_module, "kl_pass", spy_kl_pass)
        returned = run(adata, 0.8, random_state=0)
    return adata, snap, returned, record


@pytest.fixture(scope="module")
def multi(make_synthetic, adata_checks):
    """One run at two resolutions (seed 0): (adata, snapshot before, return value)."""
    adata = make_synthetic()
    snap = adata_checks.snapshot(adata)
    with _SingleThread():
        returned = run(adata, RESOLUTIONS, random_state=0)
    return adata, snap, returned


# ---------------------------------------------------------------------------
# Model pieces: dimensions, stacked autoencoders, pretraining
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_obs", "expected"),
    [
        (50_000, ([128], 32)),
        (20_001, ([128], 32)),
        (20_000, ([64], 32)),
        (10_001, ([64], 32)),
        (10_000, ([32], 16)),
        (5_001, ([32], 16)),
        (5_000, ([], 128)),
        (2_001, ([], 128)),
        (2_000, ([], 64)),
        (501, ([], 64)),
        (500, ([], 16)),
        (10, ([], 16)),
    ],
)
def test_desc_dims(n_obs, expected):
    assert desc_dims(n_obs) == expected


def _kinds(stack: nn.Sequential) -> list[type]:
    return [type(m) for m in stack]


def test_autoencoder_architecture():
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    dense = [GlorotLinear, nn.ReLU, GlorotLinear, nn.ReLU, GlorotLinear, nn.Tanh]
    assert _kinds(model.encoder.net) == dense
    assert _kinds(model.decoder.net) == dense
    shapes = [m.weight.shape for m in model.modules() if isinstance(m, nn.Linear)]
    assert shapes == [(32, 60), (16, 32), (8, 16), (16, 8), (32, 16), (60, 32)]
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())  # only in the stacks
    assert model.noise_sd == 0.0


def test_layers_start_from_glorot_uniform_weights_and_zero_biases():
    """desc's Keras layers: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)), bias 0."""
    torch.manual_seed(0)
    model = build_mse_autoencoder(500, [200], 100)
    for layer in (m for m in model.modules() if isinstance(m, nn.Linear)):
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = layer.weight.detach()
        assert w.abs().max() <= bound
        # the variance of U(-b, b) is b^2 / 3; torch's default (Kaiming, a = sqrt 5) gives
        # b'^2 / 3 with b' = 1 / sqrt(fan_in), far from it for these shapes
        assert w.var().item() == pytest.approx(bound**2 / 3, rel=0.05)
        assert torch.count_nonzero(layer.bias) == 0
    # the parameter names and shapes of torch's nn.Linear: state dicts are interchangeable
    default = Encoder(500, [200], 100, "relu", "tanh", init="torch").state_dict()
    glorot = model.encoder.state_dict()
    assert {k: v.shape for k, v in default.items()} == {k: v.shape for k, v in glorot.items()}


def test_stacked_autoencoders_shapes_and_activations():
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    stacks = stacked_autoencoders(model, 0.2)
    assert len(stacks) == 3
    expected = [  # (encoder weight shape, decoder weight shape, act_hidden, act_out)
        ((32, 60), (60, 32), nn.ReLU, nn.Tanh),  # first stack: tanh output
        ((16, 32), (32, 16), nn.ReLU, nn.ReLU),
        ((8, 16), (16, 8), nn.Tanh, nn.ReLU),  # deepest stack: tanh hidden (the bottleneck)
    ]
    for stack, (enc_shape, dec_shape, act_hidden, act_out) in zip(stacks, expected, strict=True):
        dense = [nn.Dropout, GlorotLinear]
        assert _kinds(stack) == [*dense, act_hidden, *dense, act_out]
        assert stack[0].p == 0.2 and stack[3].p == 0.2
        assert tuple(stack[1].weight.shape) == enc_shape
        assert tuple(stack[4].weight.shape) == dec_shape
        assert stack[1].bias is not None and stack[4].bias is not None


def test_stacked_autoencoders_single_layer():
    """A latent layer only (DESC's default below 5,000 cells): tanh hidden and tanh output."""
    model = build_mse_autoencoder(N_VARS, [], 16)
    (stack,) = stacked_autoencoders(model, 0.1)
    assert _kinds(stack) == [nn.Dropout, GlorotLinear, nn.Tanh, nn.Dropout, GlorotLinear, nn.Tanh]
    assert stack[1] is model.encoder.net[0] and stack[4] is model.decoder.net[0]
    assert stack[0].p == 0.1


def test_stacks_share_linear_layers_with_the_model():
    torch.manual_seed(0)
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    stacks = stacked_autoencoders(model, 0.2)
    enc = [m for m in model.encoder.net if isinstance(m, nn.Linear)]
    dec = [m for m in model.decoder.net if isinstance(m, nn.Linear)]
    for i, stack in enumerate(stacks):
        assert stack[1] is enc[i]
        assert stack[4] is dec[len(enc) - 1 - i]  # the mirrored decoder layer

    # training the middle stack changes exactly its two layers of the model, in place
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stack = stacks[1]
    stack.train()
    opt = torch.optim.SGD(stack.parameters(), lr=0.5)
    h = torch.rand(20, 32)
    loss = nn.functional.mse_loss(stack(h), h)
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {
        "encoder.net.2.weight",
        "encoder.net.2.bias",
        "decoder.net.2.weight",
        "decoder.net.2.bias",
    }


@pytest.fixture
def device_data(synthetic_adata):
    _, prepared = InputState.fit(
        synthetic_adata, layer="counts", mask_var=None, target_sum=1e4, max_value=6
    )
    return prepared.to(torch.device("cpu"))


def _pretrain(model, data, **kwargs):
    args = {
        "stacked": True,
        "dropout": 0.2,
        "layerwise_lrs": [0.1, 0.01],
        "layerwise_epochs": 2,
        "end_to_end_lrs": [1.0, 0.1],
        "end_to_end_epochs": 3,
        "patience": None,
        "min_delta": 0.0,
        "momentum": 0.9,
        "batch_size": 64,
        "rng": np.random.default_rng(0),
        "progress": False,
    }
    return pretrain_desc(model, data, **{**args, **kwargs})


def test_pretrain_desc_layerwise_then_end_to_end(device_data, monkeypatch):
    torch.manual_seed(0)
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    calls = []
    original = mse_model.run_phases

    def spy(name, net, passes, make_optimizer, lrs, epochs, **kwargs):
        calls.append((name, net, list(lrs), epochs))
        return original(name, net, passes, make_optimizer, lrs, epochs, **kwargs)

    monkeypatch.setattr(mse_model, "run_phases", spy)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    results = _pretrain(model, device_data)

    assert [c[0] for c in calls] == ["layer-wise 0", "layer-wise 1", "layer-wise 2", "end-to-end"]
    assert all(isinstance(c[1], nn.Sequential) for c in calls[:3])  # the stacks
    assert calls[3][1] is model
    assert [c[2] for c in calls] == [[0.1, 0.01]] * 3 + [[1.0, 0.1]]
    assert [c[3] for c in calls] == [2, 2, 2, 3]

    assert list(results) == ["layerwise_0", "layerwise_1", "layerwise_2", "end_to_end"]
    for stage, r in results.items():
        assert set(r.history) == {"mse", "loss"}, stage
        expected_epochs = 6 if stage == "end_to_end" else 4  # no early stop: every epoch runs
        assert r.n_epochs == expected_epochs, stage
        for term, values in r.history.items():
            assert values.shape == (expected_epochs,), (stage, term)
            assert np.isfinite(values).all(), (stage, term)
        np.testing.assert_array_equal(r.history["mse"], r.history["loss"])
    after = model.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)  # every layer trained


def test_pretrain_desc_not_stacked(device_data):
    torch.manual_seed(0)
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    results = _pretrain(model, device_data, stacked=False)
    assert list(results) == ["end_to_end"]
    assert set(results["end_to_end"].history) == {"mse", "loss"}
    assert results["end_to_end"].n_epochs == 6


def test_pretrain_desc_early_stopping(device_data):
    """A huge ``min_delta`` stops every phase after ``patience`` epochs without improvement."""
    torch.manual_seed(0)
    model = build_mse_autoencoder(N_VARS, list(HIDDEN), LATENT)
    results = _pretrain(
        model, device_data, patience=2, min_delta=1e6, layerwise_epochs=20, end_to_end_epochs=20
    )
    for stage, r in results.items():
        phases = 2  # two learning rates in each stage
        assert r.n_epochs == phases * 3, stage  # 1 epoch sets the best, 2 without improvement


@pytest.mark.parametrize(
    ("pretrain_epochs", "layerwise_epochs", "end_to_end_lrs", "end_to_end_epochs"),
    [
        (300, 50, [1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5], 50),  # desc 2.1.1's default schedule
        (100, 17, [1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5], 17),  # smaller budgets keep the
        (6, 1, [1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5], 1),  # end-to-end annealing
    ],
)
def test_pretraining_schedule(
    synthetic_adata, monkeypatch, pretrain_epochs, layerwise_epochs, end_to_end_lrs,
    end_to_end_epochs,
):  # fmt: skip
    seen = {}

    class Stop(Exception):
        pass

    def capture(model, data, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(_desc_module, "pretrain_desc", capture)
    with pytest.raises(Stop):
        run(synthetic_adata, pretrain_epochs=pretrain_epochs)
    assert seen["layerwise_lrs"] == [0.1, 0.01, 0.001]
    assert seen["layerwise_epochs"] == layerwise_epochs
    np.testing.assert_allclose(seen["end_to_end_lrs"], end_to_end_lrs)
    assert len(seen["end_to_end_lrs"]) == len(end_to_end_lrs)
    assert seen["end_to_end_epochs"] == end_to_end_epochs
    assert seen["momentum"] == 0.9 and seen["dropout"] == 0.2 and seen["stacked"] is True
    assert seen["patience"] == 10 and seen["min_delta"] == 1e-4


# ---------------------------------------------------------------------------
# Decoder-free fine-tuning
# ---------------------------------------------------------------------------


def test_fine_tuning_has_no_decoder(single):
    adata, _, _, record = single
    assert len(record["models"]) == 1
    model = record["models"][0]
    assert record["decoder_at_build"] == [None]
    assert record["terms"], "the KL pass never ran"
    assert all(d is None for d in record["decoder_at_loss"])
    assert all(terms == ["kl"] for terms in record["terms"])  # KL(P||Q) only, no MSE
    assert model.head is not None and model.head.n_clusters == adata.obsm["desc_q"].shape[1]
    assert not any(k.startswith("decoder") for k in model.state_dict())
    with pytest.raises(RuntimeError, match="decoder was dropped"):
        model.reconstruct(torch.zeros(2, N_VARS))
    # the recorded histories agree: MSE in pretraining only, KL alone in the clustering stage
    history = adata.uns["desc"]["history"]
    assert set(history["cluster"]) == {"kl", "loss"}
    np.testing.assert_array_equal(history["cluster"]["kl"], history["cluster"]["loss"])
    assert set(history["pretrain"]) == {
        f"{stage}_{term}"
        for stage in ("layerwise_0", "layerwise_1", "layerwise_2", "end_to_end")
        for term in ("mse", "loss")
    }


# ---------------------------------------------------------------------------
# Outputs of one resolution
# ---------------------------------------------------------------------------


def test_single_resolution_outputs(single, adata_checks):
    adata, snap, returned, _ = single
    assert returned is None
    z = adata.obsm["X_desc"]
    assert isinstance(z, np.ndarray) and z.shape == (N_OBS, LATENT) and z.dtype == np.float32
    assert np.isfinite(z).all() and np.abs(z).max() <= 1.0  # tanh bottleneck

    q = adata.obsm["desc_q"]
    k = q.shape[1]
    assert k >= 2 and q.dtype == np.float32 and (q >= 0).all()
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)

    labels = adata.obs["desc"]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert list(labels.cat.categories) == [str(i) for i in range(k)]
    np.testing.assert_array_equal(labels.cat.codes.to_numpy(), q.argmax(axis=1))

    uns = adata.uns["desc"]
    assert {
        "params", "cluster_centers", "history", "n_epochs", "converged", "version", "seconds",
        "n_genes_used", "n_clusters_init",
    } <= set(uns)  # fmt: skip
    assert uns["version"] == sdc.__version__
    assert uns["cluster_centers"].shape == (k, LATENT)
    assert uns["n_clusters_init"] == k
    assert uns["n_genes_used"] == N_VARS
    assert set(uns["history"]) == {"pretrain", "cluster"}
    n_epochs = uns["n_epochs"]
    assert n_epochs["layerwise_0"] == n_epochs["layerwise_1"] == n_epochs["layerwise_2"] == 3
    assert n_epochs["end_to_end"] == 6
    assert n_epochs["pretrain"] == 15
    assert 0 < n_epochs["cluster"] <= FAST["max_epochs"]
    for name, values in uns["history"]["pretrain"].items():
        stage = name.rsplit("_", 1)[0]
        assert values.shape == (n_epochs[stage],), name
        assert np.isfinite(values).all(), name
    for name, values in uns["history"]["cluster"].items():
        assert values.shape == (n_epochs["cluster"],), name
    assert set(uns["seconds"]) == {"prepare", "pretrain", "init", "cluster"}
    assert all(v >= 0 for v in uns["seconds"].values())
    params = uns["params"]
    for name, value in params.items():  # plain, h5ad-safe values
        if isinstance(value, np.ndarray):
            assert value.dtype.kind in "iuf", name
        else:
            assert isinstance(value, str | int | float | bool), name
    assert params["resolution"] == 0.8 and params["n_clusters"] == "None"
    assert list(params["hidden_dims"]) == list(HIDDEN) and params["latent_dim"] == LATENT
    assert params["random_state"] == 0 and params["batch_key"] == "None"
    # X, layers, obs, var, the user's PCA, graph and neighbors are all untouched
    adata_checks.assert_unchanged(adata, snap, except_keys="desc")
    assert "leiden" not in adata.obs and "leiden" not in adata.uns


def test_no_print(synthetic_adata, capsys):
    run(synthetic_adata, pretrain_epochs=1, max_epochs=1)
    out, _ = capsys.readouterr()
    assert out == ""


# ---------------------------------------------------------------------------
# Several resolutions
# ---------------------------------------------------------------------------


def test_multi_resolution_keys(multi, adata_checks):
    adata, snap, returned = multi
    assert returned is None
    keys = [f"desc_r{r:g}" for r in RESOLUTIONS]
    assert keys == ["desc_r0.4", "desc_r0.8"]
    for key, res in zip(keys, RESOLUTIONS, strict=True):
        q = adata.obsm[f"{key}_q"]
        assert adata.obsm[f"X_{key}"].shape == (N_OBS, LATENT)
        assert q.shape[1] >= 2, "Leiden found a single cluster; pick other resolutions"
        assert list(adata.obs[key].cat.categories) == [str(i) for i in range(q.shape[1])]
        np.testing.assert_array_equal(adata.obs[key].cat.codes.to_numpy(), q.argmax(axis=1))
        assert adata.uns[key]["params"]["resolution"] == res
        assert adata.uns[key]["cluster_centers"].shape == (q.shape[1], LATENT)
    # no plain key alongside the per-resolution ones
    assert "desc" not in adata.obs and "desc" not in adata.uns
    assert "X_desc" not in adata.obsm and "desc_q" not in adata.obsm
    adata_checks.assert_unchanged(adata, snap, except_keys=keys)
    # pretraining is shared: the same pretraining history under both keys
    adata_checks.assert_tree_equal(
        dict(adata.uns["desc_r0.4"]["history"]["pretrain"]),
        dict(adata.uns["desc_r0.8"]["history"]["pretrain"]),
    )


def test_multi_resolution_equals_single(single, multi):
    """Each resolution is fine-tuned from the pretrained weights alone: same as run by itself."""
    one, many = single[0], multi[0]
    np.testing.assert_array_equal(one.obs["desc"].to_numpy(), many.obs["desc_r0.8"].to_numpy())
    np.testing.assert_allclose(one.obsm["X_desc"], many.obsm["X_desc_r0.8"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.obsm["desc_q"], many.obsm["desc_r0.8_q"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        one.uns["desc"]["cluster_centers"], many.uns["desc_r0.8"]["cluster_centers"], atol=1e-6
    )


def test_single_resolution_in_a_list_writes_plain_key(synthetic_adata):
    run(synthetic_adata, [0.8], key_added="one", pretrain_epochs=1, max_epochs=1)
    assert "one" in synthetic_adata.obs and "X_one" in synthetic_adata.obsm
    assert not any(k.startswith("one_r") for k in synthetic_adata.obs)


def test_key_added_with_resolutions_copy_and_batch(make_synthetic, adata_checks):
    adata = make_synthetic()
    adata.obs["batch"] = pd.Categorical(np.where(np.arange(N_OBS) % 2 == 0, "b1", "b2"))
    snap = adata_checks.snapshot(adata)
    result = run(adata, RESOLUTIONS, key_added="foo", batch_key="batch", copy=True)
    assert isinstance(result, ad.AnnData) and result is not adata
    adata_checks.assert_unchanged(adata, snap)  # the input is untouched
    keys = ["foo_r0.4", "foo_r0.8"]
    for key in keys:
        assert result.obsm[f"X_{key}"].shape == (N_OBS, LATENT)
        assert result.obsm[f"{key}_q"].shape[1] == len(result.obs[key].cat.categories)
        assert result.uns[key]["params"]["batch_key"] == "batch"
    assert not any(k.startswith("desc") for k in [*result.obs, *result.obsm, *result.uns])
    adata_checks.assert_unchanged(result, snap, except_keys=keys)


# ---------------------------------------------------------------------------
# Input scaling (per batch) against direct computations
# ---------------------------------------------------------------------------


def _batch_data(make_synthetic):
    """Counts with three batches, a batch effect, a gene silent in one batch and outliers."""
    adata = make_synthetic(seed=3)
    counts = adata.layers["counts"].toarray()
    batch = np.array(["a", "b", "c"])[np.arange(N_OBS) % 3]
    counts[batch == "b"] = np.round(counts[batch == "b"] * 3)  # batch effect
    counts[batch == "c", 4] = 0  # gene 4 silent in batch c: std 0 there
    in_a = np.flatnonzero(batch == "a")
    counts[in_a, 5] = 0
    counts[in_a[0], 5] = 200  # one huge value: z above +6 in batch a
    counts[in_a, 6] = 30
    counts[in_a[1], 6] = 0  # one zero among high values: z below -6 in batch a
    counts[:, 7] = 0
    counts[5, 7] = 100  # a single count in all cells: z above +6 without batches too
    counts[:, 8] = 30
    counts[2, 8] = 0  # a single zero in all cells: z below -6 without batches too
    assert (counts.sum(axis=1) > 0).all() and (counts.sum(axis=0) > 0).all()
    adata.layers["counts"] = sp.csr_matrix(counts.astype(np.float32))
    adata.obs["batch"] = pd.Categorical(batch)
    return adata, counts.astype(np.float64), batch


def test_batchwise_scaling_matches_numpy(make_synthetic):
    adata, counts, batch = _batch_data(make_synthetic)
    state, prepared = InputState.fit(
        adata,
        layer="counts",
        target_sum=1e4,
        batch_key="batch",
        max_value=6,
        scale_by_batch=True,
    )
    assert state.n_genes == adata.n_vars
    got = prepared.to(torch.device("cpu")).scaled(np.arange(N_OBS)).numpy()

    x = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    expected = np.empty_like(x)
    for b in np.unique(batch):
        rows = batch == b
        mean = x[rows].mean(axis=0)
        std = x[rows].std(axis=0, ddof=1)
        std[std == 0] = 1.0
        expected[rows] = (x[rows] - mean) / std
    unclipped = expected.copy()
    expected = np.clip(expected, -6, 6)
    # the data exercise the clip on both sides and a gene constant within a batch
    assert unclipped.max() > 6 and unclipped.min() < -6
    np.testing.assert_array_equal(expected[batch == "c", 4], 0.0)

    assert got.dtype == np.float32 and got.shape == (N_OBS, N_VARS)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # a subset of cells (a minibatch) is scaled with its own batch's statistics
    idx = np.array([0, 1, 2, 100, 239])
    sub = prepared.to(torch.device("cpu")).scaled(idx).numpy()
    np.testing.assert_allclose(sub, expected[idx], rtol=1e-4, atol=1e-4)


def test_scaling_without_batch_matches_scanpy(make_synthetic):
    import scanpy as sc

    adata, _, _ = _batch_data(make_synthetic)
    _, prepared = InputState.fit(
        adata, layer="counts", mask_var=None, target_sum=1e4, batch_key=None, max_value=6
    )
    got = prepared.to(torch.device("cpu")).scaled(np.arange(N_OBS)).numpy()

    ref = ad.AnnData(adata.layers["counts"].toarray().astype(np.float32))
    sc.pp.normalize_total(ref, target_sum=1e4)
    sc.pp.log1p(ref)
    sc.pp.scale(ref, max_value=6)
    assert ref.X.max() == 6.0 and ref.X.min() == -6.0  # the clip is exercised on both sides
    np.testing.assert_allclose(got, ref.X, rtol=1e-4, atol=1e-4)


def test_scaling_without_clip(make_synthetic):
    adata, counts, _ = _batch_data(make_synthetic)
    _, prepared = InputState.fit(
        adata, layer="counts", mask_var=None, target_sum=1e4, batch_key=None, max_value=None
    )
    got = prepared.to(torch.device("cpu")).scaled(np.arange(N_OBS)).numpy()
    x = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    expected = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    assert expected.max() > 6 and expected.min() < -6
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------
# Categories match the columns of q, also when a cluster is empty
# ---------------------------------------------------------------------------


def test_labels_to_categorical_keeps_empty_categories():
    labels = np.array([0, 3, 1, 3, 0])
    index = pd.Index([f"c{i}" for i in range(5)])
    out = labels_to_categorical(labels, 4, index)
    assert list(out.cat.categories) == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(out.cat.codes.to_numpy(), labels)
    assert out.value_counts()["2"] == 0
    pd.testing.assert_index_equal(out.index, index)


def test_write_results_with_an_empty_column(synthetic_adata):
    adata = synthetic_adata
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(4), size=N_OBS).astype(np.float32)
    q[:, 2] = 0.0  # column 2 is never the argmax
    q /= q.sum(axis=1, keepdims=True)
    write_results(
        adata,
        "k",
        embedding=rng.normal(size=(N_OBS, 3)),
        q=q,
        centers=rng.normal(size=(4, 3)),
        params={"a": 1},
        history={"cluster": {"kl": np.ones(2)}},
        n_epochs={"cluster": 2},
        converged=False,
    )
    labels = adata.obs["k"]
    assert list(labels.cat.categories) == [str(i) for i in range(q.shape[1])]
    assert (labels == "2").sum() == 0
    np.testing.assert_array_equal(labels.cat.codes.to_numpy(), q.argmax(axis=1))


def test_empty_cluster_end_to_end(synthetic_adata, monkeypatch):
    """A centre far outside the tanh-bounded latent space never wins a cell."""
    original = workflow.initial_clusters

    def with_far_centre(z, **kwargs):
        centers, labels = original(z, **kwargs)
        far = np.full((1, centers.shape[1]), 10.0, dtype=centers.dtype)
        return np.vstack([centers, far]), labels

    monkeypatch.setattr(workflow, "initial_clusters", with_far_centre)
    adata = synthetic_adata
    run(adata, n_clusters=3)
    q = adata.obsm["desc_q"]
    assert q.shape[1] == 4
    labels = adata.obs["desc"]
    assert list(labels.cat.categories) == [str(i) for i in range(q.shape[1])]
    assert (labels == "3").sum() == 0  # the last cluster is empty ...
    assert labels.cat.codes.nunique() == 3  # ... and the label numbers still match q's columns
    np.testing.assert_array_equal(labels.cat.codes.to_numpy(), q.argmax(axis=1))
    assert adata.uns["desc"]["cluster_centers"].shape == (4, LATENT)


# ---------------------------------------------------------------------------
# Leiden finding a single cluster; bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [1e-6, [0.8, 1e-6]], ids=["single", "second_of_two"])
def test_leiden_single_cluster_raises(make_synthetic, adata_checks, resolution):
    adata = make_synthetic(n_groups=1)  # well mixed
    snap = adata_checks.snapshot(adata)
    with pytest.raises(ValueError, match=r"single cluster.*Increase `resolution`.*n_clusters"):
        run(adata, resolution, pretrain_epochs=1, max_epochs=2)
    adata_checks.assert_unchanged(adata, snap)  # nothing written, not even the first result


@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if a model is built or a stage is run."""

    def boom(*args, **kwargs):
        raise AssertionError("training started although the input is invalid")

    monkeypatch.setattr(_engine, "_run_epoch", boom)  # every stage's epochs run through it
    monkeypatch.setattr(_desc_module, "build_mse_autoencoder", boom)
    monkeypatch.setattr(_desc_module, "pretrain_desc", boom)
    monkeypatch.setattr(_base_module, "run_stage", boom)  # the shared clustering stage


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


def _obs_column(name, values):
    def mutate(a):
        a.obs[name] = values(a)

    return mutate


def _batch_with_nan(a):
    values = np.where(np.arange(a.n_obs) % 2 == 0, "b1", "b2").astype(object)
    values[7] = np.nan
    return pd.Categorical(values)


BAD_INPUTS = [
    ("missing_layer", None, {"layer": "raw"}, KeyError, r"Layer 'raw' not found"),
    ("negative", _set_count(-1.0), {}, ValueError, r"1 negative values"),
    ("non_integer", _set_count(0.5), {}, ValueError, r"1 non-integer values"),
    ("nan", _set_count(np.nan), {}, ValueError, r"1 NaN or infinite"),
    ("zero_count_cells", _zero_cells([3, 10]), {}, ValueError, r"^2 cells have zero total"),
    (
        "mask_var_nothing",
        None,
        {"mask_var": np.zeros(N_VARS, dtype=bool)},
        ValueError,
        r"mask_var selects no gene",
    ),
    (
        "mask_var_missing_column",
        None,
        {"mask_var": "highly_variable"},
        KeyError,
        r"mask_var='highly_variable' is not a column of adata.var",
    ),
    ("missing_batch_key", None, {"batch_key": "batch"}, KeyError, r"batch_key='batch'"),
    (
        "batch_key_with_nan",
        _obs_column("batch", _batch_with_nan),
        {"batch_key": "batch"},
        ValueError,
        r"adata.obs\['batch'\] has 1 missing values",
    ),
    (
        "n_clusters_with_resolutions",
        None,
        {"resolution": [0.4, 0.8], "n_clusters": 3},
        ValueError,
        r"n_clusters .*cannot be combined with several resolutions",
    ),
    ("n_clusters_1", None, {"n_clusters": 1}, ValueError, r"n_clusters=1.*at least 2"),
    ("negative_resolution", None, {"resolution": -0.5}, ValueError, r"positive.*-0.5"),
    ("zero_resolution", None, {"resolution": [0.4, 0.0]}, ValueError, r"positive.*0.0"),
    ("nan_resolution", None, {"resolution": float("nan")}, ValueError, r"positive"),
    ("duplicate_resolution", None, {"resolution": [0.8, 0.4, 0.8]}, ValueError, r"duplicates"),
    ("empty_resolution", None, {"resolution": []}, ValueError, r"resolution is empty"),
    ("string_resolution", None, {"resolution": "0.8"}, ValueError, r"positive numbers"),
    ("dropout_1", None, {"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\)"),
    ("dropout_negative", None, {"dropout": -0.1}, ValueError, r"dropout must be in \[0, 1\)"),
    ("latent_dim_0", None, {"latent_dim": 0}, ValueError, r"latent_dim must be a positive"),
    ("batch_size_0", None, {"batch_size": 0}, ValueError, r"batch_size must be a positive"),
    ("max_value_0", None, {"max_value": 0.0}, ValueError, r"max_value must be positive"),
    ("key_added_empty", None, {"key_added": ""}, TypeError, r"key_added"),
]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("mutate", "kwargs", "exc", "match"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input_raises_before_training(
    synthetic_adata, adata_checks, mutate, kwargs, exc, match
):
    adata = synthetic_adata
    if mutate is not None:
        mutate(adata)
    snap = adata_checks.snapshot(adata)
    with pytest.raises(exc, match=match):
        run(adata, **kwargs)
    adata_checks.assert_unchanged(adata, snap)


@pytest.mark.usefixtures("no_training")
def test_mask_var_column_selecting_nothing(synthetic_adata, adata_checks):
    adata = synthetic_adata
    adata.var["highly_variable"] = False
    snap = adata_checks.snapshot(adata)
    with pytest.raises(ValueError, match=r"adata.var\['highly_variable'\] selects no gene"):
        run(adata, mask_var="highly_variable")
    adata_checks.assert_unchanged(adata, snap)


#: Parameters that must be validated before any training.
UNCHECKED = [
    pytest.param(
        {"pretrain_epochs": 0},
        r"pretrain_epochs",
        id="pretrain_epochs_0",
    ),
    pytest.param(
        {"n_neighbors": 0},
        r"n_neighbors",
        id="n_neighbors_0",
    ),
    pytest.param(
        {"hidden_dims": (32, 0)},
        r"hidden_dims",
        id="hidden_dims_0",
    ),
    pytest.param(
        {"alpha": 0.0},
        r"alpha",
        id="alpha_0",
    ),
]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(("kwargs", "match"), UNCHECKED)
def test_unchecked_parameters_raise_before_training(synthetic_adata, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(synthetic_adata, **kwargs)


# ---------------------------------------------------------------------------
# h5ad round trip
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "keys"), [("single", ["desc"]), ("multi", ["desc_r0.4", "desc_r0.8"])]
)
def test_h5ad_round_trip(request, tmp_path, adata_checks, which, keys):
    adata = request.getfixturevalue(which)[0].copy()
    path = tmp_path / "result.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    for key in keys:
        for slot in (f"X_{key}", f"{key}_q"):
            adata_checks.assert_matrix_equal(back.obsm[slot], adata.obsm[slot], slot)
        pd.testing.assert_series_equal(back.obs[key], adata.obs[key])
        assert isinstance(back.obs[key].dtype, pd.CategoricalDtype)
        uns = back.uns[key]
        adata_checks.assert_tree_equal(dict(uns), dict(adata.uns[key]), f"uns[{key!r}]")
        # the nested records are all there after the round trip
        assert {"params", "history", "n_epochs", "seconds", "cluster_centers"} <= set(uns)
        assert set(uns["history"]) == {"pretrain", "cluster"}
        assert "end_to_end_mse" in uns["history"]["pretrain"]
        assert {"pretrain", "end_to_end", "cluster"} <= set(uns["n_epochs"])
        assert set(uns["seconds"]) == {"prepare", "pretrain", "init", "cluster"}
    # the whole of uns too (the user's neighbors dict in the single run included)
    adata_checks.assert_tree_equal(dict(back.uns), dict(adata.uns))


# ---------------------------------------------------------------------------
# X and layers untouched; layer=None; views
# ---------------------------------------------------------------------------


def test_layer_none_reads_dense_x_unchanged(synthetic_adata, single, adata_checks):
    adata = synthetic_adata
    adata.X = adata.layers["counts"].toarray()  # dense counts in X, read from there
    del adata.layers["counts"]
    snap = adata_checks.snapshot(adata)
    run(adata, layer=None, random_state=0)
    adata_checks.assert_unchanged(adata, snap, except_keys="desc")
    assert adata.uns["desc"]["params"]["layer"] == "None"
    # same counts as the shared run's layer: same result
    np.testing.assert_array_equal(adata.obs["desc"].to_numpy(), single[0].obs["desc"].to_numpy())
    np.testing.assert_allclose(adata.obsm["X_desc"], single[0].obsm["X_desc"], atol=1e-6)


def test_view_with_default_dims(synthetic_adata, adata_checks, tmp_path):
    parent = synthetic_adata
    parent_snap = adata_checks.snapshot(parent)
    view = parent[parent.obs["group"] != "g2"]
    expected_x = view.X.copy()
    assert view.is_view
    n = view.n_obs
    with pytest.warns(UserWarning, match="view"):
        assert run(view, hidden_dims=None, latent_dim=None) is None
    assert not view.is_view
    assert view.obsm["X_desc"].shape == (n, 16)  # DESC's dims below 500 cells: (), 16
    assert view.obs["desc"].shape == (n,)
    assert list(view.uns["desc"]["params"]["hidden_dims"]) == []
    adata_checks.assert_matrix_equal(view.X, expected_x, "X")
    adata_checks.assert_unchanged(parent, parent_snap)
    view.write_h5ad(tmp_path / "view.h5ad")  # an empty hidden_dims survives the round trip
    back = ad.read_h5ad(tmp_path / "view.h5ad")
    adata_checks.assert_tree_equal(dict(back.uns["desc"]), dict(view.uns["desc"]))


# ---------------------------------------------------------------------------
# The caller's torch thread count
# ---------------------------------------------------------------------------

_THREADS_SCRIPT = """
import numpy as np, torch
torch.set_num_threads(1)
assert torch.get_num_threads() == 1
from scdeepclust.data.centres import leiden_labels
leiden_labels(np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32), 0.8, 10, 0)
import numba
print(torch.get_num_threads(), numba.threading_layer())
"""


def test_leiden_init_keeps_torch_threads():
    """In a fresh process, where numba's thread pool starts during the Leiden init."""
    import os
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a reset to all cores is a reset to 1 thread")
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    threads, layer = out.stdout.split()
    if layer != "omp":
        pytest.skip(f"numba's threading layer is {layer!r}, not OpenMP")
    assert int(threads) == 1
