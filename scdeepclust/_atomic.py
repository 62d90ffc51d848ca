"""Writing a file or folder atomically: into a temporary path next to it, then one rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike, *, folder: bool = False, suffix: str = ".tmp"
) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; when the block succeeds, it becomes target.

    The temporary file (``folder=True``: folder) is created empty, hidden (``.<name>.``
    prefix) and ends with ``suffix``; on success it gets the mode a new file or folder gets
    under the umask and replaces ``target`` in one rename (a folder target replaces an
    existing file or folder of that name). On any error, interruption included, the
    temporary path is removed and ``target`` is left as it was. Raises OSError when the
    folder of ``target`` cannot be written.
    """
    target = Path(target)
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, (0o777 if folder else 0o666) & ~current_umask())  # mkstemp: private
        if folder and target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
