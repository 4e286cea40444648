"""Process settings of a batch run, made before numpy and pyarrow load (benchmark, issue 7).

They are environment defaults, so they reach every process the command
starts: `__main__` sets them before it starts the reader workers' fork
server, and `cli.main` again for callers that enter there. A value the user
set is kept. How the main process keeps freed memory for reuse (glibc's
mallopt, mimalloc's purge delay) is `cli._allocators_for_a_batch`: that one
is for the main process alone, set after the fork server has started.
"""

from __future__ import annotations

import os

#: variable -> the batch's default (why: `set_process_defaults`)
PROCESS_DEFAULTS = {
    "OPENBLAS_NUM_THREADS": "1",
    "NUMPY_MADVISE_HUGEPAGE": "0",
    "MIMALLOC_ALLOW_THP": "0",
}


def set_process_defaults() -> None:
    """Set `PROCESS_DEFAULTS` where the environment has no value of its own.

    - OPENBLAS_NUM_THREADS=1: nothing here multiplies matrices, yet numpy's
      OpenBLAS starts a thread per extra core in every process (this one, the
      fork server, each worker), and they spin a while: ~0.15 s of CPU in a
      1M-row build, taken from the reader worker on the other core.
    - NUMPY_MADVISE_HUGEPAGE=0 and MIMALLOC_ALLOW_THP=0 (pyarrow's allocator):
      large arrays on ordinary 4 KB pages, not transparent huge pages. On a
      virtual machine that hands freed memory back to its host (free page
      reporting, as on the 2-core benchmark machine) the first touch of a
      huge page is slow: 1 GB took 2.6 s in huge pages against 0.43 s in
      small ones, and 480 MB of pyarrow buffers 1.1-1.4 s against 0.2 s. In a
      1M-row build, ~1 GB of the main process's memory was huge pages. (Once
      pyarrow loads, mimalloc turns them off for the whole process, numpy's
      arrays included: /proc/self/status then reads `THP_enabled: 0`.) In
      interleaved benchmark rounds the stages after the read took 4.9 s with
      both, 4.6-4.8 s with numpy's off, 4.1-4.4 s with both off; peak memory
      ~60-100 MB lower.
    """
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)
