"""``pl.training_history`` and ``tl.confidence``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _threads import one_thread  # noqa: E402

import scdeepclust as sdc  # noqa: E402


@pytest.fixture(scope="module")
def clustered(make_synthetic):
    adata = make_synthetic()
    with one_thread():
        sdc.tl.scdcc(adata, 3, pretrain_epochs=3, max_epochs=4, hidden_dims=(16,), latent_dim=4)
    return adata


def test_training_history_one_panel_per_stage(clustered, tmp_path):
    axes = sdc.pl.training_history(clustered, "scdcc", save=str(tmp_path / "h.png"), show=False)
    assert [a.get_title() for a in axes] == ["scdcc: pretrain", "scdcc: cluster"]
    terms = {line.get_label() for line in axes[1].get_lines()}
    assert {"zinb", "kl", "loss"} <= terms
    n_pre = clustered.uns["scdcc"]["n_epochs"]["pretrain"]
    assert len(axes[0].get_lines()[0].get_xdata()) == n_pre
    assert (tmp_path / "h.png").stat().st_size > 0


def test_training_history_errors(clustered):
    with pytest.raises(KeyError, match="run scdeepclust.tl"):
        sdc.pl.training_history(clustered, "nope", show=False)
    with pytest.raises(KeyError, match="stages"):
        sdc.pl.training_history(clustered, "scdcc", stages=["finetune"], show=False)


def test_confidence_columns(clustered):
    out = sdc.tl.confidence(clustered, "scdcc", copy=True)
    q = clustered.obsm["scdcc_q"]
    np.testing.assert_allclose(out.obs["scdcc_max_q"], q.max(axis=1), rtol=1e-5)
    ent = out.obs["scdcc_entropy"].to_numpy()
    assert ((ent >= 0) & (ent <= 1)).all()
    # the most confident cell has the lowest entropy
    assert ent[np.argmax(q.max(axis=1))] == pytest.approx(ent.min(), abs=1e-3)
    assert "scdcc_max_q" not in clustered.obs  # copy=True leaves the input alone


def test_confidence_known_values():
    import anndata as ad

    a = ad.AnnData(np.zeros((2, 1), dtype=np.float32))
    a.obsm["x_q"] = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    sdc.tl.confidence(a, "x")
    np.testing.assert_allclose(a.obs["x_max_q"], [1.0, 0.25])
    np.testing.assert_allclose(a.obs["x_entropy"], [0.0, 1.0], atol=1e-6)
    with pytest.raises(KeyError, match="obsm\\['y_q'\\]"):
        sdc.tl.confidence(a, "y")
