"""Why DESC's clustering did not converge on CITE: the state of its centres at the end.

Runs ``tl.desc`` (k given) on one dataset and prints the ARI, the share of embedding values in
the saturated tails of the tanh bottleneck (|z| > 0.99), the smallest distance between two
centres, the median margin between the two largest soft assignments q, and the epochs.
(The torch-initialisation run of the study replaced a package class's method; it is
recorded in this study's README, not run here.)

    python -m benchmarks.studies.desc_convergence.desc_centres --dataset cite --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.datasets import DATASETS, load_with_genes


def main() -> None:
    import torch
    from sklearn.metrics import adjusted_rand_score

    import scdeepclust as sdc

    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="cite")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    adata, mask = load_with_genes(a.dataset)
    torch.set_num_threads(a.threads)  # after scanpy's gene selection, which resets it
    out = sdc.tl.desc(
        adata,
        n_clusters=DATASETS[a.dataset].k,
        mask_var=mask,
        random_state=a.seed,
        progress_bar=False,
        copy=True,
    )
    z, centres = out.obsm["X_desc"], out.uns["desc"]["cluster_centers"]
    dist = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
    q = np.sort(out.obsm["desc_q"], axis=1)
    print(
        f"{a.dataset} seed {a.seed}: "
        f"ARI {adjusted_rand_score(out.obs['cell_type'], out.obs['desc']):.3f}, "
        f"|z| > 0.99 {np.mean(np.abs(z) > 0.99):.3f}, "
        f"closest centres {dist[np.triu_indices(len(centres), 1)].min():.3f}, "
        f"median q margin {np.median(q[:, -1] - q[:, -2]):.4f}, "
        f"epochs {dict(out.uns['desc']['n_epochs'])}, stopped by {out.uns['desc']['stopped_by']}"
    )


if __name__ == "__main__":
    main()
