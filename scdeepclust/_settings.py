"""Package-wide settings of :mod:`scdeepclust`."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ScDeepClustConfig", "settings", "DATASETDIR_ENV"]

#: Name of the environment variable that overrides the default dataset folder.
DATASETDIR_ENV = "SCDEEPCLUST_DATASETDIR"


def _default_datasetdir() -> Path:
    """Return the default dataset folder inside the user cache directory.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/scdeepclust/datasets`` if ``XDG_CACHE_HOME`` is set,
        else ``~/.cache/scdeepclust/datasets``.
    """
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "scdeepclust" / "datasets"


class ScDeepClustConfig:
    """Configuration of :mod:`scdeepclust`.

    Use the module-level instance :data:`scdeepclust.settings` rather than
    creating new instances.

    Examples
    --------
    >>> import scdeepclust as sdc
    >>> sdc.settings.datasetdir = "/data/scdcc"  # doctest: +SKIP
    >>> sdc.settings.datasetdir = None  # back to the default  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._datasetdir: Path | None = None

    @property
    def datasetdir(self) -> Path:
        """Folder where the benchmark datasets are looked for and downloaded to.

        Resolution order, evaluated each time the property is read:

        1. the value set explicitly, e.g. ``settings.datasetdir = "/data/scdcc"``;
        2. the environment variable ``SCDEEPCLUST_DATASETDIR``, if set and non-empty;
        3. ``$XDG_CACHE_HOME/scdeepclust/datasets``, or
           ``~/.cache/scdeepclust/datasets`` when ``XDG_CACHE_HOME`` is unset.

        Assigning ``None`` clears the explicit value (back to steps 2 and 3).
        The folder is not created here; it is created only when a dataset has
        to be downloaded.

        Returns
        -------
        pathlib.Path
            The dataset folder (user ``~`` expanded).
        """
        if self._datasetdir is not None:
            return self._datasetdir
        env = os.environ.get(DATASETDIR_ENV)
        if env:
            return Path(env).expanduser()
        return _default_datasetdir()

    @datasetdir.setter
    def datasetdir(self, value: str | os.PathLike[str] | None) -> None:
        if value is None:
            self._datasetdir = None
        elif isinstance(value, str | os.PathLike):
            self._datasetdir = Path(value).expanduser()
        else:
            raise TypeError(
                "datasetdir must be a path (str or os.PathLike) or None, "
                f"not {type(value).__name__}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(datasetdir={str(self.datasetdir)!r})"


#: The package settings object, exposed as ``scdeepclust.settings``.
settings = ScDeepClustConfig()
