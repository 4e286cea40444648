"""What the readers hand to normalisation: tables of cells as received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import numpy as np


@dataclass
class RawTable:
    """One sheet (or csv file) of one agency, as received.

    `data` has one column per source column, labelled by the header text as
    written (made unique), values as the cell showed them (str, or None for a
    blank cell), in sheet order. `excel_rows[i]` is the Excel row number (or
    csv line) of `data.iloc[i]`. `field_columns` maps canonical intake fields
    to the source header that feeds them; `column_letters` maps each source
    header to its Excel column letter (A, B, ...).
    """

    agency: str
    role: str
    file: str  # workspace-relative posix path
    sheet: str  # "" for csv
    header_row: int  # Excel row (csv line) of the header
    data: pd.DataFrame
    excel_rows: list[int] | pd.Series
    column_letters: dict[str, str] = field(default_factory=dict)
    field_columns: dict[str, str] = field(default_factory=dict)
    hidden: bool = False
    #: the workbook counts dates from 1904 (old Mac Excel): serial numbers shift
    date1904: bool = False
    #: Cells the sheet XML shows to be unreadable although the reader saw a
    #: blank or a value: columns excel_row (int), column (letter), kind
    #: ("error-cell" | "formula-no-value" | "merged" | "number-identifier"), detail (text).
    #: Filled by intake.safety's preflight; validation turns them into findings.
    cell_problems: pd.DataFrame | None = None
    #: per canonical number field, a boolean per data row: the cell was stored
    #: as a number (so the agency's decimal-comma setting does not apply to it)
    typed_numbers: dict[str, "np.ndarray"] = field(default_factory=dict)
    #: Excel rows hidden in the sheet (read anyway, and noted).
    hidden_rows: list[int] = field(default_factory=list)


@dataclass
class FileInfo:
    """One input file: what was read and how it went (manifest, status, summary)."""

    agency: str
    path: str  # workspace-relative posix path
    sha256: str
    size: int
    mtime: float
    sheets: list[str] = field(default_factory=list)
    rows_read: int = 0
    readable: bool = True
