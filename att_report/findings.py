"""The one `Finding` type, used from intake to the discrepancy log.

A finding is a small typed record (after frictionless' errors): a stable
kebab-case `code`, a `severity`, a plain-language `message` that says how to
fix the problem, and where it happened as the user sees it (agency, file,
sheet, Excel row or csv line, field, value).

Single findings are `Finding` objects; collections travel as DataFrames whose
columns are exactly `LOG_FIELDS` (the dataclass's fields), so rules can build
thousands of findings at once without per-row Python objects.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Iterable

import pandas as pd


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}

#: Columns of `validation_findings.csv`, in this order (intake issue).
FINDING_FIELDS = (
    "finding_id", "severity", "code", "message",
    "agency", "file", "sheet", "row", "field", "value",
)
#: Columns of the discrepancy log, in this order (reconciliation issue).
LOG_FIELDS = FINDING_FIELDS + ("related", "decision", "decision_note")


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str
    code: str
    message: str
    agency: str = ""
    file: str = ""
    sheet: str = ""
    row: int | None = None
    field: str = ""
    value: str = ""
    related: str = ""
    decision: str = ""
    decision_note: str = ""
    #: Stable id; derived from the code and `identity` when left empty.
    finding_id: str = ""

    def with_id(self, *identity: object) -> "Finding":
        """Return a copy whose finding_id derives from the code and `identity`.

        Without `identity`, the location (agency, file, sheet, row, field) is used.
        """
        key = identity or (self.agency, self.file, self.sheet, self.row, self.field)
        return _replace_id(self, finding_id(self.code, *key))


def _replace_id(f: Finding, fid: str) -> Finding:
    values = {fl.name: getattr(f, fl.name) for fl in fields(f)}
    values["finding_id"] = fid
    return Finding(**values)


def finding_id(code: str, *identity: object) -> str:
    """A stable id: the same problem keeps its id across reruns and unrelated edits.

    It depends only on the rule code and the identity given (for a record:
    agency and record_id; for a file-level problem: the file path), never on
    row order or run time.
    """
    text = "\x1f".join([code, *("" if v is None else str(v) for v in identity)])
    return "F-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def finding_ids(code: str | pd.Series, *identity: pd.Series | str) -> pd.Series:
    """Vectorised `finding_id` over aligned Series (strings are broadcast)."""
    series = [s for s in (code, *identity) if isinstance(s, pd.Series)]
    index = series[0].index if series else pd.RangeIndex(1)
    cols = [_texts(part) if isinstance(part, pd.Series) else str(part) for part in (code, *identity)]
    return pd.Series(_hash_ids(cols, len(index)), index=index, dtype=object)


def _texts(series: pd.Series) -> list[str]:
    """series.astype("string").fillna("") as a list of str."""
    if isinstance(series.dtype, pd.StringDtype):
        return series.to_numpy(dtype=object, na_value="").tolist()
    return series.astype("string").fillna("").astype(object).tolist()


def _hash_ids(cols: list[list[str] | str], n: int) -> list[str]:
    """finding_id per row; each column is a list of texts or one text for every row."""
    if all(isinstance(c, str) for c in cols):
        return ["F-" + hashlib.sha1("\x1f".join(cols).encode("utf-8")).hexdigest()[:12]] * n
    lists = [c if isinstance(c, list) else [c] * n for c in cols]
    sha1 = hashlib.sha1
    return ["F-" + sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12] for parts in zip(*lists)]


def empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in LOG_FIELDS})
    frame["row"] = frame["row"].astype("Int64")
    return frame


def to_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings -> DataFrame with exactly LOG_FIELDS (ids filled in)."""
    rows = []
    for f in findings:
        if not f.finding_id:
            f = f.with_id()
        rows.append(asdict(f))
    if not rows:
        return empty_frame()
    frame = pd.DataFrame(rows, columns=list(LOG_FIELDS))
    frame["row"] = frame["row"].astype("Int64")
    return frame


def frame_for_rows(
    rows: pd.DataFrame,
    *,
    code: str,
    severity: str,
    message: str | pd.Series,
    field: str = "",
    value: pd.Series | str = "",
    related: pd.Series | str = "",
    identity: tuple[pd.Series | str, ...] | None = None,
) -> pd.DataFrame:
    """Build findings for each row of a records/raw frame, vectorised.

    `rows` carries the provenance columns `src_agency`, `src_file`,
    `src_sheet`, `src_row` (and ideally `record_id`). The id derives from the
    code, the agency, the record_id when present (else file, sheet, row) and
    the field, so it survives reordering and unrelated edits.
    """
    if rows.empty:
        return empty_frame()
    n = len(rows)
    idx = rows.index
    # plain lists and object arrays: a rule emits a few hundred findings, where
    # pandas' per-Series overhead cost more than the work (benchmark, issue 7)

    index = pd.RangeIndex(n)

    def obj(values) -> pd.Series:
        return pd.Series(values, index=index, dtype=object)  # object columns, as the log has always had

    def col(v):
        if isinstance(v, pd.Series):
            return obj(_texts(v if v.index.equals(idx) else v.reindex(idx)))
        return obj([v] * n)

    if identity is None:
        rec = _texts(rows["record_id"]) if "record_id" in rows else [""] * n
        if all(rec):
            key: pd.Series | list[str] = rec
        else:
            # a record without an id is identified by where it stands
            where = (
                rows["src_file"].astype(str) + "|" + rows["src_sheet"].astype(str) + "|"
                + rows["src_row"].astype(str)
            )
            rec_s = pd.Series(rec, index=idx, dtype="string")
            key = rec_s.where(rec_s.str.len() > 0, "@" + where)
        agency = rows["src_agency"]
        identity = (agency if isinstance(agency.dtype, pd.StringDtype) else agency.astype(str), key, field)
    parts = [code, *identity]
    cols = [p if isinstance(p, list) else _texts(p) if isinstance(p, pd.Series) else str(p) for p in parts]
    if any(isinstance(c, list) for c in cols):
        ids = obj(_hash_ids(cols, n))
    else:  # one id, on the row labelled 0 only: what aligning finding_ids' one-row answer gave
        ids = obj(finding_ids(code, *identity).reindex(idx).to_numpy())
    out = pd.DataFrame(
        {
            "finding_id": ids,
            "severity": str(severity),
            "code": code,
            "message": col(message),
            "agency": obj(rows["src_agency"].to_numpy(dtype=object)),
            "file": obj(rows["src_file"].to_numpy(dtype=object)),
            "sheet": obj(rows["src_sheet"].to_numpy(dtype=object)),
            "row": rows["src_row"].astype("Int64").array,
            "field": field,
            "value": col(value),
            "related": col(related),
            "decision": "",
            "decision_note": "",
        },
        index=index,
    )
    return out


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        return empty_frame()
    out = pd.concat(frames, ignore_index=True)
    out["row"] = out["row"].astype("Int64")
    return out[list(LOG_FIELDS)]


def sort_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Deterministic order: severity, then where (agency, file, sheet, row), code, id."""
    if frame.empty:
        return frame.reset_index(drop=True)
    order = frame["severity"].map({str(k): v for k, v in SEVERITY_ORDER.items()}).fillna(9)
    keyed = frame.assign(_sev=order, _row=frame["row"].fillna(-1).astype("int64"))
    keyed = keyed.sort_values(
        ["_sev", "agency", "file", "sheet", "_row", "field", "code", "finding_id"], kind="mergesort"
    )
    return keyed.drop(columns=["_sev", "_row"]).reset_index(drop=True)


def cap_per_file_and_code(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Keep at most `limit` findings per (file, code); say plainly what was left out.

    Like frictionless' limit_errors: the log states that it is partial rather
    than stopping silently. Row dispositions are not affected.
    """
    if frame.empty or limit <= 0:
        return frame
    rank = frame.groupby(["file", "code"], sort=False, dropna=False).cumcount()
    over = rank >= limit
    if not over.any():
        return frame
    dropped = frame[over].groupby(["agency", "file", "code", "severity"], dropna=False).size()
    notes = [
        Finding(
            severity=Severity.INFO,
            code="findings-capped",
            message=(
                f"{count} more '{code}' {severity} findings in this file are not listed "
                f"(at most {limit} per file and code are shown). Fix the listed ones first, "
                "or raise [limits] max_findings_per_code in att-report.toml."
            ),
            agency=agency,
            file=file,
            field="",
            value=str(count),
        ).with_id(file, code)
        for (agency, file, code, severity), count in dropped.items()
    ]
    return concat([frame[~over], to_frame(notes)])


_FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(series: pd.Series) -> pd.Series:
    """Prefix text that Excel would run as a formula with an apostrophe.

    OWASP CSV-injection guidance: a cell starting with =, +, -, @, tab or CR
    must not be taken as a formula when the csv is opened in a spreadsheet.
    """
    text = series.astype("string").fillna("")
    risky = text.str.contains(_FORMULA_START, regex=True)
    return text.where(~risky, "'" + text).astype(object)


def write_csv(frame: pd.DataFrame, path: Path, columns: Iterable[str]) -> None:
    """Write findings as UTF-8 csv with exactly `columns`, formulas neutralised."""
    columns = list(columns)
    out = pd.DataFrame(index=frame.index)
    for name in columns:
        if name == "row":
            out[name] = frame[name].astype("Int64").astype("string").fillna("")
        else:
            out[name] = neutralise_formulas(frame[name])
    out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def counts_by(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """Counts of findings by the given keys, deterministic order."""
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "count"])
    return (
        frame.groupby(list(keys), dropna=False).size().rename("count").reset_index()
        .sort_values(list(keys), kind="mergesort").reset_index(drop=True)
    )
