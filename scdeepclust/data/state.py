"""The fitted preparation state: what turns an AnnData into model input, reusable on new cells.

:meth:`InputState.fit` validates the counts of the training cells and fits the statistics
(kept genes, size-factor reference, per-gene (per-batch) mean and std, batch categories);
:meth:`InputState.transform` prepares any AnnData with those same statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from . import preparation as _prep
from . import validation
from .covariates import Covariates, categories_of, codes_of


def describe_mask(mask_var) -> str | None:
    """``mask_var`` as a plain value for ``uns[key]['params']``."""
    if mask_var is None or isinstance(mask_var, str):
        return mask_var
    return "array"


def batch_categories(adata: AnnData, batch_key: str) -> list[str]:
    """The batches present in ``adata.obs[batch_key]``, in category (sorted) order."""
    return categories_of(adata, batch_key, "batch_key")


def batch_codes(adata: AnnData, batch_key: str, categories: list[str]) -> np.ndarray:
    """Integer code of each cell's batch among ``categories``; raises on an unseen batch."""
    return codes_of(adata, batch_key, categories, "batch_key")


@dataclass
class InputState:
    """How model input is made from an AnnData, fitted on the training cells.

    Attributes
    ----------
    var_names
        The genes of the model input, in model order (after ``mask_var`` and after leaving
        out genes without counts).
    layer
        Layer of the raw counts (None: ``X``).
    library_reference
        Library size (counts per cell) of size factor 1: the median library size of the
        training cells, or ``target_sum``.
    mean, std
        Per-group, per-gene z-score statistics of log1p(counts / size factor),
        n_groups x n_genes, float32 (one group unless scaling within batches).
    max_value
        Clip of the z-scores; None: no clipping.
    batch_key, batch_categories
        ``adata.obs`` column of batches and the training batches (None without batches).
    scale_by_batch
        z-score within each batch (DESC's ``scale_bygroup``).
    batch_covariate
        The batch enters the network as a one-hot covariate (batch-aware scDeepCluster).
    covariates
        The categorical covariates the network gets as one-hot input (the batch with
        ``batch_covariate``, then ``categorical_covariate_keys``); None without any.
    """

    var_names: np.ndarray
    layer: str | None
    library_reference: float
    mean: np.ndarray
    std: np.ndarray
    max_value: float | None = None
    batch_key: str | None = None
    batch_categories: list[str] | None = None
    scale_by_batch: bool = False
    batch_covariate: bool = False
    covariates: Covariates | None = None

    @property
    def n_genes(self) -> int:  # noqa: D102
        return len(self.var_names)

    @property
    def n_covariates(self) -> int:
        """Width of the one-hot covariate vector (0 without covariates)."""
        return 0 if self.covariates is None else self.covariates.width

    @classmethod
    def fit(
        cls,
        adata: AnnData,
        *,
        layer: str | None,
        mask_var=None,
        target_sum: float | None = None,
        batch_key: str | None = None,
        max_value: float | None = None,
        scale_by_batch: bool = False,
        batch_covariate: bool = False,
        covariate_keys: Sequence[str] = (),
    ) -> tuple[InputState, _prep.PreparedData]:
        """Validate the counts, select genes, fit the statistics. Returns the state and data.

        ``covariate_keys``: categorical ``adata.obs`` columns given to the network as one-hot
        input, after the batch when ``batch_covariate``. Raises (before any training) the
        errors of :mod:`scdeepclust.data.validation`, and KeyError / ValueError for a missing
        ``batch_key`` or covariate column or missing values in it.
        """
        counts = validation.get_counts(adata, layer)
        mask = validation.resolve_mask_var(adata, mask_var)
        counts, mask = validation.select_genes(counts, mask)
        if max_value is not None and not max_value > 0:
            raise ValueError(f"max_value must be positive or None, found {max_value}.")
        categories = None if batch_key is None else batch_categories(adata, batch_key)
        codes = None if batch_key is None else batch_codes(adata, batch_key, categories)
        scale_by_batch = scale_by_batch and codes is not None
        batch_covariate = batch_covariate and codes is not None
        named = [(batch_key, "batch_key")] if batch_covariate else []
        named += [(key, "categorical_covariate_keys") for key in covariate_keys]
        covariates = Covariates.fit(adata, *zip(*named, strict=True)) if named else None
        prepared = _prep.prepare(
            counts,
            target_sum=target_sum,
            group_codes=codes if scale_by_batch else None,
            n_groups=len(categories) if scale_by_batch else 1,
            max_value=max_value,
            covariate_codes=None if covariates is None else covariates.codes(adata),
            n_covariates=0 if covariates is None else covariates.width,
        )
        state = cls(
            var_names=np.asarray(adata.var_names[mask], dtype=str),
            layer=layer,
            library_reference=prepared.library_reference,
            mean=prepared.mean,
            std=prepared.std,
            max_value=max_value,
            batch_key=batch_key,
            batch_categories=categories,
            scale_by_batch=scale_by_batch,
            batch_covariate=batch_covariate,
            covariates=covariates,
        )
        return state, prepared

    def gene_index(self, adata: AnnData) -> np.ndarray:
        """Positions of the model's genes in ``adata.var_names``.

        Extra genes are ignored and reordered genes aligned; raises KeyError naming the
        missing genes, ValueError if ``adata.var_names`` are not unique.
        """
        names = pd.Index(adata.var_names)
        if not names.is_unique:
            raise ValueError(
                "adata.var_names are not unique, so genes cannot be matched to the model's; "
                "call `adata.var_names_make_unique()` first."
            )
        index = names.get_indexer(self.var_names)
        missing = self.var_names[index < 0]
        if missing.size:
            raise KeyError(
                f"{missing.size} of the model's {self.n_genes} genes are missing from "
                f"adata.var_names: {', '.join(map(repr, missing[:10].tolist()))}"
                f"{' ...' if missing.size > 10 else ''}. Pass data with every training gene "
                "(extra genes are ignored, order does not matter)."
            )
        return index

    def transform(self, adata: AnnData) -> _prep.PreparedData:
        """Prepare new cells with the fitted statistics (genes aligned by ``var_names``)."""
        index = self.gene_index(adata)
        counts = validation.get_counts(adata, self.layer)[:, index].tocsr()
        validation.check_cells_have_counts(counts, selected=True)
        codes = (
            None
            if self.batch_key is None
            else batch_codes(adata, self.batch_key, self.batch_categories)
        )
        return _prep.apply_preparation(
            counts,
            library_reference=self.library_reference,
            mean=self.mean,
            std=self.std,
            group_codes=codes if self.scale_by_batch else None,
            max_value=self.max_value,
            covariate_codes=None if self.covariates is None else self.covariates.codes(adata),
            n_covariates=self.n_covariates,
        )

    # --- plain-value form for saving (JSON for scalars, arrays kept as arrays) ---

    def to_plain(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe fields and the arrays (``mean``, ``std``) to store beside them."""
        fields = {
            "var_names": self.var_names.tolist(),
            "layer": self.layer,
            "library_reference": self.library_reference,
            "max_value": self.max_value,
            "batch_key": self.batch_key,
            "batch_categories": self.batch_categories,
            "scale_by_batch": self.scale_by_batch,
            "batch_covariate": self.batch_covariate,
            "covariates": None if self.covariates is None else self.covariates.to_plain(),
        }
        return fields, {"mean": self.mean, "std": self.std}

    @classmethod
    def from_plain(cls, fields: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
        """Inverse of :meth:`to_plain`."""
        return cls(
            var_names=np.asarray(fields["var_names"], dtype=str),
            layer=fields["layer"],
            library_reference=float(fields["library_reference"]),
            mean=np.asarray(arrays["mean"], dtype=np.float32),
            std=np.asarray(arrays["std"], dtype=np.float32),
            max_value=fields["max_value"],
            batch_key=fields["batch_key"],
            batch_categories=fields["batch_categories"],
            scale_by_batch=bool(fields["scale_by_batch"]),
            batch_covariate=bool(fields["batch_covariate"]),
            covariates=_saved_covariates(fields),
        )


def _saved_covariates(fields: Mapping[str, Any]) -> Covariates | None:
    """The covariates of a saved state; folders written before 0.3 hold the batch only."""
    if "covariates" in fields:
        saved = fields["covariates"]
        return None if saved is None else Covariates.from_plain(saved)
    if fields["batch_covariate"]:
        return Covariates([fields["batch_key"]], [fields["batch_categories"]], ["batch_key"])
    return None
