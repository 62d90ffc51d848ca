"""Published scRNA-seq benchmark datasets with ground-truth cell-type labels.

The datasets are those used by scDeepCluster / scDCC (Tian et al. 2019, 2021), as
distributed in the scDCC GitHub repository (https://github.com/ttgump/scDCC). Files
are looked for in :attr:`scdeepclust.settings.datasetdir` (environment variable
``SCDEEPCLUST_DATASETDIR``, default ``~/.cache/scdeepclust/datasets``), downloaded
there when absent, and checksum-verified on every load.

.. autosummary::

   pbmc_10x
   mouse_bladder
   worm_neuron
   cite_cbmc
"""

from ._download import DatasetChecksumError, DatasetDownloadError
from ._loaders import cite_cbmc, mouse_bladder, pbmc_10x, worm_neuron

__all__ = [
    "pbmc_10x",
    "mouse_bladder",
    "worm_neuron",
    "cite_cbmc",
    "DatasetChecksumError",
    "DatasetDownloadError",
]
