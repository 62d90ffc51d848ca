"""Fast test of the benchmark's per-case function (in-process, tiny schedules)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from benchmarks import quality, report


def test_run_case_pbmc_quick_given():
    datadir = Path(os.environ.get("SCDEEPCLUST_DATASETDIR", ""))
    if not (datadir / "10X_PBMC_top2000.h5").exists():
        pytest.skip("10X_PBMC_top2000.h5 not available")
    spec = {
        "dataset": "pbmc",
        "method": "scdcc",
        "k_mode": "given",
        "constraints": "none",
        "seed": 0,
        "quick": True,
        "max_cells": 600,
        "params": {"device": "'cpu'"},
        "threads": 1,  # fast on a busy machine too
    }
    records = quality.run_case(spec)
    assert len(records) == 1
    rec = records[0]
    assert set(rec) == set(report.FIELDS)
    assert rec["error"] == ""
    assert (rec["dataset"], rec["method"], rec["k_mode"]) == ("pbmc", "scdcc", "given")
    assert rec["n_obs"] == 600 and 0 < rec["n_genes"] <= 2000 and rec["k_true"] == 8
    assert -1.0 <= rec["ari"] <= 1.0 and 0.0 <= rec["nmi"] <= 1.0
    assert 1 <= rec["n_clusters"] <= 8
    assert rec["epochs_pretrain"] == 2 and rec["epochs_cluster"] <= 2
    for stage in ("prepare", "pretrain", "init", "cluster", "total"):
        assert rec[f"s_{stage}"] >= 0.0
    assert rec["rss_peak_mib"] >= rec["rss_base_mib"] > 0
    assert isinstance(rec["converged"], bool)
    assert not math.isnan(rec["ari"])
    # the row renders in both table formats
    assert "pbmc" in report.format_table(records)
    assert report.format_markdown(records).count("\n") == 2
