# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # DESC at several resolutions on 10X PBMCs, next to scDCC
#
# DESC (Li et al., Nat Commun 2020) pretrains a stacked autoencoder on the scaled expression,
# initialises cluster centres with Leiden on its embedding and fine-tunes the encoder on the
# KL clustering loss alone. `scdeepclust.tl.desc` pretrains once and fine-tunes every
# resolution independently from the pretrained weights, writing one set of slots per
# resolution (`desc_r0.4`, `desc_r0.8`, ...).
#
# Run top to bottom: `python tutorials/02_desc_pbmc.py --outdir results`.

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import scanpy as sc
from _tutorial import output_dir, save_figure
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import scdeepclust as sdc

outdir = output_dir(__doc__)

# %%
adata = sdc.datasets.pbmc_10x()
print(adata)

# %% [markdown]
# ## DESC at three resolutions
# Raw counts are read from `layers["counts"]`, normalised to 10,000 counts per cell, log1p'd
# and z-scored (clipped at 6) inside the call; `adata.X` is left alone.

# %%
resolutions = [0.4, 0.8, 1.2]
start = time.perf_counter()
sdc.tl.desc(adata, resolution=resolutions, random_state=0)
print(f"tl.desc, {len(resolutions)} resolutions: {time.perf_counter() - start:.1f} s")

keys = [f"desc_r{r:g}" for r in resolutions]
for key in keys:
    info = adata.uns[key]
    ari = adjusted_rand_score(adata.obs["cell_type"], adata.obs[key])
    nmi = normalized_mutual_info_score(adata.obs["cell_type"], adata.obs[key])
    print(
        f"{key}: {adata.obs[key].nunique()} clusters, ARI {ari:.3f}, NMI {nmi:.3f}, "
        f"epochs {dict(info['n_epochs'])}, converged {info['converged']}"
    )

# %% [markdown]
# ## UMAPs side by side
# One UMAP per resolution, each on its own DESC embedding.

# %%
fig, axes = plt.subplots(1, len(keys) + 1, figsize=(5 * (len(keys) + 1), 4.5))
for ax, key in zip(axes, keys, strict=False):
    view = adata.copy()
    sc.pp.neighbors(view, use_rep=f"X_{key}")
    sc.tl.umap(view, random_state=0)
    sc.pl.umap(view, color=key, ax=ax, show=False, title=key, legend_loc="on data")
sc.pp.neighbors(adata, use_rep=f"X_{keys[1]}")
sc.tl.umap(adata, random_state=0)
sc.pl.umap(adata, color="cell_type", ax=axes[-1], show=False, title="annotated cell type")
save_figure(fig, outdir / "pbmc_desc_resolutions_umap.png", dpi=90)

# %% [markdown]
# ## Comparison with scDCC
# scDCC models the raw counts with a ZINB likelihood; here with Leiden choosing k as well.

# %%
start = time.perf_counter()
sdc.tl.scdcc(adata, random_state=0)
print(f"tl.scdcc: {time.perf_counter() - start:.1f} s")
rows = [
    (
        k,
        adata.obs[k].nunique(),
        adjusted_rand_score(adata.obs["cell_type"], adata.obs[k]),
        normalized_mutual_info_score(adata.obs["cell_type"], adata.obs[k]),
    )
    for k in [*keys, "scdcc"]
]
print(f"{'method':<12}{'clusters':>9}{'ARI':>8}{'NMI':>8}")
for name, k, ari, nmi in rows:
    print(f"{name:<12}{k:>9}{ari:>8.3f}{nmi:>8.3f}")

# %% [markdown]
# ## Save and read back

# %%
path = outdir / "pbmc_desc.h5ad"
adata.write_h5ad(path)
back = sc.read_h5ad(path)
for key in keys:
    assert (back.obs[key] == adata.obs[key]).all()
    assert back.obsm[f"{key}_q"].shape[1] == len(back.obs[key].cat.categories)
print("read back", path, "with", [k for k in back.uns if k.startswith("desc")])
