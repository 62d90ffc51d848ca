"""Clustering tools, in the style of ``scanpy.external.tl``."""

from ._confidence import confidence
from ._desc import desc
from ._scdcc import scdcc

__all__ = ["scdcc", "desc", "confidence"]
