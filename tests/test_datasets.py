import io
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import anndata
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
from scdeepclust.datasets._registry import CELLBENCH_BATCHES, REGISTRY

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


LOADERS = ("pbmc_10x", "mouse_bladder", "worm_neuron", "cite_cbmc", "cellbench", "kang2018")


def test_public_api():
    assert set(datasets.__all__) >= set(LOADERS)
    for name in LOADERS:
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


# --------------------------------------------------------------------------- multi-batch

# README "Multi-batch datasets": batch -> (technology, cells, cell lines, count / metadata sha256)
CELLBENCH_README = {
    "sc_celseq2_5cl_p1": (
        "CEL-seq2",
        297,
        5,
        "577324d2fd427685144420536489202c68ae98cb22f5825c40c8cf41c5fe0a07",
        "a6f5b206f891113162d2c9af27860c187a04ccd8848f9bc29be97dfa95eeadc4",
    ),
    "sc_celseq2_5cl_p2": (
        "CEL-seq2",
        307,
        5,
        "c6ef3df82d9fa44598ee15d8a07113c44a830ee3d2e3205c93590d594240bab5",
        "06d2f3b9fd646b4a3c1e6d1af7205c7eec1017bfab9a4c68853f9a3fc97be836",
    ),
    "sc_celseq2_5cl_p3": (
        "CEL-seq2",
        305,
        5,
        "e535abac653a5a3ee44eff88345db2315693732f679156ab20ee924b21bced9a",
        "c373869c9d3bbca9dc7773a8b8ef65e6035c939d45b18cb410fede526770eadb",
    ),
    "sc_celseq2": (
        "CEL-seq2",
        274,
        3,
        "a82aa89b8995aed412f4260c0adb343967e33a801af6f2e0aa647c1d897a5a21",
        "78429916bac394d92d8c972059a8f195c5479ce578da04f1eb3ba599585ef3d9",
    ),
    "sc_dropseq": (
        "Drop-seq",
        225,
        3,
        "98c0bb6a9fbf4b93967ef82cef9985d7691cf59a31dc5b0b3699f70ed1a0fd08",
        "4c48f3e13778e89192d9861095bc102cc0deb9eba1a7f47a093f5a058ce1aa6a",
    ),
}
CELL_LINES = ["A549", "H1975", "H2228", "H838", "HCC827"]
KANG_SHA256 = "ced43d0972aa67d15dde0ae1d5a9b6288920babd5d3f0d8dbf8f9aba5582d261"
KANG_CELL_TYPES = [
    "B cells",
    "CD14+ Monocytes",
    "CD4 T cells",
    "CD8 T cells",
    "FCGR3A+ Monocytes",
]
KANG_SAMPLES = ["ctrl101", "ctrl107", "stim101", "stim107"]


def _cellbench_names():
    return [f"cellbench_{b}_{kind}" for b in CELLBENCH_README for kind in ("count", "metadata")]


@pytest.fixture(scope="module")
def cellbench_loaded():
    for name in _cellbench_names():
        _shared_file(name)
    return {True: datasets.cellbench(), False: datasets.cellbench(singlets_only=False)}


@pytest.fixture(scope="module")
def kang_loaded():
    _shared_file("kang2018")
    return datasets.kang2018()


def _check_counts_layout(adata, shape):
    assert adata.shape == shape
    for mat in (adata.X, adata.layers["counts"]):
        assert isinstance(mat, sp.csr_matrix)
        assert mat.dtype == np.float32
        assert mat.shape == shape
        assert mat.has_canonical_format
    assert not np.shares_memory(adata.layers["counts"].data, adata.X.data)
    assert (adata.X != adata.layers["counts"]).nnz == 0
    data = adata.X.data
    assert data.size > 0
    assert np.all(data >= 0)
    assert np.all(data == np.round(data))  # raw integer counts
    assert adata.obs_names.is_unique and adata.var_names.is_unique


def test_registry_multibatch_entries():
    for batch, (_, n_cells, n_lines, count_sha, meta_sha) in CELLBENCH_README.items():
        for kind, sha in (("count", count_sha), ("metadata", meta_sha)):
            info = REGISTRY[f"cellbench_{batch}_{kind}"]
            assert info.sha256 == sha
            assert info.filename == f"cellbench/{batch}.{kind}.csv.gz"
            assert info.url == (
                f"https://github.com/LuyiTian/sc_mixology/raw/master/data/csv/{batch}.{kind}.csv.gz"
            )
            assert (info.n_obs, info.n_classes) == (n_cells, n_lines)
    assert list(CELLBENCH_BATCHES) == list(CELLBENCH_README)
    assert {b: t for b, (t, *_) in CELLBENCH_README.items()} == CELLBENCH_BATCHES

    kang = REGISTRY["kang2018"]
    assert kang.sha256 == KANG_SHA256
    assert kang.filename == "kang2018_pbmc_ifnb_example.h5ad"
    assert kang.url is None  # converted by hand: nothing to download
    assert "example_sce.rda" in kang.manual and "muscat" in kang.manual


def test_cellbench_singlets(cellbench_loaded):
    adata = cellbench_loaded[True]
    _check_counts_layout(adata, (1021, 11533))
    assert list(adata.obs.columns) == ["batch", "technology", "cell_type", "demuxlet_cls"]
    for key in adata.obs.columns:
        assert isinstance(adata.obs[key].dtype, pd.CategoricalDtype)
        assert adata.obs[key].isna().sum() == 0

    assert list(adata.obs["batch"].cat.categories) == list(CELLBENCH_README)
    assert list(adata.obs["cell_type"].cat.categories) == CELL_LINES
    assert list(adata.obs["demuxlet_cls"].cat.categories) == ["SNG"]
    assert list(adata.obs["technology"].cat.categories) == ["CEL-seq2", "Drop-seq"]
    tech = adata.obs.groupby("batch", observed=True)["technology"].agg(lambda t: set(t))
    assert {b: t for b, t in tech.items()} == {b: {v[0]} for b, v in CELLBENCH_README.items()}

    lines = adata.obs.groupby("batch", observed=True)["cell_type"].nunique()
    assert lines.to_dict() == {b: v[2] for b, v in CELLBENCH_README.items()}
    assert all(name.startswith(str(b) + "_") for name, b in adata.obs["batch"].items())
    assert all(g.startswith("ENSG") for g in adata.var_names)
    assert list(adata.var_names) == sorted(adata.var_names)

    ds = adata.uns["dataset"]
    assert ds["name"] == "cellbench" and ds["singlets_only"]
    assert ds["sha256"] == {
        REGISTRY[n].filename.split("/")[-1]: REGISTRY[n].sha256 for n in _cellbench_names()
    }


def test_cellbench_all_cells(cellbench_loaded):
    full, sng = cellbench_loaded[False], cellbench_loaded[True]
    _check_counts_layout(full, (1408, 11533))
    counts = full.obs["batch"].value_counts()
    assert counts.to_dict() == {b: v[1] for b, v in CELLBENCH_README.items()}
    assert set(full.obs["demuxlet_cls"].cat.categories) <= {"SNG", "DBL", "AMB"}
    assert (full.obs["demuxlet_cls"] == "SNG").sum() == 1021
    assert not full.uns["dataset"]["singlets_only"]
    # the singlets are the same cells with the same counts
    sub = full[sng.obs_names]
    assert (sub.X != sng.X).nnz == 0
    assert (sub.obs["cell_type"].astype(str) == sng.obs["cell_type"].astype(str)).all()


def test_cellbench_h5ad_round_trip(cellbench_loaded, tmp_path):
    adata = cellbench_loaded[True]
    adata.write_h5ad(tmp_path / "cb.h5ad")
    back = anndata.read_h5ad(tmp_path / "cb.h5ad")
    assert back.uns["dataset"]["sha256"] == adata.uns["dataset"]["sha256"]
    assert (back.obs["batch"] == adata.obs["batch"]).all()


def test_kang2018(kang_loaded, tmp_path):
    adata = kang_loaded
    _check_counts_layout(adata, (1556, 1267))
    for key in ("cluster_id", "sample_id", "group_id", "donor", "cell_type", "batch"):
        assert isinstance(adata.obs[key].dtype, pd.CategoricalDtype)
        assert adata.obs[key].isna().sum() == 0
    assert list(adata.obs["cell_type"].cat.categories) == KANG_CELL_TYPES
    assert list(adata.obs["batch"].cat.categories) == KANG_SAMPLES
    assert (adata.obs["cell_type"].astype(str) == adata.obs["cluster_id"].astype(str)).all()
    assert (adata.obs["batch"].astype(str) == adata.obs["sample_id"].astype(str)).all()
    assert set(adata.obs["group_id"]) == {"ctrl", "stim"}
    assert adata.uns["dataset"] == {
        "name": "kang2018",
        "source": REGISTRY["kang2018"].source,
        "sha256": KANG_SHA256,
    }
    adata.write_h5ad(tmp_path / "kang.h5ad")
    assert anndata.read_h5ad(tmp_path / "kang.h5ad").uns["dataset"] == adata.uns["dataset"]


def test_kang2018_missing_file_says_how_to_get_it(tmp_path, reset_settings, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("no download may be attempted for a hand-made file")

    folder = tmp_path / "empty"
    settings.datasetdir = folder
    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    with pytest.raises(DatasetDownloadError) as excinfo:
        datasets.kang2018()
    msg = str(excinfo.value)
    assert str(folder / "kang2018_pbmc_ifnb_example.h5ad") in msg
    for part in (ENV, "manually", "muscat", "example_sce.rda", "rdata", "h5ad"):
        assert part in msg
    assert "None" not in msg
    assert not folder.exists()  # nothing created


def test_kang2018_corrupt_file(tmp_path, reset_settings, clear_verified_cache):
    src = _shared_file("kang2018")
    dst = tmp_path / src.name
    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    dst.write_bytes(bytes(raw))
    settings.datasetdir = tmp_path
    with pytest.raises(DatasetChecksumError) as excinfo:
        datasets.kang2018()
    msg = str(excinfo.value)
    assert str(dst) in msg and KANG_SHA256 in msg and ENV in msg
    assert "None" not in msg and "example_sce.rda" in msg


def test_cellbench_download_into_subfolder(
    tmp_path, reset_settings, clear_verified_cache, monkeypatch
):
    shared = settings.datasetdir
    for name in _cellbench_names():
        _shared_file(name)
    by_url = {REGISTRY[n].url: shared / REGISTRY[n].filename for n in _cellbench_names()}
    requested = []

    def fake_urlopen(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        requested.append(url)
        return open(by_url[url], "rb")

    settings.datasetdir = tmp_path / "cache"
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    adata = datasets.cellbench()
    assert adata.shape == (1021, 11533)
    assert sorted(requested) == sorted(by_url)
    folder = tmp_path / "cache" / "cellbench"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in by_url.values())
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["cellbench"]


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
