"""Minibatch row sources: dense on the host, sparse host-to-device, CSR on the device.

The GPU paths are exercised on the CPU by forcing the row source: the same code slices and
densifies the minibatches there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_synthetic_counts
from sklearn.metrics import adjusted_rand_score

import scdeepclust as sdc
from scdeepclust.data import preparation
from scdeepclust.module import device_data as _data


@pytest.fixture(scope="module")
def prepared():
    a = make_synthetic_counts(n_obs=300, n_vars=50, n_groups=3)
    counts = a.layers["counts"].astype(np.float32)
    codes = np.arange(300) % 2
    return preparation.prepare(
        counts.tocsr(), group_codes=codes, max_value=3.0, covariate_codes=codes, n_covariates=2
    )


@pytest.mark.parametrize("source", ["host-sparse", "device"])
def test_row_sources_build_the_same_minibatches(prepared, source):
    ref = prepared.to(torch.device("cpu"), row_source="host-dense")
    other = prepared.to(torch.device("cpu"), row_source=source)
    idx = np.sort(np.random.default_rng(1).choice(300, 64, replace=False))
    a, b = ref.batch(idx), other.batch(idx)
    assert a.keys() == b.keys()
    torch.testing.assert_close(a["x"], b["x"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(a["nz_index"], b["nz_index"], rtol=0, atol=0)
    torch.testing.assert_close(a["nz_counts"], b["nz_counts"], rtol=0, atol=0)
    torch.testing.assert_close(a["size_factors"], b["size_factors"], rtol=0, atol=0)
    torch.testing.assert_close(a["covariate"], b["covariate"], rtol=0, atol=0)
    torch.testing.assert_close(ref.scaled(idx), other.scaled(idx), rtol=1e-6, atol=1e-6)
    one_cell = np.array([0])  # a block of a single cell
    torch.testing.assert_close(ref.scaled(one_cell), other.scaled(one_cell))


def test_device_csr_is_shared_on_the_cpu(prepared):
    dd = prepared.to(torch.device("cpu"), row_source="device")
    assert np.shares_memory(dd.values.numpy(), prepared.counts.data)


def test_default_row_source_and_validation(prepared):
    assert prepared.to(torch.device("cpu")).row_source == "host-dense"
    with pytest.raises(ValueError, match="row_source must be one of"):
        prepared.to(torch.device("cpu"), row_source="disk")
    assert _data.csr_nbytes(prepared.counts) == prepared.counts.nnz * 8 + 301 * 8


def test_fit_with_counts_on_the_device(monkeypatch, synthetic_adata, torch_single_thread):
    host = sdc.tl.scdcc(synthetic_adata, 3, pretrain_epochs=20, copy=True)
    monkeypatch.setattr(_data, "choose_row_source", lambda counts, device: "device")
    dev = sdc.tl.scdcc(synthetic_adata, 3, pretrain_epochs=20, copy=True)
    assert adjusted_rand_score(host.obs["scdcc"], dev.obs["scdcc"]) >= 0.9
    assert adjusted_rand_score(dev.obs["group"], dev.obs["scdcc"]) >= 0.9


def test_counts_go_to_a_gpu_only_when_they_fit(monkeypatch, prepared):
    nbytes = _data.csr_nbytes(prepared.counts)
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2 * nbytes, 4 * nbytes))
    assert _data.choose_row_source(prepared.counts, cuda) == "device"
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2 * nbytes - 8, 4 * nbytes))
    assert _data.choose_row_source(prepared.counts, cuda) == "host-sparse"
    assert _data.choose_row_source(prepared.counts, torch.device("cpu")) == "host-dense"
