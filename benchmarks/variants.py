"""Run a tool with parameter variants over datasets and seeds, in one process per dataset.

Prints one TSV row per run: ARI / NMI of the final and of the initial labels, cluster counts,
epochs, steps, what ended each stage, the label-change trace and seconds. Used for the variant
tables of the README (issue "Earn the cost").

    python benchmarks/variants.py --tool desc --datasets pbmc,bladder --seeds 0,1,2 \
        --k given --variant base: --variant lr01:lr=0.1 --patch glorot

``--patch`` changes the model code in this process only, for variants that are not (yet)
parameters, one of:

- ``glorot``: Glorot-uniform weights and zero biases, as Keras initialises the reference code;
- ``hidden_noise``: the Gaussian noise of scDeepCluster's Keras code also after each hidden
  encoder layer, before its activation;
- ``p_nofreq`` / ``p_sqrtfreq``: target distribution p_ij proportional to q_ij^2, without
  DEC's division by the cluster frequency f_j / divided by sqrt(f_j);
- ``linear_output``: DESC's decoder, and its first layer-wise stack, with a linear output
  instead of tanh (which cannot reach scaled values above 1 in absolute value);
- ``linear_bottleneck``: DESC's embedding layer, and its deepest layer-wise stack, linear
  instead of tanh;
- ``cosine_init``: k-means with the annotated k on the L2-normalised embedding; the centres
  are the cluster means of the embedding itself.
- ``graph_init_paga|geo|frac``: instead of k-means, Leiden at about 3k clusters of the
  20-NN graph of the embedding, merged to k by connectivity (``separability.graph_merge``,
  a cut that allows clusters of very unequal size); centres = cluster means.

``--save-init DIR`` writes the pretrained embedding each run initialises its centres from to
``DIR/<tool>_<variant>_<dataset>_<k mode>_<seed>.npy`` and the final embedding
(``obsm['X_<key>']``) to the same name with ``_final``.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common  # noqa: E402


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, rest = text.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        kwargs[key.strip()] = ast.literal_eval(value)
    return name, kwargs


def reconstruct_hidden_noise(self, x, covariate=None):
    """DeepClusterModel.reconstruct with noise also before each hidden encoder activation."""
    import torch

    if not (self.training and self.noise_sd > 0):
        return ORIGINAL["reconstruct"](self, x, covariate)
    h = x + self.noise_sd * torch.randn_like(x)
    if covariate is not None:
        h = torch.cat([h, covariate], dim=1)
    layers = list(self.encoder.net)
    for i in range(0, len(layers), 2):
        h = layers[i](h)
        if i + 2 < len(layers):
            h = h + self.noise_sd * torch.randn_like(h)
        h = layers[i + 1](h)
    return self.decoder(h if covariate is None else torch.cat([h, covariate], dim=1))


def target_distribution_power(power: float):
    """Target distribution p_ij proportional to q_ij^2 / f_j^power (DEC, the package: 1).

    The package's p (power 1) reweighted by f_j^(1 - power) and normalised again per row.
    """
    from scdeepclust.module.losses import target_distribution

    def target(q, inplace=False):
        f = q.sum(dim=0)  # before the package's in-place version overwrites q
        weight = target_distribution(q, inplace=inplace)
        weight *= f.clamp_min(1e-30).pow(1.0 - power)
        weight /= weight.sum(dim=1, keepdim=True)
        return weight

    return target


LINEAR = {"output": False, "bottleneck": False}


def build_mse_autoencoder_linear(n_genes, hidden_dims, latent_dim):
    """DESC's autoencoder with a linear output and / or bottleneck (research variants)."""
    from scdeepclust.module.modules import DeepClusterModel, Encoder, MSEDecoder

    latent_act = None if LINEAR["bottleneck"] else "tanh"
    out_act = None if LINEAR["output"] else "tanh"
    encoder = Encoder(n_genes, hidden_dims, latent_dim, "relu", latent_act, init="glorot")
    decoder = MSEDecoder(
        latent_dim, list(reversed(hidden_dims)), n_genes, "relu", out_act, "glorot"
    )
    return DeepClusterModel(encoder, decoder, noise_sd=0.0)


def stacked_autoencoders_linear(model, dropout):
    """DESC's layer-wise stacks with the first stack's output / deepest hidden tanh linear."""
    import torch

    stacks = ORIGINAL["stacked_autoencoders"](model, dropout)
    if LINEAR["output"]:
        stacks[0][5] = torch.nn.Identity()
    if LINEAR["bottleneck"]:
        stacks[-1][2] = torch.nn.Identity()
    return stacks


def kmeans_centers_cosine(z, n_clusters, random_state, n_init=20):
    """k-means on the L2-normalised embedding; centres = cluster means of ``z``."""
    from scdeepclust.data.init import centers_from_labels

    unit = z / np.linalg.norm(z, axis=1, keepdims=True).clip(1e-8)
    _, labels = ORIGINAL["kmeans_centers"](unit, n_clusters, random_state, n_init)
    return centers_from_labels(z, labels), labels


def kmeans_centers_graph(rule: str):
    """A replacement of ``kmeans_centers``: Leiden at ~3k clusters merged to k by ``rule``."""
    from separability import graph_merge

    from scdeepclust.data.init import centers_from_labels

    def centers(z, n_clusters, random_state, n_init=20):
        import torch

        n_threads = torch.get_num_threads()  # the kNN graph (numba) resets it
        labels = graph_merge(z, n_clusters, random_state, rule)
        torch.set_num_threads(n_threads)
        return centers_from_labels(z, labels), labels

    return centers


ORIGINAL: dict = {}
SAVE = {"dir": None, "name": None}


def apply_patches(names: list[str], save_dir: str | None) -> None:
    """Install the research patches named in ``--patch`` and the embedding dump."""
    import torch

    from scdeepclust.models import _training
    from scdeepclust.module import engine
    from scdeepclust.module.modules import DeepClusterModel, GlorotLinear

    if "glorot" in names:
        torch.nn.Linear.reset_parameters = GlorotLinear.reset_parameters
    if "hidden_noise" in names:
        ORIGINAL["reconstruct"] = DeepClusterModel.reconstruct
        DeepClusterModel.reconstruct = reconstruct_hidden_noise
    if "p_nofreq" in names:
        engine.target_distribution = target_distribution_power(0.0)
    if "p_sqrtfreq" in names:
        engine.target_distribution = target_distribution_power(0.5)
    LINEAR.update(output="linear_output" in names, bottleneck="linear_bottleneck" in names)
    if any(LINEAR.values()):
        from scdeepclust.models import _desc
        from scdeepclust.module import desc

        _desc.build_mse_autoencoder = build_mse_autoencoder_linear
        ORIGINAL["stacked_autoencoders"] = desc.stacked_autoencoders
        desc.stacked_autoencoders = stacked_autoencoders_linear
    if "cosine_init" in names:
        ORIGINAL["kmeans_centers"] = _training.kmeans_centers
        _training.kmeans_centers = kmeans_centers_cosine
    for rule in ("paga", "geo", "frac"):
        if f"graph_init_{rule}" in names:
            _training.kmeans_centers = kmeans_centers_graph(rule)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        SAVE["dir"] = save_dir
        ORIGINAL["initial_clusters"] = _training.initial_clusters

        def saving_initial_clusters(z, **kwargs):
            np.save(os.path.join(SAVE["dir"], SAVE["name"] + ".npy"), z)
            return ORIGINAL["initial_clusters"](z, **kwargs)

        _training.initial_clusters = saving_initial_clusters


def main() -> None:
    import torch
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    import scdeepclust as sdc

    p = argparse.ArgumentParser()
    p.add_argument("--tool", default="desc")
    p.add_argument("--datasets", default="pbmc,bladder,worm,cite")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--k", default="given,estimated")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worm-genes", default="seurat_v3")
    p.add_argument("--variant", action="append", default=[], help="name:key=value;key=value")
    p.add_argument(
        "--patch",
        action="append",
        default=[],
        choices=[
            "glorot",
            "hidden_noise",
            "p_nofreq",
            "p_sqrtfreq",
            "linear_output",
            "linear_bottleneck",
            "cosine_init",
            "graph_init_paga",
            "graph_init_geo",
            "graph_init_frac",
        ],
    )
    p.add_argument("--save-init", default=None, help="folder for the pretrained embeddings")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    apply_patches(a.patch, a.save_init)
    variants = [parse_variant(v) for v in (a.variant or ["base:"])]
    tool = getattr(sdc.tl, a.tool)
    print(
        "tool\tvariant\tdataset\tk_mode\tseed\tari\tnmi\tclusters\tari_init\tk_init"
        "\tepochs\tsteps\tstopped\tn_refresh\tlast_changes\tseconds",
        flush=True,
    )
    for name in a.datasets.split(","):
        adata = _common.load(name, a.worm_genes)
        torch.set_num_threads(a.threads)  # scanpy's gene selection (numba) resets it
        mask = "highly_variable" if "highly_variable" in adata.var else None
        truth = adata.obs["cell_type"].to_numpy()
        for vname, kwargs in variants:
            for k_mode in a.k.split(","):
                for seed in map(int, a.seeds.split(",")):
                    k = _common.K[name] if k_mode == "given" else None
                    SAVE["name"] = f"{a.tool}_{vname}_{name}_{k_mode}_{seed}"
                    t = time.perf_counter()
                    out = tool(
                        adata,
                        n_clusters=k,
                        mask_var=mask,
                        random_state=seed,
                        progress_bar=False,
                        copy=True,
                        key_added="m",
                        **kwargs,
                    )
                    secs = time.perf_counter() - t
                    if SAVE["dir"]:
                        path = os.path.join(SAVE["dir"], SAVE["name"] + "_final.npy")
                        np.save(path, out.obsm["X_m"])
                    uns = out.uns["m"]
                    labels = out.obs["m"].to_numpy()
                    changes = ",".join(f"{x:.4f}" for x in uns["label_change"][-3:])
                    print(
                        f"{a.tool}\t{vname}\t{name}\t{k_mode}\t{seed}"
                        f"\t{adjusted_rand_score(truth, labels):.4f}"
                        f"\t{normalized_mutual_info_score(truth, labels):.4f}"
                        f"\t{len(np.unique(labels))}"
                        f"\t{adjusted_rand_score(truth, uns['init_labels']):.4f}"
                        f"\t{uns['n_clusters_init']}"
                        f"\t{uns['n_epochs']['pretrain']}/{uns['n_epochs']['cluster']}"
                        f"\t{sum(v for s, v in uns['n_steps'].items() if s != 'cluster')}"
                        f"/{uns['n_steps']['cluster']}"
                        f"\t{uns['stopped_by']['cluster']}\t{len(uns['label_change'])}"
                        f"\t{changes}\t{secs:.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
