"""Locating, downloading and checksum-verifying the benchmark dataset files."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from .._atomic import atomic_write
from .._settings import DATASETDIR_ENV, settings
from ._registry import DatasetInfo, get_info

__all__ = [
    "DatasetChecksumError",
    "DatasetDownloadError",
    "fetch",
    "sha256sum",
]

logger = logging.getLogger(__name__)

_CHUNK_SIZE = 1 << 20  # 1 MiB
_TIMEOUT_S = 60

# (resolved path, mtime_ns, size, expected sha256) of files already verified in this process.
_VERIFIED: set[tuple[str, int, int, str]] = set()


class DatasetChecksumError(ValueError):
    """A dataset file does not have the expected SHA-256 checksum (corrupt or truncated)."""


class DatasetDownloadError(OSError):
    """A dataset file is missing and could not be downloaded."""


def sha256sum(path: str | os.PathLike[str], chunk_size: int = _CHUNK_SIZE) -> str:
    """Compute the SHA-256 hex digest of a file, reading it in chunks.

    Parameters
    ----------
    path
        File to hash.
    chunk_size
        Number of bytes read at a time.

    Returns
    -------
    str
        Lower-case hexadecimal digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_key(path: Path, expected: str) -> tuple[str, int, int, str]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size, expected)


def _verify(path: Path, info: DatasetInfo) -> None:
    """Check the checksum of ``path``; results are cached per path, mtime and size."""
    key = _cache_key(path, info.sha256)
    if key in _VERIFIED:
        return
    found = sha256sum(path)
    if found != info.sha256:
        if info.url is not None:
            fix = (
                f"To fix it, delete the file and run the loader again to re-download it from "
                f"{info.url}, or set the environment variable {DATASETDIR_ENV} (or "
                f"scdeepclust.settings.datasetdir) to a folder that holds a good copy of "
                f"{info.filename!r}."
            )
        else:
            fix = (
                f"To fix it, replace the file with a good copy, or set the environment variable "
                f"{DATASETDIR_ENV} (or scdeepclust.settings.datasetdir) to a folder that holds "
                f"one. {info.manual}."
            )
        raise DatasetChecksumError(
            f"The dataset file {str(path)!r} (dataset {info.name!r}) is corrupt or incomplete: "
            f"expected SHA-256 {info.sha256}, found {found}. {fix}"
        )
    _VERIFIED.add(key)


def _download_error(info: DatasetInfo, target: Path, reason: object) -> DatasetDownloadError:
    return DatasetDownloadError(
        f"Dataset {info.name!r} is not available locally and could not be downloaded from "
        f"{info.url} to {str(target)!r}: {reason}. Without network access, place the file "
        f"{info.filename!r} at that path manually, or set the environment variable "
        f"{DATASETDIR_ENV} (or scdeepclust.settings.datasetdir) to a folder that already "
        f"holds it."
    )


def _manual_error(info: DatasetInfo, target: Path) -> DatasetDownloadError:
    return DatasetDownloadError(
        f"Dataset {info.name!r} is not available locally: the file {info.filename!r} was not "
        f"found at {str(target)!r}, and it cannot be downloaded automatically. {info.manual}. "
        f"Place the file at that path manually, or set the environment variable "
        f"{DATASETDIR_ENV} (or scdeepclust.settings.datasetdir) to a folder that already "
        f"holds it."
    )


def _download(info: DatasetInfo, target: Path) -> None:
    """Download ``info.url`` to ``target`` via a temporary file and an atomic rename."""
    logger.info("Downloading dataset %r from %s to %s", info.name, info.url, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, suffix=".part") as tmp:
            _fetch_checked(info, target, tmp)
    except DatasetDownloadError:
        raise
    except OSError as exc:  # the folder cannot be written, or the rename failed
        raise _download_error(info, target, exc) from exc
    _VERIFIED.add(_cache_key(target, info.sha256))


def _fetch_checked(info: DatasetInfo, target: Path, tmp: Path) -> None:
    """Write the bytes of ``info.url`` into ``tmp``; raise unless their SHA-256 matches."""
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            request = urllib.request.Request(
                info.url, headers={"User-Agent": "scdeepclust-datasets"}
            )
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                while chunk := response.read(_CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise _download_error(info, target, exc) from exc
    found = digest.hexdigest()
    if found != info.sha256:
        raise DatasetChecksumError(
            f"The file downloaded from {info.url} for dataset {info.name!r} has SHA-256 "
            f"{found}, expected {info.sha256}; it was not saved to {str(target)!r}. Retry "
            f"later, or place a good copy of {info.filename!r} there manually, or set the "
            f"environment variable {DATASETDIR_ENV} to a folder that holds one."
        )


def fetch(name: str) -> Path:
    """Return the local path of a dataset file, downloading it if needed.

    The file is looked for in :attr:`scdeepclust.settings.datasetdir`. If it is
    absent it is downloaded there (into a temporary file in the same folder,
    renamed atomically once complete and verified); a file without download URL
    (made by hand from its upstream source) raises an error saying where to put
    it and how it was made. An existing file is never
    written to, so a read-only dataset folder is fine. The SHA-256 checksum is
    verified on every call; the result is cached per path, modification time
    and size, so repeated loads in one process hash the file only once.

    Parameters
    ----------
    name
        Registry key of the dataset, e.g. ``"pbmc_10x"``.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    KeyError
        If ``name`` is not a known dataset.
    DatasetDownloadError
        If the file is missing and cannot be downloaded (no network, HTTP
        error, folder not writable, or no download URL for this file).
    DatasetChecksumError
        If the file (existing or just downloaded) has the wrong checksum.
    """
    info = get_info(name)
    target = settings.datasetdir / info.filename
    if not target.is_file():
        if info.url is None:
            raise _manual_error(info, target)
        _download(info, target)
    _verify(target, info)
    return target
