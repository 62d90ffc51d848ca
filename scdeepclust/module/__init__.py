"""Pure torch side: modules, losses, the training engine, minibatches, method schedules.

Nothing here imports anndata or scanpy (a test checks it): it works on arrays, sparse
matrices and tensors. :mod:`scdeepclust.data` turns an AnnData into these arrays and back,
and :mod:`scdeepclust.models` puts the two together.
"""
