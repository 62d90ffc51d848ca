"""A third method plugs into the shared pipeline: plain DEC in a few lines (Xie et al. 2016).

An MSE autoencoder on the scaled log expression, pretrained with Adam; k-means centres; then
KL(P || Q) over the encoder alone. Only the extension points of ``BaseModel`` are used.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

import scdeepclust as sdc
from scdeepclust.models import BaseModel, ClusteringConfig
from scdeepclust.module.desc import build_mse_autoencoder, kl_pass, mse_pass
from scdeepclust.module.engine import run_stage


@dataclass
class DECConfig(ClusteringConfig):
    n_clusters: int | None = 3
    hidden_dims: tuple[int, ...] = (32,)
    latent_dim: int = 8
    pretrain_epochs: int = 30
    lr: float = 0.01
    update_interval: int = 2
    key_added: str = "dec"


class DEC(BaseModel):
    tool = "toy_dec"
    config_class = DECConfig
    clustering_uses_decoder = False

    def _input_options(self):
        return {"target_sum": 1e4, "max_value": 6.0}

    def _build_module(self, arch):
        return build_mse_autoencoder(self.state_.n_genes, arch["hidden_dims"], arch["latent_dim"])

    def _pretrain(self, module, data, *, rng, progress):
        c = self.config
        passes = [mse_pass(module, data, c.batch_size, rng)]
        adam = torch.optim.Adam(module.parameters(), lr=1e-3)
        return {"pretrain": run_stage("pretrain", module, passes, adam, c.pretrain_epochs)}

    def _clustering_passes(self, module, data, self_training, *, rng, inputs):
        return [kl_pass(module, data, self_training, self.config.batch_size, rng)]

    def _clustering_optimizer(self, module):
        return torch.optim.SGD(module.parameters(), lr=self.config.lr, momentum=0.9)


def test_toy_dec_fits_saves_loads_and_predicts(synthetic_adata, tmp_path, torch_single_thread):
    adata = synthetic_adata
    model = DEC(batch_size=64, max_epochs=20).fit(adata, progress_bar=False)
    (result,) = model.results_
    assert adjusted_rand_score(adata.obs["group"], result.q.argmax(axis=1)) > 0.9
    assert list(model.history) == ["pretrain", "cluster"]
    assert model.history["pretrain"]["mse"].iloc[-1] < model.history["pretrain"]["mse"].iloc[0]

    loaded = sdc.models.load(model.save(tmp_path / "dec"))
    assert isinstance(loaded, DEC) and loaded.keys == ["dec"]
    assert loaded.modules_["dec"].decoder is None
    new = loaded.predict(adata, copy=True)
    assert np.array_equal(new.obsm["X_dec"], result.embedding)
    assert np.array_equal(new.obs["dec"].cat.codes.to_numpy(), result.q.argmax(axis=1))
    assert list(loaded.history) == ["pretrain", "cluster"]
