"""Clustering tools, in the style of ``scanpy.external.tl``."""

from ._scdcc import scdcc

__all__ = ["scdcc"]
