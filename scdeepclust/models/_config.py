"""One config dataclass per method, validated in one place (before any training).

A config holds plain values only (numbers, strings, tuples), so it round-trips through the
JSON file of a saved model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.centres import resolve_init
from ..module.distributed import local_device
from ..module.losses import TARGET_DISTRIBUTIONS
from ..module.utils import resolve_device

#: ``precision`` values of the tools and the autocast dtype of each (None: plain float32).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


def check_key(key_added: str) -> str:
    """A non-empty string key."""
    if not isinstance(key_added, str) or not key_added:
        raise TypeError(f"key_added must be a non-empty string, found {key_added!r}.")
    return key_added


def check_random_state(random_state: int | None) -> int:
    """Integer seed (None -> 0, documented)."""
    if random_state is None:
        return 0
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(f"random_state must be an int, found {type(random_state).__name__}.")
    return int(random_state)


def check_positive(**values: int) -> None:
    """Each value a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, found {value!r}.")


def check_schedule(
    *, hidden_dims, alpha: float, tol: float, resolution: float | None = None, **counts: int
) -> None:
    """Check architecture and schedule parameters before any training.

    Counts and widths positive, alpha > 0, 0 <= tol < 1, resolution > 0.
    """
    check_positive(**counts, **{f"hidden_dims[{i}]": h for i, h in enumerate(hidden_dims)})
    if not alpha > 0:
        raise ValueError(f"alpha (Student-t degrees of freedom) must be positive, found {alpha}.")
    if not 0 <= tol < 1:
        raise ValueError(f"tol is a fraction of cells and must be in [0, 1), found {tol}.")
    if resolution is not None and not resolution > 0:
        raise ValueError(f"resolution must be positive, found {resolution}.")


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a ``precision`` argument; raises ValueError for an unknown one."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(map(repr, PRECISIONS))}, found {precision!r}."
        )
    return PRECISIONS[precision]


def check_batch_key(batch_key: str | None) -> None:
    """None or a non-empty string."""
    if batch_key is not None and (not isinstance(batch_key, str) or not batch_key):
        raise TypeError(f"batch_key must be an adata.obs column name or None, found {batch_key!r}.")


def check_covariate_keys(keys, batch_key: str | None) -> tuple[str, ...] | None:
    """None, or distinct non-empty column names other than ``batch_key``, as a tuple."""
    if keys is None:
        return None
    if isinstance(keys, str):
        raise TypeError(
            f"categorical_covariate_keys must be a list of adata.obs column names, found the "
            f"string {keys!r}; pass [{keys!r}]."
        )
    keys = tuple(keys)
    if not all(isinstance(k, str) and k for k in keys):
        raise TypeError(f"categorical_covariate_keys must hold column names, found {keys!r}.")
    if len(set(keys)) != len(keys) or (batch_key is not None and batch_key in keys):
        raise ValueError(
            f"categorical_covariate_keys {keys!r} repeats a column (batch_key={batch_key!r} is "
            "a covariate already); name each column once."
        )
    return keys or None


def check_target_distribution(name: str) -> None:
    """``name`` is a key of :data:`~scdeepclust.module.losses.TARGET_DISTRIBUTIONS`."""
    if name not in TARGET_DISTRIBUTIONS:
        raise ValueError(
            f"target_distribution must be one of {sorted(TARGET_DISTRIBUTIONS)}, found {name!r}."
        )


def check_resolutions(resolution: float | Sequence[float]) -> list[float]:
    """One positive Leiden resolution or a sequence of distinct ones, as a list of floats."""
    values = [resolution] if np.isscalar(resolution) else list(resolution)
    if not values:
        raise ValueError("resolution is empty; pass a positive number or a list of them.")
    for r in values:
        if isinstance(r, bool) or not isinstance(r, int | float | np.number) or not r > 0:
            raise ValueError(f"resolution must be positive numbers, found {r!r}.")
    if len({f"{float(r):g}" for r in values}) != len(values):
        raise ValueError(f"resolution holds duplicates: {values}.")
    return [float(r) for r in values]


def _given(**values: int | None) -> dict[str, int]:
    """The values that are not None (optional budgets)."""
    return {k: v for k, v in values.items() if v is not None}


def steps_per_epoch(n_obs: int, batch_size: int) -> int:
    """Minibatches of cells in one epoch."""
    return math.ceil(n_obs / batch_size)


def epochs_within(epochs: int, max_steps: int | None, n_obs: int, batch_size: int) -> int:
    """``epochs``, capped to the whole epochs that fit in ``max_steps`` cell minibatches (>= 1).

    This is what bounds a budget given in epochs on large data: on small data ``max_steps``
    holds more than ``epochs`` epochs and the cap changes nothing.
    """
    if max_steps is None:
        return epochs
    return max(1, min(epochs, max_steps // steps_per_epoch(n_obs, batch_size)))


class _Config:
    """Shared behaviour of the config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists, the device as a string) for JSON."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else str(v) if f.name == "device" else v
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Inverse of :meth:`to_dict`; unknown keys raise TypeError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @classmethod
    def pick(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The entries of ``values`` that are fields of this config (a tool's ``locals()``)."""
        return {f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values}

    def seed(self) -> int:
        """The seed of the run (None -> 0)."""
        return check_random_state(self.random_state)

    def torch_device(self) -> torch.device:
        """The resolved torch device (under torchrun, ``cuda`` is this rank's GPU)."""
        return local_device(resolve_device(self.device))

    def autocast(self) -> torch.dtype | None:
        """The autocast dtype of ``precision``."""
        return autocast_dtype(self.precision)


@dataclass
class ClusteringConfig(_Config):
    """What the config of every method holds: input, initialisation, clustering stage, run.

    A method's config subclasses this and adds its architecture and pretraining fields; a
    field redeclared there keeps its place here with the method's default.
    """

    n_clusters: int | None = None
    layer: str | None = "counts"
    batch_key: str | None = None
    resolution: float = 0.8
    n_neighbors: int = 10
    alpha: float = 1.0
    batch_size: int = 256
    max_epochs: int = 300
    max_steps: int | None = 12_000
    lr: float = 1.0
    update_interval: int = 1
    tol: float = 1e-3
    init: str = "auto"
    target_distribution: str = "dec"
    init_max_cells: int | None = 50_000
    key_added: str = "clusters"
    random_state: int | None = 0
    device: str | torch.device = "auto"
    precision: str = "float32"

    def validate(self):
        """Raise TypeError / ValueError for a bad shared value; returns self."""
        check_key(self.key_added)
        self.seed()
        self.torch_device()
        self.autocast()
        check_batch_key(self.batch_key)
        resolve_init(self.init, self.n_clusters)
        check_target_distribution(self.target_distribution)
        return self

    def resolutions(self) -> list[float]:
        """The Leiden resolution(s) of the runs, as a list."""
        return check_resolutions(self.resolution)

    def keys(self) -> list[str]:
        """Output key per run: ``key_added``, or ``f"{key_added}_r{resolution:g}"`` for several."""
        res = self.resolutions()
        return [self.key_added] if len(res) == 1 else [f"{self.key_added}_r{r:g}" for r in res]


@dataclass
class SCDCCConfig(ClusteringConfig):
    """Parameters of :class:`scdeepclust.models.SCDCC` (see :func:`scdeepclust.tl.scdcc`)."""

    resolution: float = 0.4
    n_neighbors: int = 20
    categorical_covariate_keys: tuple[str, ...] | None = None
    ml_weight: float = 1.0
    cl_weight: float = 1.0
    hidden_dims: tuple[int, ...] = (256, 64)
    latent_dim: int = 32
    noise_sd: float = 2.5
    gamma: float = 1.0
    pretrain_epochs: int | None = None
    pretrain_steps: int = 700
    pretrain_lr: float = 1e-3
    pretrain_patience: int | None = None
    pretrain_min_delta: float = 1e-3
    key_added: str = "scdcc"

    def validate(self) -> SCDCCConfig:
        """Raise TypeError / ValueError for a bad value; returns self."""
        super().validate()
        self.categorical_covariate_keys = check_covariate_keys(
            self.categorical_covariate_keys, self.batch_key
        )
        self.hidden_dims = tuple(self.hidden_dims)
        check_schedule(
            hidden_dims=list(self.hidden_dims),
            alpha=self.alpha,
            tol=self.tol,
            resolution=self.resolution,
            batch_size=self.batch_size,
            latent_dim=self.latent_dim,
            update_interval=self.update_interval,
            pretrain_steps=self.pretrain_steps,
            **({} if self.pretrain_epochs is None else {"pretrain_epochs": self.pretrain_epochs}),
            n_neighbors=self.n_neighbors,
            max_epochs=self.max_epochs,
            **_given(max_steps=self.max_steps, init_max_cells=self.init_max_cells),
        )
        return self

    def pretrain_epochs_for(self, n_obs: int) -> int:
        """``pretrain_epochs``, or the epochs holding about ``pretrain_steps`` minibatches."""
        if self.pretrain_epochs is not None:
            return self.pretrain_epochs
        return max(1, round(self.pretrain_steps / steps_per_epoch(n_obs, self.batch_size)))


@dataclass
class DESCConfig(ClusteringConfig):
    """Parameters of :class:`scdeepclust.models.DESC` (see :func:`scdeepclust.tl.desc`)."""

    resolution: float | tuple[float, ...] = 0.8
    max_value: float | None = 6.0
    target_sum: float | None = 1e4
    hidden_dims: tuple[int, ...] | None = None
    latent_dim: int | None = None
    dropout: float = 0.2
    stacked: bool = True
    pretrain_epochs: int = 30
    pretrain_patience: int | None = 10
    pretrain_min_delta: float = 1e-4
    lr: float = 0.01
    momentum: float = 0.9
    pretrain_phase_steps: int | None = 500
    update_interval: int = 5
    tol: float = 0.005
    key_added: str = "desc"

    def validate(self) -> DESCConfig:
        """Raise TypeError / ValueError for a bad value; returns self."""
        resolutions = self.resolutions()
        self.resolution = resolutions[0] if np.isscalar(self.resolution) else tuple(resolutions)
        super().validate()
        if self.n_clusters is not None and len(resolutions) > 1:
            raise ValueError(
                "n_clusters gives a k-means initialisation and cannot be combined with several "
                "resolutions; pass a single resolution or n_clusters=None."
            )
        check_positive(
            batch_size=self.batch_size,
            update_interval=self.update_interval,
            **_given(
                max_steps=self.max_steps,
                init_max_cells=self.init_max_cells,
                pretrain_phase_steps=self.pretrain_phase_steps,
            ),
        )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), found {self.dropout}.")
        if self.hidden_dims is not None:
            self.hidden_dims = tuple(self.hidden_dims)
        return self
