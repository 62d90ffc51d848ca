"""Why DESC's clustering did not converge on CITE: the state of its centres at the end.

Runs ``tl.desc`` (k given) on one dataset and prints the ARI, the share of embedding values in
the saturated tails of the tanh bottleneck (|z| > 0.99), the smallest distance between two
centres, the median margin between the two largest soft assignments q, and the epochs.
``--init torch`` starts the layers from torch's default initialisation instead of the
Glorot-uniform default, for the comparison in the README.

    python benchmarks/desc_centres.py --dataset cite --seed 0 --init torch
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def main() -> None:
    import torch
    from sklearn.metrics import adjusted_rand_score

    import scdeepclust as sdc
    from scdeepclust.module.modules import GlorotLinear

    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="cite")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", choices=["glorot", "torch"], default="glorot")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.init == "torch":
        GlorotLinear.reset_parameters = torch.nn.Linear.reset_parameters
    adata = _common.load(a.dataset, "seurat")
    torch.set_num_threads(a.threads)  # after scanpy's gene selection, which resets it
    mask = "highly_variable" if "highly_variable" in adata.var else None
    out = sdc.tl.desc(
        adata,
        n_clusters=_common.K[a.dataset],
        mask_var=mask,
        random_state=a.seed,
        progress_bar=False,
        copy=True,
    )
    z, centres = out.obsm["X_desc"], out.uns["desc"]["cluster_centers"]
    dist = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
    q = np.sort(out.obsm["desc_q"], axis=1)
    print(
        f"{a.dataset} seed {a.seed} init {a.init}: "
        f"ARI {adjusted_rand_score(out.obs['cell_type'], out.obs['desc']):.3f}, "
        f"|z| > 0.99 {np.mean(np.abs(z) > 0.99):.3f}, "
        f"closest centres {dist[np.triu_indices(len(centres), 1)].min():.3f}, "
        f"median q margin {np.median(q[:, -1] - q[:, -2]):.4f}, "
        f"epochs {dict(out.uns['desc']['n_epochs'])}, stopped by {out.uns['desc']['stopped_by']}"
    )


if __name__ == "__main__":
    main()
