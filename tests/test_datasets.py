import io
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scdeepclust import datasets
from scdeepclust._settings import settings
from scdeepclust.datasets import _download
from scdeepclust.datasets._download import (
    DatasetChecksumError,
    DatasetDownloadError,
    fetch,
    sha256sum,
)
from scdeepclust.datasets._registry import REGISTRY

ENV = "SCDEEPCLUST_DATASETDIR"

# loader, expected shape, number of label classes
CASES = {
    "pbmc_10x": (datasets.pbmc_10x, (4271, 2000), 8),
    "mouse_bladder": (datasets.mouse_bladder, (2746, 2003), 16),
    "worm_neuron": (datasets.worm_neuron, (4186, 13488), 10),
    "cite_cbmc": (datasets.cite_cbmc, (8617, 2000), 15),
}


@pytest.fixture
def reset_settings():
    """Give the test the settings object and restore the default datasetdir afterwards."""
    settings.datasetdir = None
    yield settings
    settings.datasetdir = None


@pytest.fixture
def clear_verified_cache(monkeypatch):
    monkeypatch.setattr(_download, "_VERIFIED", set())


@pytest.fixture(scope="module")
def loaded():
    """Load every dataset once for the module."""
    return {name: func() for name, (func, _, _) in CASES.items()}


def _shared_file(name: str) -> Path:
    path = settings.datasetdir / REGISTRY[name].filename
    if not path.is_file():
        pytest.skip(f"shared data file {path} not available")
    return path


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("no network in tests")


# --------------------------------------------------------------------------- loaders


def test_public_api():
    assert set(datasets.__all__) >= {"pbmc_10x", "mouse_bladder", "worm_neuron", "cite_cbmc"}
    for name in ("pbmc_10x", "mouse_bladder", "worm_neuron", "cite_cbmc"):
        assert callable(getattr(datasets, name))


@pytest.mark.parametrize("name", list(CASES))
def test_loader_contents(loaded, name):
    _, shape, n_classes = CASES[name]
    adata = loaded[name]
    info = REGISTRY[name]
    assert adata.shape == shape == (info.n_obs, info.n_vars)

    for mat in (adata.X, adata.layers["counts"]):
        assert isinstance(mat, sp.csr_matrix)
        assert mat.dtype == np.float32
        assert mat.shape == shape
    assert adata.layers["counts"] is not adata.X
    assert not np.shares_memory(adata.layers["counts"].data, adata.X.data)
    assert (adata.X != adata.layers["counts"]).nnz == 0

    data = adata.X.data
    assert data.size > 0
    assert np.all(data >= 0)
    assert np.all(data == np.round(data))
    assert adata.X.has_canonical_format

    ct = adata.obs["cell_type"]
    assert isinstance(ct.dtype, pd.CategoricalDtype)
    cats = list(ct.cat.categories)
    assert len(cats) == n_classes
    assert all(isinstance(c, str) for c in cats)
    assert [int(c) for c in cats] == sorted(int(c) for c in cats)
    assert ct.isna().sum() == 0

    assert adata.obs_names[0] == "cell_0" and adata.obs_names[-1] == f"cell_{shape[0] - 1}"
    assert adata.var_names[0] == "gene_0" and adata.var_names[-1] == f"gene_{shape[1] - 1}"
    assert adata.uns["dataset"] == {"name": name, "source": info.url, "sha256": info.sha256}
    assert info.url.startswith("https://github.com/ttgump/scDCC/raw/master/data/")


def test_cite_protein(loaded):
    adata = loaded["cite_cbmc"]
    prot = adata.obsm["protein"]
    assert isinstance(prot, np.ndarray)
    assert prot.shape == (8617, 10)
    assert prot.dtype == np.float32
    assert np.all(np.isfinite(prot))
    assert prot.min() < 0  # already normalized upstream: real-valued, can be negative
    for name in ("pbmc_10x", "mouse_bladder", "worm_neuron"):
        assert "protein" not in loaded[name].obsm


def test_loading_does_not_write_datasetdir(reset_settings):
    folder = settings.datasetdir
    _shared_file("pbmc_10x")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    datasets.pbmc_10x()
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert before == after


# --------------------------------------------------------------------------- checksums


def test_registry_checksums_match_shared_files(reset_settings):
    for name, info in REGISTRY.items():
        assert sha256sum(_shared_file(name)) == info.sha256


def test_corrupt_file_raises(tmp_path, reset_settings, clear_verified_cache):
    src = _shared_file("pbmc_10x")
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    raw = bytearray(dst.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    dst.write_bytes(bytes(raw))

    settings.datasetdir = tmp_path
    with pytest.raises(DatasetChecksumError) as excinfo:
        datasets.pbmc_10x()
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert "corrupt" in msg
    assert str(dst) in msg
    assert REGISTRY["pbmc_10x"].sha256 in msg
    assert sha256sum(dst) in msg
    assert "delete" in msg
    assert ENV in msg
    assert dst.read_bytes() == bytes(raw)  # left alone, not deleted or re-downloaded


def test_checksum_cached_and_revalidated_on_change(
    tmp_path, reset_settings, clear_verified_cache, monkeypatch
):
    src = _shared_file("mouse_bladder")
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    settings.datasetdir = tmp_path

    calls = []
    real = _download.sha256sum
    monkeypatch.setattr(_download, "sha256sum", lambda p: calls.append(p) or real(p))
    assert fetch("mouse_bladder") == dst
    assert fetch("mouse_bladder") == dst
    assert len(calls) == 1

    # a change of content (new mtime) is detected on the next load
    raw = bytearray(dst.read_bytes())
    raw[100] ^= 0x01
    dst.write_bytes(bytes(raw))
    st = dst.stat()
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(DatasetChecksumError):
        fetch("mouse_bladder")
    assert len(calls) == 2


# --------------------------------------------------------------------------- downloads


def test_missing_file_without_network(tmp_path, reset_settings, monkeypatch):
    folder = tmp_path / "empty"
    settings.datasetdir = folder
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(DatasetDownloadError) as excinfo:
        datasets.mouse_bladder()
    msg = str(excinfo.value)
    info = REGISTRY["mouse_bladder"]
    assert isinstance(excinfo.value, OSError)
    assert ENV in msg
    assert info.url in msg
    assert str(folder / info.filename) in msg
    assert "manually" in msg
    assert list(folder.iterdir()) == []  # no partial / temporary file left behind


def test_download_success(tmp_path, reset_settings, clear_verified_cache, monkeypatch):
    src = _shared_file("pbmc_10x")
    requested = []

    def fake_urlopen(request, *args, **kwargs):
        requested.append(getattr(request, "full_url", request))
        return open(src, "rb")

    folder = tmp_path / "new" / "cache"
    settings.datasetdir = folder
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    adata = datasets.pbmc_10x()

    assert requested == [REGISTRY["pbmc_10x"].url]
    target = folder / src.name
    assert target.is_file()
    assert sha256sum(target) == REGISTRY["pbmc_10x"].sha256
    assert sorted(p.name for p in folder.iterdir()) == [src.name]  # temp file renamed away
    assert adata.shape == (4271, 2000)

    # second load uses the local copy: no network access
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert datasets.pbmc_10x().shape == (4271, 2000)
    assert len(requested) == 1


def test_download_with_bad_content(tmp_path, reset_settings, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"<html>nope"))
    settings.datasetdir = tmp_path
    with pytest.raises(DatasetChecksumError, match="expected"):
        datasets.worm_neuron()
    assert list(tmp_path.iterdir()) == []


def test_unknown_dataset():
    with pytest.raises(KeyError, match="pbmc_10x"):
        fetch("no_such_dataset")


# --------------------------------------------------------------------------- settings


def test_datasetdir_priority(tmp_path, reset_settings, monkeypatch):
    env_dir, explicit_dir = tmp_path / "env", tmp_path / "explicit"

    monkeypatch.setenv(ENV, str(env_dir))
    assert settings.datasetdir == env_dir  # env var read at access time

    settings.datasetdir = str(explicit_dir)
    assert settings.datasetdir == explicit_dir
    assert isinstance(settings.datasetdir, Path)
    monkeypatch.setenv(ENV, str(tmp_path / "other"))
    assert settings.datasetdir == explicit_dir  # explicit beats the env var

    settings.datasetdir = None
    assert settings.datasetdir == tmp_path / "other"


def test_datasetdir_default(tmp_path, reset_settings, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.datasetdir == tmp_path / "xdg" / "scdeepclust" / "datasets"

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings.datasetdir == tmp_path / "home" / ".cache" / "scdeepclust" / "datasets"


def test_datasetdir_type_check(reset_settings):
    with pytest.raises(TypeError):
        settings.datasetdir = 42


def test_explicit_datasetdir_used_by_loader(tmp_path, reset_settings, monkeypatch):
    src = _shared_file("pbmc_10x")
    shutil.copyfile(src, tmp_path / src.name)
    monkeypatch.setenv(ENV, str(tmp_path / "does_not_exist"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(DatasetDownloadError):
        datasets.pbmc_10x()
    settings.datasetdir = tmp_path
    assert datasets.pbmc_10x().shape == (4271, 2000)
