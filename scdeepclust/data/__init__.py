"""AnnData-facing side: input checks, the fitted preparation state, initialisation, results.

Turns an AnnData into the arrays of :mod:`scdeepclust.module` (validated counts, size
factors, scaling statistics, batch codes) and writes results back scanpy-style.
"""
