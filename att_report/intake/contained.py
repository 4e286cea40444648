"""Run a function in a contained worker process: memory and time limits, crashes as `ReaderCrashed`.

Readers of untrusted files run here (`safety`), and so does the log writer.
Light on imports, so a worker can be started before this process loads
pandas (`headstart`) and a worker can describe its own failure cheaply.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from att_report.config import Limits
from att_report.intake import worker_server


class ReaderCrashed(Exception):
    """A reader died, ran out of memory or time in its worker process."""


def _portable_error(exc: BaseException) -> BaseException:
    """The exception itself when it can cross the process boundary as-is, else ReaderCrashed."""
    import pickle

    if isinstance(exc, MemoryError):
        return ReaderCrashed("the reader ran out of its memory limit")
    if isinstance(exc, ImportError):
        # the worker loads its modules as it goes (`early`, `worker_server.child`): one that cannot
        # is short of memory (e.g. a library that cannot be mapped under the limit), not a bad file
        return ReaderCrashed(f"the reader could not load its modules (often: out of its memory limit): "
                             f"{_short(exc)}")
    if isinstance(exc, Exception):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001
            pass
    tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return ReaderCrashed(f"the reader failed: {tb[:300]}")


#: what this process's workers reported: the largest peak memory (RSS, MB) and
#: their CPU seconds in all (the benchmark adds them to the build's own)
WORKER_USAGE = {"peak_rss_mb": 0.0, "cpu_s": 0.0}


def run_contained(func: Callable[..., Any], *args: Any, limits: Limits | None = None, **kwargs: Any) -> Any:
    """Run `func(*args, **kwargs)` in a worker process with memory and time limits.

    The worker's address space is capped at `limits.worker_memory_mb` and it
    is killed after `limits.worker_timeout_s`. A Rust panic or abort, a
    segfault, an out-of-memory kill or a timeout raises `ReaderCrashed` here;
    the calling process never dies. Ordinary exceptions raised by `func` are
    re-raised as they are (when they can be pickled). `func` must be a
    module-level function; arguments and result must pickle.
    """
    return start_contained(func, *args, limits=limits, **kwargs).result()


def start_contained(func: Callable[..., Any], *args: Any, limits: Limits | None = None,
                    **kwargs: Any) -> "ContainedJob":
    """`run_contained` without waiting: the caller works on while the worker runs."""
    return ContainedJob(func, args, kwargs, limits or Limits())


class ContainedJob:
    """A function running in a contained worker process; `result()` waits, `cancel()` stops it."""

    def __init__(self, func: Callable[..., Any], args: tuple, kwargs: dict, limits: Limits, *,
                 in_thread: bool = False):
        import threading

        ctx = worker_server.context()
        self._timeout = limits.worker_timeout_s
        self._recv, self._send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=worker_server.child, args=(self._send, func, args, kwargs, limits.worker_memory_mb),
                                 daemon=True)
        self._deadline = time.monotonic() + limits.worker_timeout_s
        self._closed = False
        self._start_error: BaseException | None = None
        # The first start waits for the fork server to start and load its modules: start
        # from a thread so the caller can work meanwhile. Once the server was started (`warm`), start
        # here: a starter thread would wait for the GIL behind the caller's scans (0.8 s measured).
        # `in_thread`: from a thread all the same (a start before this process loads its modules,
        # `headstart`, while the server may still be loading its own).
        self._starter: threading.Thread | None = None
        if worker_server.running() and not in_thread:
            self._start()
        else:
            self._starter = threading.Thread(target=self._start, name="att-report-worker-start", daemon=True)
            self._starter.start()

    def _start(self) -> None:
        try:
            self._proc.start()
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._start_error = exc
        finally:
            self._send.close()

    def result(self) -> Any:
        if self._starter is not None:
            self._starter.join()
        if self._start_error is not None:
            self.cancel()
            raise ReaderCrashed(f"the reader could not be started ({_short(self._start_error)})")
        proc, recv = self._proc, self._recv
        try:
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise ReaderCrashed(f"the reader took longer than {self._timeout} s and was stopped")
                if recv.poll(min(remaining, 0.5)):
                    try:
                        status, payload, peak_kb, cpu_s = recv.recv()
                    except (EOFError, OSError):
                        proc.join(5)
                        raise ReaderCrashed(_death_message(proc.exitcode)) from None
                    WORKER_USAGE["peak_rss_mb"] = max(WORKER_USAGE["peak_rss_mb"], peak_kb / 1024)
                    WORKER_USAGE["cpu_s"] += cpu_s
                    proc.join(5)
                    if status == "ok":
                        return payload
                    raise payload
                if not proc.is_alive():
                    if recv.poll(0):
                        continue
                    raise ReaderCrashed(_death_message(proc.exitcode))
        finally:
            self.cancel()

    def wait_started(self) -> None:
        """Return once the worker process exists (or failed to start): its arguments have been sent."""
        if self._starter is not None:
            self._starter.join()

    def running(self) -> bool:
        """Whether the worker is (or is about to be) still at work: no result has arrived yet."""
        if self._closed or self._start_error is not None:
            return False
        if self._starter is not None and self._starter.is_alive():
            return True
        return self._proc.is_alive() and not self._recv.poll(0)

    def cancel(self) -> None:
        """Stop the worker (if still running) and release its resources; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._starter is not None:
            self._starter.join()
        proc = self._proc
        if self._start_error is None and proc.is_alive():
            proc.kill()
            proc.join(5)
        self._recv.close()
        try:
            proc.close()
        except ValueError:
            pass


def _death_message(exitcode: int | None) -> str:
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = {"SIGABRT": "aborted (often: out of memory or an internal error)",
                "SIGKILL": "was killed (often: out of memory)",
                "SIGSEGV": "crashed (segmentation fault)"}.get(name, f"died ({name})")
        return f"the reader {hint}"
    return f"the reader process exited unexpectedly (exit code {exitcode})"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:160]
