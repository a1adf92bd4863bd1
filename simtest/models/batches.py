"""Run a torch model's batches so that its outputs never depend on the thread count.

A convolution's floating-point result depends on how many threads split it
(oneDNN divides reductions among them): the reference model gives scores
about 1e-7 apart on one and on two threads, so a sweep's rows would depend on
whether it ran serially (all cores) or on Ray actors (one thread each). Here
every batch runs with one intra-op thread, and the cores are used by running
batches concurrently (torch releases the GIL): as many at once as torch had
threads when called. On this project's 2-core CPU that is also faster for the
reference model than intra-op threads (10.7 against 15-18 ms per frame, batches
of 4). Results depend only on the batch size, which is configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class BatchRunner:
    """Maps a function over consecutive batches of a sequence, one intra-op torch thread per batch."""

    def __init__(self, batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"model.batch_size: must be an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self._pool: ThreadPoolExecutor | None = None
        self._workers = 0

    def map(self, fn: Callable[[Sequence[Any]], list[T]], items: Sequence[Any], *, concurrent: bool = True) -> list[T]:
        """``fn`` over ``items`` in batches of ``batch_size``, results concatenated in order.

        ``concurrent=False`` (e.g. a model on a GPU) runs the batches one after another, still
        with one intra-op thread, so that the numbers are the same as on the CPU path's batches.
        """
        import torch

        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        threads = torch.get_num_threads()
        workers = min(threads, len(batches)) if concurrent else 1
        torch.set_num_threads(1)
        try:
            if workers <= 1:
                parts = [fn(b) for b in batches]
            else:
                if self._workers < workers:
                    if self._pool is not None:
                        self._pool.shutdown()
                    self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simtest-batch")
                    self._workers = workers
                parts = list(self._pool.map(fn, batches))
        finally:
            torch.set_num_threads(threads)
        return [x for part in parts for x in part]
