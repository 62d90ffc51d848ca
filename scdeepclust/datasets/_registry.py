"""Registry of the benchmark dataset files: file names, upstream URLs and checksums."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CELLBENCH_BASE_URL",
    "CELLBENCH_BATCHES",
    "DatasetInfo",
    "REGISTRY",
    "UPSTREAM_BASE_URL",
    "get_info",
]

#: Raw-file URL prefix of the scDCC GitHub repository (Tian et al. 2021).
UPSTREAM_BASE_URL = "https://github.com/ttgump/scDCC/raw/master/"

#: Raw-file URL prefix of the CellBench repository (Tian et al. 2019, ``sc_mixology``).
CELLBENCH_BASE_URL = "https://github.com/LuyiTian/sc_mixology/raw/master/"

#: CellBench batches (file prefixes) in loading order, with their technology.
CELLBENCH_BATCHES: dict[str, str] = {
    "sc_celseq2_5cl_p1": "CEL-seq2",
    "sc_celseq2_5cl_p2": "CEL-seq2",
    "sc_celseq2_5cl_p3": "CEL-seq2",
    "sc_celseq2": "CEL-seq2",
    "sc_dropseq": "Drop-seq",
}


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one dataset file.

    Attributes
    ----------
    name
        Registry key, also stored in ``adata.uns["dataset"]["name"]`` for the
        single-file datasets.
    filename
        Path of the file relative to :attr:`scdeepclust.settings.datasetdir`
        (may include a sub-folder, e.g. ``"cellbench/sc_dropseq.count.csv.gz"``).
    upstream_path
        Path of the file inside the upstream repository (appended to
        ``base_url``); for a file without download URL, the repository and path
        of the file it was made from.
    sha256
        Expected SHA-256 hex digest of the file.
    n_obs, n_vars, n_classes
        Expected number of cells, genes and cell-type labels, where known
        (``None`` for metadata-only files).
    base_url
        Raw-file URL prefix of the upstream repository, or ``None`` for a file
        that cannot be downloaded directly (it was converted by hand).
    manual
        For a file without download URL: where it comes from and how it was
        made, quoted in the error raised when the file is missing.
    """

    name: str
    filename: str
    upstream_path: str
    sha256: str
    n_obs: int | None = None
    n_vars: int | None = None
    n_classes: int | None = None
    base_url: str | None = UPSTREAM_BASE_URL
    manual: str | None = None

    @property
    def url(self) -> str | None:
        """Download URL of the file, or ``None`` if it has to be obtained by hand."""
        if self.base_url is None:
            return None
        return self.base_url + self.upstream_path

    @property
    def source(self) -> str:
        """Download URL of the file, or for a file without one, the file it was made from."""
        if self.url is not None:
            return self.url
        return self.upstream_path


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="pbmc_10x",
            filename="10X_PBMC_top2000.h5",
            upstream_path="data/Small_Datasets/10X_PBMC_top2000.h5",
            sha256="ec78ead405dfa988d6156c12068b49c0782ca58f5ed52c938d8ba8e8377eb16e",
            n_obs=4271,
            n_vars=2000,
            n_classes=8,
        ),
        DatasetInfo(
            name="mouse_bladder",
            filename="mouse_bladder_cell_top2000.h5",
            upstream_path="data/Small_Datasets/mouse_bladder_cell_top2000.h5",
            sha256="2a97282cf325a4b2a63c2b818be82c453007f29838c7280f30dadd01be4501ab",
            n_obs=2746,
            n_vars=2003,
            n_classes=16,
        ),
        DatasetInfo(
            name="worm_neuron",
            filename="worm_neuron_cell.h5",
            upstream_path="data/Small_Datasets/worm_neuron_cell.h5",
            sha256="4f2a3c4b8492bcd11d957a8a74098ba258c271d714718c175854a7c44b1e31e6",
            n_obs=4186,
            n_vars=13488,
            n_classes=10,
        ),
        DatasetInfo(
            name="cite_cbmc",
            filename="CITE_CBMC_counts_top2000.h5",
            upstream_path="data/CITE_PBMC/CITE_CBMC_counts_top2000.h5",
            sha256="68f36cd64729b1ee853fe5f760dbc0a9238d52a18a8a076742883379cce98e9f",
            n_obs=8617,
            n_vars=2000,
            n_classes=15,
        ),
        # CellBench cell-line mixtures (Tian et al., Nat Methods 2019): per batch one
        # count file (genes x cells) and one metadata file (one row per cell).
        *(
            DatasetInfo(
                name=f"cellbench_{batch}_{kind}",
                filename=f"cellbench/{batch}.{kind}.csv.gz",
                upstream_path=f"data/csv/{batch}.{kind}.csv.gz",
                sha256=sha256,
                n_obs=n_obs,
                n_vars=n_vars if kind == "count" else None,
                n_classes=n_classes,
                base_url=CELLBENCH_BASE_URL,
            )
            for batch, n_obs, n_vars, n_classes, count_sha256, metadata_sha256 in (
                (
                    "sc_celseq2_5cl_p1",
                    297,
                    15564,
                    5,
                    "577324d2fd427685144420536489202c68ae98cb22f5825c40c8cf41c5fe0a07",
                    "a6f5b206f891113162d2c9af27860c187a04ccd8848f9bc29be97dfa95eeadc4",
                ),
                (
                    "sc_celseq2_5cl_p2",
                    307,
                    14078,
                    5,
                    "c6ef3df82d9fa44598ee15d8a07113c44a830ee3d2e3205c93590d594240bab5",
                    "06d2f3b9fd646b4a3c1e6d1af7205c7eec1017bfab9a4c68853f9a3fc97be836",
                ),
                (
                    "sc_celseq2_5cl_p3",
                    305,
                    13426,
                    5,
                    "e535abac653a5a3ee44eff88345db2315693732f679156ab20ee924b21bced9a",
                    "c373869c9d3bbca9dc7773a8b8ef65e6035c939d45b18cb410fede526770eadb",
                ),
                (
                    "sc_celseq2",
                    274,
                    28204,
                    3,
                    "a82aa89b8995aed412f4260c0adb343967e33a801af6f2e0aa647c1d897a5a21",
                    "78429916bac394d92d8c972059a8f195c5479ce578da04f1eb3ba599585ef3d9",
                ),
                (
                    "sc_dropseq",
                    225,
                    15127,
                    3,
                    "98c0bb6a9fbf4b93967ef82cef9985d7691cf59a31dc5b0b3699f70ed1a0fd08",
                    "4c48f3e13778e89192d9861095bc102cc0deb9eba1a7f47a093f5a058ce1aa6a",
                ),
            )
            for kind, sha256 in (("count", count_sha256), ("metadata", metadata_sha256))
        ),
        # Kang et al. (Nat Biotechnol 2018) PBMC, IFN-beta stimulated vs control: the
        # `example_sce` subset of the muscat R package, converted to h5ad by hand.
        DatasetInfo(
            name="kang2018",
            filename="kang2018_pbmc_ifnb_example.h5ad",
            upstream_path="https://github.com/HelenaLC/muscat: data/example_sce.rda",
            sha256="ced43d0972aa67d15dde0ae1d5a9b6288920babd5d3f0d8dbf8f9aba5582d261",
            n_obs=1556,
            n_vars=1267,
            n_classes=5,
            base_url=None,
            manual=(
                "The file has no direct download URL: it is the `example_sce` "
                "SingleCellExperiment of the muscat R package "
                "(https://github.com/HelenaLC/muscat, file data/example_sce.rda; a subset of "
                "Kang et al. 2018, GEO GSE96583) converted to h5ad without R using the `rdata` "
                "PyPI package: raw integer counts as a cells x genes CSR matrix in X, gene "
                "symbols as var_names, obs columns cluster_id, sample_id, group_id and donor. "
                "The checksum identifies the project's reference copy (a conversion made "
                "with other package versions can differ byte for byte), so copy that file "
                "from a machine or data folder that has it"
            ),
        ),
    )
}


def get_info(name: str) -> DatasetInfo:
    """Return the registry entry of a dataset.

    Parameters
    ----------
    name
        Registry key, one of ``REGISTRY``'s keys.

    Returns
    -------
    DatasetInfo
        The entry.

    Raises
    ------
    KeyError
        If ``name`` is not a known dataset.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown dataset {name!r}; known datasets: {', '.join(sorted(REGISTRY))}."
        ) from None
