"""Read one untrusted agency file: preflight, the reader (contained when odd), cell facts.

Order: the preflight looks at the raw bytes (what the file really is, zip
limits, XML attacks, macros, cell problems) and may refuse the file with a
finding; an odd but acceptable file is read in a worker process so a reader
crash becomes a finding, not the end of the run; the sheet XML then tells
which identifier cells were stored as numbers.

A large workbook (`headstart.PARALLEL_SHEET_BYTES` of sheet XML) takes two cores: the
file-level checks run first as always, then a contained worker reads it
while this process scans its sheets' XML and, from the header in the first
rows, its identifier columns. The verdict is the same as for a small file: a
refusal from the scan discards whatever the worker read.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from att_report.config import AgencyConfig, Limits
from att_report.findings import Finding, Severity
from att_report.intake import headstart, safety
from att_report.intake.early import read_workbook_early
from att_report.intake.profiles import Profile
from att_report.intake.readers import HEADER_SCAN_ROWS, FileRead, field_letters_from_head, file_digest, read_file
from att_report.intake.tables import FileInfo, RawTable
from att_report.threads import run_all

ID_FIELDS = ("record_id", "licence_no", "hs_code")
NUMBER_FIELDS = ("quantity", "value")
#: a number as a number-typed cell shows it (ASCII digits), padded by anything but a word character,
#: sign or point (whitespace of any kind among it: as stripping first would, with no stripped copy)
_LOOKS_NUMERIC = r"^[^\w.+-]*\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[^\w.+-]*$"
#: rows of a large sheet looked at for its header before the reader is done
HEAD_ROWS = HEADER_SCAN_ROWS + 2


def read_untrusted(path: Path, agency: AgencyConfig, rel: str, *, profile: Profile | None,
                   limits: Limits) -> FileRead:
    """Read one agency file safely (see the module docstring); never raises for bad input."""
    return begin_read(path, agency, rel, profile=profile, limits=limits)()


def begin_read(path: Path, agency: AgencyConfig, rel: str, *, profile: Profile | None, limits: Limits,
               worker: bool = True, while_waiting: Callable[[Callable[[], bool]], None] | None = None,
               early: "headstart.HeadStart | None" = None) -> Callable[[], FileRead]:
    """Start reading one file; call the returned function for its `FileRead`.

    A large workbook (with `worker` allowed) is handed to a contained reader
    here and finished later, so the caller can read other files meanwhile;
    anything else is read at once. `while_waiting` runs once the workbook's
    XML is scanned, if its worker is still reading (the caller's chance to
    prepare what comes after the read); it is given a function that says
    whether the worker still reads. A worker `early` started for this
    file is taken over when it reads exactly what one started here would,
    else stopped.
    """
    started = early.claim(path) if early is not None else None
    try:
        return _begin_read(path, agency, rel, profile=profile, limits=limits, worker=worker,
                           while_waiting=while_waiting, started=started)
    finally:
        if started is not None and not started.taken:
            started.stop()


def _begin_read(path: Path, agency: AgencyConfig, rel: str, *, profile: Profile | None, limits: Limits,
                worker: bool, while_waiting: Callable[[Callable[[], bool]], None] | None,
                started: "headstart.Started | None") -> Callable[[], FileRead]:
    pre = safety.preflight(path, limits, agency=agency.name, rel_file=rel, scan_sheets=False)
    if pre.refuse:
        refused = _refused(path, agency, rel, pre)
        return lambda: refused
    kind = pre.kind if pre.kind in ("xlsx", "xlsm", "ods", "csv", "text") else None
    spill = job = None
    if worker and pre.pending and pre.sheet_bytes >= headstart.PARALLEL_SHEET_BYTES:
        if started is not None and started.does(agency, rel, profile, kind, limits):
            started.taken = True
            spill, job = started.spill, started.job
        else:
            try:
                spill = headstart.spill_folder(pre.sheet_bytes)
            except OSError:  # no usable temporary folder: read here, as for a small file
                spill = None
    if spill is not None:
        # the worker parses first and loads the readers meanwhile (`early`): it starts within a moment
        if job is None:
            job = safety.start_contained(read_workbook_early, path, agency, rel, spill, profile=profile, kind=kind,
                                         limits=limits)

        def finish() -> FileRead:
            try:
                numeric: dict[str, tuple[frozenset[str], pd.DataFrame]] = {}
                result = _finish_beside_scan(job, path, agency, rel, pre, profile=profile, limits=limits,
                                             numeric=numeric, while_waiting=while_waiting)
                if isinstance(result, FileRead):
                    _receive_tables(result)
                return _complete(path, agency, rel, pre, kind, profile, limits, result, numeric)
            finally:
                shutil.rmtree(spill, ignore_errors=True)

        return finish
    numeric = _scan_sheets(path, agency, rel, pre, profile=profile, limits=limits)
    done = _complete(path, agency, rel, pre, kind, profile, limits, None, numeric)
    return lambda: done


def _scan_sheets(path: Path, agency: AgencyConfig, rel: str, pre, *, profile: Profile | None,
                 limits: Limits) -> dict[str, tuple[frozenset[str], pd.DataFrame]]:
    """The preflight's pending sheet scans, collecting the identifier columns' number-typed cells.

    The header found in each sheet's first rows says which columns hold
    identifiers; their number-typed cells come from the scan's own pass over
    the sheet XML (`{sheet: (letters, cells)}`), so the cell facts need not
    inflate and search the sheet a second time (~0.2 s per 80k rows).
    """
    if not pre.pending or pre.refuse:
        return {}
    wanted = ID_FIELDS + (NUMBER_FIELDS if _decimal(profile, agency) == "," else ())
    letters: dict[str, frozenset[str]] = {}
    for name in pre.sheets:
        head = safety.head_cells(path, name, HEAD_ROWS if not (profile and profile.header_row)
                                 else max(HEAD_ROWS, profile.header_row + 2))
        fields = field_letters_from_head(head, agency, rel, sheet=name, profile=profile)
        letters[name] = frozenset(fields[f] for f in wanted if f in fields)
    safety.complete_preflight(path, pre, limits, agency=agency.name, rel_file=rel, numeric_letters=letters)
    return {name: (letters[name], scan.numeric) for name, scan in pre.sheets.items()
            if scan.numeric is not None and name in letters}


def _complete(path: Path, agency: AgencyConfig, rel: str, pre, kind: str | None, profile: Profile | None,
              limits: Limits, result: "FileRead | _Crash | None",
              numeric: dict[str, tuple[frozenset[str], pd.DataFrame]]) -> FileRead:
    """After the preflight: the reader (unless a worker already read the file), then the cell facts."""
    if pre.refuse:
        return _refused(path, agency, rel, pre)
    if result is None:
        refused = frozenset(name for name, scan in pre.sheets.items() if scan.refuse)
        try:
            if safety.contain_policy(pre):
                result = safety.run_contained(read_file, path, agency, rel, profile=profile, kind=kind,
                                              skip_sheets=refused, limits=limits)
            else:
                result = read_file(path, agency, rel, profile=profile, limits=limits, kind=kind,
                                   skip_sheets=refused)
        except safety.ReaderCrashed as exc:
            return _crashed(path, agency, rel, pre, exc)
    if isinstance(result, _Crash):
        return result.read
    # the preflight names hidden sheets from the workbook XML; keep one note per sheet
    noted = {(f.code, f.sheet) for f in pre.findings}
    result.findings = [*pre.findings, *(f for f in result.findings if (f.code, f.sheet) not in noted)]
    if kind in ("xlsx", "xlsm"):
        for table in result.tables:
            table.date1904 = pre.date1904
            _attach_sheet_facts(path, table, pre, agency, profile, limits, numeric.get(table.sheet))
    elif kind == "ods":
        for table in result.tables:
            _attach_ods_facts(table, pre)
    return result


def _attach_ods_facts(table: RawTable, pre) -> None:
    """Cell problems (merged, error, formula cells) and hidden rows from an ODS sheet's scan."""
    scan = pre.sheet(table.sheet)
    if scan is None:
        return
    table.hidden_rows = sorted(set(table.hidden_rows) | set(scan.hidden_rows))
    problems = [p for p in (table.cell_problems, scan.cell_problems) if p is not None and not p.empty]
    if problems:
        table.cell_problems = pd.concat(problems, ignore_index=True)


def _finish_beside_scan(job: "safety.ContainedJob", path: Path, agency: AgencyConfig, rel: str, pre, *,
                        profile: Profile | None, limits: Limits,
                        numeric: dict[str, tuple[frozenset[str], pd.DataFrame]],
                        while_waiting: Callable[[Callable[[], bool]], None] | None = None,
                        ) -> "FileRead | _Crash | None":
    """Scan a large workbook's sheet XML here while the contained worker `job` reads it.

    The worker is contained (memory and time limits), so a hostile sheet the
    scan would have refused can only make it fail, never this process. When
    the scan refuses the file or a sheet, the worker's read is discarded
    (None: the caller reads again, skipping the refused sheets, exactly as for
    a small file); so it is when the worker failed on a file the scan found
    honest (the caller reads it in-process, as before workers). While the
    worker still reads, the header found in the sheet's first rows says which
    columns hold identifiers, and their number-typed cells are collected in
    the scan's pass: `numeric[sheet] = (letters, cells)`.
    """
    try:
        numeric.update(_scan_sheets(path, agency, rel, pre, profile=profile, limits=limits))
        if pre.refuse or any(scan.refuse for scan in pre.sheets.values()):
            return None  # the worker is stopped on the way out
        # An honest file (by the scan) that the worker could not read is read here, as a small
        # one would be: a very large sheet may simply need more memory than a worker may use.
        honest = not safety.contain_policy(pre)
        if while_waiting is not None and job.running():
            while_waiting(job.running)
        try:
            result = job.result()
        except safety.ReaderCrashed as exc:
            return None if honest else _Crash(_crashed(path, agency, rel, pre, exc))
        return None if honest and not result.info.readable else result
    finally:
        job.cancel()


def read_for_transfer(path: Path, agency: AgencyConfig, rel: str, spill: Path, **kwargs) -> FileRead:
    """`read_file` in a worker, its tables' text columns written as Arrow IPC files in `spill`.

    Sending a 1M-row frame back through the pipe means pickling, copying and
    unpickling a few hundred MB; an Arrow file is written once and mapped
    into the caller's memory as it is (`_receive_tables`).
    """
    import pyarrow as pa

    result = read_file(path, agency, rel, **kwargs)
    for i, table in enumerate(result.tables):
        data = table.data
        if not all(isinstance(dtype, pd.StringDtype) for dtype in data.dtypes):
            continue  # not all text (never expected from the readers): sent as it is
        arrays = [pa.array(data.iloc[:, j].array) for j in range(data.shape[1])]
        names = [f"c{j}" for j in range(data.shape[1])]
        target = spill / f"table{i}.arrow"
        try:
            with pa.OSFile(str(target), "wb") as sink:
                batch = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
                with pa.ipc.new_file(sink, batch.schema) as writer:
                    writer.write_table(batch)
        except OSError:  # e.g. a full temporary folder: the table goes back through the pipe
            target.unlink(missing_ok=True)
            continue
        table.data = _Spilled(path=str(target), columns=list(data.columns), rows=len(data),
                              dtypes=[str(d) for d in data.dtypes])
    return result


@dataclass
class _Spilled:
    """Where a worker left a table's data (see `read_for_transfer`)."""

    path: str
    columns: list
    rows: int
    dtypes: list[str]


def _receive_tables(result: FileRead) -> None:
    """Map the Arrow files a worker wrote back into the tables' frames (no copy)."""
    import pyarrow as pa

    for table in result.tables:
        spilled = table.data
        if not isinstance(spilled, _Spilled):
            continue
        # the mapping lives as long as the columns use it (the file may be deleted meanwhile)
        arrow = pa.ipc.open_file(pa.memory_map(spilled.path)).read_all()
        columns = {j: pd.arrays.ArrowStringArray(arrow.column(j)) for j in range(arrow.num_columns)}
        frame = pd.DataFrame(columns, index=pd.RangeIndex(spilled.rows))
        frame.columns = spilled.columns
        frame = frame.astype(dict(zip(spilled.columns, spilled.dtypes))) if spilled.columns else frame
        table.data = frame


@dataclass
class _Crash:
    """The worker died: `read` is the file's final result (its findings say so)."""

    read: FileRead


def _refused(path: Path, agency: AgencyConfig, rel: str, pre) -> FileRead:
    sha, size, mtime = file_digest(path)
    info = FileInfo(agency=agency.name, path=rel, sha256=sha, size=size, mtime=mtime, readable=False)
    return FileRead(info=info, findings=list(pre.findings))


def _crashed(path: Path, agency: AgencyConfig, rel: str, pre, exc: Exception) -> FileRead:
    sha, size, mtime = file_digest(path)
    info = FileInfo(agency=agency.name, path=rel, sha256=sha, size=size, mtime=mtime, readable=False)
    crash = Finding(Severity.ERROR, "file-unreadable",
                    f"The file could not be read: the reader stopped ({exc}). Open it in Excel, save it again "
                    "as .xlsx, and send it again.", agency=agency.name, file=rel).with_id(agency.name, rel)
    return FileRead(info=info, findings=[*pre.findings, crash])


def _attach_sheet_facts(path: Path, table: RawTable, pre, agency: AgencyConfig, profile: Profile | None,
                        limits: Limits, numeric: tuple[frozenset[str], pd.DataFrame] | None = None) -> None:
    """Cell problems and hidden rows from the preflight; number-typed cells from the sheet XML.

    `numeric` = (letters, cells): number-typed cells of those columns, already
    looked up (`_scan_sheets`); used when they cover every column needed.
    """
    scan = pre.sheet(table.sheet)
    problems = [table.cell_problems] if table.cell_problems is not None else []
    if scan is not None:
        problems.append(scan.cell_problems)
        table.hidden_rows = sorted(set(table.hidden_rows) | set(scan.hidden_rows))
    # identifiers stored as numbers (only looked up when a column has digit-only values); each column's
    # look is pyarrow's, without the GIL: in threads (at 1M rows, the first pass over the worker's data)
    ids = [name for name in ID_FIELDS if table.field_columns.get(name)]
    looks = run_all([(_any_looks_numeric, (table.data[table.field_columns[name]],)) for name in ids],
                    name="att-report-facts")
    id_letters = {table.column_letters[table.field_columns[name]]: name for name, look in zip(ids, looks) if look}
    decimal = _decimal(profile, agency)
    number_letters = {}
    if decimal == ",":
        # numbers typed as numbers are not text: the decimal-comma setting must not touch them
        for name in NUMBER_FIELDS:
            header = table.field_columns.get(name)
            if header:
                number_letters[table.column_letters[header]] = name
    # Excel's phantom 29 Feb 1900 (serial 60) reaches us as 1900-02-28: look at the stored serial
    date_letters = {}
    for name in ("date", "valid_until"):
        header = table.field_columns.get(name)
        if header and table.data[header].str.startswith("1900-02-28", na=False).any():
            date_letters[table.column_letters[header]] = name
    letters = sorted({*id_letters, *number_letters, *date_letters})
    if letters:
        if numeric is not None and set(letters) <= numeric[0]:
            cells = numeric[1][numeric[1]["column"].isin(letters)].reset_index(drop=True)
        else:
            cells = safety.numeric_cells(path, table.sheet, letters, limits)
        ids = cells[cells["column"].isin(list(id_letters))]
        if not ids.empty:
            lost = ids["digits"] > 15
            ids = ids.assign(kind=np.where(lost, "identifier-precision-lost", "number-identifier"))
            problems.append(ids[["excel_row", "column", "kind", "detail"]])
        phantom = cells[cells["column"].isin(list(date_letters))]
        phantom = phantom[phantom["detail"].str.fullmatch(r"60(?:\.0*)?")]
        if not phantom.empty:
            problems.append(phantom.assign(kind="excel-phantom-date")[["excel_row", "column", "kind", "detail"]])
        nums = cells[cells["column"].isin(list(number_letters))]
        for letter, name in number_letters.items():
            rows = nums.loc[nums["column"] == letter, "excel_row"].to_numpy()
            table.typed_numbers[name] = np.isin(np.asarray(table.excel_rows), rows)
    problems = [p for p in problems if p is not None and not p.empty]
    if problems:
        table.cell_problems = pd.concat(problems, ignore_index=True)


def _any_looks_numeric(column: pd.Series) -> bool:
    """Does any value look like a number as a number-typed cell gives it (ASCII digits), spaces aside?

    Only a gate before looking the column's cells up in the sheet XML, which
    decides: it may let through a little more than stripped numbers (e.g.
    "(12)"), never less. On arrow-backed text pyarrow's kernels run directly,
    with no stripped copy of the column: the build waits for this on a
    million rows (issue 7; 0.11 -> 0.02 s a column).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    data = getattr(column.array, "_pa_array", None)
    if isinstance(data, (pa.Array, pa.ChunkedArray)) and (pa.types.is_string(data.type)
                                                         or pa.types.is_large_string(data.type)):
        return bool(pc.any(pc.match_substring_regex(data, _LOOKS_NUMERIC)).as_py())
    # RE2's \w and \d are ASCII: so are Python's with re.ASCII
    return bool(column.astype("string").str.fullmatch(_LOOKS_NUMERIC, flags=re.ASCII, na=False).any())


def _decimal(profile: Profile | None, agency: AgencyConfig) -> str:
    """The decimal separator of this file's text numbers: the profile's, else the agency's."""
    return (profile.decimal if profile and profile.decimal else None) or agency.decimal
