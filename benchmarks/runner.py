"""Running benchmark cases: one fresh Python process per case, memory, threads, machine.

A case runs in ``python -m benchmarks.<module> --one <json spec> --result <file>`` so that
its peak memory is its own; :func:`run_child` starts it and reads the JSON it wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "peak_rss_mib",
    "current_rss_mib",
    "torch_threads",
    "run_child",
    "write_result",
    "machine_info",
    "one_line",
    "Output",
]

#: The repository root (the folder above ``benchmarks/``), put on the children's path.
ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """Return the peak resident set size of this process in MiB.

    ``VmHWM`` of /proc/self/status where it exists, else
    ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. On Linux ``ru_maxrss`` of a freshly
    started child also holds the parent's peak at the time of the fork / exec (the kernel
    carries it over), so it would never read below the parent's RSS; ``VmHWM`` belongs to the
    process's own address space.
    """
    value = _proc_status_kib("VmHWM")
    if value is not None:
        return value / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def _proc_status_kib(field: str) -> int | None:
    """Read a ``kB`` field of /proc/self/status; None where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_mib() -> float:
    """Return the current RSS in MiB (``VmRSS`` of /proc; the peak where /proc is absent)."""
    value = _proc_status_kib("VmRSS")
    return peak_rss_mib() if value is None else value / 1024


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Set torch's intra-op thread count inside the block, then restore it.

    Parameters
    ----------
    n
        Threads; None leaves the setting alone.
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_line(text: str, width: int = 200) -> str:
    """Collapse whitespace (newlines included) and cut to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _json_default(value: Any) -> Any:
    """JSON encoding of numpy scalars (anything else as its string)."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_result(value: Any, path: str | None) -> None:
    """Child side: write ``value`` as JSON to ``path`` (stdout when None)."""
    text = json.dumps(value, default=_json_default)
    if path is None:
        print(text)
        return
    with open(path, "w") as fh:
        fh.write(text)


def run_child(
    module: str, spec: dict, timeout: float | None, verbose: bool = False
) -> tuple[Any, str | None]:
    """Run ``python -m <module> --one <spec> --result <file>`` in a fresh process.

    The repository root is prepended to the child's ``PYTHONPATH``, so this works from any
    working directory. Returns (the JSON the child wrote, None), or (None, a one-line error)
    if the child timed out or wrote nothing (its stderr tail is printed).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="scdeepclust-bench-") as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", module, "--one", json.dumps(spec), "--result", result]
        try:
            proc = subprocess.run(
                cmd, capture_output=not verbose, text=True, timeout=timeout, env=env
            )
        except subprocess.TimeoutExpired:
            return None, f"timeout after {timeout:g} s"
        if os.path.exists(result):
            with open(result) as fh:
                return json.load(fh), None
    tail = (proc.stderr or "").strip().splitlines()[-20:]
    print("\n".join(tail), file=sys.stderr)
    last = tail[-1] if tail else ""
    return None, one_line(f"exit code {proc.returncode}: {last}")


def machine_info() -> dict[str, Any]:
    """CPU count, versions, torch threads and the device ``"auto"`` resolves to."""
    from importlib.metadata import version

    import torch

    from scdeepclust import __version__

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",  # what device="auto" picks
        "scanpy": version("scanpy"),
        "scdeepclust": __version__,
    }


class Output:
    """Print lines and, with a path, append them to that file too (``--out`` of the scripts).

    Use as a context manager; the file's folder is created.
    """

    def __init__(self, path: str | None):
        self.path = path
        self._fh = None

    def __enter__(self) -> Output:
        if self.path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._fh = open(self.path, "a")  # noqa: SIM115 - closed in __exit__
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()

    def __call__(self, line: str = "") -> None:
        """Print ``line`` and append it to the file."""
        print(line, flush=True)
        if self._fh is not None:
            self._fh.write(line + "\n")
            self._fh.flush()
