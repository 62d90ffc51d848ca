# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Clustering 10X PBMCs with `scdeepclust.tl.scdcc`
#
# scDCC (Tian et al., Nat Commun 2021) is scDeepCluster (Tian et al., Nat Mach Intell 2019)
# plus optional pairwise constraints: a denoising autoencoder with a zero-inflated negative
# binomial (ZINB) decoder of the raw counts, then self-training on Student-t soft
# assignments. Here we cluster 4,271 PBMCs (10x Genomics, 2,000 genes, 8 annotated cell
# types), look at the clusters on a UMAP, score them against the annotation and save the
# result as `.h5ad`.
#
# This file is both the tutorial (a py:percent notebook) and the README's demo:
# `python tutorials/01_scdcc_pbmc.py --outdir results`.

# %%
import time

import matplotlib

matplotlib.use("Agg")
import scanpy as sc
from _tutorial import output_dir, save_figure
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import scdeepclust as sdc

outdir = output_dir(__doc__)

# %% [markdown]
# ## Load the data
# `datasets.pbmc_10x()` checks the file's sha256 and returns raw counts in
# `layers["counts"]` and `X`, and the annotation in `obs["cell_type"]`. The data folder is
# `scdeepclust.settings.datasetdir` (environment variable `SCDEEPCLUST_DATASETDIR`).

# %%
adata = sdc.datasets.pbmc_10x()
print(adata)

# %% [markdown]
# ## Cluster
# With `n_clusters=8` the centres start from k-means on the pretrained embedding; leave it
# out and Leiden (`resolution=0.4`) chooses the number of clusters.
#
# These 2,000 genes were chosen by the scDCC authors. For data with all genes, select
# highly variable genes first and pass them with `mask_var` (the raw counts stay in
# `layers["counts"]`):
#
# ```python
# tmp = sc.pp.log1p(sc.pp.normalize_total(adata, layer="counts", inplace=False)["X"])
# hvg = sc.pp.highly_variable_genes(
#     sc.AnnData(tmp), flavor="seurat", n_top_genes=2000, inplace=False
# )["highly_variable"].to_numpy()
# sdc.tl.scdcc(adata, n_clusters=k, mask_var=hvg)
# ```

# %%
start = time.perf_counter()
sdc.tl.scdcc(adata, n_clusters=8, random_state=0)
elapsed = time.perf_counter() - start
info = adata.uns["scdcc"]
print(
    f"scdcc: {elapsed:.1f} s in all; seconds per stage: "
    + ", ".join(f"{k} {v:.1f}" for k, v in info["seconds"].items())
)
print("epochs:", dict(info["n_epochs"]), "steps:", dict(info["n_steps"]))
print("stopped by:", dict(info["stopped_by"]))
# the self-training trace: fraction of cells that changed cluster at each refresh of p
print("label changes per refresh:", info["label_change"].round(4))
# how far the clustering stage moved the labels away from the k-means start
print(
    "ARI(initial labels, final labels):",
    round(adjusted_rand_score(info["init_labels"], adata.obs["scdcc"]), 3),
)

# %% [markdown]
# ## How good are the clusters?
# Adjusted Rand index (ARI) and normalised mutual information (NMI) against the annotation.

# %%
ari = adjusted_rand_score(adata.obs["cell_type"], adata.obs["scdcc"])
nmi = normalized_mutual_info_score(adata.obs["cell_type"], adata.obs["scdcc"])
print(f"ARI {ari:.3f}  NMI {nmi:.3f}")

# %% [markdown]
# ## UMAP of the scDCC embedding
# The embedding is in `obsm["X_scdcc"]`, so the usual scanpy chain applies.

# %%
sc.pp.neighbors(adata, use_rep="X_scdcc")
sc.tl.umap(adata, random_state=0)
fig = sc.pl.umap(
    adata,
    color=["scdcc", "cell_type"],
    title=[f"scDCC clusters (ARI {ari:.2f})", "annotated cell type"],
    show=False,
    return_fig=True,
)
save_figure(fig, outdir / "pbmc_scdcc_umap.png", dpi=110)

# %% [markdown]
# ## Save and read back
# Every slot survives the `.h5ad` round trip.

# %%
path = outdir / "pbmc_scdcc.h5ad"
adata.write_h5ad(path)
back = sc.read_h5ad(path)
assert (back.obs["scdcc"] == adata.obs["scdcc"]).all()
print(
    "wrote",
    path,
    "-",
    back.obsm["X_scdcc"].shape,
    "embedding,",
    back.obsm["scdcc_q"].shape[1],
    "clusters",
)
