"""Small helpers: device choice, seeding without touching the caller's RNG, progress bars."""

from __future__ import annotations

import contextlib
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


def show_progress(progress_bar: bool | None) -> bool:
    """Progress bars on when asked, or by default when stderr is interactive."""
    if progress_bar is None:
        return sys.stderr.isatty()
    return bool(progress_bar)
