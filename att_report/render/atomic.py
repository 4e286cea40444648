"""Atomic outputs: all files of a build appear together, or none does.

Renderers write into a hidden staging folder inside the output folder (same
file system, so `os.replace` is an atomic rename). Only when the whole build
succeeded are the files moved into place, one `os.replace` each, with
SIGINT/SIGTERM held back for those few renames. A failure, Ctrl-C or SIGTERM
removes the staging folder and leaves the previous outputs untouched. A
build killed outright (SIGKILL, power loss) leaves a staging folder behind;
the next run removes it (its owner process is gone).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator

STAGING_PREFIX = ".att-report-staging-"
OWNER_FILE = ".owner"


class BuildInterrupted(BaseException):
    """SIGTERM arrived during a build (BaseException: like KeyboardInterrupt, not an ordinary error)."""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def clean_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging folders left by builds that were killed; return what was removed."""
    removed = []
    if not out_dir.is_dir():
        return removed
    for entry in sorted(out_dir.glob(STAGING_PREFIX + "*")):
        if not entry.is_dir():
            continue
        try:
            pid = int((entry / OWNER_FILE).read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid == os.getpid() or _pid_alive(pid):
            continue  # a build still running (here or in another process)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception while staging, so cleanup runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise BuildInterrupted(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM during the final renames (delivered right after)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _staged_files(staging: Path) -> list[Path]:
    return sorted(p for p in staging.rglob("*") if p.is_file() and p.name != OWNER_FILE)


@contextlib.contextmanager
def atomic_outputs(out_dir: Path) -> Iterator[Path]:
    """Yield a staging folder; on success move every file in it into `out_dir`.

    Relative paths are kept (a file staged as `sub/x.csv` lands in
    `out_dir/sub/x.csv`). On any exception, KeyboardInterrupt or SIGTERM the
    staging folder is removed, the previous outputs stay as they were, and
    the exception propagates.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    try:
        (staging / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        with _sigterm_raises():
            yield staging
            files = _staged_files(staging)
            # make sure the bytes are on disk before the renames publish them
            for path in files:
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        with _signals_held():
            for path in files:
                target = out_dir / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
