"""Published scRNA-seq benchmark datasets with ground-truth cell-type labels.

Single-batch clustering benchmarks: the datasets used by scDeepCluster / scDCC
(Tian et al. 2019, 2021), as distributed in the scDCC GitHub repository
(https://github.com/ttgump/scDCC). Real multi-batch datasets (batch effects with known
cell types): the CellBench cell-line mixtures (Tian et al. 2019) and the Kang et al.
(2018) interferon-stimulated PBMC example of the muscat package. Files are looked for
in :attr:`scdeepclust.settings.datasetdir` (environment variable
``SCDEEPCLUST_DATASETDIR``, default ``~/.cache/scdeepclust/datasets``), downloaded
there when absent (where an upstream download URL exists), and checksum-verified on
every load.

.. autosummary::

   pbmc_10x
   mouse_bladder
   worm_neuron
   cite_cbmc
   cellbench
   kang2018
"""

from ._download import DatasetChecksumError, DatasetDownloadError
from ._loaders import cellbench, cite_cbmc, kang2018, mouse_bladder, pbmc_10x, worm_neuron

__all__ = [
    "pbmc_10x",
    "mouse_bladder",
    "worm_neuron",
    "cite_cbmc",
    "cellbench",
    "kang2018",
    "DatasetChecksumError",
    "DatasetDownloadError",
]
