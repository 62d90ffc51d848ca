"""Registry of the benchmark datasets: file names, upstream URLs and checksums."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetInfo", "REGISTRY", "UPSTREAM_BASE_URL", "get_info"]

#: Raw-file URL prefix of the scDCC GitHub repository (Tian et al. 2021).
UPSTREAM_BASE_URL = "https://github.com/ttgump/scDCC/raw/master/"


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one dataset file.

    Attributes
    ----------
    name
        Registry key, also stored in ``adata.uns["dataset"]["name"]``.
    filename
        File name inside :attr:`scdeepclust.settings.datasetdir`.
    upstream_path
        Path of the file inside the scDCC repository.
    sha256
        Expected SHA-256 hex digest of the file.
    n_obs, n_vars, n_classes
        Expected number of cells, genes and cell-type labels.
    """

    name: str
    filename: str
    upstream_path: str
    sha256: str
    n_obs: int
    n_vars: int
    n_classes: int

    @property
    def url(self) -> str:
        """Download URL of the file."""
        return UPSTREAM_BASE_URL + self.upstream_path


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
