"""The process that starts contained reader workers (see `safety.run_contained`).

Kept free of heavy imports so a command can start it first thing: the fork
server imports pandas and fastexcel once (about a second), on another core,
while this process loads its own modules and configuration. A large
workbook's worker then starts reading at once instead of a second later
(benchmark, issue 7).
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

#: imported once in the fork server, not per worker
PRELOAD = ["pandas", "fastexcel", "att_report.intake.safety", "att_report.intake.readers"]

_CONTEXT: Any = None


def context() -> Any:
    """The multiprocessing context workers start from: a fork server where the OS has one, else spawn."""
    global _CONTEXT
    if _CONTEXT is None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        _CONTEXT = mp.get_context(method)
        if method == "forkserver":
            _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def running() -> bool:
    """Whether a fork server has been started in this process (it may still be loading its modules)."""
    if _CONTEXT is None or _CONTEXT.get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None) is not None


def warm() -> bool:
    """Start the fork server now, without waiting for it; True if one was started or was running.

    It never fails a run: without a fork server the first worker starts it
    (or reports why it cannot), as before.
    """
    if context().get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except (OSError, ValueError):
        return False
    return True
