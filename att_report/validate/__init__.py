"""Validate stage: run the intake rules and mark rows with an error as invalid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.findings import Finding, Severity
from att_report.intake.tables import RawTable
from att_report.rules import RuleContext, run_rules
from att_report.validate import rules as _rules  # noqa: F401  (registers the intake rules)
from att_report.validate import schema as _schema  # noqa: F401

#: what the reader or preflight saw in a cell -> (code, severity, plain-language message)
CELL_PROBLEMS = {
    "error-cell": ("cell-error", Severity.ERROR,
                   "Cell {cell} holds the error {detail}, not a value. Correct the formula or type the value."),
    "formula-no-value": ("formula-no-value", Severity.ERROR,
                         "Cell {cell} holds a formula with no saved result (the file was written by a program that "
                         "does not calculate). Open and save it in Excel, or type the value."),
    "merged": ("merged-cells", Severity.ERROR,
               "Cell {cell} is covered by merged cells {detail}; its value is blank in the file. Unmerge the cells "
               "and repeat the value on each row."),
    "undecodable": ("text-undecodable", Severity.ERROR,
                    "Line {row} has {detail}; its text could not be read. Save the file as UTF-8, or set the "
                    "agency's encoding in att-report.toml."),
    "short-row": ("csv-short-row", Severity.ERROR,
                  "Line {row} has {detail}: values may be in the wrong columns. Check the separators on that line."),
    "extra-fields": ("csv-extra-fields", Severity.ERROR,
                     "Line {row} has {detail}: values may be in the wrong columns (an unquoted separator?)."),
    "number-identifier": ("identifier-as-number", Severity.WARNING,
                          "Cell {cell} holds the identifier {detail} as a number, so leading zeros may have been "
                          "lost. Format the column as Text and type the number as issued."),
    "identifier-precision-lost": ("identifier-precision-lost", Severity.ERROR,
                                  "Cell {cell} holds an identifier of more than 15 digits as a number; Excel "
                                  "has already changed its last digits ({detail}). Retype it as text."),
    "excel-phantom-date": ("date-invalid", Severity.ERROR,
                           "Cell {cell} holds Excel's date serial 60, '29 February 1900', a day that did not exist "
                           "(an old Excel bug). Type the intended date as YYYY-MM-DD."),
    "control-characters": ("control-characters-removed", Severity.INFO,
                           "Cell {cell} contained control characters that spreadsheets cannot hold; they were "
                           "removed."),
}


def cell_problem_findings(tables: list[RawTable], records: pd.DataFrame) -> pd.DataFrame:
    """Findings for problems the reader/preflight saw in cells, citing sheet, row and column."""
    out = []
    for table in tables:
        # hidden rows are noted once, by the preflight, naming them (safety._sheet_notes)
        problems = table.cell_problems
        if problems is None or problems.empty:
            continue
        header_of = {letter: header for header, letter in table.column_letters.items()}
        field_of = {header: name for name, header in table.field_columns.items()}
        for p in problems.itertuples(index=False):
            code, severity, template = CELL_PROBLEMS.get(
                p.kind, ("cell-problem", Severity.ERROR, "Cell {cell}: {detail}."))
            header = header_of.get(p.column or "")
            field = field_of.get(header, header or "") if header else ""
            if p.column and not field and severity == Severity.ERROR:
                severity = Severity.WARNING  # a column att-report does not use
            cell = f"{p.column}{p.excel_row}" if p.column else f"row {p.excel_row}"
            out.append(Finding(severity, code, template.format(cell=cell, row=p.excel_row, detail=p.detail),
                               agency=table.agency, file=table.file, sheet=table.sheet, row=int(p.excel_row),
                               field=field, value=str(p.detail))
                       .with_id(table.agency, table.file, table.sheet, int(p.excel_row), p.column, code))
    return fnd.to_frame(out)


def validate_records(records: pd.DataFrame, tables: list[RawTable], config,
                     extra_findings: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the intake rules; rows with an error finding become invalid.

    Returns (records with valid/disposition set, findings). An invalid row's
    disposition_ref is its first error finding's id.
    """
    ctx = RuleContext(config=config, extra={"tables": tables})
    found = fnd.concat([run_rules("intake", records, ctx), cell_problem_findings(tables, records),
                        extra_findings if extra_findings is not None else None])
    errors = found[(found["severity"] == Severity.ERROR) & found["row"].notna()]
    key = ["src_agency", "src_file", "src_sheet", "src_row"]
    if not errors.empty:
        first = (errors.rename(columns={"agency": "src_agency", "file": "src_file", "sheet": "src_sheet",
                                        "row": "src_row"})
                 .astype({"src_row": "int64"})
                 .sort_values("finding_id").drop_duplicates(key)[[*key, "finding_id"]])
        # only rows on an Excel row that has an error can match: merge those, not every row
        near = np.flatnonzero(records["src_row"].isin(first["src_row"].unique()).to_numpy(dtype=bool))
        left = records[key].iloc[near].astype({"src_agency": object, "src_file": object, "src_sheet": object})
        right = first.astype({"src_agency": object, "src_file": object, "src_sheet": object})
        hit = left.merge(right, on=key, how="left")["finding_id"]  # a left merge keeps left's order
        matched = hit.notna().to_numpy()
        bad = np.zeros(len(records), dtype=bool)
        bad[near[matched]] = True
        records = records.copy(deep=False)  # copy-on-write: only the columns changed below are copied
        records.loc[bad, "valid"] = False
        records.loc[bad, "disposition"] = "invalid"
        records.loc[bad, "disposition_ref"] = hit[matched].to_numpy()
    return records, found
