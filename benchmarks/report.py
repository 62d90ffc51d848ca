"""The quality table: its record fields, aggregation over seeds and text / markdown / TSV output."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FIELDS",
    "COLUMNS",
    "Spread",
    "format_cell",
    "aggregate",
    "format_table",
    "format_markdown",
    "write_tsv",
]

#: Fields of a result record, in TSV column order.
FIELDS: tuple[str, ...] = (
    "dataset",
    "method",
    "k_mode",
    "constraints",
    "seed",
    "n_obs",
    "n_genes",
    "gene_selection",
    "k_true",
    "ari",
    "nmi",
    "n_free",
    "ari_free",
    "nmi_free",
    "n_clusters",
    "ari_init",
    "n_clusters_init",
    "epochs_pretrain",
    "epochs_cluster",
    "steps_pretrain",
    "steps_cluster",
    "stopped_pretrain",
    "stopped_cluster",
    "n_refresh",
    "s_prepare",
    "s_pretrain",
    "s_init",
    "s_cluster",
    "s_total",
    "rss_base_mib",
    "rss_peak_mib",
    "converged",
    "device",
    "torch_threads",
    "params",
    "error",
)


#: Columns of the printed tables: (header, record field, format).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("dataset", "dataset", "s"),
    ("method", "method", "s"),
    ("k", "k_mode", "s"),
    ("constraints", "constraints", "s"),
    ("seeds", "seed", "s"),
    ("n_obs", "n_obs", "d"),
    ("genes", "n_genes", "d"),
    ("ARI", "ari", ".3f"),
    ("NMI", "nmi", ".3f"),
    ("n_free", "n_free", "d"),
    ("ARI_free", "ari_free", ".3f"),
    ("NMI_free", "nmi_free", ".3f"),
    ("clusters", "n_clusters", "d"),
    ("ARI_init", "ari_init", ".3f"),
    ("k_init", "n_clusters_init", "d"),
    ("ep_pre", "epochs_pretrain", "d"),
    ("ep_clu", "epochs_cluster", "d"),
    ("steps_pre", "steps_pretrain", "d"),
    ("steps_clu", "steps_cluster", "d"),
    ("stop_pre", "stopped_pretrain", "s"),
    ("stop_clu", "stopped_cluster", "s"),
    ("t_prep", "s_prepare", ".1f"),
    ("t_pre", "s_pretrain", ".1f"),
    ("t_init", "s_init", ".1f"),
    ("t_clu", "s_cluster", ".1f"),
    ("t_total", "s_total", ".1f"),
    ("rss_base", "rss_base_mib", ".0f"),
    ("rss_peak", "rss_peak_mib", ".0f"),
    ("conv", "converged", "s"),
    ("error", "error", "s"),
)


def format_cell(value: Any, fmt: str) -> str:
    """Format one table cell; None is ``-``; a :class:`Spread` is ``mean +- sd``."""
    if isinstance(value, Spread):
        return value.format(fmt)
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation (ddof 1) of a field over the seeds of a case."""

    mean: float
    sd: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Mean and sd of the finite ``values`` (NaN mean when there are none)."""
        finite = [float(v) for v in values if np.isfinite(v)]
        sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
        return cls(float(np.mean(finite)) if finite else float("nan"), sd, len(finite))

    def format(self, fmt: str) -> str:  # noqa: D102
        if fmt == "d":  # counts: a whole number when the seeds agree, else one decimal
            if (self.n < 2 or self.sd == 0) and float(self.mean).is_integer():
                return str(int(self.mean))
            fmt = ".1f"
        if self.n < 2 or self.sd == 0:
            return format(self.mean, fmt)
        return f"{format(self.mean, fmt)} ± {format(self.sd, fmt)}"


#: Fields that identify a case across seeds.
CASE_KEY = ("dataset", "method", "k_mode", "constraints")


def aggregate(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per case (:data:`CASE_KEY`), numbers as :class:`Spread` over the seeds.

    Constraint labels are grouped by their kind (``"protein 1855ml+18145cl"`` -> ``"protein"``);
    text fields keep their distinct values joined by ``/``; ``seed`` lists the seeds.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for rec in records:
        key = tuple(str(rec.get(f) or "").split(" ")[0] for f in CASE_KEY)
        groups.setdefault(key, []).append(rec)
    return [_aggregate_group(group) for group in groups.values()]


def _aggregate_group(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean +- sd of the numeric fields of one case's records."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        values = [r.get(field) for r in group if r.get(field) not in (None, "")]
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if field == "seed":
            out[field] = ",".join(str(v) for v in values)
        elif numbers and len(numbers) == len(values):
            out[field] = Spread.of(numbers)
        else:
            distinct = list(dict.fromkeys(str(v) for v in values))
            out[field] = "/".join(distinct) if distinct else None
    out["constraints"] = str(group[0].get("constraints") or "").split(" ")[0]
    return out


def _table_rows(records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Header plus one row of formatted cells per record."""
    rows = [[header for header, _, _ in COLUMNS]]
    for rec in records:
        rows.append([format_cell(rec.get(field), fmt) for _, field, fmt in COLUMNS])
    return rows


def format_table(records: Sequence[Mapping[str, Any]]) -> str:
    """Fixed-width text table of the records (numbers right-aligned)."""
    rows = _table_rows(records)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    right = [fmt != "s" for _, _, fmt in COLUMNS]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """Markdown (GitHub) table of the records."""
    rows = _table_rows(records)
    align = ["---:" if fmt != "s" else "---" for _, _, fmt in COLUMNS]
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def write_tsv(records: Sequence[Mapping[str, Any]], path: str) -> None:
    """Write all fields of the records to a tab-separated file (its folder is created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if rec.get(k) is None else rec.get(k) for k in FIELDS})
