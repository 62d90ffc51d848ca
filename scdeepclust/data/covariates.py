"""Categorical covariates of the cells (batch, donor, ...): declared once, one-hot for the network.

:class:`Covariates` holds, per ``adata.obs`` column, the categories seen in training; the
network gets one concatenated one-hot vector (one block per column), and new cells are coded
with the training categories (an unseen category is an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData


def category_column(adata: AnnData, key: str, param: str) -> pd.Series:
    """``adata.obs[key]``; raises if the column is missing or has missing values.

    ``param`` names the argument that gave ``key`` (``"batch_key"``, ...) in the error.
    """
    if key not in adata.obs.columns:
        raise KeyError(
            f"{param}={key!r} is not a column of adata.obs "
            f"(columns: {', '.join(map(repr, adata.obs.columns)) or 'none'})."
        )
    col = adata.obs[key]
    if col.isna().any():
        raise ValueError(
            f"adata.obs[{key!r}] has {int(col.isna().sum())} missing values; every cell "
            f"needs a value of {param}."
        )
    return col


def categories_of(adata: AnnData, key: str, param: str) -> list[str]:
    """The categories present in ``adata.obs[key]``, in category (sorted) order."""
    cat = pd.Categorical(category_column(adata, key, param)).remove_unused_categories()
    return [str(c) for c in cat.categories]


def codes_of(adata: AnnData, key: str, categories: list[str], param: str) -> np.ndarray:
    """Integer code of each cell's value among ``categories``; raises on an unseen value."""
    values = category_column(adata, key, param).astype(str).to_numpy()
    codes = pd.Index(categories).get_indexer(values)
    if (codes < 0).any():
        unseen = sorted(set(values[codes < 0]))
        raise ValueError(
            f"adata.obs[{key!r}] holds values the model was not trained on: "
            f"{', '.join(map(repr, unseen[:5]))}{' ...' if len(unseen) > 5 else ''} "
            f"(trained on: {', '.join(map(repr, categories))}). A model with this covariate "
            "can only embed cells of its training categories; train on all of them together."
        )
    return codes.astype(np.int64)


@dataclass
class Covariates:
    """Categorical covariates: the ``adata.obs`` columns and their training categories.

    ``params[i]`` is the argument that named ``keys[i]`` (``"batch_key"`` or
    ``"categorical_covariate_keys"``), for the error messages.
    """

    keys: list[str]
    categories: list[list[str]]
    params: list[str]

    @classmethod
    def fit(cls, adata: AnnData, keys: Sequence[str], params: Sequence[str]) -> Covariates:
        """The categories of each column in the training cells (errors before any training)."""
        return cls(
            list(keys),
            [categories_of(adata, k, p) for k, p in zip(keys, params, strict=True)],
            list(params),
        )

    @property
    def width(self) -> int:
        """Length of the one-hot vector: the number of categories over all columns."""
        return sum(len(c) for c in self.categories)

    def codes(self, adata: AnnData) -> np.ndarray:
        """Position of each cell's 1 in each column's block, n_obs x n_columns, int64.

        Each column's codes are offset by the widths of the blocks before it, so that the
        one-hot vector of a cell has a 1 at each of its row's positions.
        """
        offsets = np.cumsum([0] + [len(c) for c in self.categories[:-1]])
        columns = [
            codes_of(adata, k, c, p) + off
            for k, c, p, off in zip(self.keys, self.categories, self.params, offsets, strict=True)
        ]
        return np.stack(columns, axis=1)

    def to_plain(self) -> dict[str, Any]:
        """JSON-safe form, for a saved model."""
        return {"keys": self.keys, "categories": self.categories, "params": self.params}

    @classmethod
    def from_plain(cls, fields: Mapping[str, Any]) -> Covariates:
        """Inverse of :meth:`to_plain`."""
        return cls(
            list(fields["keys"]), [list(c) for c in fields["categories"]], list(fields["params"])
        )
