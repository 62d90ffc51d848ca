"""Model objects that outlive a call: fit, predict new cells, save, load.

``SCDCC`` and ``DESC`` hold a config (:class:`SCDCCConfig`, :class:`DESCConfig`), the fitted
input state and the trained torch modules; :func:`scdeepclust.tl.scdcc` and
:func:`scdeepclust.tl.desc` are thin wrappers over them. :func:`load` opens a saved folder of
either method.
"""

from __future__ import annotations

import os

from ._base import MODEL_CLASSES, BaseModel
from ._config import ClusteringConfig, DESCConfig, SCDCCConfig
from ._desc import DESC
from ._scdcc import SCDCC
from ._storage import FORMAT_VERSION, ModelFormatError, read_meta

__all__ = [
    "SCDCC",
    "DESC",
    "SCDCCConfig",
    "DESCConfig",
    "BaseModel",
    "ClusteringConfig",
    "ModelFormatError",
    "FORMAT_VERSION",
    "load",
]


def load(dir_path: str | os.PathLike, device=None) -> BaseModel:
    """Load a saved model of any method (:class:`SCDCC`, :class:`DESC`, ...) the folder holds.

    Raises
    ------
    FileNotFoundError, ModelFormatError
        See :meth:`BaseModel.load`.
    """
    tool = read_meta(dir_path)["tool"]
    if tool not in MODEL_CLASSES:
        raise ModelFormatError(f"{dir_path} holds an unknown model type {tool!r}.")
    return MODEL_CLASSES[tool].load(dir_path, device=device)
