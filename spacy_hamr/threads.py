"""One thread for HAMR's own multi-threaded maths, so that a run gives the same
bits at any thread count.

A parallel reduction adds its terms in an order set by the number of threads,
and the last bits of the sum change with it. HAMR's choices (which examples are
seeds, the weight net's steps) follow those bits, so a run at 1 thread and one
at 2 would drift apart. The truncated SVD of the TF-IDF embedder (OpenBLAS) and
the weight net (torch) therefore run on one thread; both are small next to the
model's own updates. What the model itself computes (spaCy's updates, a
transformer's torch passes) keeps the threads the user gave it, as in plain
training.
"""

import os
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import torch
from threadpoolctl import threadpool_info, threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """BLAS, OpenMP and torch's intra-op pool limited to one thread inside."""
    with one_torch_thread(), threadpool_limits(limits=1):
        yield


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch's intra-op pool limited to one thread inside; cheaper than
    `one_thread` (no look-up of the loaded libraries), for torch-only code that
    runs at every step."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def thread_counts() -> Dict[str, int]:
    """The thread count of torch and of each loaded BLAS and OpenMP library."""
    counts = {"torch": torch.get_num_threads()}
    for pool in threadpool_info():
        counts.setdefault(pool["internal_api"], pool["num_threads"])
    return counts


def pinned_environment(threads: Optional[int]) -> Dict[str, str]:
    """The environment for a child process (`spacy train`, `spacy evaluate`) whose
    OpenMP, MKL and OpenBLAS pools take `threads` threads; None leaves them as set."""
    if threads is None:
        return dict(os.environ)
    return {
        **os.environ,
        **{name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }
