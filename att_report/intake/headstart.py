"""Start reading the largest workbook first thing, before this process loads pandas (issue 7).

A large customs workbook takes the build most of its time to parse, on one
core, and nothing else can start before its rows arrive. The command's own
start (its modules, pandas, the schema: about a second) need not come
first: as soon as the configuration is read, `head_start` hands the
workbook the read would give a worker (`untrusted.begin_read`: the largest
workbook, when its sheet XML is large; `reading_order`) to the same contained worker, with the
same arguments, and this process loads its modules meanwhile on the other
core.

Nothing is decided here: when the read reaches the file, the preflight
runs as always, and the worker is taken over only when the read would have
started exactly this one (same file, agency, profile, kind and limits);
otherwise, for a file it refuses or reads differently, it is stopped and
its work thrown away. A file the head start does not pick is read as
before. Light on imports: the configuration, the profiles, the sniffing
and the contained workers only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from att_report.config import AgencyConfig, Config, Limits
from att_report.intake.contained import ContainedJob
from att_report.intake.early import read_workbook_early
from att_report.intake.profiles import Profile

#: Workbooks whose sheet XML is at least this large (uncompressed) are read in a
#: contained worker while this process scans the XML: two cores instead of one
#: for the two slowest steps of intake (measured: 1M rows, 780 MB of XML, the
#: read stage went from ~28 s to the plain read's ~18 s). Smaller files are not
#: worth the worker's start-up and the tables' trip back (`untrusted.begin_read`).
PARALLEL_SHEET_BYTES = 48 * 1024 * 1024


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def reading_order(paths: list[Path]) -> list[int]:
    """Positions of `paths`, the first one for the worker: the workbooks a worker would read
    (`worker_sized`), most sheet XML first, then the other files, largest first (ties in the given order).

    A large csv is read in this process whatever its size, so a worker-sized
    workbook beside it (e.g. the licensing register) goes first and is read by
    the worker meanwhile, instead of after it.
    """
    sized = [worker_sized(path) for path in paths]
    return sorted(range(len(paths)), key=lambda i: (-sized[i], -file_size(paths[i]), i))


@dataclass
class Started:
    """A worker the head start started: its job, its spill folder, and the read it does."""

    job: ContainedJob
    spill: Path
    agency: AgencyConfig
    rel: str
    profile: Profile | None
    kind: str
    limits: Limits
    #: set by the read that takes the worker over (it then stops it and removes the spill itself)
    taken: bool = False

    def does(self, agency: AgencyConfig, rel: str, profile: Profile | None, kind: str | None,
             limits: Limits) -> bool:
        """Whether this worker reads exactly what `begin_read` would now ask a worker to read."""
        return (self.agency, self.rel, self.profile, self.kind, self.limits) == (agency, rel, profile, kind, limits)

    def stop(self) -> None:
        self.job.cancel()
        shutil.rmtree(self.spill, ignore_errors=True)


class HeadStart:
    """The workers started before the read (at most one), until the read claims them."""

    def __init__(self) -> None:
        self._started: dict[Path, Started] = {}

    def claim(self, path: Path) -> Started | None:
        """The worker started for `path`, now the caller's to use or `stop` (None: there is none)."""
        return self._started.pop(Path(path), None)

    def close(self) -> None:
        """Stop every worker nobody claimed (e.g. the run failed before its read)."""
        while self._started:
            self._started.popitem()[1].stop()

    def begin(self, config: Config) -> None:
        from att_report.intake.profiles import load_profile
        from att_report.intake.sniff import sniff
        from att_report.workspace import discover_files, relative_path

        found = discover_files(config)
        jobs = [(path, agency) for agency in config.agencies for path in found.get(agency.name, [])]
        if not jobs:
            return
        path, agency = jobs[reading_order([p for p, _ in jobs])[0]]
        sheet_bytes = worker_sized(path)
        if not sheet_bytes:
            return
        kind = sniff(path)
        profile = load_profile(config.root, agency.profile) if agency.profile else None
        rel = relative_path(config, path)
        spill = spill_folder(sheet_bytes)
        try:
            # started from a thread: the fork server may still be loading, and this process has its
            # own modules to load meanwhile
            job = ContainedJob(read_workbook_early, (path, agency, rel, spill), {"profile": profile, "kind": kind},
                               config.limits, in_thread=True)
        except BaseException:
            shutil.rmtree(spill, ignore_errors=True)
            raise
        self._started[Path(path)] = Started(job=job, spill=spill, agency=agency, rel=rel, profile=profile,
                                            kind=kind, limits=config.limits)


#: where a worker's tables are left for this process (`untrusted.read_for_transfer`): memory, when
#: there is room, rather than the disk's page cache (no write-back to the disk of a file deleted soon)
SHARED_MEMORY = Path("/dev/shm")


def spill_folder(sheet_bytes: int) -> Path:
    """A new folder for a worker's tables: in shared memory when it has room for `sheet_bytes` (the
    tables are smaller than their sheets' XML), else in the temporary folder. OSError: neither."""
    try:
        free = os.statvfs(SHARED_MEMORY)
        if free.f_bavail * free.f_frsize >= 2 * sheet_bytes and os.access(SHARED_MEMORY, os.W_OK):
            return Path(tempfile.mkdtemp(prefix="att-report-read-", dir=SHARED_MEMORY))
    except OSError:  # no shared memory folder here (or none usable): the temporary folder
        pass
    return Path(tempfile.mkdtemp(prefix="att-report-read-"))


def worker_sized(path: Path) -> int:
    """The sheet XML bytes of a workbook large enough for a reader worker (`PARALLEL_SHEET_BYTES`), else 0.

    What the read decides after its preflight (`untrusted.begin_read`), told
    from the file's first bytes and zip directory only.
    """
    from att_report.intake.sniff import SUFFIXES, sniff

    kind = sniff(path)
    if kind not in ("xlsx", "xlsm") or path.suffix.lower() not in SUFFIXES[kind]:
        return 0
    sheet_bytes = sheet_xml_bytes(path)
    return sheet_bytes if sheet_bytes >= PARALLEL_SHEET_BYTES else 0


def read_weight(path: Path) -> int:
    """How much reading a file costs, roughly: a workbook's sheet XML bytes, else the file's size."""
    return sheet_xml_bytes(path) or file_size(path)


def sheet_xml_bytes(path: Path) -> int:
    """Uncompressed size of the workbook's worksheet parts, from the zip directory (0: not a zip)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist()
                       if i.filename.lower().startswith("xl/worksheets/") and i.filename.lower().endswith(".xml"))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError):
        return 0


@contextmanager
def head_start(config: Config) -> Iterator[HeadStart]:
    """Start the largest workbook's worker now (if the read would start one); stop it unless claimed."""
    early = HeadStart()
    try:
        try:
            early.begin(config)
        except Exception:  # noqa: BLE001 - only ever a head start: the read starts its worker itself
            early.close()
        yield early
    finally:
        early.close()
