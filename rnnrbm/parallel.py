"""Splitting batched work over the CPU cores with threads.

Training runs BLAS single-threaded (see :func:`rnnrbm.train.train`), so
independent rows of a batch, such as RTRL streams or Gibbs chains, are
split into one contiguous group per core and run in a thread pool. NumPy's
BLAS calls and the ``nogil`` Numba kernels release the GIL.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np


def row_groups(n: int) -> list[slice]:
    """Split ``n`` rows into at most one non-empty contiguous group per CPU core."""
    k = max(1, min(n, os.cpu_count() or 1))
    edges = np.linspace(0, n, k + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


@functools.lru_cache(maxsize=None)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers)


def run_groups(work: Callable[[slice], None], groups: list[slice]) -> None:
    """Call ``work(group)`` for every group, in parallel threads when there are several."""
    if len(groups) <= 1:
        for group in groups:
            work(group)
        return
    fp_state = np.geterr()  # the floating-point error state is per thread: pass the caller's on

    def call(group: slice) -> None:
        with np.errstate(**fp_state):
            work(group)

    for future in [_pool(len(groups)).submit(call, g) for g in groups]:
        future.result()
