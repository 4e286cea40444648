"""The process that starts contained reader workers (see `contained.run_contained`), and their body.

Kept free of heavy imports so a command can start it first thing: the fork
server preloads only fastexcel (a fraction of a second, on
another core, while this process loads its own modules and configuration),
and a worker's body (`child`) loads nothing more before it runs its
function. A large workbook's worker then starts parsing at once, loading
pandas and the readers in a thread meanwhile (`early`; benchmark, issue 7).
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

#: imported once in the fork server, not per worker: only what parsing a workbook needs, so the
#: server is ready in a fraction of a second and a large workbook's worker starts parsing at once
#: (its own thread loads pyarrow, pandas and the readers meanwhile: `early`); other workers import
#: what their function needs when they start. (pyarrow was preloaded too until the head start,
#: `headstart`, asked for the worker before the server was ready: numpy and pyarrow cost it 0.15 s.)
PRELOAD = ["fastexcel", "att_report.intake.worker_server"]

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


#: set once `warm` has started the fork server (the commands do so first thing)
_WARMED = False


def running() -> bool:
    """Whether a fork server has been started in this process (it may still be loading its modules).

    Known for sure once `warm` started it; otherwise (a worker started it) multiprocessing's own
    record says so, read defensively: should a Python version drop it, the answer is "no" and
    workers start from a thread, slower but the same.
    """
    if _CONTEXT is None or _CONTEXT.get_start_method() != "forkserver":
        return False
    if _WARMED:
        return True
    from multiprocessing import forkserver

    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None) is not None


def warm() -> bool:
    """Start the fork server now, without waiting for it; True if one was started or was running.

    It never fails a run: without a fork server the first worker starts it
    (or reports why it cannot), as before.
    """
    if context().get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    global _WARMED
    try:
        forkserver.ensure_running()
    except (OSError, ValueError):
        return False
    _WARMED = True
    return True


#: True in a contained worker's process (set by `child`): such a process ends once its result is
#: sent (under the fork server with os._exit, freeing nothing object by object), so a worker may
#: leave large objects to that end instead of freeing them before it sends
IN_WORKER = False


def child(conn, func, args, kwargs, memory_mb: int) -> None:
    """A contained worker's body: limits, run `func`, send back (status, payload, peak KB, CPU s).

    Light on imports (this module's): the worker starts on `func` at once;
    `contained` (light too) is loaded only to describe a failure.
    """
    import os

    global IN_WORKER
    IN_WORKER = True
    if not os.environ.get("ATT_REPORT_WORKER_STDERR"):
        # a Rust abort prints a backtrace; the user gets a finding instead
        os.environ["RUST_BACKTRACE"] = "0"
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    try:
        import resource

        if memory_mb > 0:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    try:
        result = func(*args, **kwargs)
        payload = ("ok", result)
    except BaseException as exc:  # noqa: BLE001 - Rust panics derive from BaseException
        from att_report.intake.contained import _portable_error

        payload = ("error", _portable_error(exc))
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        peak_kb, cpu_s = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    except (ImportError, OSError):
        peak_kb, cpu_s = 0, 0.0
    try:
        conn.send((*payload, peak_kb, cpu_s))
    except BaseException as exc:  # noqa: BLE001 - an unpicklable result
        from att_report.intake.contained import ReaderCrashed, _short

        conn.send(("error", ReaderCrashed(f"the reader's result could not be sent back: {_short(exc)}"), 0, 0.0))
    finally:
        conn.close()
