"""``benchmarks/benchmark.py`` (a script, not part of the package) imported by its path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARK_PY = Path(__file__).parents[1] / "benchmarks" / "benchmark.py"


def load_benchmark():
    """Import the benchmark script once (its dataclasses look their module up in sys.modules)."""
    if "benchmark" in sys.modules:
        return sys.modules["benchmark"]
    spec = importlib.util.spec_from_file_location("benchmark", BENCHMARK_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
