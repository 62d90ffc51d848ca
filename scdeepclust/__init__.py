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

from . import datasets, models, pl, pp, tl
from ._settings import settings
from ._version import __version__
from .models import ModelFormatError
from .module.engine import TrainingDivergedError

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
