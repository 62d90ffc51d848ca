"""``precision="bfloat16"``: autocast matrix products, float32 losses and outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _adata_checks import assert_unchanged, snapshot_adata

import scdeepclust as sdc
from scdeepclust.module.networks import ClusteringHead, ZINBDecoder

FAST = {"hidden_dims": (16,), "latent_dim": 4, "max_epochs": 3, "progress_bar": False}


@pytest.mark.parametrize("tool", ["scdcc", "desc"])
def test_bfloat16_outputs_are_float32_and_close(synthetic_adata, tool):
    func = getattr(sdc.tl, tool)
    kwargs = {**FAST, "pretrain_epochs": 6, "copy": True}
    if tool == "scdcc":
        kwargs["n_clusters"] = 3
    full = func(synthetic_adata, **kwargs)
    half = func(synthetic_adata, precision="bfloat16", **kwargs)
    for adata in (full, half):
        assert adata.obsm[f"X_{tool}"].dtype == np.float32
        assert adata.obsm[f"{tool}_q"].dtype == np.float32
    assert half.uns[tool]["params"]["precision"] == "bfloat16"
    stage = "pretrain"
    for term, values in full.uns[tool]["history"][stage].items():
        other = half.uns[tool]["history"][stage][term]
        np.testing.assert_allclose(other[0], values[0], rtol=0.05, err_msg=term)


def test_heads_stay_float32_under_autocast():
    decoder = ZINBDecoder(4, [8], 10)
    head = ClusteringHead(torch.randn(3, 4))
    z = torch.randn(5, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = decoder(z)
        log_q = head(z)
    assert all(v.dtype == torch.float32 for v in out.values())
    assert log_q.dtype == torch.float32
    torch.testing.assert_close(log_q.exp().sum(dim=1), torch.ones(5))


@pytest.mark.parametrize("tool", ["scdcc", "desc"])
def test_unknown_precision_raises_before_training(synthetic_adata, tool):
    snap = snapshot_adata(synthetic_adata)
    with pytest.raises(ValueError, match="precision must be one of"):
        getattr(sdc.tl, tool)(synthetic_adata, precision="float16", **FAST)
    assert_unchanged(synthetic_adata, snap)
