"""A few independent tasks on a small thread pool, results in the order given (issue 7).

pyarrow, numpy and most pandas kernels release the GIL, so independent
column or rule computations overlap on a second core. The results come back
in the order of the tasks, never of their completion, so a stage's output is
the same whatever the timing; a task that fails fails the call, and tasks
not yet started are dropped.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

#: threads for a stage's independent tasks (normalise's fields, a stage's rules, reconcile's codes)
THREADS = 2


def run_all(calls: Sequence[tuple[Callable[..., Any], tuple]], threads: int | None = None,
            name: str = "att-report") -> list[Any]:
    """[func(*args) for func, args in calls], computed on `threads` threads (default THREADS)."""
    threads = THREADS if threads is None else threads
    if threads <= 1 or len(calls) <= 1:
        return [func(*args) for func, args in calls]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    try:
        jobs = [pool.submit(func, *args) for func, args in calls]
        return [job.result() for job in jobs]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
