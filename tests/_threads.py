"""Torch on one intra-op thread for a block (shared by fixtures and module-scoped setups)."""

import contextlib


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread inside the block, then restore the thread count.

    The test models are tiny: one thread is several times faster than two, and numba's
    OpenMP layer (``sc.pp.neighbors``) resets torch's thread count, so it is set per block.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
