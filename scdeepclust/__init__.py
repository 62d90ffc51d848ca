"""Deep embedded clustering of single-cell RNA-seq data for scanpy / AnnData.

Namespaces
----------
``pp``
    Preprocessing helpers, e.g. must-link / cannot-link constraint builders.
``tl``
    The clustering tools: :func:`scdeepclust.tl.scdcc` (scDCC / scDeepCluster) and
    :func:`scdeepclust.tl.desc` (DESC).
``pl``
    Plots, e.g. :func:`scdeepclust.pl.training_history`.
``models``
    The trained models behind the tools (fit, predict new cells, save, load).
``datasets``
    Loaders of the published benchmark datasets with ground-truth labels.
``settings``
    Package settings (data directory, ...).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scdeepclust")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.2.0"

from . import datasets, models, pl, pp, tl  # noqa: E402
from ._settings import settings  # noqa: E402
from .models import ModelFormatError  # noqa: E402
from .module.engine import TrainingDivergedError  # noqa: E402

__all__ = [
    "datasets",
    "models",
    "pl",
    "pp",
    "tl",
    "settings",
    "ModelFormatError",
    "TrainingDivergedError",
    "__version__",
]
