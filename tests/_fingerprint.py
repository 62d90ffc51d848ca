"""Eight small fits whose outputs must not move when the code is refactored.

The cases cover the paths of both tools: scdcc with k, with Leiden, with must-link /
cannot-link constraints, in bfloat16 and with ``batch_key`` (a one-hot covariate); desc at
two resolutions, with ``batch_key`` and with custom layer widths. Each case fits 240
synthetic cells for a few epochs on one thread and records its embedding, soft assignments q
and labels.

``tests/test_fingerprint.py`` compares a run with the reference in
``tests/data/fingerprints.npz``: bit for bit where the reference was recorded in the same
environment (torch, numpy, scikit-learn, scanpy versions, CPU capability, threads), else by
the labels. Record a new reference only for a change that is meant to move results::

    OMP_NUM_THREADS=1 python tests/_fingerprint.py --update
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import sklearn
import torch

import scdeepclust as sdc

REFERENCE = Path(__file__).resolve().parent / "data" / "fingerprints.npz"

SCDCC_BUDGET = dict(pretrain_epochs=4, max_epochs=4, batch_size=64, random_state=0)
DESC_BUDGET = dict(pretrain_epochs=6, max_epochs=10, batch_size=64, random_state=0)


def synthetic(seed: int = 0):
    """240 cells x 60 genes in 3 groups (as the conftest data), with a 2-level batch column."""
    from conftest import make_synthetic_counts

    adata = make_synthetic_counts(seed=seed)
    adata.obs["batch"] = np.where(np.arange(adata.n_obs) % 2, "b1", "b0")
    return adata


def _pairs(adata):
    groups = adata.obs["group"].to_numpy()
    ml = [(i, j) for i in range(0, 60, 3) for j in (i + 3,) if groups[i] == groups[j]]
    cl = [(i, i + 1) for i in range(0, 60, 2) if groups[i] != groups[i + 1]]
    return np.asarray(ml), np.asarray(cl)


def run_case(name: str):
    """Fit one case; returns the AnnData and the output key."""
    adata = synthetic()
    if name == "scdcc_k":
        sdc.tl.scdcc(adata, n_clusters=3, **SCDCC_BUDGET)
    elif name == "scdcc_leiden":
        sdc.tl.scdcc(adata, resolution=0.3, **SCDCC_BUDGET)
    elif name == "scdcc_constraints":
        ml, cl = _pairs(adata)
        sdc.tl.scdcc(adata, n_clusters=3, must_link=ml, cannot_link=cl, **SCDCC_BUDGET)
    elif name == "scdcc_bf16":
        sdc.tl.scdcc(adata, n_clusters=3, precision="bfloat16", **SCDCC_BUDGET)
    elif name == "scdcc_batch_key":
        sdc.tl.scdcc(adata, n_clusters=3, batch_key="batch", **SCDCC_BUDGET)
    elif name == "desc_two_resolutions":
        sdc.tl.desc(adata, resolution=[0.3, 0.8], **DESC_BUDGET)
        return adata, "desc_r0.8"
    elif name == "desc_batch_key":
        sdc.tl.desc(adata, batch_key="batch", **DESC_BUDGET)
    elif name == "desc_custom_dims":
        sdc.tl.desc(adata, hidden_dims=[32, 16], latent_dim=8, **DESC_BUDGET)
    else:
        raise KeyError(name)
    return adata, "desc" if name.startswith("desc") else "scdcc"


CASES = (
    "scdcc_k",
    "scdcc_leiden",
    "scdcc_constraints",
    "scdcc_bf16",
    "scdcc_batch_key",
    "desc_two_resolutions",
    "desc_batch_key",
    "desc_custom_dims",
)


def outputs(name: str) -> dict[str, np.ndarray]:
    """Embedding, q and labels of one case."""
    adata, key = run_case(name)
    return {
        "embedding": np.asarray(adata.obsm[f"X_{key}"], dtype=np.float32),
        "q": np.asarray(adata.obsm[f"{key}_q"], dtype=np.float32),
        "labels": adata.obs[key].cat.codes.to_numpy().astype(np.int32),
    }


def digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of the arrays' bytes, in a fixed order."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def environment() -> dict[str, str]:
    """What a bit-for-bit comparison depends on besides our code."""
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "scanpy": version("scanpy"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": str(torch.get_num_threads()),
    }


def record(path: Path = REFERENCE) -> dict[str, str]:
    """Run every case and write the reference file; returns the digests."""
    arrays, digests = {}, {}
    for name in CASES:
        out = outputs(name)
        digests[name] = digest(out)
        arrays.update({f"{name}/{k}": v for k, v in out.items()})
    meta = {"environment": environment(), "digests": digests}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
    return digests


def load_reference(path: Path = REFERENCE) -> tuple[dict, dict[str, np.ndarray]]:
    """The recorded metadata and arrays."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


def main(update: bool) -> None:
    """Record the reference, or compare a run with it (on one torch thread, as the test)."""
    from _threads import one_thread

    with one_thread():
        if update:
            for case, value in record().items():
                print(case, value[:16])
            return
        meta, _ = load_reference()
        for case in CASES:
            now = digest(outputs(case))
            print(case, now[:16], "same" if now == meta["digests"][case] else "DIFFERENT")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write tests/data/fingerprints.npz")
    main(parser.parse_args().update)
