"""Plots of scdeepclust results (scanpy-style ``pl`` namespace)."""

from ._history import training_history

__all__ = ["training_history"]
