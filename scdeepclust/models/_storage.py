"""A saved model folder: format constants, reading and checking its files.

On disk a model is a folder with three files, none of them a pickle:

``model.json``
    Format name and version, the tool, the package version, the config, the fitted input
    state (``var_names``, size-factor reference, batch categories, ...), the trained runs
    (output key, k, layer widths) and the training summary of each run.
``state.npz``
    The per-gene (per-batch) mean and std of the input scaling (``allow_pickle=False``).
``weights.pt``
    The weights as a plain ``state_dict`` of tensors (``torch.load(..., weights_only=True)``);
    with several runs (DESC at several resolutions) each key is prefixed by ``<run key>/``.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Name of the format written into ``model.json`` (a folder of another tool lacks it).
FORMAT = "scdeepclust-model"
#: Version of the folder layout; loading a folder of a newer version is refused.
FORMAT_VERSION = 1
FILES = {"json": "model.json", "arrays": "state.npz", "weights": "weights.pt"}


class ModelFormatError(ValueError):
    """A saved model folder cannot be read: missing, corrupt, foreign or too new."""


def json_safe(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy scalars and arrays converted)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_meta(dir_path: str | os.PathLike) -> dict[str, Any]:
    """The checked contents of ``model.json`` of a saved model folder."""
    path = Path(dir_path)
    if not path.exists():
        raise FileNotFoundError(f"No model folder at {path}.")
    meta_file = path / FILES["json"]
    if not path.is_dir() or not meta_file.is_file():
        raise ModelFormatError(
            f"{path} is not a scdeepclust model folder (no {FILES['json']}); save one with "
            "`model.save(dir)` or `scdeepclust scdcc ... --save-model DIR`."
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFormatError(f"{meta_file} is corrupt (not valid JSON: {err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFormatError(
            f"{meta_file} was not written by scdeepclust (no format {FORMAT!r}); it looks like "
            "another tool's folder."
        )
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ModelFormatError(f"{meta_file} is corrupt (format_version {version!r}).")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} was saved in model format version {version} by scdeepclust "
            f"{meta.get('scdeepclust_version', '?')}; this scdeepclust reads up to version "
            f"{FORMAT_VERSION}. Upgrade scdeepclust to load it."
        )
    missing = [k for k in ("tool", "config", "state", "runs", "summary") if k not in meta]
    if missing:
        raise ModelFormatError(f"{meta_file} is corrupt (missing {', '.join(missing)}).")
    return meta


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path / FILES["arrays"], allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError as err:
        raise ModelFormatError(f"{path} lacks {FILES['arrays']}.") from err
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFormatError(f"{path / FILES['arrays']} is corrupt ({err}).") from err


def read_weights(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    file = path / FILES["weights"]
    if not file.is_file():
        raise ModelFormatError(f"{path} lacks {FILES['weights']}.")
    try:
        weights = torch.load(file, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise ModelFormatError(
            f"{file} is not a plain state_dict of tensors (corrupt, or a pickled object "
            f"that weights_only loading refuses): {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}"
        ) from err
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise ModelFormatError(f"{file} is not a plain state_dict of tensors.")
    return weights
