"""Refactoring keeps results: eight small fits against their recorded outputs.

Bit for bit in the environment the reference was recorded in (see ``tests/_fingerprint.py``);
elsewhere (another CPU, other library versions) floating-point sums may round differently,
so only the labels are compared there.
"""

import numpy as np
import pytest
from _fingerprint import CASES, digest, environment, load_reference, outputs
from _threads import one_thread
from sklearn.metrics import adjusted_rand_score


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.mark.parametrize("case", CASES)
def test_outputs_match_the_reference(case, reference):
    meta, arrays = reference
    with one_thread():
        out, env = outputs(case), environment()
    if meta["environment"] == env:
        assert digest(out) == meta["digests"][case], f"{case}: outputs changed bit for bit"
    else:
        assert out["embedding"].shape == arrays[f"{case}/embedding"].shape
        ari = adjusted_rand_score(arrays[f"{case}/labels"], out["labels"])
        assert ari >= 0.9, f"{case}: labels ARI {ari:.3f} against the reference"


def test_digest_sees_a_one_ulp_change():
    out = {"embedding": np.ones((3, 2), np.float32), "labels": np.zeros(3, np.int32)}
    moved = {**out, "embedding": np.nextafter(out["embedding"], 2, dtype=np.float32)}
    assert digest(out) != digest(moved)
