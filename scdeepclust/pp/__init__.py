"""Preprocessing helpers: must-link / cannot-link constraints for :func:`scdeepclust.tl.scdcc`."""

from ._constraints import constraints_from_labels, constraints_from_rep

__all__ = ["constraints_from_labels", "constraints_from_rep"]
