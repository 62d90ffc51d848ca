# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Reusing a trained model: fit on 70% of the PBMCs, predict the other 30%
#
# `scdeepclust.tl.scdcc` is a thin wrapper over the model class `scdeepclust.models.SCDCC`.
# The model keeps what it needs to embed and cluster new cells: the genes (by name), the
# size-factor reference and the scaling statistics of the training cells, and the trained
# weights. Here we
#
# 1. fit scDCC on a random 70% of the 10X PBMCs and save the model to a folder;
# 2. load it in a **fresh Python process** and predict the held-out 30%;
# 3. compare both UMAPs and score the held-out clusters against the annotation;
# 4. do the same prediction from the shell with the `scdeepclust` command line.
#
# Run as a script: `python tutorials/03_reuse_model_pbmc.py --outdir results`.

# %%
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc
from _tutorial import output_dir, save_figure
from sklearn.metrics import adjusted_rand_score

import scdeepclust as sdc

outdir = output_dir("Fit on 70% of PBMC, predict the other 30%.")

# %% [markdown]
# ## Split the cells
# A random 70% trains the model; the other 30% are "tomorrow's cells".

# %%
adata = sdc.datasets.pbmc_10x()
rng = np.random.default_rng(0)
is_train = rng.random(adata.n_obs) < 0.7
train, new = adata[is_train].copy(), adata[~is_train].copy()
new_file = outdir / "pbmc_new_cells.h5ad"
new.write_h5ad(new_file)
print(f"{train.n_obs} training cells, {new.n_obs} new cells")

# %% [markdown]
# ## Fit and save
# `fit` trains exactly what `tl.scdcc` trains; `predict` writes the usual slots
# (`obsm["X_scdcc"]`, `obs["scdcc"]`, `obsm["scdcc_q"]`). `save` writes a folder with the
# weights as a plain `state_dict` and the rest as JSON / `.npz` (no pickles).

# %%
model = sdc.models.SCDCC(n_clusters=8, random_state=0).fit(train)
model.predict(train)
model_dir = model.save(outdir / "pbmc_scdcc_model", overwrite=True)
print(model)
print(sorted(p.name for p in model_dir.iterdir()))
print("train ARI:", round(adjusted_rand_score(train.obs["cell_type"], train.obs["scdcc"]), 3))

# %% [markdown]
# ## Load in a fresh process and predict the new cells
# Nothing of this session is needed: the new process only gets the model folder and the
# new cells' `.h5ad`.

# %%
predicted_file = outdir / "pbmc_new_cells_predicted.h5ad"
code = textwrap.dedent(
    f"""
    import anndata as ad
    import scdeepclust as sdc

    model = sdc.models.load({str(model_dir)!r})
    new = ad.read_h5ad({str(new_file)!r})
    model.predict(new)
    new.write_h5ad({str(predicted_file)!r})
    print("fresh process:", model)
    """
)
print(
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
)
new = sc.read_h5ad(predicted_file)
ari_new = adjusted_rand_score(new.obs["cell_type"], new.obs["scdcc"])
print(f"held-out ARI: {ari_new:.3f}")

# %% [markdown]
# ## Both UMAPs
# Each UMAP is computed on its own cells' embedding; the cluster numbers mean the same
# thing in both, because the new cells were assigned to the training clusters.

# %%
for part in (train, new):
    sc.pp.neighbors(part, use_rep="X_scdcc")
    sc.tl.umap(part, random_state=0)
fig, axes = plt.subplots(2, 2, figsize=(10, 9))
for row, (part, name) in enumerate(((train, "training cells (70%)"), (new, "new cells (30%)"))):
    sc.pl.umap(part, color="scdcc", ax=axes[row, 0], show=False, title=f"{name}: scDCC")
    sc.pl.umap(part, color="cell_type", ax=axes[row, 1], show=False, title=f"{name}: annotation")
fig.tight_layout()
save_figure(fig, outdir / "pbmc_reuse_umaps.png", dpi=100)

# %% [markdown]
# ## The same from the shell
# `scdeepclust predict MODEL_DIR IN.h5ad OUT.h5ad` writes the same slots; it refuses to
# overwrite OUT without `--force` and writes atomically. Training from the shell is
# `scdeepclust scdcc IN.h5ad OUT.h5ad --n-clusters 8 --save-model DIR`.

# %%
cli_file = outdir / "pbmc_new_cells_cli.h5ad"
cmd = [
    sys.executable,
    "-m",
    "scdeepclust",
    "predict",
    str(model_dir),
    str(new_file),
    str(cli_file),
    "--force",
]
print(" ".join(["scdeepclust", *cmd[3:]]))
print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
from_cli = sc.read_h5ad(cli_file)
same = (from_cli.obs["scdcc"].to_numpy() == new.obs["scdcc"].to_numpy()).all()
print("CLI labels identical to the Python ones:", bool(same))
