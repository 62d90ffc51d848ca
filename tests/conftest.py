"""Shared pytest fixtures of the scdeepclust test suite."""

import os
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------
# Datasets: point scdeepclust.datasets at the shared, read-only data folder
# ---------------------------------------------------------------------------

#: ``<repo root>/../shared/data``: the shared copies of the benchmark .h5 files.
SHARED_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _shared_datasetdir():
    """Set ``SCDEEPCLUST_DATASETDIR`` to the shared data folder unless already set."""
    var = "SCDEEPCLUST_DATASETDIR"
    if os.environ.get(var):
        yield Path(os.environ[var])
        return
    os.environ[var] = str(SHARED_DATA_DIR)
    try:
        yield SHARED_DATA_DIR
    finally:
        os.environ.pop(var, None)


# ---------------------------------------------------------------------------
# End of datasets section
# ---------------------------------------------------------------------------
