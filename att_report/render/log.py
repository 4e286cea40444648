"""The discrepancy log: `discrepancy_log_<YEAR>.csv` and `discrepancy_log_<YEAR>.xlsx`.

Render only: the findings (with decisions) and the row accounting are
computed before. The xlsx has a `Summary` sheet (counts by severity, code
and agency; row accounting per file with totals) and a `Findings` sheet (one
row per finding, filterable, frozen header; at most `FINDINGS_SHEET_MAX_ROWS`,
errors first, with a link to the csv, which always has them all). It is written with XlsxWriter
in constant-memory mode, every text cell as a string (never a formula), and
saved deterministically (same findings -> same bytes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from att_report import findings as fnd
from att_report.findings import LOG_FIELDS, Severity
from att_report.render.xlsxio import EXCEL_CELL_LIMIT, clean_text, save_xlsxwriter, write_rows
from att_report.schema import DISPOSITIONS

#: Findings sheet column widths (characters), in LOG_FIELDS order.
WIDTHS = {
    "finding_id": 16, "severity": 9, "code": 26, "message": 70, "agency": 16, "file": 32, "sheet": 12,
    "row": 7, "field": 14, "value": 22, "related": 40, "decision": 10, "decision_note": 40,
}
ACCOUNTING_COLUMNS = ("agency", "path", "rows_read", *DISPOSITIONS)
#: Most findings the workbook's Findings sheet lists (errors first); the csv beside it always
#: has every one. A sheet holds 1,048,576 rows at most, and a million styled rows take Excel
#: and the build minutes (issue 7: large detail tables as csv beside the workbook).
FINDINGS_SHEET_MAX_ROWS = 100_000
SEVERITIES = (str(Severity.ERROR), str(Severity.WARNING), str(Severity.INFO))


def log_names(year: int) -> tuple[str, str]:
    """File names of the log: (xlsx, csv)."""
    return f"discrepancy_log_{year}.xlsx", f"discrepancy_log_{year}.csv"


def write_log_csv(findings: pd.DataFrame, path: Path | str) -> None:
    """The log as csv: exactly LOG_FIELDS, formula-like text neutralised, deterministic order."""
    fnd.write_csv(fnd.sort_frame(findings), Path(path), LOG_FIELDS)


def _cell_text(value: object) -> str:
    """Text for one xlsx cell; over-long text (a huge `related` list) is cut with a pointer to the csv."""
    text = clean_text(value)
    if len(text) > EXCEL_CELL_LIMIT:
        keep = EXCEL_CELL_LIMIT - 80
        text = text[:keep] + f" ... ({len(text) - keep} more characters: see the csv log)"
    return text


def _column(frame: pd.DataFrame, name: str) -> list:
    """One Findings column as cell values: text cleaned once per distinct value ("" = no cell)."""
    if name == "row":
        rows = frame["row"].astype("Int64")
        values = np.asarray(rows.to_numpy(dtype="int64", na_value=0), dtype=object)  # Python ints
        values[rows.isna().to_numpy()] = None
        return values.tolist()
    codes, uniques = pd.factorize(frame[name].astype("string").fillna(""), use_na_sentinel=False)
    cleaned = np.empty(len(uniques), dtype=object)
    cleaned[:] = [_cell_text(u) for u in uniques]
    return cleaned[codes].tolist()


def _too_many(listed: int, not_listed: int, csv_name: str) -> str:
    return (f"{listed + not_listed:,} findings: the first {listed:,} (errors first) are listed in the Findings "
            f"sheet, all of them in {csv_name} (in the same folder as this workbook).")


def _summary_tables(findings: pd.DataFrame) -> dict[str, pd.DataFrame]:
    f = findings.assign(
        severity=findings["severity"].astype(str),
        decided=findings["decision"].astype("string").fillna("").str.strip() != "",
        agency=findings["agency"].astype("string").fillna("").replace("", "(workspace)"),
    )
    sev = pd.DataFrame({"severity": list(SEVERITIES)})
    counts = f.groupby("severity").agg(findings=("code", "size"), decided=("decided", "sum"))
    sev = sev.merge(counts, left_on="severity", right_index=True, how="left").fillna(0)
    sev[["findings", "decided"]] = sev[["findings", "decided"]].astype(int)
    sev["unresolved"] = sev["findings"] - sev["decided"]

    if f.empty:
        by_code = pd.DataFrame(columns=["code", "severity", "findings", "decided", "unresolved"])
        by_agency = pd.DataFrame(columns=["agency", *SEVERITIES, "total"])
    else:
        by_code = (f.groupby(["code", "severity"]).agg(findings=("code", "size"), decided=("decided", "sum"))
                   .reset_index())
        by_code["unresolved"] = by_code["findings"] - by_code["decided"]
        order = by_code["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(9)
        by_code = (by_code.assign(_o=order).sort_values(["_o", "code"], kind="mergesort")
                   .drop(columns="_o").reset_index(drop=True))
        by_agency = (f.groupby(["agency", "severity"]).size().unstack(fill_value=0)
                     .reindex(columns=list(SEVERITIES), fill_value=0))
        by_agency["total"] = by_agency.sum(axis=1)
        by_agency = by_agency.reset_index().sort_values("agency", kind="mergesort").reset_index(drop=True)
    return {"severity": sev, "code": by_code, "agency": by_agency}


def write_log_xlsx(path: Path | str, findings: pd.DataFrame, accounting: pd.DataFrame, year: int) -> None:
    """The log workbook: `Summary` and `Findings` sheets (see the module docstring).

    `accounting` is `render.manifest.accounting_table(records)`.
    """
    findings = fnd.sort_frame(findings)
    tables = _summary_tables(findings)
    listed = findings.iloc[:FINDINGS_SHEET_MAX_ROWS]
    columns = {name: _column(listed, name) for name in LOG_FIELDS}
    n = len(listed)
    not_listed = len(findings) - n
    csv_name = log_names(year)[1]

    def build(wb) -> None:
        title = wb.add_format({"bold": True, "font_size": 14})
        head = wb.add_format({"bold": True, "bg_color": "#DDE4EE", "text_wrap": True, "valign": "top",
                              "border": 1})
        bold = wb.add_format({"bold": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        top = wb.add_format({"valign": "top"})
        total_fmt = wb.add_format({"bold": True, "top": 1})

        ws = wb.add_worksheet("Summary")
        ws.set_column(0, 0, 30)
        ws.set_column(1, 1, 40)
        ws.set_column(2, 8, 11)
        r = 0
        ws.write_string(r, 0, f"Discrepancy log {year}", title)
        r += 1
        ws.write_string(r, 0, "All intake and reconciliation findings with the NPC's decisions; "
                              "row accounting per input file (every row read has one disposition).")
        r += 1
        if not_listed:
            link = wb.add_format({"font_color": "blue", "underline": 1, "bold": True})
            ws.write_url(r, 0, "external:" + csv_name, link, string=_too_many(n, not_listed, csv_name))
            r += 1
        r += 1

        def table(label: str, frame: pd.DataFrame, headers: list[str], total: bool = False) -> None:
            nonlocal r
            ws.write_string(r, 0, label, bold)
            r += 1
            for c, h in enumerate(headers):
                ws.write_string(r, c, h, head)
            r += 1
            for values in frame[headers].itertuples(index=False):  # summary tables are small
                for c, v in enumerate(values):
                    if isinstance(v, str):
                        ws.write_string(r, c, _cell_text(v))
                    else:
                        ws.write_number(r, c, int(v))
                r += 1
            if total:
                ws.write_string(r, 0, "Total", total_fmt)
                for c, h in enumerate(headers[1:], start=1):
                    if pd.api.types.is_numeric_dtype(frame[h]):
                        ws.write_number(r, c, int(frame[h].sum()), total_fmt)
                    else:
                        ws.write_string(r, c, "", total_fmt)
                r += 1
            r += 1

        table("Findings by severity", tables["severity"], ["severity", "findings", "decided", "unresolved"],
              total=True)
        table("Findings by code", tables["code"], ["code", "severity", "findings", "decided", "unresolved"])
        table("Findings by agency", tables["agency"], ["agency", *SEVERITIES, "total"], total=True)
        acc = accounting.copy()
        for name in ACCOUNTING_COLUMNS[2:]:
            acc[name] = acc[name].astype(int) if name in acc else 0
        table("Row accounting per input file", acc, list(ACCOUNTING_COLUMNS), total=True)

        fs = wb.add_worksheet("Findings")
        for c, name in enumerate(LOG_FIELDS):
            fs.set_column(c, c, WIDTHS.get(name, 14))
            fs.write_string(0, c, name, head)
        fs.freeze_panes(1, 0)
        fs.autofilter(0, 0, max(n, 1), len(LOG_FIELDS) - 1)
        wrap_cols = {"message", "related", "decision_note"}
        # one pass for the whole sheet (constant memory: the rows stream to a temp file)
        write_rows(fs, 1, [(c, columns[name], wrap if name in wrap_cols else top)
                           for c, name in enumerate(LOG_FIELDS)])
        if not_listed:  # below the table and its filter
            fs.write_url(n + 2, 0, "external:" + csv_name, wb.add_format({"font_color": "blue", "underline": 1}),
                         string=_too_many(n, not_listed, csv_name))

    save_xlsxwriter(build, path)
