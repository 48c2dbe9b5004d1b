"""One intra-op thread for paths made of many small ops.

Lanczos' Hessian-vector products and the two-batch noise draws are thousands of small ops;
torch's default intra-op threads synchronise at each one, and when other processes share the
cores they wait for each other. benchmarks/threads.py, 2 cores, other work on the machine
(load average 3-4): Lanczos 0.74 s with one thread against 5.0 s with two (6.8x); the two-batch
estimate 0.47 s against 16 s (34x); a per-step tiny-tensor loop the same either way (1.06x). One
thread costs at most the core count's factor on an idle machine and wins 5-34x on a shared one.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 inside, the previous number restored after."""
    import torch

    before = torch.get_num_threads()
    if before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            torch.set_num_threads(before)
