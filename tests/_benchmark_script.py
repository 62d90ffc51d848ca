"""Scripts of ``benchmarks/`` (not part of the package) imported by their path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
BENCHMARK_PY = BENCHMARKS / "benchmark.py"


def load_script(name: str):
    """Import ``benchmarks/<name>.py`` once (dataclasses look their module up in sys.modules)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_benchmark():
    """The benchmark script, ``benchmarks/benchmark.py``."""
    return load_script("benchmark")
