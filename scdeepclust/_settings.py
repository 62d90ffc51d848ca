"""Package-wide settings of :mod:`scdeepclust`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["ScDeepClustConfig", "settings", "DATASETDIR_ENV"]

#: Name of the environment variable that overrides the default dataset folder.
DATASETDIR_ENV = "SCDEEPCLUST_DATASETDIR"

#: The logger of the whole package; every module logs to it or to a child of it.
LOGGER_NAME = "scdeepclust"

#: Verbosity levels, as in scanpy: 0 errors, 1 warnings, 2 info, 3 debug.
_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
_NAMES = {"error": 0, "warning": 1, "info": 2, "debug": 3}


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
        self._handler: logging.Handler | None = None

    @property
    def verbosity(self) -> int:
        """How much the ``scdeepclust`` logger shows: 0 errors, 1 warnings, 2 info, 3 debug.

        The levels are scanpy's (:attr:`scanpy.settings.verbosity`): at 2 ("info") each
        stage logs its number of epochs and seconds, Leiden its number of clusters, the
        constraint builders their pairs. Assign an int from 0 to 3 or one of the names
        ``"error"``, ``"warning"``, ``"info"``, ``"debug"``. Assigning sets the level of
        the ``scdeepclust`` logger and, the first time, gives it a handler that writes to
        stderr (the logger then no longer propagates to the root logger, so messages are
        not printed twice). Without an assignment the logger is left to the standard
        :mod:`logging` configuration: warnings are shown, info is not. Default 1.

        Returns
        -------
        int
            The current level, 0 to 3.

        Raises
        ------
        ValueError
            If the value is not 0-3 or one of the four names.
        """
        level = logging.getLogger(LOGGER_NAME).getEffectiveLevel()
        shown = [v for v, lvl in _LEVELS.items() if lvl >= level]
        return max(shown) if shown else 0

    @verbosity.setter
    def verbosity(self, value: int | str) -> None:
        key = _NAMES.get(value.lower()) if isinstance(value, str) else value
        if not isinstance(key, int) or isinstance(key, bool) or key not in _LEVELS:
            raise ValueError(
                f"verbosity must be 0, 1, 2 or 3, or one of {sorted(_NAMES)}; found {value!r}."
            )
        logger = logging.getLogger(LOGGER_NAME)
        logger.setLevel(_LEVELS[key])
        if self._handler is None:
            self._handler = logging.StreamHandler()
            self._handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            logger.addHandler(self._handler)
            logger.propagate = False

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
        return (
            f"{type(self).__name__}(datasetdir={str(self.datasetdir)!r}, "
            f"verbosity={self.verbosity})"
        )


#: The package settings object, exposed as ``scdeepclust.settings``.
settings = ScDeepClustConfig()
