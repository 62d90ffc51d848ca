"""Small helpers: device choice, seeding without touching the caller's RNG, progress bars."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string such as 'auto', 'cpu' or 'cuda:0', found {device!r}."
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1' "
            "or 'mps'."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} but MPS is not available here; use device='cpu' or 'auto'."
        )
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Seed torch inside the block and restore the caller's global RNG state afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def in_jupyter() -> bool:
    """Whether the code runs in a Jupyter kernel (IPython's ``ZMQInteractiveShell``)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show_progress(progress_bar: bool | None) -> bool:
    """Progress bars on when asked; by default in Jupyter and on a terminal, not in a log."""
    if progress_bar is None:
        return in_jupyter() or sys.stderr.isatty()
    return bool(progress_bar)


def progress_bar_class() -> type:
    """Tqdm's widget bar in Jupyter when ipywidgets is installed, else its text bar.

    ``tqdm.auto`` would fall back to the text bar too, but with a ``TqdmWarning`` when
    ipywidgets is missing; the text bar works in a notebook's stderr as well.
    """
    if in_jupyter() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm
