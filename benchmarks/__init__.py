"""The reproducible benchmark suite of scdeepclust (not part of the installed package).

Run each part from the repository root as a module, or through its ``make`` target (output
in ``results/benchmarks/<name>/``):

============  ===============================  ==========================================
module        make target                      measures
============  ===============================  ==========================================
``quality``   ``make benchmark``               ARI / NMI of both tools on four datasets
``batches``   ``make benchmark-batches``       batch-aware clustering and batch mixing
``scaling``   ``make benchmark-scaling``       seconds and memory from 10,000 cells up
``timing``    ``make benchmark-timing``        per-stage seconds on 10X PBMC
``authors``   ``make benchmark-authors``       the scDCC authors' own code, same data
============  ===============================  ==========================================

Shared by all of them: :mod:`benchmarks.datasets` (the one dataset registry),
:mod:`benchmarks.metrics` (scores), :mod:`benchmarks.baseline` (the scanpy pipeline),
:mod:`benchmarks.runner` (cases in fresh processes, memory, machine) and
:mod:`benchmarks.report` (tables). The research behind the defaults is in
``benchmarks/studies/<question>/``, one README per question.
"""
