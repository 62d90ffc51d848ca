"""Execute the tutorial notebooks, clean their outputs and check them.

Usage::

    python tutorials/run_notebooks.py [--outdir DIR] [--store] [--timeout S] [NAME ...]

Each notebook (default: every ``tutorials/[0-9]*.ipynb``, in order) runs in a fresh kernel of
this Python interpreter, with ``DIR`` (default ``results``, created) as its working directory,
so the files it writes land there. The executed notebook is written to ``DIR/NAME.ipynb``;
with ``--store`` the executed, cleaned notebook is also written back over
``tutorials/NAME.ipynb`` (the committed copy).

Cleaning removes what only makes sense in a live session: progress-bar widgets (they render
as nothing without the widget state), tqdm's text bars, the widget state and the
execution timestamps. The check then fails the run (exit status 1, naming notebook and cell)
if a stored output contains a local path (the output folder, the repository, the data folder,
the home folder, ``/root``, ``/tmp``, ``/home``) or a warning (``Warning:`` in a stream).

The notebooks do not import this script; the tests (``tests/test_tutorials.py``) do, by path.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TUTORIALS = Path(__file__).resolve().parent
REPO = TUTORIALS.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: A warning in a stream: Python's ``UserWarning: ...``, or scanpy's ``WARNING: ...`` log line.
_WARNING = re.compile(r"warning:", re.IGNORECASE)
#: A tqdm text bar: "desc:  42%|####      | 5/12 [00:01<00:02, 3.1it/s]" (any part of it).
_TQDM_BAR = re.compile(r"\d+%\|.*\||\|\s*\d+/\d+\s*\[|\d+(?:\.\d+)?\s*(?:it/s|s/it)\]")


class ThisPythonKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is always ``sys.executable -m ipykernel_launcher``.

    A ``python3`` kernel spec found on the Jupyter path may start another interpreter (the
    one ipykernel installs runs ``python``, whatever is first on PATH); this one cannot.
    """

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
                name="python3",
            )
        return self._kernel_spec


def kernel_env() -> dict[str, str]:
    """This process's environment, without MPLBACKEND, with the interpreter's bin folder first.

    So that shell commands in a notebook (``!scdeepclust ...``) find the console scripts of
    the environment the kernel runs in.
    """
    env = dict(os.environ)
    # figures go inline as in Jupyter: an inherited MPLBACKEND (Agg on CI machines and in
    # headless shells) would make matplotlib drop them from the executed notebook silently
    env.pop("MPLBACKEND", None)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]).rstrip(os.pathsep)
    return env


def find_notebooks(names: Sequence[str] = ()) -> list[Path]:
    """The tutorial notebooks named (``01_scdcc_pbmc``, with or without ``.ipynb``), or all."""
    if not names:
        return sorted(TUTORIALS.glob("[0-9]*.ipynb"))
    paths = []
    for name in names:
        path = TUTORIALS / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not path.is_file():
            raise FileNotFoundError(f"No tutorial notebook {path.name} in {TUTORIALS}.")
        paths.append(path)
    return paths


def execute(path: Path, workdir: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a fresh kernel with ``workdir`` as working directory.

    Returns the executed notebook. Raises :class:`nbclient.exceptions.CellExecutionError` if a
    cell fails; the notebook executed so far is then attached as ``err.notebook``.
    """
    nb = nbformat.read(path, as_version=4)
    workdir.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernelManager,
        resources={"metadata": {"path": str(workdir)}},
        record_timing=False,
        # the kernel's own log (e.g. ipykernel 7's notice about unencrypted TCP on localhost)
        # is not the notebook's business; errors still show
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    try:
        client.execute(env=kernel_env())
    except CellExecutionError as err:
        err.notebook = nb
        raise
    return nb


def _strip_progress_text(text: str) -> str:
    """Remove tqdm's text bars (carriage-return redrawn lines) from a stream's text.

    Bars of the kernel go to stderr; those of a shell command (``!scdeepclust ...``, which
    IPython runs in a pseudo-terminal, stderr merged into stdout) to stdout.
    """
    kept = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p.strip() and not _TQDM_BAR.search(p)]
        if parts:
            kept.append(parts[-1])
        elif not line.strip() and "\r" not in line:
            kept.append(line)
    out = "\n".join(kept)
    return out if out.strip() else ""


def _clean_output(output: dict) -> dict | None:
    """The output without progress bars, or None if nothing else is left of it."""
    kind = output.get("output_type")
    if kind in ("display_data", "execute_result", "update_display_data"):
        return None if WIDGET_MIME in output.get("data", {}) else output
    if kind == "stream":
        text = _strip_progress_text(output.get("text", ""))
        if not text:
            return None
        output["text"] = text
    return output


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without widget outputs, tqdm text, widget state or execution times."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        outputs = [_clean_output(o) for o in cell.get("outputs", [])]
        cell.outputs = [o for o in outputs if o is not None]
    return nb


def forbidden_strings(*paths: str | os.PathLike | None) -> list[str]:
    """Local paths that must not appear in stored outputs: the given ones and the usual roots."""
    found = {str(Path(p).resolve()) for p in paths if p}
    found |= {str(p) for p in paths if p}  # as given, unresolved (symlinks)
    found |= {str(REPO), str(Path.home()), "/root", "/tmp", "/home"}
    datadir = os.environ.get("SCDEEPCLUST_DATASETDIR")
    if datadir:
        found |= {datadir, str(Path(datadir).resolve())}
    return sorted(s for s in found if s not in ("", "/"))


def _output_texts(output: dict) -> Iterable[str]:
    """The text an output shows (streams, text and html reprs, tracebacks); no images."""
    if "text" in output:
        yield output["text"]
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            yield value if isinstance(value, str) else str(value)
    if output.get("output_type") == "error":
        yield "\n".join(output.get("traceback", []))


def check_outputs(nb: nbformat.NotebookNode, name: str, forbidden: Sequence[str]) -> list[str]:
    """Problems of the stored outputs, one line each (``NAME cell N: ...``); empty if none.

    ``forbidden`` are strings (local paths) no output may contain; a ``Warning:`` (any case)
    in a stream (stderr, or stdout where a shell command's stderr goes) and an error output
    are problems too. ``N`` counts all cells from 1, as Jupyter shows them.
    """
    problems = []
    for number, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            where = f"{name} cell {number}"
            if output.get("output_type") == "error":
                problems.append(f"{where}: error {output.get('ename')}: {output.get('evalue')}")
            if output.get("output_type") == "stream" and _WARNING.search(output.get("text", "")):
                line = next(s for s in output["text"].splitlines() if _WARNING.search(s))
                problems.append(f"{where}: warning on {output['name']}: {line.strip()[:200]}")
            for text in _output_texts(output):
                for path in forbidden:
                    if path in text:
                        problems.append(f"{where}: output contains the local path {path!r}")
    return problems


def run_one(
    path: Path, outdir: Path, timeout: int = 600, store: bool = False
) -> tuple[float, list[str]]:
    """Execute, clean, write and check one notebook: (seconds, problems).

    The cleaned notebook goes to ``outdir/NAME.ipynb`` (also when a cell failed, up to that
    cell), and over ``path`` with ``store=True`` when there are no problems.
    """
    name = path.stem
    start = time.perf_counter()
    try:
        nb = execute(path, outdir, timeout)
        failure = []
    except CellExecutionError as err:
        nb = err.notebook
        failure = [f"{name}: a cell failed:\n{err}"]
    seconds = time.perf_counter() - start
    nb = clean(nb)
    nbformat.write(nb, outdir / f"{name}.ipynb")
    problems = failure + check_outputs(nb, name, forbidden_strings(outdir))
    if store and not problems:
        nbformat.write(nb, path)
    return seconds, problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument("--outdir", default="results", help="working directory of the kernels")
    parser.add_argument("--store", action="store_true", help="write back to tutorials/")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)

    outdir = Path(args.outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    failed = []
    total = 0.0
    for path in find_notebooks(args.names):
        seconds, problems = run_one(path, outdir, args.timeout, args.store)
        total += seconds
        status = "ok" if not problems else "FAILED"
        print(f"{path.stem}: {seconds:.1f} s, {status}", flush=True)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr, flush=True)
        failed += [path.stem] if problems else []
    print(f"total: {total:.1f} s; outputs in {outdir}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
