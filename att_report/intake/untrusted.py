"""Read one untrusted agency file: preflight, the reader (contained when odd), cell facts.

Order: the preflight looks at the raw bytes (what the file really is, zip
limits, XML attacks, macros, cell problems) and may refuse the file with a
finding; an odd but acceptable file is read in a worker process so a reader
crash becomes a finding, not the end of the run; the sheet XML then tells
which identifier cells were stored as numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from att_report.config import AgencyConfig, Limits
from att_report.findings import Finding, Severity
from att_report.intake import safety
from att_report.intake.profiles import Profile
from att_report.intake.readers import FileRead, file_digest, read_file
from att_report.intake.tables import FileInfo, RawTable

ID_FIELDS = ("record_id", "licence_no", "hs_code")
NUMBER_FIELDS = ("quantity", "value")
_LOOKS_NUMERIC = r"^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$"


def read_untrusted(path: Path, agency: AgencyConfig, rel: str, *, profile: Profile | None,
                   limits: Limits) -> FileRead:
    pre = safety.preflight(path, limits, agency=agency.name, rel_file=rel)
    if pre.refuse:
        sha, size, mtime = file_digest(path)
        info = FileInfo(agency=agency.name, path=rel, sha256=sha, size=size, mtime=mtime, readable=False)
        return FileRead(info=info, findings=list(pre.findings))
    kind = pre.kind if pre.kind in ("xlsx", "xlsm", "ods", "csv", "text") else None
    refused = frozenset(name for name, scan in pre.sheets.items() if scan.refuse)
    try:
        if safety.contain_policy(pre):
            result = safety.run_contained(read_file, path, agency, rel, profile=profile, kind=kind,
                                          skip_sheets=refused, limits=limits)
        else:
            result = read_file(path, agency, rel, profile=profile, limits=limits, kind=kind, skip_sheets=refused)
    except safety.ReaderCrashed as exc:
        sha, size, mtime = file_digest(path)
        info = FileInfo(agency=agency.name, path=rel, sha256=sha, size=size, mtime=mtime, readable=False)
        crash = Finding(Severity.ERROR, "file-unreadable",
                        f"The file could not be read: the reader stopped ({exc}). Open it in Excel, save it again "
                        "as .xlsx, and send it again.", agency=agency.name, file=rel).with_id(agency.name, rel)
        return FileRead(info=info, findings=[*pre.findings, crash])
    # the preflight names hidden sheets from the workbook XML; keep one note per sheet
    noted = {(f.code, f.sheet) for f in pre.findings}
    result.findings = [*pre.findings, *(f for f in result.findings if (f.code, f.sheet) not in noted)]
    if kind in ("xlsx", "xlsm"):
        for table in result.tables:
            table.date1904 = pre.date1904
            _attach_sheet_facts(path, table, pre, agency, profile, limits)
    return result


def _attach_sheet_facts(path: Path, table: RawTable, pre, agency: AgencyConfig, profile: Profile | None,
                        limits: Limits) -> None:
    """Cell problems and hidden rows from the preflight; number-typed cells from the sheet XML."""
    scan = pre.sheet(table.sheet)
    problems = [table.cell_problems] if table.cell_problems is not None else []
    if scan is not None:
        problems.append(scan.cell_problems)
        table.hidden_rows = sorted(set(table.hidden_rows) | set(scan.hidden_rows))
    # identifiers stored as numbers (only looked up when a column has digit-only values)
    id_letters = {}
    for name in ID_FIELDS:
        header = table.field_columns.get(name)
        if header and table.data[header].str.strip().str.fullmatch(_LOOKS_NUMERIC, na=False).any():
            id_letters[table.column_letters[header]] = name
    decimal = (profile.decimal if profile and profile.decimal else None) or agency.decimal
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
