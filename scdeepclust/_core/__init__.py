"""Internals shared by every method: data preparation, torch modules, losses, engine, results.

Nothing in here is public API. The torch modules and losses never see an AnnData; the
AnnData-facing code lives in :mod:`scdeepclust.tl`.
"""
