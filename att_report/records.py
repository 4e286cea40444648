"""Building and checking records frames (see `att_report.schema`).

`make_records` builds a records frame from plain dicts: tests and fixtures
of the later stages use it, so they depend on the contract, not on intake.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from att_report.schema import DISPOSITIONS, INTAKE_COLUMNS, RECORD_COLUMNS

_DTYPES = {
    "row_uid": "int64",
    "src_row": "int64",
    "date": "datetime64[ns]",
    "valid_until": "datetime64[ns]",
    "quantity": "Int64",
    "value": "Float64",
    "withheld": "boolean",
    "valid": "bool",
}


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame every RECORD_COLUMN with the contract's dtype (missing -> NA/"")."""
    out = pd.DataFrame(index=frame.index)
    n = len(frame)
    for name in RECORD_COLUMNS:
        dtype = _DTYPES.get(name, "string")
        if name in frame:
            col = frame[name]
        elif name == "valid":
            col = pd.Series([True] * n, index=frame.index)
        elif name == "withheld":
            col = pd.Series([False] * n, index=frame.index)
        elif name in ("disposition", "disposition_ref"):
            col = pd.Series([""] * n, index=frame.index)
        elif name == "row_uid":
            col = pd.Series(range(n), index=frame.index)
        else:
            col = pd.Series([pd.NA] * n, index=frame.index, dtype="object")
        if dtype.startswith("datetime64"):
            col = pd.to_datetime(col, errors="raise").astype(dtype)
        else:
            col = col.astype(dtype)
        out[name] = col
    extra = [c for c in frame.columns if c not in out.columns]
    for c in extra:
        out[c] = frame[c]
    return out


def make_records(rows: Iterable[dict], *, agency: str = "Agency", role: str = "other",
                 file: str = "inputs/agency/file.xlsx", sheet: str = "Transfers") -> pd.DataFrame:
    """Records from dicts of canonical fields; provenance filled in when absent.

    Rows get src_row 2, 3, ... (under a header in row 1) unless given, and
    licence_key from licence_no unless given.
    """
    from att_report.normalise.identifiers import licence_key

    rows = list(rows)
    frame = pd.DataFrame(rows)
    n = len(frame)
    defaults = {"src_agency": agency, "src_role": role, "src_file": file, "src_sheet": sheet}
    for key, value in defaults.items():
        if key not in frame:
            frame[key] = [value] * n
    if "src_row" not in frame:
        frame["src_row"] = range(2, n + 2)
    if "licence_key" not in frame and "licence_no" in frame:
        frame["licence_key"] = licence_key(frame["licence_no"].astype("string"))
    return conform(frame)


def check_dispositions(records: pd.DataFrame) -> None:
    """Internal invariant: every row read has exactly one known disposition.

    Raises AssertionError-like RuntimeError (the CLI maps it to exit 2):
    a broken row accounting must stop the build loudly.
    """
    # checked per distinct disposition (a handful), and row_uid's uniqueness without hashing when
    # the uids increase (they do, as intake numbers the rows): a million rows cost a tenth of a second
    codes, texts = pd.factorize(records["disposition"].array, use_na_sentinel=True)
    known = np.array([t in DISPOSITIONS for t in texts] + [False], dtype=bool)  # last: NA (code -1)
    if not known[codes].all():
        bad = ~known[codes]
        sample = records.loc[bad, ["src_file", "src_sheet", "src_row", "disposition"]].head(5)
        raise AccountingError(
            f"{int(bad.sum())} rows have no valid disposition, e.g.\n{sample.to_string(index=False)}"
        )
    uid = records["row_uid"]
    increasing = uid.dtype.kind in "iu" and len(uid) > 1 and bool(np.all(np.diff(uid.to_numpy()) > 0))
    if not increasing and uid.duplicated().any():
        raise AccountingError("row_uid is not unique: a row was counted twice")


class AccountingError(RuntimeError):
    """The row accounting does not add up: an internal bug, never the user's data."""


INTAKE_FIELD_NAMES = tuple(c.name for c in INTAKE_COLUMNS)
