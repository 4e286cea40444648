"""A large workbook's reader worker: parse at once, load the rest of the reader meanwhile (issue 7).

The fork server preloads only fastexcel (`worker_server`), so
this worker starts within a fraction of a second of the command. It parses
the sheets the reader will read straight away; fastexcel parses without
holding the GIL, so a second thread imports pandas and the readers in the
meantime. Then `untrusted.read_for_transfer` does the rest of the read on
the grids already parsed, exactly as it would after parsing them itself.
This module imports nothing heavy.
"""

from __future__ import annotations

import _thread
from pathlib import Path

#: how long the worker waits, after parsing, for its loader thread (normally done long before)
LOADER_WAIT_S = 5.0


def read_workbook_early(path: Path, agency, rel: str, spill: Path, *, profile=None, kind: str | None = None,
                        limits=None):
    """`untrusted.read_for_transfer(path, ...)`, the workbook's sheets parsed before the readers load."""
    # A bare thread: `threading.Thread.start` waits for the thread to report in, which one that cannot
    # get its stack under a tight memory limit never does. After the parse (seconds, for a workbook
    # this large) this thread waits a bounded time for the loader to finish, so the two never import
    # at once; should the loader never have run, the imports below load the modules themselves.
    loaded = _thread.allocate_lock()
    loaded.acquire()
    digest: dict = {}
    try:
        _thread.start_new_thread(_load_reader, (loaded, Path(path), digest))
        started = True
    except RuntimeError:  # no thread to be had: the imports come after the parse
        started = False
    try:
        parsed = parse_sheets(Path(path), profile.sheet if profile is not None else None)
    except Exception:  # noqa: BLE001 - the reader parses again, meets the same problem and reports it
        parsed = None
    if started:
        loaded.acquire(timeout=LOADER_WAIT_S)
    from att_report.intake.readers import Grids
    from att_report.intake.untrusted import read_for_transfer

    try:  # to arrow only now: that loads pyarrow, which the loader thread may have been loading
        grids = Grids(names=parsed[0], sheets={name: as_grid(sheet) for name, sheet in parsed[1].items()},
                      digest=digest.get("digest"))
    except Exception:  # noqa: BLE001 - no parse, or a failed conversion: the reader starts over
        grids = None
    result = read_for_transfer(path, agency, rel, spill, profile=profile, kind=kind, limits=limits, grids=grids)
    _outlive_the_result(parsed)
    return result


#: parsed sheets a worker leaves to its end (see `_outlive_the_result`)
_LEFT_TO_EXIT: list = []


def _outlive_the_result(parsed) -> None:
    """In a worker, keep the parsed sheets until the process ends instead of freeing them now.

    Freeing a 1M-row sheet's parsed cells (millions of small allocations) takes ~0.4 s, and it
    would come before the result is sent; a worker's process ends once it is sent
    (`worker_server.IN_WORKER`). The memory is held already: the peak does not grow. Outside a
    worker (a direct call) the sheets are freed as usual.
    """
    from att_report.intake import worker_server

    if worker_server.IN_WORKER:
        _LEFT_TO_EXIT.append(parsed)


def parse_sheets(path: Path, wanted: int | str | None) -> tuple[list[str], dict[str, object]]:
    """(sheet names, {name: parsed sheet}) for the sheets `readers._read_workbook` reads (`wanted`: the profile's)."""
    import fastexcel

    reader = fastexcel.read_excel(str(path))
    names = list(reader.sheet_names)
    if isinstance(wanted, int):
        chosen = [names[wanted - 1]] if 1 <= wanted <= len(names) else []
    elif isinstance(wanted, str):
        chosen = [wanted] if wanted in names else []
    else:
        chosen = names
    return names, {name: parse_sheet(reader, name) for name in chosen}


def parse_sheet(reader, name: str):
    """One sheet parsed by fastexcel: all cells as text, no header, no rows skipped (see `as_grid`)."""
    return reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")


def as_grid(sheet) -> tuple:
    """A parsed sheet as the readers take it: (arrow text grid, absolute column indices, visibility).

    Grid row i is Excel row i + 1.
    """
    columns = [c.absolute_index for c in sheet.available_columns()]
    return sheet.to_arrow(), columns, getattr(sheet, "visible", "visible")


def fastexcel_grid(reader, name: str) -> tuple:
    """One sheet as the readers take it (`parse_sheet`, then `as_grid`)."""
    return as_grid(parse_sheet(reader, name))


def _load_reader(loaded, path: Path, digest: dict) -> None:
    """Import the readers, then take the file's digest (the manifest's): both off the parse's path."""
    try:
        import att_report.intake.untrusted  # noqa: F401 - pandas, numpy, the readers
        from att_report.intake.readers import file_digest

        digest["digest"] = file_digest(path)
    except Exception:  # noqa: BLE001 - imported again (and any error raised) by the worker's own thread
        pass
    finally:
        loaded.release()
